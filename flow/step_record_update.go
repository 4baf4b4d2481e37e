package flow

import "github.com/hookflow/hookflow/flow/field"

// TypeRecordUpdate changes properties of one record.
const TypeRecordUpdate = "record.update"

// RecordUpdate sets the listed properties of the record that match (a
// unique property and its value) or recordId finds; null removes a
// property, the others stay. No such record fails the step.
//
//	{id: upgrade, type: record.update, collection: contacts,
//	 match: {email: "{{ trigger.body.email }}"}, properties: {plan: pro}}
//
// Outputs: record (as written), changed (false when it already was so).
type RecordUpdate struct {
	Collection string         `json:"collection" validate:"required" doc:"The collection."`
	RecordID   string         `json:"recordId,omitempty" validate:"max=4096" doc:"The record's id. Set recordId or match." expr:"template"`
	Match      map[string]any `json:"match,omitempty" doc:"One unique property and its value, finding the record." expr:"template"`
	Properties map[string]any `json:"properties" validate:"required,min=1,max=200" doc:"Properties to set (null removes one)." expr:"template"`
	Retry      *RetryPolicy   `json:"retry,omitempty" doc:"Retries while the store is unreachable."`
	OnError    string         `json:"onError,omitempty" validate:"omitempty,oneof=fail continue" doc:"continue lets the flow go on after the step failed."`
}

func init() {
	Register[RecordUpdate](TypeRecordUpdate, "change properties of a record found by a unique property or id")
}

var (
	_ Spec           = (*RecordUpdate)(nil)
	_ Checker        = (*RecordUpdate)(nil)
	_ ErrorContinuer = (*RecordUpdate)(nil)
)

func (r *RecordUpdate) Expressions() []ExprField {
	out := stringExpression("recordId", r.RecordID)
	out = append(out, valueExpressions("match", r.Match)...)
	return append(out, valueExpressions("properties", r.Properties)...)
}

func (r *RecordUpdate) Check() []field.Error {
	var errs field.List
	checkCollectionName(&errs, r.Collection)
	checkTarget(&errs, r.RecordID, r.Match)
	checkPropertyNames(&errs, "properties", r.Properties)
	checkRetry(&errs, r.Retry)
	return errs
}

func (r *RecordUpdate) ContinuesOnError() bool { return recordOnError(r.OnError) }

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*RecordUpdate) OutputsDoc() string {
	return "`record`, `changed`"
}

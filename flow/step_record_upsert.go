package flow

import "github.com/hookflow/hookflow/flow/field"

// TypeRecordUpsert creates or updates the record a unique value finds.
const TypeRecordUpsert = "record.upsert"

// RecordUpsert finds the record whose unique property holds the value in
// match and sets the listed properties (null removes one); without one, it
// creates it with the value and the properties. Two runs upserting the same
// value at once make one record.
//
//	{id: contact, type: record.upsert, collection: contacts,
//	 match: {email: "{{ trigger.body.email }}"},
//	 properties: {firstName: "{{ trigger.body.name }}", lastSeenAt: "{{ execution.startedAt }}"}}
//
// Outputs: record, created, changed.
type RecordUpsert struct {
	Collection string         `json:"collection" validate:"required" doc:"The collection."`
	Match      map[string]any `json:"match" validate:"required" doc:"One unique property and its value: the record holding it is updated, else created with it." expr:"template"`
	Properties map[string]any `json:"properties,omitempty" validate:"max=200" doc:"Properties to set (null removes one)." expr:"template"`
	Retry      *RetryPolicy   `json:"retry,omitempty" doc:"Retries while the store is unreachable."`
	OnError    string         `json:"onError,omitempty" validate:"omitempty,oneof=fail continue" doc:"continue lets the flow go on after the step failed."`
}

func init() {
	Register[RecordUpsert](TypeRecordUpsert, "create or update the record a unique property's value finds")
}

var (
	_ Spec           = (*RecordUpsert)(nil)
	_ Checker        = (*RecordUpsert)(nil)
	_ ErrorContinuer = (*RecordUpsert)(nil)
)

func (r *RecordUpsert) Expressions() []ExprField {
	out := valueExpressions("match", r.Match)
	return append(out, valueExpressions("properties", r.Properties)...)
}

func (r *RecordUpsert) Check() []field.Error {
	var errs field.List
	checkCollectionName(&errs, r.Collection)
	if r.Match != nil {
		checkMatch(&errs, r.Match)
	}
	checkPropertyNames(&errs, "properties", r.Properties)
	checkRetry(&errs, r.Retry)
	return errs
}

func (r *RecordUpsert) ContinuesOnError() bool { return recordOnError(r.OnError) }

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*RecordUpsert) OutputsDoc() string {
	return "`record`, `created`, `changed`"
}

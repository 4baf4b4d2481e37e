package flow

import "github.com/hookflow/hookflow/flow/field"

// TypeRecordDelete removes one record.
const TypeRecordDelete = "record.delete"

// RecordDelete removes the record that match (a unique property and its
// value) or recordId finds. No such record is not a failure: count is 0.
//
//	{id: forget, type: record.delete, collection: contacts, match: {email: "{{ trigger.body.email }}"}}
//
// Outputs: record (as it was, or null), count (1 or 0).
type RecordDelete struct {
	Collection string         `json:"collection" validate:"required" doc:"The collection."`
	RecordID   string         `json:"recordId,omitempty" validate:"max=4096" doc:"The record's id. Set recordId or match." expr:"template"`
	Match      map[string]any `json:"match,omitempty" doc:"One unique property and its value, finding the record." expr:"template"`
	Retry      *RetryPolicy   `json:"retry,omitempty" doc:"Retries while the store is unreachable."`
	OnError    string         `json:"onError,omitempty" validate:"omitempty,oneof=fail continue" doc:"continue lets the flow go on after the step failed."`
}

func init() {
	Register[RecordDelete](TypeRecordDelete, "remove a record found by a unique property or id")
}

var (
	_ Spec           = (*RecordDelete)(nil)
	_ Checker        = (*RecordDelete)(nil)
	_ ErrorContinuer = (*RecordDelete)(nil)
)

func (r *RecordDelete) Expressions() []ExprField {
	out := stringExpression("recordId", r.RecordID)
	return append(out, valueExpressions("match", r.Match)...)
}

func (r *RecordDelete) Check() []field.Error {
	var errs field.List
	checkCollectionName(&errs, r.Collection)
	checkTarget(&errs, r.RecordID, r.Match)
	checkRetry(&errs, r.Retry)
	return errs
}

func (r *RecordDelete) ContinuesOnError() bool { return recordOnError(r.OnError) }

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*RecordDelete) OutputsDoc() string {
	return "`record`, `count` (1 or 0)"
}

package flow

import "github.com/hookflow/hookflow/flow/field"

// TypeRecordCreate adds a record to a collection.
const TypeRecordCreate = "record.create"

// RecordCreate adds a record; a unique value another record holds fails the
// step (use record.upsert to create or update).
//
//	{id: add, type: record.create, collection: contacts,
//	 properties: {email: "{{ trigger.body.email }}", plan: free}}
//
// Outputs: record, created (true). A retried attempt (a worker crash after
// the write) finds its own write and makes no second record.
type RecordCreate struct {
	Collection string         `json:"collection" validate:"required" doc:"The collection (hookflow collections apply)."`
	Properties map[string]any `json:"properties" validate:"required,min=1,max=200" doc:"The record's properties: JSON values in which strings may be templates." expr:"template"`
	Retry      *RetryPolicy   `json:"retry,omitempty" doc:"Retries while the store is unreachable."`
	OnError    string         `json:"onError,omitempty" validate:"omitempty,oneof=fail continue" doc:"continue lets the flow go on after the step failed."`
}

func init() {
	Register[RecordCreate](TypeRecordCreate, "add a record to a collection")
}

var (
	_ Spec           = (*RecordCreate)(nil)
	_ Checker        = (*RecordCreate)(nil)
	_ ErrorContinuer = (*RecordCreate)(nil)
)

func (r *RecordCreate) Expressions() []ExprField {
	return valueExpressions("properties", r.Properties)
}

func (r *RecordCreate) Check() []field.Error {
	var errs field.List
	checkCollectionName(&errs, r.Collection)
	checkPropertyNames(&errs, "properties", r.Properties)
	checkRetry(&errs, r.Retry)
	return errs
}

func (r *RecordCreate) ContinuesOnError() bool { return recordOnError(r.OnError) }

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*RecordCreate) OutputsDoc() string {
	return "`record`, `created`"
}

package flow

import "github.com/hookflow/hookflow/flow/field"

// TypeRecordFind queries a collection.
const TypeRecordFind = "record.find"

// RecordFind returns the records whose properties equal filter's values
// (none: every record; null: records without the property), sorted by sort
// (createdAt, updatedAt, id or a property; "-" first for descending;
// default creation order), at most limit (default 10, at most 100).
//
//	{id: open, type: record.find, collection: tickets,
//	 filter: {customer: "{{ trigger.body.email }}", status: open}, sort: -createdAt, limit: 5}
//
// Outputs: records, record (the first, or null), count (every match, not
// only those returned).
type RecordFind struct {
	Collection string         `json:"collection" validate:"required" doc:"The collection."`
	Filter     map[string]any `json:"filter,omitempty" validate:"max=50" doc:"Properties the records must equal (none: every record; null: records without the property)." expr:"template"`
	Sort       string         `json:"sort,omitempty" doc:"createdAt, updatedAt, id or a property; - first for descending. Default: creation order."`
	Limit      int            `json:"limit,omitempty" validate:"omitempty,min=1,max=100" doc:"How many records to return (records land in the run's history)."`
	Retry      *RetryPolicy   `json:"retry,omitempty" doc:"Retries while the store is unreachable."`
	OnError    string         `json:"onError,omitempty" validate:"omitempty,oneof=fail continue" doc:"continue lets the flow go on after the step failed."`
}

func init() {
	Register[RecordFind](TypeRecordFind, "find records by their properties")
}

var (
	_ Spec           = (*RecordFind)(nil)
	_ Checker        = (*RecordFind)(nil)
	_ ErrorContinuer = (*RecordFind)(nil)
)

func (r *RecordFind) Expressions() []ExprField {
	return valueExpressions("filter", r.Filter)
}

func (r *RecordFind) Check() []field.Error {
	var errs field.List
	checkCollectionName(&errs, r.Collection)
	checkPropertyNames(&errs, "filter", r.Filter)
	if r.Sort != "" && !recordSortPattern.MatchString(r.Sort) {
		errs.Add("sort", "is createdAt, updatedAt, id or a property name, with a leading - for descending")
	}
	checkRetry(&errs, r.Retry)
	return errs
}

// EffectiveLimit is limit, DefaultRecordFindLimit when unset.
func (r *RecordFind) EffectiveLimit() int {
	if r.Limit == 0 {
		return DefaultRecordFindLimit
	}
	return r.Limit
}

func (r *RecordFind) ContinuesOnError() bool { return recordOnError(r.OnError) }

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*RecordFind) OutputsDoc() string {
	return "`records`, `record` (the first, or null), `count` (every match, not only those returned)"
}

package flow

import (
	"regexp"
	"time"

	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
)

// Record steps read and write the records of a collection (defined in the
// flow store, see records.Collection) as activities on the worker, which
// needs the store (hookflow worker --store). Each is a file of its own:
// step_record_create.go, step_record_update.go, step_record_upsert.go,
// step_record_find.go, step_record_delete.go. Their outputs hold records as
// {id, collection, properties, version, createdAt, updatedAt}.

// Record step defaults: retried while the store is unreachable (1s, x2, at
// most 1m apart, given up after 24h); a find returns 10 records unless it
// says otherwise, at most 100 (records land in the run's history).
const (
	DefaultRecordInitialInterval = time.Second
	DefaultRecordMaximumInterval = time.Minute
	DefaultRecordGiveUpAfter     = 24 * time.Hour
	DefaultRecordFindLimit       = 10
	MaxRecordFindLimit           = 100
)

var recordSortPattern = regexp.MustCompile(`^-?[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// recordOnError is onError of a record step: continue lets the flow go on
// after the step failed (steps.<id>.status is failed, .error says why).
func recordOnError(v string) bool { return v == "continue" }

// EffectiveRecordRetry is a record step's retry policy with the record
// defaults filled in.
func EffectiveRecordRetry(r *RetryPolicy) RetryPolicy {
	out := RetryPolicy{}
	if r != nil {
		out = *r
	}
	if out.InitialInterval == 0 {
		out.InitialInterval = field.Duration(DefaultRecordInitialInterval)
	}
	if out.BackoffCoefficient == 0 {
		out.BackoffCoefficient = DefaultBackoffCoefficient
	}
	if out.MaximumInterval == 0 {
		out.MaximumInterval = field.Duration(DefaultRecordMaximumInterval)
	}
	if out.GiveUpAfter == 0 {
		out.GiveUpAfter = field.Duration(DefaultRecordGiveUpAfter)
	}
	return out
}

func checkCollectionName(errs *field.List, name string) {
	if name != "" && !field.IsCollectionName(name) {
		errs.Add("collection", "must be a collection's name: a-z, 0-9, - and _, starting with a letter or digit, at most 64 characters")
	}
}

// checkPropertyNames: keys of properties, filter and match name properties.
func checkPropertyNames(errs *field.List, at string, m map[string]any) {
	for _, k := range SortedKeys(m) {
		if !field.IsIdentifier(k) {
			errs.Add(field.JoinPath(at, k), "a property name is an identifier: letters, digits and _, not starting with a digit")
		}
	}
}

// checkMatch: match names exactly one unique property and its value.
func checkMatch(errs *field.List, match map[string]any) {
	if len(match) != 1 {
		errs.Add("match", "names one unique property and its value, such as {email: \"{{ trigger.body.email }}\"}")
		return
	}
	checkPropertyNames(errs, "match", match)
}

// checkTarget: update and delete find their record by recordId or match.
func checkTarget(errs *field.List, recordID string, match map[string]any) {
	switch {
	case recordID == "" && match == nil:
		errs.Add("match", "find the record by match (a unique property and its value) or recordId")
	case recordID != "" && match != nil:
		errs.Add("recordId", "set recordId or match, not both")
	case match != nil:
		checkMatch(errs, match)
	}
}

func checkRetry(errs *field.List, r *RetryPolicy) {
	if r != nil && r.InitialInterval != 0 && r.MaximumInterval != 0 && r.MaximumInterval < r.InitialInterval {
		errs.Add("retry.maximumInterval", "must be at least initialInterval")
	}
}

// valueExpressions lists the templates of a map of values at a path.
func valueExpressions(at string, m map[string]any) []ExprField {
	if m == nil {
		return nil
	}
	return ValueTemplates(at, m)
}

func stringExpression(at, src string) []ExprField {
	if expression.IsTemplate(src) {
		return []ExprField{{Path: at, Source: src}}
	}
	return nil
}

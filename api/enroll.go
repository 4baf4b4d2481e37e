package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/store"
)

// HeaderEnrolled is "false" on the answer to a request the trigger's
// enrollment filter turned away (no run started).
const HeaderEnrolled = "Hookflow-Enrolled"

// enroll applies the trigger's enrollment: the record it names must exist
// (looked up first, then held in data as trigger.record, a snapshot the run
// starts with), and its condition must hold. An *httpapi.Error is a lookup that
// could not be answered: nothing starts, and the caller may retry.
func (s *Public) enroll(ctx context.Context, f *flow.Flow, data map[string]any) (bool, *httpapi.Error) {
	e := f.Trigger.Enroll
	if e.Record != nil {
		rec, apiErr := s.enrollRecord(ctx, f, data)
		if apiErr != nil || rec == nil {
			return false, apiErr
		}
		data[trigger.EnvRecord] = rec.Map()
	}
	return e.If == "" || s.enrolled(f, data), nil
}

// enrollRecord finds the record a request names (trigger.enroll.record):
// nil when there is none, which does not enroll the request. A value the
// request lacks, or that cannot be one of the property's values, finds no
// record either. An indexed point query within records.LookupTimeout; while
// the database does not answer, the last record found for the value.
func (s *Public) enrollRecord(ctx context.Context, f *flow.Flow, data map[string]any) (*records.Record, *httpapi.Error) {
	r := f.Trigger.Enroll.Record
	value, err := r.EvalValue(data)
	if err != nil {
		s.Log.Info("enrollment record value failed on a request; not enrolled", "flow", f.ID, "error", err)
		return nil, nil
	}
	if s.cfg.Admin == nil || s.cfg.Admin.Store == nil {
		s.Log.Error("trigger enrolls by record, but this API has no flow store", "flow", f.ID, "collection", r.Collection)
		return nil, httpapi.NewError(http.StatusInternalServerError, "misconfigured", "the trigger's enrollment record cannot be looked up on this server")
	}
	rec, err := records.Of(s.cfg.Admin.Store).Lookup(ctx, r.Collection, r.Property, value)
	var stale *records.StaleError
	var invalid *records.InvalidError
	switch {
	case err == nil:
		return rec, nil
	case errors.As(err, &stale):
		s.Log.Warn("enrollment record lookup answered from memory", "flow", f.ID, "collection", r.Collection, "error", stale.Err)
		return rec, nil
	case recordKeyError(err):
		return nil, nil
	case errors.Is(err, records.ErrNoCollection), errors.As(err, &invalid):
		s.Log.Error("trigger enrolls by a record that cannot be looked up", "flow", f.ID, "collection", r.Collection, "property", r.Property, "error", err)
		return nil, httpapi.NewError(http.StatusInternalServerError, "misconfigured", "the trigger's enrollment names a collection or unique property that does not exist")
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	}
	s.Log.Error("enrollment record lookup failed", "flow", f.ID, "collection", r.Collection, "error", err)
	e := httpapi.NewError(http.StatusServiceUnavailable, "unavailable", "the enrollment record could not be looked up in time; retry later")
	e.RetryAfter = "5"
	return nil, e
}

// enrolled evaluates the enrollment filter on the trigger data. A filter
// that cannot be evaluated on this request's data (a missing field compared
// with a number, say) does not enroll it, as HubSpot does with records that
// do not match.
func (s *Public) enrolled(f *flow.Flow, data map[string]any) bool {
	ok, err := expression.EvalTriggerBool(f.Trigger.Enroll.If, data)
	if err != nil {
		s.Log.Info("enrollment filter failed on a request; not enrolled", "flow", f.ID, "error", err)
		return false
	}
	return ok
}

// notEnrolledAnswer is the configured answer for a request not enrolled.
func notEnrolledAnswer(t *trigger.Trigger) *trigger.TriggerResponse {
	switch {
	case t.Enroll.Response != nil:
		return t.Enroll.Response
	case t.EffectiveMode() == trigger.ModeAsync:
		return t.Response
	}
	return &trigger.TriggerResponse{Status: http.StatusOK, Body: map[string]any{"enrolled": false}}
}

// recordKeyError is a lookup's value that cannot be one of the property's
// values (a text where a number is kept): no record can match it.
func recordKeyError(err error) bool {
	var ie *records.InvalidError
	return errors.As(err, &ie) && len(ie.Errors) > 0 && strings.HasPrefix(ie.Errors[0].Path, "value")
}

package api

import (
	"net/http"

	"github.com/hookflow/hookflow/flow"
)

// HeaderEnrolled is "false" on the answer to a request the trigger's
// enrollment filter turned away (no run started).
const HeaderEnrolled = "Hookflow-Enrolled"

// enrolled evaluates the enrollment filter on the trigger data. A filter
// that cannot be evaluated on this request's data (a missing field compared
// with a number, say) does not enroll it, as HubSpot does with records that
// do not match.
func (s *Server) enrolled(f *flow.Flow, data map[string]any) bool {
	ok, err := flow.EvalTriggerBool(f.Trigger.Enroll.If, data)
	if err != nil {
		s.log.Info("enrollment filter failed on a request; not enrolled", "flow", f.ID, "error", err)
		return false
	}
	return ok
}

// notEnrolledAnswer is the configured answer for a request not enrolled.
func notEnrolledAnswer(t *flow.Trigger) *flow.TriggerResponse {
	switch {
	case t.Enroll.Response != nil:
		return t.Enroll.Response
	case t.EffectiveMode() == flow.ModeAsync:
		return t.Response
	}
	return &flow.TriggerResponse{Status: http.StatusOK, Body: map[string]any{"enrolled": false}}
}

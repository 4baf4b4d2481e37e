package api

import (
	"net/http"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/hookflow/hookflow/flow"
)

// HeaderEnrolled is "false" on the answer to a request the trigger's
// enrollment filter turned away (no run started).
const HeaderEnrolled = "Hookflow-Enrolled"

// programs caches compiled enrollment filters by source: the trigger path
// compiles each filter once, not per request.
var programs sync.Map // string -> *vm.Program

// enrolled evaluates the enrollment filter on the trigger data. A filter
// that cannot be evaluated on this request's data (a missing field compared
// with a number, say) does not enroll it, as HubSpot does with records that
// do not match.
func (s *Server) enrolled(f *flow.Flow, data map[string]any) bool {
	src := f.Trigger.Enroll.If
	p, ok := programs.Load(src)
	if !ok {
		compiled, err := flow.CompileTriggerExpr(src)
		if err != nil {
			// Validation compiled it already; this cannot happen for a
			// served flow.
			s.log.Error("enrollment filter does not compile", "flow", f.ID, "error", err)
			return false
		}
		p, _ = programs.LoadOrStore(src, compiled)
	}
	out, err := expr.Run(p.(*vm.Program), map[string]any{flow.EnvTrigger: data})
	if err != nil {
		s.log.Info("enrollment filter failed on a request; not enrolled", "flow", f.ID, "error", err)
		return false
	}
	b, _ := out.(bool)
	return b
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

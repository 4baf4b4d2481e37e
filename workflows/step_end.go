package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
)

func init() { registerExecutor(runEnd) }

// runEnd unwinds the whole tree (parallel siblings included) with an
// endSignal that FlowWorkflow turns into success or failure.
func runEnd(_ workflow.Context, r *run, s *flow.Step, e *flow.End, at position) (map[string]any, error) {
	msg := e.Message
	if expression.IsTemplate(msg) {
		v, err := r.eval.RenderString(msg, at.env)
		if err != nil {
			return nil, evalErr("message", msg, err)
		}
		msg = expression.TextOf(v)
	}
	return map[string]any{"status": statusOr(e.Status, "success"), "message": msg}, &endSignal{failed: e.Failed(), message: msg}
}

func statusOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
)

func init() { registerExecutor(runResponse) }

// runResponse sets the sync answer. The first response step that runs
// answers; a later one is recorded as skipped, since the caller already has
// its answer.
func runResponse(_ workflow.Context, r *run, _ *flow.Step, spec *flow.Response, at position) (map[string]any, error) {
	if r.Response != nil {
		return nil, &skipped{note: "the caller was already answered by an earlier response step"}
	}
	resp := &contract.Response{Status: spec.EffectiveStatus()}
	if len(spec.Headers) > 0 {
		resp.Headers = make(map[string]string, len(spec.Headers))
		for _, k := range flow.SortedKeys(spec.Headers) {
			v, err := r.eval.RenderString(spec.Headers[k], at.env)
			if err != nil {
				return nil, evalErr("headers."+k, spec.Headers[k], err)
			}
			resp.Headers[k] = expression.TextOf(v)
		}
	}
	body, err := r.eval.Render(spec.Body, at.env)
	if err != nil {
		return nil, wrapField("body", err)
	}
	resp.Body = body
	r.Response = resp
	return map[string]any{"status": resp.Status}, nil
}

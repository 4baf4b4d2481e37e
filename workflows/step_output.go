package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runOutput) }

// runOutput sets the run's output (Result.Output); a later output step
// replaces it. Values are evaluated as a set step's are.
func runOutput(_ workflow.Context, r *run, _ *flow.Step, o *flow.Output, at position) (map[string]any, error) {
	out := make(map[string]any, len(o.Values))
	for _, k := range flow.SortedKeys(o.Values) {
		v, err := r.eval.Render(o.Values[k], at.env)
		if err != nil {
			return nil, wrapField("values."+k, err)
		}
		out[k] = v
	}
	r.Output = out
	return out, nil
}

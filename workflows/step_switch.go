package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runSwitch) }

func runSwitch(ctx workflow.Context, r *run, s *flow.Step, sw *flow.Switch, at position) (map[string]any, error) {
	for i, c := range sw.Cases {
		ok, err := r.eval.EvalBool(c.If, at.env)
		if err != nil {
			return nil, evalErr(fmt.Sprintf("cases[%d].if", i), c.If, err)
		}
		if ok {
			return map[string]any{"case": i, "name": c.Name}, r.runSteps(ctx, fmt.Sprintf("%s.cases[%d].steps", at.path, i), c.Steps, at)
		}
	}
	return map[string]any{"case": -1, "name": "default"}, r.runSteps(ctx, at.path+".default", sw.Default, at)
}

package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runSwitch) }

// runSwitch runs the first case whose if is true, or default. A resumed
// switch goes on in the case it took; its conditions are not evaluated again.
func runSwitch(ctx workflow.Context, r *run, s *flow.Step, sw *flow.Switch, at position) (map[string]any, error) {
	chosen := -1
	if at.resume != nil {
		chosen = at.resume.Branch
	} else {
		for i, c := range sw.Cases {
			ok, err := r.eval.EvalBool(c.If, at.env)
			if err != nil {
				return nil, evalErr(fmt.Sprintf("cases[%d].if", i), c.If, err)
			}
			if ok {
				chosen = i
				break
			}
		}
	}
	out := map[string]any{"case": chosen, "name": "default"}
	path, steps := at.path+".default", sw.Default
	if chosen >= 0 {
		out["name"] = sw.Cases[chosen].Name
		path, steps = fmt.Sprintf("%s.cases[%d].steps", at.path, chosen), sw.Cases[chosen].Steps
	}
	return out, inBranch(chosen, r.runSteps(ctx, path, steps, at, bodyOf(at.resume)))
}

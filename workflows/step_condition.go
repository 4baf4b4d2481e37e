package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runCondition) }

func runCondition(ctx workflow.Context, r *run, s *flow.Step, c *flow.Condition, at position) (map[string]any, error) {
	ok, err := r.eval.EvalBool(c.If, at.env)
	if err != nil {
		return nil, evalErr("if", c.If, err)
	}
	out := map[string]any{"result": ok}
	if ok {
		return out, r.runSteps(ctx, at.path+".then", c.Then, at)
	}
	return out, r.runSteps(ctx, at.path+".else", c.Else, at)
}

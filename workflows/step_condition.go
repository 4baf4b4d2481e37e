package workflows

import (
	"errors"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runCondition) }

// runCondition runs then or else. A resumed condition goes on in the branch
// it took; if is not evaluated again.
func runCondition(ctx workflow.Context, r *run, s *flow.Step, c *flow.Condition, at position) (map[string]any, error) {
	var ok bool
	if at.resume != nil {
		ok = at.resume.Branch == 0
	} else {
		var err error
		if ok, err = r.eval.EvalBool(c.If, at.env); err != nil {
			return nil, evalErr("if", c.If, err)
		}
	}
	out := map[string]any{"result": ok}
	if ok {
		return out, inBranch(0, r.runSteps(ctx, at.path+".then", c.Then, at, bodyOf(at.resume)))
	}
	return out, inBranch(1, r.runSteps(ctx, at.path+".else", c.Else, at, bodyOf(at.resume)))
}

// inBranch turns a branch's hand-over into its container's: the branch it
// took and where inside it stopped.
func inBranch(branch int, err error) error {
	var sl *suspendList
	if errors.As(err, &sl) {
		return &suspendStep{at: &contract.StepCursor{Branch: branch, Body: sl.at}}
	}
	return err
}

// bodyOf is where a resumed container's branch stood (nil: from its start).
func bodyOf(c *contract.StepCursor) *contract.Cursor {
	if c == nil {
		return nil
	}
	return c.Body
}

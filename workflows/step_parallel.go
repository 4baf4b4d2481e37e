package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runParallel) }

// runParallel starts every branch as a workflow coroutine and waits for all.
// The first branch to fail (or to reach an end step) cancels the others:
// their timers and activities are cancelled and their remaining steps do not
// run. Coroutines are scheduled deterministically, so "first" is the same on
// replay. When the run hands over to its continuation, each branch stops at
// its next step boundary and the step carries every branch's cursor; a
// resumed step starts only the branches that had not finished.
func runParallel(ctx workflow.Context, r *run, s *flow.Step, p *flow.Parallel, at position) (map[string]any, error) {
	bctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var first error
	lanes := make([]*contract.Cursor, len(p.Lanes))
	suspended := false
	wg := workflow.NewWaitGroup(ctx)
	for i := range p.Lanes {
		lane := p.Lanes[i]
		var from *contract.Cursor
		if at.resume != nil && i < len(at.resume.Lanes) {
			from = at.resume.Lanes[i]
		}
		if from != nil && from.Inner == nil && from.Next >= len(lane.Steps) {
			lanes[i] = from // finished before the hand-over
			continue
		}
		path := fmt.Sprintf("%s.branches[%d].steps", at.path, i)
		wg.Add(1)
		workflow.Go(bctx, func(gctx workflow.Context) {
			defer wg.Done()
			err := r.runSteps(gctx, path, lane.Steps, at, from)
			var ce *temporal.CanceledError
			var sl *suspendList
			switch {
			case err == nil:
				lanes[i] = &contract.Cursor{Next: len(lane.Steps)}
			case errors.As(err, &sl):
				lanes[i], suspended = sl.at, true
			case first == nil && !errors.As(err, &ce):
				first = err
				cancel()
			}
		})
	}
	wg.Wait(ctx)
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, temporal.NewCanceledError()
	}
	if suspended {
		return nil, &suspendStep{at: &contract.StepCursor{Lanes: lanes}}
	}
	return map[string]any{"branches": len(p.Lanes)}, nil
}

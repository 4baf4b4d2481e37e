package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runParallel) }

// runParallel starts every branch as a workflow coroutine and waits for all.
// The first branch to fail (or to reach an end step) cancels the others:
// their timers and activities are cancelled and their remaining steps do not
// run. Coroutines are scheduled deterministically, so "first" is the same on
// replay.
func runParallel(ctx workflow.Context, r *run, s *flow.Step, p *flow.Parallel, at position) (map[string]any, error) {
	bctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var first error
	wg := workflow.NewWaitGroup(ctx)
	for i := range p.Lanes {
		lane := p.Lanes[i]
		path := fmt.Sprintf("%s.branches[%d].steps", at.path, i)
		wg.Add(1)
		workflow.Go(bctx, func(gctx workflow.Context) {
			defer wg.Done()
			err := r.runSteps(gctx, path, lane.Steps, at)
			var ce *temporal.CanceledError
			if err != nil && first == nil && !errors.As(err, &ce) {
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
	return map[string]any{"branches": len(p.Lanes)}, nil
}

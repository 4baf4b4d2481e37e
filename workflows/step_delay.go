package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runDelay) }

// runDelay waits on a durable Temporal timer: the wait survives worker and
// server restarts, and costs no worker resources while it lasts.
func runDelay(ctx workflow.Context, r *run, s *flow.Step, d *flow.Delay, at position) (map[string]any, error) {
	var until time.Time
	switch {
	case at.resume != nil && at.resume.Until != nil:
		// Interrupted by a hand-over: wait for the time that was left.
		until = *at.resume.Until
	case d.Until != "":
		v, err := r.eval.RenderString(d.Until, at.env)
		if err != nil {
			return nil, evalErr("until", d.Until, err)
		}
		if until, err = flow.ParseUntil(v); err != nil {
			return nil, fmt.Errorf("until: %w", err)
		}
	default:
		until = workflow.Now(ctx).Add(d.Duration.Std())
	}
	wait := until.Sub(workflow.Now(ctx))
	if wait > flow.MaxDelay {
		return nil, fmt.Errorf("wait of %s exceeds the longest delay, %s", wait, flow.MaxDelay)
	}
	until = workflow.Now(ctx).Add(max(wait, 0)).UTC()
	out := map[string]any{"until": until.Format(time.RFC3339Nano)}
	if wait <= 0 {
		return out, nil
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("waiting in delay `%s` until %s", s.ID, until.Format(time.RFC3339)))
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	timer := workflow.NewTimerWithOptions(tctx, wait, workflow.TimerOptions{Summary: "delay " + s.ID})
	// Another branch may ask the run to hand over meanwhile: then the
	// timer is cancelled and the continuation waits for what is left.
	if err := workflow.Await(ctx, func() bool { return timer.IsReady() || r.interruptWaits() }); err != nil {
		return out, err
	}
	if !timer.IsReady() {
		cancelTimer()
		return nil, &suspendStep{at: &contract.StepCursor{Until: &until}}
	}
	if err := timer.Get(ctx, nil); err != nil {
		return out, err
	}
	return out, nil
}

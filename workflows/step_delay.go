package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runDelay) }

// runDelay waits on a durable Temporal timer: the wait survives worker and
// server restarts, and costs no worker resources while it lasts.
func runDelay(ctx workflow.Context, r *run, s *flow.Step, d *flow.Delay, at position) (map[string]any, error) {
	wait := d.Duration.Std()
	if d.Until != "" {
		v, err := r.eval.RenderString(d.Until, at.env)
		if err != nil {
			return nil, evalErr("until", d.Until, err)
		}
		until, err := flow.ParseUntil(v)
		if err != nil {
			return nil, fmt.Errorf("until: %w", err)
		}
		wait = until.Sub(workflow.Now(ctx))
	}
	if wait > flow.MaxDelay {
		return nil, fmt.Errorf("wait of %s exceeds the longest delay, %s", wait, flow.MaxDelay)
	}
	until := workflow.Now(ctx).Add(max(wait, 0)).UTC()
	out := map[string]any{"until": until.Format(time.RFC3339Nano)}
	if wait <= 0 {
		return out, nil
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("waiting in delay `%s` until %s", s.ID, until.Format(time.RFC3339)))
	timer := workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{Summary: "delay " + s.ID})
	if err := timer.Get(ctx, nil); err != nil {
		return out, err
	}
	return out, nil
}

package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

func init() { registerExecutor(runWait) }

// runWait waits for its event (the executions API, or its signed resume
// link), its timeout or a hand-over; the event's body is its outputs.
func runWait(ctx workflow.Context, r *run, s *flow.Step, w *flow.Wait, at position) (map[string]any, error) {
	timeout := w.EffectiveTimeout()
	got, timedOut, err := r.awaitEvent(ctx, s, at, eventWait{
		what: fmt.Sprintf("event `%s` in step `%s`", w.Event, s.ID), event: w.Event, match: w.Match,
		timeout: timeout, notify: w.Notify,
		links:  map[string]string{contract.ActionResume: "resumeUrl"},
		accept: func(ev contract.Event) (map[string]any, error) { return eventOutputs(ev.Body), nil },
	})
	switch {
	case err != nil:
		return nil, err
	case !timedOut:
		return got, nil
	case w.FailsOnTimeout():
		return nil, fmt.Errorf("no event %q arrived within %s", w.Event, field.Duration(timeout))
	}
	return map[string]any{"timedOut": true}, &skipped{note: fmt.Sprintf("timed out: no event %q arrived within %s", w.Event, field.Duration(timeout))}
}

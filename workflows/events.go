package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
)

// armedWait is a wait or approval step waiting for its event.
type armedWait struct {
	stepID     string
	path       string
	occurrence int
	// event is the name it takes from the executions API.
	event string
	// match, when set, must be true of an event's body (read as event).
	match string
	env   map[string]any
	// actions are the signed links' actions it takes.
	actions []string
	// accept turns an event into the step's outputs, or refuses its body.
	accept func(ev contract.Event) (map[string]any, error)
	// got is the accepted event's outputs.
	got map[string]any
}

func (r *run) registerEvents(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateEvent, func(ctx workflow.Context, ev contract.Event) (contract.EventAccepted, error) {
		aw, err := r.findWait(ev)
		if err != nil {
			return contract.EventAccepted{}, err
		}
		out, err := aw.accept(ev)
		if err != nil {
			return contract.EventAccepted{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrorTypeEventInvalid, nil)
		}
		aw.got = out
		return contract.EventAccepted{StepID: aw.stepID, Path: aw.path}, nil
	}, workflow.UpdateHandlerOptions{
		Validator: func(_ workflow.Context, ev contract.Event) error {
			aw, err := r.findWait(ev)
			if err != nil {
				return err
			}
			if _, err := aw.accept(ev); err != nil {
				return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrorTypeEventInvalid, nil)
			}
			return nil
		},
		Description: "Delivers an event (name, body; or a signed link's claim) to the wait or approval step waiting for it. Refused when no step waits for it.",
	})
}

// findWait is the armed step an event goes to: the link's own step, or the
// first step (in the order they began) waiting for the name whose match
// accepts the body.
func (r *run) findWait(ev contract.Event) (*armedWait, error) {
	if r.finished {
		return nil, temporal.NewNonRetryableApplicationError("the run has ended", contract.ErrorTypeEventNotWaiting, nil)
	}
	if l := ev.Link; l != nil {
		for _, aw := range r.armed {
			if aw.stepID == l.StepID && aw.occurrence == l.Occurrence && aw.got == nil && slices.Contains(aw.actions, l.Action) {
				if err := r.matches(aw, ev); err != nil {
					return nil, err
				}
				return aw, nil
			}
		}
		return nil, r.notWaiting(fmt.Sprintf("step %q is no longer waiting for this link", l.StepID))
	}
	var refused error
	for _, aw := range r.armed {
		if aw.got != nil || aw.event != ev.Name {
			continue
		}
		if err := r.matches(aw, ev); err != nil {
			if refused == nil {
				refused = err
			}
			continue
		}
		return aw, nil
	}
	if refused != nil {
		return nil, refused
	}
	return nil, r.notWaiting(fmt.Sprintf("no step is waiting for the event %q", ev.Name))
}

func (r *run) notWaiting(msg string) error {
	if r.handover.suspending {
		return temporal.NewNonRetryableApplicationError("the run is moving to a fresh history; send the event again", contract.ErrorTypeHandingOver, nil)
	}
	return temporal.NewNonRetryableApplicationError(msg, contract.ErrorTypeEventNotWaiting, nil)
}

// matches evaluates the step's match expression on the event's body.
func (r *run) matches(aw *armedWait, ev contract.Event) error {
	if aw.match == "" {
		return nil
	}
	env := make(map[string]any, len(aw.env)+1)
	for _, k := range flow.SortedKeys(aw.env) {
		env[k] = aw.env[k]
	}
	env[expression.EnvEvent] = ev.Body
	ok, err := r.eval.EvalBool(aw.match, env)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %q: match `%s`: %v", aw.stepID, expression.StripBraces(aw.match), err), contract.ErrorTypeEventNoMatch, nil)
	}
	if !ok {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("step %q waits for %q, but the event does not match `%s`", aw.stepID, aw.event, expression.StripBraces(aw.match)), contract.ErrorTypeEventNoMatch, nil)
	}
	return nil
}

// eventWait is what a wait or an approval waits for.
type eventWait struct {
	// what names the wait in the Web UI ("event `x`", "approval `y`").
	what    string
	event   string
	match   string
	timeout time.Duration
	notify  []flow.Step
	// links maps each signed link's action to the steps.<id> field that
	// holds its URL.
	links  map[string]string
	accept func(ev contract.Event) (map[string]any, error)
}

// awaitEvent arms a wait: it numbers the occurrence, signs its links (when
// an expression reads them), runs the notify steps, then waits for the
// event, the timeout or a hand-over. A hand-over (in notify, or while
// waiting) unwinds with a cursor; the continuation waits for the time left
// and the same links keep working.
func (r *run) awaitEvent(ctx workflow.Context, s *flow.Step, at position, w eventWait) (got map[string]any, timedOut bool, err error) {
	var (
		until time.Time
		occ   int
		phase int
		from  *contract.Cursor
	)
	if rs := at.resume; rs != nil && rs.Until != nil {
		until, occ, phase, from, got = *rs.Until, rs.Occurrence, rs.Branch, rs.Body, rs.Outputs
	} else {
		if r.Counts == nil {
			r.Counts = map[string]int{}
		}
		r.Counts[s.ID]++
		occ = r.Counts[s.ID]
		until = workflow.Now(ctx).Add(w.timeout).UTC()
		running := map[string]any{"status": contract.StatusRunning, "outputs": map[string]any{}}
		if r.readsLinks(s.ID, w.links) {
			urls, err := r.signLinks(ctx, s.ID, occ, until, w.links)
			if err != nil {
				return nil, false, err
			}
			for _, action := range flow.SortedKeys(w.links) {
				running[w.links[action]] = urls[action]
			}
		}
		r.setResult(at, s.ID, running)
	}
	actions := flow.SortedKeys(w.links)
	aw := &armedWait{stepID: s.ID, path: at.path, occurrence: occ, event: w.event, match: w.match, env: at.env, actions: actions, accept: w.accept, got: got}
	r.armed = append(r.armed, aw)
	defer func() { r.armed = slices.DeleteFunc(r.armed, func(x *armedWait) bool { return x == aw }) }()

	workflow.SetCurrentDetails(ctx, fmt.Sprintf("waiting for %s until %s", w.what, until.Format(time.RFC3339)))
	tctx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	var timer workflow.Future
	if left := until.Sub(workflow.Now(ctx)); left > 0 {
		timer = workflow.NewTimerWithOptions(tctx, left, workflow.TimerOptions{Summary: "timeout of " + s.ID})
	}
	expired := func() bool { return timer == nil || timer.IsReady() }

	if phase == 0 && len(w.notify) > 0 {
		err := r.runSteps(ctx, at.path+".notify", w.notify, at, from)
		var sl *suspendList
		if errors.As(err, &sl) {
			return nil, false, &suspendStep{at: &contract.StepCursor{Body: sl.at, Until: &until, Occurrence: occ, Outputs: aw.got}}
		}
		if err != nil {
			return nil, false, err
		}
	}
	if err := workflow.Await(ctx, func() bool { return aw.got != nil || expired() || r.interruptWaits() }); err != nil {
		return nil, false, err
	}
	switch {
	case aw.got != nil:
		return aw.got, false, nil
	case expired():
		return nil, true, nil
	}
	return nil, false, &suspendStep{at: &contract.StepCursor{Branch: 1, Until: &until, Occurrence: occ}}
}

// readsLinks reports whether an expression of the flow may read one of the
// step's link fields: links are signed only then (a wait resumed only
// through the API needs no resume key). A property that shares the step's
// name (trigger.body.order for a step order) is not a read.
func (r *run) readsLinks(stepID string, links map[string]string) bool {
	fields := make([]string, 0, len(links))
	for _, action := range flow.SortedKeys(links) {
		fields = append(fields, links[action])
	}
	return r.in.Flow.ReadsOutputs(stepID, fields...)
}

// signLinks asks a local activity (the worker holds the resume key; the
// key never enters history) for the step's signed links.
func (r *run) signLinks(ctx workflow.Context, stepID string, occ int, until time.Time, links map[string]string) (map[string]string, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
		Summary:             "sign the links of " + stepID,
	})
	req := contract.ResumeRequest{
		BaseURL: r.in.PublicURL, ExecutionID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		StepID: stepID, Occurrence: occ, Actions: flow.SortedKeys(links), Expires: until,
	}
	var res contract.ResumeLinks
	if err := workflow.ExecuteLocalActivity(lctx, contract.SignResumeName, req).Get(ctx, &res); err != nil {
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			return nil, fmt.Errorf("signing the resume links: %s", ae.Message())
		}
		return nil, fmt.Errorf("signing the resume links: %w", err)
	}
	return res.URLs, nil
}

// eventOutputs is a wait's outputs: the event's body when it is an object,
// else {body: <value>}.
func eventOutputs(body any) map[string]any {
	if m, ok := body.(map[string]any); ok {
		return m
	}
	if body == nil {
		return map[string]any{}
	}
	return map[string]any{"body": body}
}

package workflows

import (
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// FirstAttempt is how a flow worker makes a delivery's first attempt: as a
// local activity beside the interpreter (no task on the webhook queue, no
// extra workflow task when it succeeds), bounded by Budget so a slow
// receiver holds up the run at most that long. A first attempt that fails
// hands the delivery over to the webhook task queue with the rest of the
// step's retry policy.
type FirstAttempt struct {
	Enabled bool          `json:"enabled"`
	Budget  time.Duration `json:"budget"`
}

// DefaultFirstAttemptBudget bounds a local first attempt: below the
// workflow task timeout (10 s), so the task need not be heartbeated and a
// slow receiver delays the run's other branches by at most this much.
const DefaultFirstAttemptBudget = 5 * time.Second

// firstAttemptVersion gates the commands of local first attempts: runs
// recorded before them replay on the activity-only path.
const firstAttemptVersion = "first-attempt-local"

type firstAttemptKey struct{}

// FirstAttemptInterceptor hands the worker's FirstAttempt setting to the
// workflows it runs (a context value; each run records the setting it used
// in its history, so a worker restarted with another setting replays it).
func FirstAttemptInterceptor(fa FirstAttempt) interceptor.WorkerInterceptor {
	if fa.Enabled && fa.Budget <= 0 {
		fa.Budget = DefaultFirstAttemptBudget
	}
	return &firstAttemptWorker{fa: fa}
}

type firstAttemptWorker struct {
	interceptor.WorkerInterceptorBase
	fa FirstAttempt
}

func (w *firstAttemptWorker) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &firstAttemptInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, fa: w.fa}
}

type firstAttemptInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	fa FirstAttempt
}

func (i *firstAttemptInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	return i.Next.ExecuteWorkflow(workflow.WithValue(ctx, firstAttemptKey{}, i.fa), in)
}

// firstAttemptFor tells whether this delivery's first attempt runs
// locally, and its budget. A delivery to a destination does only when its
// policy allows it (pol.FirstAttemptLocal: no rate, which the server
// enforces on its queue; the destination's gate decides the rest when the
// attempt runs); pol is nil for a send to a URL.
func firstAttemptFor(ctx workflow.Context, engine int, req *flow.HTTPRequest, pol *contract.DestinationPolicy) (FirstAttempt, bool) {
	if req.Destination != "" && (pol == nil || !pol.FirstAttemptLocal) {
		return FirstAttempt{}, false
	}
	// A run started with the engine that has local first attempts needs no
	// version marker: GetVersion also upserts TemporalChangeVersion, one
	// more visibility write per run (a quarter of a send's cost on the
	// embedded server). Runs started without it (before, or by an older
	// api) take the marker.
	if engine < contract.EngineLocalFirstAttempt && workflow.GetVersion(ctx, firstAttemptVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return FirstAttempt{}, false
	}
	cfg, _ := ctx.Value(firstAttemptKey{}).(FirstAttempt)
	// Recorded once per run (again only if the worker's setting changes),
	// so replay takes the path the run took.
	var fa FirstAttempt
	err := workflow.MutableSideEffect(ctx, firstAttemptVersion, func(workflow.Context) any { return cfg },
		func(a, b any) bool {
			x, ok1 := a.(FirstAttempt)
			y, ok2 := b.(FirstAttempt)
			return ok1 && ok2 && x == y
		}).Get(&fa)
	if err != nil {
		return FirstAttempt{}, false
	}
	return fa, fa.Enabled && fa.Budget > 0
}

// deliveryFailure is a delivery that failed without a last activity
// failure to say so: its local first attempt failed for good (a 4xx), or
// no time or attempt was left to hand it over. It wraps the first
// attempt's error, so the step reads its status, attempt and message.
type deliveryFailure struct {
	err   error
	state enumspb.RetryState
}

func (e *deliveryFailure) Error() string { return e.err.Error() }
func (e *deliveryFailure) Unwrap() error { return e.err }

// deliveryRetryState is why a delivery's final error ended it: retries
// ran out (timeout, maximum attempts), the receiver refused it for good
// (non-retryable), or something else (cancelled: unspecified).
func deliveryRetryState(err error) enumspb.RetryState {
	var df *deliveryFailure
	if errors.As(err, &df) {
		return df.state
	}
	var ae *temporal.ActivityError
	if errors.As(err, &ae) {
		return ae.RetryState()
	}
	return enumspb.RETRY_STATE_UNSPECIFIED
}

// deliver makes one delivery: as a local first attempt and, when that
// fails, the rest of the step's retry policy on ao's task queue; or, when
// the first attempt is not local, all of it there. It returns how many
// attempts come before the activity's own (1 after a hand-over of a first
// attempt that sent, else 0: a destination's gate refused it, or none)
// and the final error, the single place where a delivery is known to have
// failed for good.
func (r *run) deliver(ctx workflow.Context, req *flow.HTTPRequest, pol *contract.DestinationPolicy, ao workflow.ActivityOptions, plan *sendPlan, res *contract.Result) (int32, error) {
	// A local attempt already completed in this workflow task: this send
	// goes as an activity, so that a resume, which resets to the task
	// where a send failed, never makes again a send that succeeded before
	// it (sends side by side still share a task), and a loop of sends
	// does not pile thousands of local attempts into one task (one
	// completion past gRPC's 4 MiB: Temporal terminated the run,
	// GrpcMessageTooLarge). Its completion brings a new task, where the
	// next send may be local again. A 1 ms timer to start a new task
	// instead fires about a second later on a cluster (Temporal's 1 s
	// timer-queue window, history.timerProcessorMaxTimeShift), one task a
	// second: docs/development.md, "Embedded server settings".
	var fa FirstAttempt
	local := false
	if plan != nil {
		// EngineTaskBudget: planSend placed it in this workflow task,
		// with the rule below and the task's byte budget.
		fa, local = plan.fa, plan.local
	} else {
		fa, local = firstAttemptFor(ctx, r.in.Engine, req, pol)
		local = local && !(r.task.localDone && r.task.localDoneAt == workflow.GetInfo(ctx).GetCurrentHistoryLength())
	}
	if !local {
		return 0, workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), contract.DeliverName, *req).Get(ctx, res)
	}
	start := workflow.Now(ctx)
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		// The budget bounds the HTTP exchange; the margin is the worker's
		// own work (secrets, signing).
		StartToCloseTimeout: fa.Budget + 5*time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
		Summary:             ao.Summary + " (first attempt)",
	})
	in := contract.FirstAttempt{Request: *req, Budget: fa.Budget, Schedule: scheduleOf(ao)}
	lerr := workflow.ExecuteLocalActivity(lctx, contract.DeliverFirstName, in).Get(ctx, res)
	r.task.localDone, r.task.localDoneAt = true, workflow.GetInfo(ctx).GetCurrentHistoryLength()
	if lerr == nil {
		res.FirstAttempt = nil // recorded in the marker; not the step's
		return 0, nil
	}
	if temporal.IsCanceledError(lerr) {
		return 0, lerr
	}
	lerr = withFirstAttemptMessage(lerr)
	rp := *ao.RetryPolicy
	delay, cut, prior := rp.InitialInterval, false, int32(1)
	var ae *temporal.ApplicationError
	var te *temporal.TimeoutError
	switch {
	case errors.As(lerr, &ae) && ae.NonRetryable():
		return 0, &deliveryFailure{err: lerr, state: enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE}
	case errors.As(lerr, &ae) && ae.Type() == contract.ErrDestinationParked:
		// The destination's gate did not admit it here (paused, limited,
		// open, its leases held): nothing was sent. Its queue makes the
		// step's attempts at once, the first of them attempt 1.
		delay, cut, prior = 0, true, 0
	case errors.As(lerr, &ae) && ae.Type() == contract.ErrFirstAttemptCut, errors.As(lerr, &te):
		// Cut by the budget, not failed by the receiver: the step's own
		// attempts follow at once, with its whole retry policy.
		delay, cut = 0, true
	case errors.As(lerr, &ae) && ae.NextRetryDelay() > 0:
		delay = ae.NextRetryDelay() // 429 with Retry-After
	}
	if !cut {
		// The first attempt was the policy's first: the activity goes on
		// with the second interval and one attempt fewer.
		if rp.MaximumAttempts == 1 {
			return 0, &deliveryFailure{err: lerr, state: enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED}
		}
		if rp.MaximumAttempts > 1 {
			rp.MaximumAttempts--
		}
		coef := rp.BackoffCoefficient
		if coef < 1 {
			coef = 2
		}
		next := time.Duration(float64(rp.InitialInterval) * coef)
		if rp.MaximumInterval > 0 && next > rp.MaximumInterval {
			next = rp.MaximumInterval
		}
		rp.InitialInterval = next
	}
	if ao.ScheduleToCloseTimeout > 0 {
		// The give-up clock runs from the first attempt: the time it took
		// and the wait before the next are spent. (Counted from recorded
		// times, not the clock when the activity is scheduled, so a resume
		// that schedules it again long after gets the same budget.)
		left := ao.ScheduleToCloseTimeout - workflow.Now(ctx).Sub(start) - delay
		if left <= 0 {
			return 0, &deliveryFailure{err: lerr, state: enumspb.RETRY_STATE_TIMEOUT}
		}
		ao.ScheduleToCloseTimeout = left
	}
	if delay > 0 {
		if err := workflow.NewTimerWithOptions(ctx, delay, workflow.TimerOptions{Summary: "retry " + ao.Summary}).Get(ctx, nil); err != nil {
			return 0, err
		}
	}
	if plan != nil {
		// The hand-over's schedule carries the request too.
		if _, err := r.placeInTask(ctx, plan.request, 0, false, false); err != nil {
			return 0, err
		}
	}
	ao.RetryPolicy = &rp
	return prior, workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), contract.DeliverName, *req).Get(ctx, res)
}

// scheduleOf is ao's timeouts and retry policy, as a local first attempt
// records them.
func scheduleOf(ao workflow.ActivityOptions) contract.Schedule {
	sc := contract.Schedule{ScheduleToClose: ao.ScheduleToCloseTimeout, StartToClose: ao.StartToCloseTimeout}
	if rp := ao.RetryPolicy; rp != nil {
		sc.InitialInterval, sc.BackoffCoefficient, sc.MaximumInterval, sc.MaximumAttempts = rp.InitialInterval, rp.BackoffCoefficient, rp.MaximumInterval, rp.MaximumAttempts
	}
	return sc
}

// withFirstAttemptMessage is a local first attempt's failure as the
// delivery activity would have failed: its message, kept in the details
// (see contract.Failure.Message), back in place.
func withFirstAttemptMessage(err error) error {
	var ae *temporal.ApplicationError
	var f contract.Failure
	if !errors.As(err, &ae) || !ae.HasDetails() || ae.Details(&f) != nil || f.Message == "" {
		return err
	}
	msg := f.Message
	f.Message, f.FirstAttempt = "", nil
	return temporal.NewApplicationErrorWithOptions(msg, ae.Type(), temporal.ApplicationErrorOptions{
		NonRetryable: ae.NonRetryable(), NextRetryDelay: ae.NextRetryDelay(), Details: []any{f},
	})
}

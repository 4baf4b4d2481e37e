package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
)

// FirstAttemptGate admits a flow worker's first attempt to a destination
// by the destination's rules and counts (*destinations.Supervisor).
type FirstAttemptGate interface {
	GateFirst(ctx context.Context, name string, t destinations.Timing) (destinations.Attempt, error)
	Done(a destinations.Attempt, err error, took time.Duration)
}

var _ FirstAttemptGate = (*destinations.Supervisor)(nil)

// gateFirst asks the destination's gate to admit a first attempt to it,
// and returns what records its outcome; refused (paused, limited, open, a
// rate, its leases held, or no gate in this worker), it fails as
// ErrDestinationParked: nothing was sent, and the workflow hands the
// delivery to the destination's queue at once, counting no attempt.
func (h *Deliverer) gateFirst(ctx context.Context, req flow.HTTPRequest, budget time.Duration) (func(error, time.Duration), error) {
	g := h.cfg.FirstAttemptGate
	if g == nil {
		return nil, temporal.NewApplicationError("destination "+req.Destination+": this worker runs no destination gate; nothing was sent and the delivery goes to its queue", contract.ErrDestinationParked)
	}
	t := destinations.Timing{StartToClose: budget, Need: req.ConnectTimeout + req.ResponseTimeout}
	if activity.IsActivity(ctx) {
		t.StartToClose = activity.GetInfo(ctx).StartToCloseTimeout
	}
	at, err := g.GateFirst(ctx, req.Destination, t)
	if err != nil {
		return nil, err
	}
	return func(err error, took time.Duration) { g.Done(at, err, took) }, nil
}

// DeliverFirst is a delivery's first attempt, run as a local activity by
// the flow worker: Deliver with its timeouts bounded by the budget. An
// attempt that times out because of the budget (not the step's own
// timeouts) fails as ErrFirstAttemptCut, so the workflow hands the
// delivery over at once rather than after the retry interval; every other
// outcome is Deliver's.
func (h *Deliverer) DeliverFirst(ctx context.Context, in contract.FirstAttempt) (*contract.Result, error) {
	req := in.Request
	cut := false
	if in.Budget > 0 {
		if req.ResponseTimeout <= 0 || req.ResponseTimeout > in.Budget {
			req.ResponseTimeout, cut = in.Budget, true
		}
		if req.ConnectTimeout <= 0 || req.ConnectTimeout > in.Budget {
			req.ConnectTimeout = in.Budget
		}
	}
	done := func(error, time.Duration) {}
	if req.Destination != "" {
		var err error
		if done, err = h.gateFirst(ctx, req, in.Budget); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	res, err := h.Deliver(ctx, req)
	took := time.Since(start)
	if err == nil {
		done(nil, took)
		res.FirstAttempt = &in
		return res, nil
	}
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
		done(err, took)
		return nil, err
	}
	var f contract.Failure
	if ae.HasDetails() {
		_ = ae.Details(&f)
	}
	f.FirstAttempt = &in
	typ, msg := ae.Type(), ae.Message()
	timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded) || time.Since(start) >= in.Budget-50*time.Millisecond
	if cut && typ == contract.ErrNetwork && timedOut {
		typ = contract.ErrFirstAttemptCut
		msg = "no answer within the flow worker's first-attempt budget of " + in.Budget.String() + " (" + msg + "); handed over to the webhook queue"
	}
	// The same failure, with the input recorded beside it and its message
	// in the details (contract.Failure.Message says why).
	f.Message = msg
	failed := temporal.NewApplicationErrorWithOptions("first attempt failed ("+typ+")", typ, temporal.ApplicationErrorOptions{
		NonRetryable: ae.NonRetryable(), NextRetryDelay: ae.NextRetryDelay(), Details: []any{f},
	})
	// A destination's breaker and metric see the attempt as classified
	// here: cut by the budget is not the receiver's failure.
	done(failed, took)
	return nil, failed
}

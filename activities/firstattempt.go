package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
)

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
	start := time.Now()
	res, err := h.Deliver(ctx, req)
	if err == nil {
		res.FirstAttempt = &in
		return res, nil
	}
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) {
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
	return nil, temporal.NewApplicationErrorWithOptions("first attempt failed ("+typ+")", typ, temporal.ApplicationErrorOptions{
		NonRetryable: ae.NonRetryable(), NextRetryDelay: ae.NextRetryDelay(), Details: []any{f},
	})
}

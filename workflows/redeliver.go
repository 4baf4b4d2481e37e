package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// RedeliverWorkflow sends one delivery of a run again: the same delivery
// activity, on the webhook task queue, with the run's retry policy and
// timeouts for it. The run itself is not touched (it may be closed).
func RedeliverWorkflow(ctx workflow.Context, in contract.RedeliverInput) (*contract.RedeliverResult, error) {
	req := in.Request
	res := &contract.RedeliverResult{DeliveryID: in.DeliveryID, IdempotencyKey: req.DeliveryID}
	queue := contract.WebhookTaskQueue
	if req.Destination != "" {
		// Through the destination's queue: its limits, pause and breaker.
		queue = flow.DestinationTaskQueue(req.Destination)
	}
	ao := workflow.ActivityOptions{
		TaskQueue:              queue,
		ScheduleToCloseTimeout: in.ScheduleToCloseTimeout,
		StartToCloseTimeout:    in.StartToCloseTimeout,
		RetryPolicy:            in.RetryPolicy,
		Summary:                "redeliver " + summary(&req),
	}
	var out contract.Result
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), contract.DeliverName, req).Get(ctx, &out)
	if err == nil {
		res.StatusCode, res.Attempts = out.StatusCode, out.Attempt
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("**delivered**: %d after %d attempt(s)", res.StatusCode, res.Attempts))
		return res, nil
	}
	var appErr *temporal.ApplicationError
	var te *temporal.TimeoutError
	switch {
	case errors.As(err, &appErr):
		var f contract.Failure
		if appErr.HasDetails() && appErr.Details(&f) == nil {
			res.StatusCode, res.Attempts = f.StatusCode, f.Attempt
		}
		res.Error = appErr.Error()
	case errors.As(err, &te):
		res.Error = "gave up: " + te.Error()
	default:
		res.Error = err.Error()
	}
	workflow.SetCurrentDetails(ctx, "**failed**: "+res.Error)
	return nil, temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("redelivery %s %s failed: %s", req.Method, req.URL, res.Error), contract.ErrorTypeRedeliveryFailed, nil, res)
}

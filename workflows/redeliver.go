package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities/contract"
	"github.com/hookflow/hookflow/flow"
)

// RedeliverWorkflowName is RedeliverWorkflow's registered type name (stable:
// histories refer to it).
const RedeliverWorkflowName = "RedeliverWorkflow"

// A redelivery is linked to the execution whose send it repeats: by a
// search attribute (the executions API lists them, an operator filters by
// it in the Web UI) and by its memo.
var SearchAttrRedeliveryOf = temporal.NewSearchAttributeKeyKeyword("HookflowRedeliveryOf")

// Memo fields of a redelivery.
const (
	MemoRedeliveryOf   = "hookflowRedeliveryOf"
	MemoDeliveryID     = "hookflowDeliveryId"
	MemoIdempotencyKey = "hookflowIdempotencyKey"
)

// ErrorTypeRedeliveryFailed is the failure of a redelivery whose send
// failed for good; its details are a RedeliverResult.
const ErrorTypeRedeliveryFailed = "RedeliveryFailed"

// RedeliverWorkflowID names the n-th redelivery (from 1) of one delivery of
// an execution.
func RedeliverWorkflowID(executionID, deliveryID string, n int) string {
	return fmt.Sprintf("%s/redeliver/%s/%d", executionID, deliveryID, n)
}

// RedeliverInput is one send to repeat: the request as the run scheduled it
// (its auth holds secret names, which the worker resolves) and the run's
// schedule for it (timeouts and retry policy), read from its history.
type RedeliverInput struct {
	ExecutionID string `json:"executionId"`
	// DeliveryID is the original delivery's id; Request.DeliveryID is the
	// idempotency key this send carries (the same, or a new one).
	DeliveryID             string                `json:"deliveryId"`
	Request                flow.HTTPRequest      `json:"request"`
	ScheduleToCloseTimeout time.Duration         `json:"scheduleToCloseTimeout"`
	StartToCloseTimeout    time.Duration         `json:"startToCloseTimeout"`
	RetryPolicy            *temporal.RetryPolicy `json:"retryPolicy,omitempty"`
}

// RedeliverResult is a redelivery's outcome: its result when the send
// succeeded, the details of its failure otherwise.
type RedeliverResult struct {
	DeliveryID     string `json:"deliveryId"`
	IdempotencyKey string `json:"idempotencyKey"`
	StatusCode     int    `json:"statusCode,omitempty"`
	Attempts       int32  `json:"attempts,omitempty"`
	Error          string `json:"error,omitempty"`
}

// RedeliverWorkflow sends one delivery of a run again: the same delivery
// activity, on the webhook task queue, with the run's retry policy and
// timeouts for it. The run itself is not touched (it may be closed).
func RedeliverWorkflow(ctx workflow.Context, in RedeliverInput) (*RedeliverResult, error) {
	req := in.Request
	res := &RedeliverResult{DeliveryID: in.DeliveryID, IdempotencyKey: req.DeliveryID}
	queue := WebhookTaskQueue
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
		fmt.Sprintf("redelivery %s %s failed: %s", req.Method, req.URL, res.Error), ErrorTypeRedeliveryFailed, nil, res)
}

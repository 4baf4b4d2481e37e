package contract

import (
	"fmt"
	"time"

	"github.com/hookflow/hookflow/flow"
	"go.temporal.io/sdk/temporal"
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

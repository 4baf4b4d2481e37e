package recovery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/executions"
)

// Idempotency keys a redelivery may carry: the original delivery id again
// (the receiver sees the same Idempotency-Key), or a new one per
// redelivery.
const (
	KeySame = "same"
	KeyNew  = "new"
)

// MaxRedeliveries bounds the redeliveries of one delivery (the n in their
// workflow ids is found by probing 1, 2, ...).
const MaxRedeliveries = 100

// Redelivery refusals, matched with errors.Is (ErrExecutionNotFound too:
// an execution that is not a flow's run).
var (
	ErrNoDelivery          = errors.New("no such delivery")
	ErrTooManyRedeliveries = errors.New("too many redeliveries")
	// ErrUndecodable is a history this process cannot decode (payloads
	// encrypted with keys it lacks); ErrNoSearchAttribute a namespace
	// without the redeliveries' search attribute (hookflow setup adds
	// it). Both are the deployment's to fix, not the caller's.
	ErrUndecodable       = errors.New("the run's delivery requests cannot be decoded")
	ErrNoSearchAttribute = errors.New("the namespace lacks the redeliveries' search attribute")
)

// RedeliverError is a redelivery refused: its kind (one of the errors
// above), the message for the caller, and the cause when there is one.
type RedeliverError struct {
	kind error
	msg  string
	err  error
}

func (e *RedeliverError) Error() string        { return e.msg }
func (e *RedeliverError) Is(target error) bool { return target == e.kind }
func (e *RedeliverError) Unwrap() error        { return e.err }

func redeliverError(kind, cause error, format string, args ...any) error {
	return &RedeliverError{kind: kind, msg: fmt.Sprintf(format, args...), err: cause}
}

// RedeliverRequestError is a redeliver request's body refused: Code is
// "malformed_json" (not a JSON object) or "invalid_request" (at Path).
type RedeliverRequestError struct {
	Code, Path, Message string
}

func (e *RedeliverRequestError) Error() string { return e.Message }

// ParseRedeliverRequest reads the body of a redeliver request strictly,
// {"idempotencyKey": "same" | "new"}: an empty body takes "same"; an
// unknown field or a wrong value is refused with its path.
func ParseRedeliverRequest(raw []byte) (key string, err *RedeliverRequestError) {
	key = KeySame
	if len(bytes.TrimSpace(raw)) == 0 {
		return key, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return key, &RedeliverRequestError{Code: "malformed_json", Message: "the body must be a JSON object such as {\"idempotencyKey\": \"new\"}"}
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if k != "idempotencyKey" {
			return key, &RedeliverRequestError{Code: "invalid_request", Path: "body." + k, Message: "unknown field " + strconv.Quote(k) + "; the body takes idempotencyKey"}
		}
	}
	if v, ok := fields["idempotencyKey"]; ok {
		var k string
		if err := json.Unmarshal(v, &k); err != nil || (k != KeySame && k != KeyNew) {
			return KeySame, &RedeliverRequestError{Code: "invalid_request", Path: "body.idempotencyKey", Message: `idempotencyKey must be "same" (the receiver sees the original Idempotency-Key again) or "new"`}
		}
		key = k
	}
	return key, nil
}

// RedeliveryKey is the Idempotency-Key redelivery n of delivery dlv sends:
// the delivery's own, or with key KeyNew one of its own.
func RedeliveryKey(dlv, key string, n int) string {
	if key == KeyNew {
		return fmt.Sprintf("%s-r%d", dlv, n)
	}
	return dlv
}

// Redelivery is a redelivery as the executions API shows it: in the
// redeliver answer, and in the execution's redeliveries.
type Redelivery struct {
	DeliveryID     string     `json:"deliveryId"`
	ExecutionID    string     `json:"executionId"`
	Status         string     `json:"status"`
	StatusCode     int        `json:"statusCode,omitempty"`
	Attempts       int32      `json:"attempts,omitempty"`
	IdempotencyKey string     `json:"idempotencyKey"`
	Error          string     `json:"error,omitempty"`
	StartedAt      time.Time  `json:"startedAt"`
	ClosedAt       *time.Time `json:"closedAt,omitempty"`
}

// Redeliver sends delivery dlv of execution id again: its request, as the
// run scheduled it, is found in the run's history and sent by a
// RedeliverWorkflow of its own (the same delivery activity and retry
// policy), linked to the run. The run is not touched, and may be closed.
// Nothing starts when it is refused. It returns the redelivery started
// and its run id.
func (r *Recoverer) Redeliver(ctx context.Context, id, dlv, key string) (Redelivery, string, error) {
	desc, err := r.Client.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return Redelivery{}, "", err
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetType().GetName() != contract.WorkflowName {
		return Redelivery{}, "", redeliverError(ErrExecutionNotFound, nil, "no such execution")
	}
	in, err := r.FindDelivery(ctx, id, info.GetExecution().GetRunId(), dlv)
	if err != nil {
		return Redelivery{}, "", err
	}
	for attempt := 0; ; attempt++ {
		n, err := r.nextRedelivery(ctx, id, dlv)
		if err != nil {
			return Redelivery{}, "", err
		}
		if n > MaxRedeliveries {
			return Redelivery{}, "", redeliverError(ErrTooManyRedeliveries, nil, "delivery %s of execution %s was redelivered %d times already, the most this API does", dlv, id, MaxRedeliveries)
		}
		sent := RedeliveryKey(dlv, key, n)
		in.Request.DeliveryID = sent
		wid := contract.RedeliverWorkflowID(id, dlv, n)
		run, err := r.Client.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{
			ID:                       wid,
			TaskQueue:                contract.TaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			// The send's own schedule bounds it; this is a backstop.
			WorkflowExecutionTimeout: in.ScheduleToCloseTimeout + time.Hour,
			TypedSearchAttributes:    temporal.NewSearchAttributes(contract.SearchAttrRedeliveryOf.ValueSet(id)),
			Memo: map[string]any{
				contract.MemoRedeliveryOf: id, contract.MemoDeliveryID: dlv, contract.MemoIdempotencyKey: sent,
			},
			StaticSummary: fmt.Sprintf("Redelivery %d of %s (%s)", n, dlv, in.Request.Method),
			StaticDetails: fmt.Sprintf("hookflow redelivery of delivery `%s` of execution `%s`, idempotency key `%s`", dlv, id, sent),
		}, contract.RedeliverWorkflowName, in)
		var dup *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &dup) && attempt < 5 {
			// Another redelivery of the same delivery took this number
			// meanwhile: take the next one.
			continue
		}
		if err != nil {
			var ia *serviceerror.InvalidArgument
			if errors.As(err, &ia) && strings.Contains(ia.Error(), contract.SearchAttrRedeliveryOf.GetName()) {
				return Redelivery{}, "", redeliverError(ErrNoSearchAttribute, err,
					"the namespace lacks the search attribute %s; run hookflow setup", contract.SearchAttrRedeliveryOf.GetName())
			}
			return Redelivery{}, "", err
		}
		return Redelivery{DeliveryID: dlv, ExecutionID: wid, Status: "running", IdempotencyKey: sent, StartedAt: time.Now().UTC()}, run.GetRunID(), nil
	}
}

// FindDelivery reads the delivery's request from the execution's history
// (SendIn reads each event), in run runID or, for a run that continued as
// new, an earlier run of its chain.
func (r *Recoverer) FindDelivery(ctx context.Context, id, runID, dlv string) (contract.RedeliverInput, error) {
	dc := r.dataConverter()
	for runs := 0; runID != "" && runs < 10_000; runs++ {
		iter := r.Client.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		prev := ""
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return contract.RedeliverInput{}, err
			}
			if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
				prev = a.GetContinuedExecutionRunId()
				continue
			}
			in, found, err := SendIn(dc, id, dlv, ev)
			if err != nil {
				return contract.RedeliverInput{}, redeliverError(ErrUndecodable, fmt.Errorf("run %s: %w", runID, err),
					"the run's delivery requests cannot be decoded by this API (are payloads encrypted with keys this API lacks?)")
			}
			if found {
				return in, nil
			}
		}
		runID = prev
	}
	return contract.RedeliverInput{}, redeliverError(ErrNoDelivery, nil,
		"execution %s has no delivery %s (its step log names each send's deliveryId)", id, strconv.Quote(dlv))
}

// nextRedelivery is the number of the next redelivery of a delivery: one
// past the highest whose workflow Temporal still knows.
func (r *Recoverer) nextRedelivery(ctx context.Context, id, dlv string) (int, error) {
	for n := 1; ; n++ {
		_, err := r.Client.DescribeWorkflowExecution(ctx, contract.RedeliverWorkflowID(id, dlv, n), "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) || n > MaxRedeliveries {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// Redeliveries lists an execution's redeliveries from visibility, oldest
// first, with each closed one's outcome from its result. list is the
// visibility call (the API's keeps the namespace it learned).
func (r *Recoverer) Redeliveries(ctx context.Context, id string, list func(context.Context, *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)) ([]Redelivery, error) {
	resp, err := list(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query:    fmt.Sprintf("%s = %q", contract.SearchAttrRedeliveryOf.GetName(), id),
		PageSize: 1000,
	})
	if err != nil {
		return nil, err
	}
	dc := r.dataConverter()
	out := make([]Redelivery, 0, len(resp.GetExecutions()))
	for _, info := range resp.GetExecutions() {
		rd := Redelivery{
			ExecutionID: info.GetExecution().GetWorkflowId(), Status: executions.StatusName(info.GetStatus()),
			StartedAt: info.GetStartTime().AsTime(),
		}
		memo := info.GetMemo().GetFields()
		_ = dc.FromPayload(memo[contract.MemoDeliveryID], &rd.DeliveryID)
		_ = dc.FromPayload(memo[contract.MemoIdempotencyKey], &rd.IdempotencyKey)
		if info.GetCloseTime() != nil {
			t := info.GetCloseTime().AsTime()
			rd.ClosedAt = &t
			var res contract.RedeliverResult
			err := r.Client.GetWorkflow(ctx, rd.ExecutionID, info.GetExecution().GetRunId()).Get(ctx, &res)
			var app *temporal.ApplicationError
			if err != nil && errors.As(err, &app) && app.HasDetails() {
				_ = app.Details(&res)
			}
			rd.StatusCode, rd.Attempts, rd.Error = res.StatusCode, res.Attempts, res.Error
		}
		out = append(out, rd)
	}
	slices.SortStableFunc(out, func(a, b Redelivery) int { return a.StartedAt.Compare(b.StartedAt) })
	return out, nil
}

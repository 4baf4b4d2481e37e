package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/recovery"
)

// Idempotency keys a redelivery may carry.
const (
	keySame = "same"
	keyNew  = "new"
)

// maxRedeliveries bounds the redeliveries of one delivery (the n in their
// workflow ids is found by probing 1, 2, ...).
const maxRedeliveries = 100

// redeliverRequest is the body of POST .../redeliver; an empty body is
// {"idempotencyKey": "same"}.
type redeliverRequest struct {
	IdempotencyKey string `json:"idempotencyKey"`
}

// redelivery is a redelivery as the executions API shows it: in the
// redeliver answer, and in the execution's redeliveries.
type redelivery struct {
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

// redeliver handles POST /api/v1/executions/{id}/deliveries/{deliveryId}/redeliver:
// the delivery's request, as the run scheduled it, is found in the run's
// history and sent again by a RedeliverWorkflow of its own (the same
// delivery activity and retry policy), linked to the run. The run is not
// touched, and may be closed. Nothing starts when the request is refused.
func (s *executionsAPI) redeliver(c *gin.Context) {
	id, dlv := c.Param("id"), c.Param("deliveryId")
	body, e := readRedeliverRequest(c)
	if e != nil {
		fail(c, e)
		return
	}
	ctx := c.Request.Context()
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		fail(c, s.temporalError(err))
		return
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetType().GetName() != contract.WorkflowName {
		fail(c, newError(http.StatusNotFound, "not_found", "no such execution"))
		return
	}
	in, err := s.findDelivery(ctx, id, info.GetExecution().GetRunId(), dlv)
	if err != nil {
		var apiErr *Error
		if errors.As(err, &apiErr) {
			fail(c, apiErr)
			return
		}
		fail(c, s.temporalError(err))
		return
	}
	var started redelivery
	for attempt := 0; ; attempt++ {
		n, err := s.nextRedelivery(ctx, id, dlv)
		if err != nil {
			fail(c, s.temporalError(err))
			return
		}
		if n > maxRedeliveries {
			e := newError(http.StatusConflict, "too_many_redeliveries", fmt.Sprintf("delivery %s of execution %s was redelivered %d times already, the most this API does", dlv, id, maxRedeliveries))
			fail(c, e)
			return
		}
		key := dlv
		if body.IdempotencyKey == keyNew {
			key = fmt.Sprintf("%s-r%d", dlv, n)
		}
		in.Request.DeliveryID = key
		wid := contract.RedeliverWorkflowID(id, dlv, n)
		run, err := s.temporal.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{
			ID:                       wid,
			TaskQueue:                contract.TaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			// The send's own schedule bounds it; this is a backstop.
			WorkflowExecutionTimeout: in.ScheduleToCloseTimeout + time.Hour,
			TypedSearchAttributes:    temporal.NewSearchAttributes(contract.SearchAttrRedeliveryOf.ValueSet(id)),
			Memo: map[string]any{
				contract.MemoRedeliveryOf: id, contract.MemoDeliveryID: dlv, contract.MemoIdempotencyKey: key,
			},
			StaticSummary: fmt.Sprintf("Redelivery %d of %s (%s)", n, dlv, in.Request.Method),
			StaticDetails: fmt.Sprintf("hookflow redelivery of delivery `%s` of execution `%s`, idempotency key `%s`", dlv, id, key),
		}, contract.RedeliverWorkflowName, in)
		if _, dup := alreadyStarted(err); dup && attempt < 5 {
			// Another redelivery of the same delivery took this number
			// meanwhile: take the next one.
			continue
		}
		if err != nil {
			fail(c, s.redeliverStartError(err))
			return
		}
		started = redelivery{
			DeliveryID: dlv, ExecutionID: wid, Status: "running", IdempotencyKey: key,
			StartedAt: time.Now().UTC(),
		}
		s.log.Info("redelivery started", "executionId", id, "deliveryId", dlv, "redelivery", wid, "runId", run.GetRunID(), "newKey", body.IdempotencyKey == keyNew)
		break
	}
	c.Header("Location", "/api/v1/executions/"+url.PathEscape(id))
	c.JSON(http.StatusAccepted, started)
}

// readRedeliverRequest decodes the body strictly: an empty body takes the
// defaults; an unknown field or a wrong value is refused with its path.
func readRedeliverRequest(c *gin.Context) (redeliverRequest, *Error) {
	req := redeliverRequest{IdempotencyKey: keySame}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10))
	if err != nil {
		return req, newError(http.StatusRequestEntityTooLarge, "payload_too_large", "the body exceeds 64 KiB")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return req, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return req, newError(http.StatusBadRequest, "malformed_json", "the body must be a JSON object such as {\"idempotencyKey\": \"new\"}")
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if k != "idempotencyKey" {
			e := newError(http.StatusUnprocessableEntity, "invalid_request", "unknown field "+strconv.Quote(k)+"; the body takes idempotencyKey")
			e.Path = "body." + k
			return req, e
		}
	}
	if v, ok := fields["idempotencyKey"]; ok {
		var key string
		if err := json.Unmarshal(v, &key); err != nil || (key != keySame && key != keyNew) {
			e := newError(http.StatusUnprocessableEntity, "invalid_request", `idempotencyKey must be "same" (the receiver sees the original Idempotency-Key again) or "new"`)
			e.Path = "body.idempotencyKey"
			return req, e
		}
		req.IdempotencyKey = key
	}
	return req, nil
}

// findDelivery reads the delivery's request from the execution's history
// (recovery.SendIn reads each event), in the latest run or, for a run that
// continued as new, an earlier run of its chain.
func (s *executionsAPI) findDelivery(ctx context.Context, id, runID, dlv string) (contract.RedeliverInput, error) {
	dc := s.dataConverter()
	for runs := 0; runID != "" && runs < 10_000; runs++ {
		iter := s.temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
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
			in, found, err := recovery.SendIn(dc, id, dlv, ev)
			if err != nil {
				s.log.Error("decode a delivery's request from history", "executionId", id, "runId", runID, "error", err)
				return contract.RedeliverInput{}, newError(http.StatusInternalServerError, "misconfigured",
					"the run's delivery requests cannot be decoded by this API (are payloads encrypted with keys this API lacks?)")
			}
			if found {
				return in, nil
			}
		}
		runID = prev
	}
	e := newError(http.StatusNotFound, "not_found", "execution "+id+" has no delivery "+strconv.Quote(dlv)+" (its step log names each send's deliveryId)")
	e.Path = "deliveryId"
	return contract.RedeliverInput{}, e
}

// nextRedelivery is the number of the next redelivery of a delivery: one
// past the highest whose workflow Temporal still knows.
func (s *executionsAPI) nextRedelivery(ctx context.Context, id, dlv string) (int, error) {
	for n := 1; ; n++ {
		_, err := s.temporal.DescribeWorkflowExecution(ctx, contract.RedeliverWorkflowID(id, dlv, n), "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) || n > maxRedeliveries {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// redeliverStartError names a namespace that lacks the search attribute
// (hookflow setup adds it) rather than blaming the caller.
func (s *executionsAPI) redeliverStartError(err error) *Error {
	var ia *serviceerror.InvalidArgument
	if errors.As(err, &ia) && strings.Contains(ia.Error(), contract.SearchAttrRedeliveryOf.GetName()) {
		s.log.Error("start a redelivery", "error", err)
		return newError(http.StatusInternalServerError, "misconfigured",
			"the namespace lacks the search attribute "+contract.SearchAttrRedeliveryOf.GetName()+"; run hookflow setup")
	}
	return s.temporalError(err)
}

// redeliveries lists an execution's redeliveries from visibility, oldest
// first, with each closed one's outcome from its result.
func (s *executionsAPI) redeliveries(ctx context.Context, id string) ([]redelivery, error) {
	resp, err := s.listPage(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query:    fmt.Sprintf("%s = %q", contract.SearchAttrRedeliveryOf.GetName(), id),
		PageSize: 1000,
	})
	if err != nil {
		return nil, err
	}
	dc := s.dataConverter()
	out := make([]redelivery, 0, len(resp.GetExecutions()))
	for _, info := range resp.GetExecutions() {
		r := redelivery{
			ExecutionID: info.GetExecution().GetWorkflowId(), Status: statusName(info.GetStatus()),
			StartedAt: info.GetStartTime().AsTime(),
		}
		memo := info.GetMemo().GetFields()
		_ = dc.FromPayload(memo[contract.MemoDeliveryID], &r.DeliveryID)
		_ = dc.FromPayload(memo[contract.MemoIdempotencyKey], &r.IdempotencyKey)
		if info.GetCloseTime() != nil {
			t := info.GetCloseTime().AsTime()
			r.ClosedAt = &t
			var res contract.RedeliverResult
			err := s.temporal.GetWorkflow(ctx, r.ExecutionID, info.GetExecution().GetRunId()).Get(ctx, &res)
			var app *temporal.ApplicationError
			if err != nil && errors.As(err, &app) && app.HasDetails() {
				_ = app.Details(&res)
			}
			r.StatusCode, r.Attempts, r.Error = res.StatusCode, res.Attempts, res.Error
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b redelivery) int { return a.StartedAt.Compare(b.StartedAt) })
	return out, nil
}

// dataConverter decodes what the API reads from history and visibility.
func (s *executionsAPI) dataConverter() converter.DataConverter {
	if s.cfg.DataConverter != nil {
		return s.cfg.DataConverter
	}
	return converter.GetDefaultDataConverter()
}

package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/hookflow/hookflow/workflows"
)

// execution is a run as the executions API shows it.
type execution struct {
	ID          string             `json:"id"`
	RunID       string             `json:"runId"`
	FlowID      string             `json:"flowId,omitempty"`
	FlowVersion int64              `json:"flowVersion,omitempty"`
	Mode        string             `json:"mode,omitempty"`
	Status      string             `json:"status"`
	StartedAt   time.Time          `json:"startedAt"`
	ClosedAt    *time.Time         `json:"closedAt,omitempty"`
	Steps       *workflows.StepLog `json:"steps,omitempty"`
	StepsError  string             `json:"stepsError,omitempty"`
	Result      *workflows.Result  `json:"result,omitempty"`
}

// statusNames maps the API's status filter to Temporal's visibility names.
var statusNames = map[string]string{
	"running": "Running", "completed": "Completed", "failed": "Failed", "canceled": "Canceled",
	"terminated": "Terminated", "timedout": "TimedOut",
}

func statusName(s enumspb.WorkflowExecutionStatus) string {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "running"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timedout"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continuedasnew"
	}
	return "unknown"
}

// listExecutions handles GET /api/v1/flows/{id}/executions from Temporal
// visibility, by the flow-id search attribute: ?status=running&pageSize=50
// &pageToken=... (the previous answer's nextPageToken).
func (s *Server) listExecutions(c *gin.Context) {
	query := fmt.Sprintf("%s = %q", workflows.SearchAttrFlowID.GetName(), c.Param("id"))
	if st := c.Query("status"); st != "" {
		name, ok := statusNames[st]
		if !ok {
			e := newError(http.StatusBadRequest, "bad_request", "status must be one of running, completed, failed, canceled, terminated, timedout")
			e.Path = "query.status"
			fail(c, e)
			return
		}
		query += fmt.Sprintf(" AND ExecutionStatus = %q", name)
	}
	size := 50
	if v := c.Query("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			e := newError(http.StatusBadRequest, "bad_request", "pageSize must be 1 to 1000")
			e.Path = "query.pageSize"
			fail(c, e)
			return
		}
		size = n
	}
	token, err := base64.RawURLEncoding.DecodeString(c.Query("pageToken"))
	if err != nil {
		e := newError(http.StatusBadRequest, "bad_request", "pageToken is not a token this API gave")
		e.Path = "query.pageToken"
		fail(c, e)
		return
	}
	resp, err := s.temporal.ListWorkflow(c.Request.Context(), &workflowservice.ListWorkflowExecutionsRequest{
		// Visibility lists newest first; SQL visibility refuses ORDER BY.
		Query: query, PageSize: int32(size), NextPageToken: token,
	})
	if err != nil {
		fail(c, s.temporalError(err))
		return
	}
	out := make([]execution, 0, len(resp.GetExecutions()))
	for _, info := range resp.GetExecutions() {
		e := execution{
			ID: info.GetExecution().GetWorkflowId(), RunID: info.GetExecution().GetRunId(),
			Status: statusName(info.GetStatus()), StartedAt: info.GetStartTime().AsTime(), FlowID: c.Param("id"),
		}
		if info.GetCloseTime() != nil {
			t := info.GetCloseTime().AsTime()
			e.ClosedAt = &t
		}
		out = append(out, e)
	}
	c.JSON(http.StatusOK, gin.H{"executions": out, "nextPageToken": base64.RawURLEncoding.EncodeToString(resp.GetNextPageToken())})
}

// getExecution handles GET /api/v1/executions/{id}: status and timing from
// Temporal, and the step log (each send's method, URL, body, status and
// attempts) from the workflow's query.
func (s *Server) getExecution(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	desc, err := s.temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		fail(c, s.temporalError(err))
		return
	}
	info := desc.GetWorkflowExecutionInfo()
	e := execution{
		ID: id, RunID: info.GetExecution().GetRunId(), Status: statusName(info.GetStatus()),
		StartedAt: info.GetStartTime().AsTime(),
	}
	if info.GetCloseTime() != nil {
		t := info.GetCloseTime().AsTime()
		e.ClosedAt = &t
	}
	if sa := info.GetSearchAttributes().GetIndexedFields(); sa != nil {
		var v string
		if p := sa[workflows.SearchAttrFlowID.GetName()]; p != nil {
			_ = jsonPayload(p.GetData(), &v)
			e.FlowID = v
		}
		if p := sa[workflows.SearchAttrTriggerMode.GetName()]; p != nil {
			_ = jsonPayload(p.GetData(), &e.Mode)
		}
		if p := sa[workflows.SearchAttrFlowVersion.GetName()]; p != nil {
			_ = jsonPayload(p.GetData(), &e.FlowVersion)
		}
	}
	// The step log comes from the workflow itself (a query): it needs a
	// worker, and for a closed run Temporal replays it.
	if v, err := s.temporal.QueryWorkflow(ctx, id, "", workflows.QuerySteps); err == nil {
		var log workflows.StepLog
		if err := v.Get(&log); err == nil {
			e.Steps = &log
		}
	} else {
		e.StepsError = "the step log is not available now (no worker answered its query)"
	}
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		var res workflows.Result
		if err := s.temporal.GetWorkflow(ctx, id, "").Get(ctx, &res); err == nil {
			e.Result = &res
		}
	}
	c.JSON(http.StatusOK, e)
}

// cancelExecution handles POST /api/v1/executions/{id}/cancel: the run's
// timers and deliveries are cancelled and it ends as canceled.
func (s *Server) cancelExecution(c *gin.Context) {
	if err := s.temporal.CancelWorkflow(c.Request.Context(), c.Param("id"), ""); err != nil {
		fail(c, s.temporalError(err))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": c.Param("id"), "status": "cancel requested"})
}

func jsonPayload(data []byte, v any) error { return json.Unmarshal(data, v) }

// temporalError maps Temporal's answers for the admin API.
func (s *Server) temporalError(err error) *Error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return newError(http.StatusNotFound, "not_found", "no such execution")
	}
	var ia *serviceerror.InvalidArgument
	if errors.As(err, &ia) {
		return newError(http.StatusBadRequest, "bad_request", ia.Error())
	}
	s.log.Error("temporal request failed", "error", err)
	e := newError(http.StatusServiceUnavailable, "unavailable", "Temporal could not be reached; retry later")
	e.RetryAfter = "5"
	return e
}

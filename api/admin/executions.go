package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/executions"
	"github.com/hookflow/hookflow/recovery"
)

// execution is a run as the executions API shows it.
type execution struct {
	ID          string     `json:"id"`
	RunID       string     `json:"runId"`
	FlowID      string     `json:"flowId,omitempty"`
	FlowVersion int64      `json:"flowVersion,omitempty"`
	Mode        string     `json:"mode,omitempty"`
	Status      string     `json:"status"`
	StartedAt   time.Time  `json:"startedAt"`
	ClosedAt    *time.Time `json:"closedAt,omitempty"`
	// CloseReason says why a run that did not complete ended: read from
	// its close event.
	CloseReason *closeReason        `json:"closeReason,omitempty"`
	Steps       *contract.StepLog   `json:"steps,omitempty"`
	StepsError  string              `json:"stepsError,omitempty"`
	Result      *contract.RunResult `json:"result,omitempty"`
	// Redeliveries are the sends repeated from this run's step log
	// (redeliver.go), oldest first.
	Redeliveries      []recovery.Redelivery `json:"redeliveries,omitempty"`
	RedeliveriesError string                `json:"redeliveriesError,omitempty"`
	// Runs are the execution's runs, newest first, in its detail only: a
	// resume leaves the run it reset behind, continue-as-new one per link.
	Runs      []run  `json:"runs,omitempty"`
	RunsError string `json:"runsError,omitempty"`
}

// run is one run of an execution.
type run struct {
	RunID     string     `json:"runId"`
	Status    string     `json:"status"`
	StartedAt time.Time  `json:"startedAt"`
	ClosedAt  *time.Time `json:"closedAt,omitempty"`
	Current   bool       `json:"current,omitempty"`
}

// maxRunsListed bounds the runs an execution's detail lists.
const maxRunsListed = 100

// closeReason is why a run ended other than by completing.
type closeReason struct {
	// Kind is terminated, history_limit (Temporal terminated the run at
	// one of its limits), timedout, failed or canceled.
	Kind string `json:"kind"`
	// Detail says it in a sentence.
	Detail string `json:"detail"`
	// Reason and Identity: a terminated run's reason and who terminated it.
	Reason   string `json:"reason,omitempty"`
	Identity string `json:"identity,omitempty"`
	// Limit names the server limit a history_limit run reached.
	Limit string `json:"limit,omitempty"`
	// Timeout is "execution" or "run" for a timed-out run, and
	// TimeoutAfter its length.
	Timeout      string `json:"timeout,omitempty"`
	TimeoutAfter string `json:"timeoutAfter,omitempty"`
	// Message is a failed run's failure message.
	Message string `json:"message,omitempty"`
}

// StatusInterrupted marks, in the executions API, a step record the run
// left running when it ended for a platform reason (terminated, timed
// out): the workflow never got to close it.
const StatusInterrupted = "interrupted"

// statusNames maps the API's status filter to Temporal's visibility names.
var statusNames = map[string]string{
	"running": "Running", "completed": "Completed", "failed": "Failed", "canceled": "Canceled",
	"terminated": "Terminated", "timedout": "TimedOut",
}

func statusName(s enumspb.WorkflowExecutionStatus) string { return executions.StatusName(s) }

// listExecutions handles GET /api/v1/flows/{id}/executions from Temporal
// visibility, by the flow-id search attribute: ?status=running&pageSize=50
// &nextPageToken=... (the previous answer's nextPageToken; pageToken is
// accepted as an alias).
func (s *executionsAPI) listExecutions(c *gin.Context) {
	// The flow's own runs: a bulk replay or a redelivery carries the flow's
	// id too, but is not an execution of it.
	query := fmt.Sprintf("WorkflowType = %q AND %s = %q", contract.WorkflowName, contract.SearchAttrFlowID.GetName(), c.Param("id"))
	if st := c.Query("status"); st != "" {
		name, ok := statusNames[st]
		if !ok {
			e := httpapi.NewError(http.StatusBadRequest, "bad_request", "status must be one of running, completed, failed, canceled, terminated, timedout")
			e.Path = "query.status"
			httpapi.Fail(c, e)
			return
		}
		query += fmt.Sprintf(" AND ExecutionStatus = %q", name)
	} else {
		// A long run continues as new under the same id: its chain's
		// earlier links are never current (no lookup needed for them).
		query += ` AND ExecutionStatus != "ContinuedAsNew"`
	}
	size := 50
	if v := c.Query("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			e := httpapi.NewError(http.StatusBadRequest, "bad_request", "pageSize must be 1 to 1000")
			e.Path = "query.pageSize"
			httpapi.Fail(c, e)
			return
		}
		size = n
	}
	param, raw := "nextPageToken", c.Query("nextPageToken")
	if alias := c.Query("pageToken"); alias != "" {
		if raw != "" && raw != alias {
			e := httpapi.NewError(http.StatusBadRequest, "bad_request", "nextPageToken and pageToken (its alias) differ; send only nextPageToken")
			e.Path = "query.pageToken"
			httpapi.Fail(c, e)
			return
		}
		param, raw = "pageToken", alias
	}
	token, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		e := httpapi.NewError(http.StatusBadRequest, "bad_request", param+" is not a token this API gave: send the previous answer's nextPageToken as it is")
		e.Path = "query." + param
		httpapi.Fail(c, e)
		return
	}
	resp, err := s.listPage(c.Request.Context(), &workflowservice.ListWorkflowExecutionsRequest{
		// Visibility lists newest first; SQL visibility refuses ORDER BY.
		Query: query, PageSize: int32(size), NextPageToken: token,
	})
	if err != nil {
		httpapi.Fail(c, s.TemporalError(err))
		return
	}
	// An execution is its workflow id, its status its current run's: the
	// run a resume left behind is not listed (nor matched by ?status).
	current, err := executions.Current(c.Request.Context(), s.Temporal, resp.GetExecutions())
	if err != nil {
		httpapi.Fail(c, s.TemporalError(err))
		return
	}
	out := make([]execution, 0, len(current))
	for _, info := range current {
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

// listPage asks visibility for one page. Once the client's namespace is
// known it calls the service directly, without the SDK's retries: the SDK
// retries a throttled call (ResourceExhausted) until its 10 s deadline and
// then reports only the deadline, which reads as "Temporal unreachable".
// Called directly, a throttled call comes back at once as what it is, and
// the caller gets 429 with Retry-After.
func (s *adminCore) listPage(ctx context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	if ns := s.namespace.Load(); ns != nil {
		req.Namespace = *ns
		return s.Temporal.WorkflowService().ListWorkflowExecutions(ctx, req)
	}
	// The SDK client does not tell its namespace, but fills it into a
	// request that names none: the first call learns it.
	resp, err := s.Temporal.ListWorkflow(ctx, req)
	if ns := req.GetNamespace(); ns != "" {
		s.namespace.Store(&ns)
	}
	return resp, err
}

// getExecution handles GET /api/v1/executions/{id}: status and timing from
// Temporal, why a run that did not complete ended (from its close event),
// and the step log (each send's method, URL, body, status and attempts)
// from the workflow's query.
func (s *executionsAPI) getExecution(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	desc, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		httpapi.Fail(c, s.TemporalError(err))
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
		if p := sa[contract.SearchAttrFlowID.GetName()]; p != nil {
			_ = jsonPayload(p.GetData(), &v)
			e.FlowID = v
		}
		if p := sa[contract.SearchAttrTriggerMode.GetName()]; p != nil {
			_ = jsonPayload(p.GetData(), &e.Mode)
		}
		if p := sa[contract.SearchAttrFlowVersion.GetName()]; p != nil {
			_ = jsonPayload(p.GetData(), &e.FlowVersion)
		}
	}
	switch info.GetStatus() {
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
		enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		why, err := s.closeReason(ctx, id, e.RunID, desc)
		if err != nil {
			httpapi.Fail(c, s.TemporalError(err))
			return
		}
		e.CloseReason = why
	}
	// The step log comes from the workflow itself (a query): it needs a
	// worker, and for a closed run Temporal replays it.
	if v, err := s.Temporal.QueryWorkflow(ctx, id, e.RunID, contract.QuerySteps); err == nil {
		var log contract.StepLog
		if err := v.Get(&log); err == nil {
			e.Steps = &log
		}
	} else {
		e.StepsError = "the step log is not available now (no worker answered its query)"
	}
	if e.Steps != nil && e.CloseReason != nil {
		markInterrupted(e.Steps, e.CloseReason, e.ClosedAt)
	}
	if r, err := s.redeliveries(ctx, id); err == nil {
		e.Redeliveries = r
	} else {
		s.Log.Warn("list an execution's redeliveries", "executionId", id, "error", err)
		e.RedeliveriesError = "the redeliveries are not available now (Temporal visibility did not answer)"
	}
	if runs, err := s.runs(ctx, id, e.RunID); err == nil {
		e.Runs = runs
	} else {
		s.Log.Warn("list an execution's runs", "executionId", id, "error", err)
		e.RunsError = "the runs are not available now (Temporal visibility did not answer)"
	}
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		var res contract.RunResult
		if err := s.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &res); err == nil {
			e.Result = &res
		}
	}
	c.JSON(http.StatusOK, e)
}

// runs lists an execution's runs from visibility, newest first.
func (s *executionsAPI) runs(ctx context.Context, id, currentRunID string) ([]run, error) {
	resp, err := s.listPage(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = %q", id), PageSize: maxRunsListed,
	})
	if err != nil {
		return nil, err
	}
	out := make([]run, 0, len(resp.GetExecutions()))
	for _, info := range resp.GetExecutions() {
		r := run{
			RunID: info.GetExecution().GetRunId(), Status: statusName(info.GetStatus()),
			StartedAt: info.GetStartTime().AsTime(), Current: info.GetExecution().GetRunId() == currentRunID,
		}
		if info.GetCloseTime() != nil {
			t := info.GetCloseTime().AsTime()
			r.ClosedAt = &t
		}
		out = append(out, r)
	}
	return out, nil
}

// markInterrupted shows the step records a closed run left running as
// interrupted, saying why: the workflow was stopped from outside and never
// got to close them.
func markInterrupted(log *contract.StepLog, why *closeReason, closedAt *time.Time) {
	for i := range log.Steps {
		r := &log.Steps[i]
		if r.Status != contract.StatusRunning {
			continue
		}
		r.Status = StatusInterrupted
		if r.EndedAt == nil {
			r.EndedAt = closedAt
		}
		r.Error = "interrupted: " + why.Detail
	}
}

// Reasons the history service gives when it terminates a run at one of
// Temporal's limits (go.temporal.io/server/common FailureReason...), with
// what to call the limit.
var serverLimitReasons = []struct{ reason, limit, explain string }{
	{"Workflow history size exceeds limit.", "history size", "its event history grew past the server's history size limit (limit.historySize.error)"},
	{"Workflow history count exceeds limit.", "history count", "its event history grew past the server's event count limit (limit.historyCount.error)"},
	{"Workflow mutable state size exceeds limit.", "mutable state size", "its state grew past the server's mutable state size limit (limit.mutableStateSize.error)"},
	{"Transaction size exceeds limit.", "transaction size", "one workflow task's changes exceeded the server's transaction size limit"},
	// The history service terminates with the cause's String(), its short
	// name (service/history/api/respondworkflowtaskfailed/api.go).
	{enumspb.WORKFLOW_TASK_FAILED_CAUSE_GRPC_MESSAGE_TOO_LARGE.String(), "gRPC message size", "a workflow task's answer exceeded the gRPC message size limit"},
}

// closeReason reads the run's close event (and, for a timeout, its
// configured timeouts) and says why it ended.
func (s *executionsAPI) closeReason(ctx context.Context, id, runID string, desc *workflowservice.DescribeWorkflowExecutionResponse) (*closeReason, error) {
	iter := s.Temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	var ev *historypb.HistoryEvent
	for iter.HasNext() {
		next, err := iter.Next()
		if err != nil {
			return nil, err
		}
		ev = next
	}
	switch {
	case ev.GetWorkflowExecutionTerminatedEventAttributes() != nil:
		a := ev.GetWorkflowExecutionTerminatedEventAttributes()
		why := &closeReason{Kind: "terminated", Reason: a.GetReason(), Identity: a.GetIdentity()}
		for _, l := range serverLimitReasons {
			if strings.HasPrefix(a.GetReason(), l.reason) {
				why.Kind, why.Limit = "history_limit", l.limit
				why.Detail = "Temporal terminated the run because " + l.explain
				return why, nil
			}
		}
		who := "someone"
		if why.Identity != "" {
			who = strconv.Quote(why.Identity)
		}
		if why.Reason == "" {
			why.Detail = "terminated by " + who + ", who gave no reason"
		} else {
			why.Detail = "terminated by " + who + ": " + why.Reason
		}
		return why, nil
	case ev.GetWorkflowExecutionTimedOutEventAttributes() != nil:
		return timeoutReason(desc), nil
	case ev.GetWorkflowExecutionFailedEventAttributes() != nil:
		f := ev.GetWorkflowExecutionFailedEventAttributes().GetFailure()
		msg := f.GetMessage()
		if f.GetEncodedAttributes() != nil {
			// An encrypted failure (payload codec): the client's failure
			// converter decodes it.
			msg = s.decodedFailure(ctx, id, runID, msg)
		}
		return &closeReason{Kind: "failed", Message: msg, Detail: "the run failed: " + msg}, nil
	case ev.GetWorkflowExecutionCanceledEventAttributes() != nil:
		return &closeReason{Kind: "canceled", Detail: "the run was canceled on request; the steps in progress were cancelled"}, nil
	}
	return nil, nil
}

// decodedFailure is the message of the run's failure as the client's
// failure converter decodes it (fallback when it cannot: msg).
func (s *executionsAPI) decodedFailure(ctx context.Context, id, runID, msg string) string {
	err := s.Temporal.GetWorkflow(ctx, id, runID).Get(ctx, nil)
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	if cause := errors.Unwrap(err); cause != nil {
		return cause.Error()
	}
	return msg
}

// timeoutReason says which of the run's timeouts ended it: the run timeout
// when it expires before the execution timeout, else the execution
// timeout (which spans retries and continue-as-new). With only an
// execution timeout, Temporal gives the first run the same one as its run
// timeout, and their expirations differ by rounding: within a second they
// are the execution timeout.
func timeoutReason(desc *workflowservice.DescribeWorkflowExecutionResponse) *closeReason {
	cfg, ext := desc.GetExecutionConfig(), desc.GetWorkflowExtendedInfo()
	why := &closeReason{Kind: "timedout", Timeout: "execution"}
	after := cfg.GetWorkflowExecutionTimeout().AsDuration()
	runExp, execExp := ext.GetRunExpirationTime(), ext.GetExecutionExpirationTime()
	if runExp != nil && !runExp.AsTime().IsZero() &&
		(execExp == nil || execExp.AsTime().IsZero() || runExp.AsTime().Add(time.Second).Before(execExp.AsTime())) {
		why.Timeout, after = "run", cfg.GetWorkflowRunTimeout().AsDuration()
	}
	why.Detail = "the run reached its workflow " + why.Timeout + " timeout"
	if after > 0 {
		why.TimeoutAfter = humanDuration(after)
		why.Detail += " (" + why.TimeoutAfter + ")"
	}
	why.Detail += " and Temporal closed it"
	return why
}

// humanDuration writes whole days as days (400d), the rest as Go does.
func humanDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

// cancelExecution handles POST /api/v1/executions/{id}/cancel: the run's
// timers and deliveries are cancelled and it ends as canceled.
func (s *executionsAPI) cancelExecution(c *gin.Context) {
	if err := s.Temporal.CancelWorkflow(c.Request.Context(), c.Param("id"), ""); err != nil {
		httpapi.Fail(c, s.TemporalError(err))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": c.Param("id"), "status": "cancel requested"})
}

func jsonPayload(data []byte, v any) error { return json.Unmarshal(data, v) }

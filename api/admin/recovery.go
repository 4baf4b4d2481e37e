package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/recovery"
)

// Recovery: rerun an execution's trigger data, resume a stopped execution
// from its failed step, and replay many at once (a Temporal workflow). The
// work itself is recovery.Recoverer's, shared with the bulk replay.

// versionChoice is "original", "current" or a version number.
type versionChoice struct {
	Original bool
	Current  bool
	Number   int64
}

func (v *versionChoice) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "original", "":
			v.Original = true
			return nil
		case "current":
			v.Current = true
			return nil
		}
		return fmt.Errorf(`must be "original", "current" or a version number`)
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil || n < 1 {
		return fmt.Errorf(`must be "original", "current" or a version number`)
	}
	v.Number = n
	return nil
}

type rerunBody struct {
	Version *versionChoice `json:"version"`
}

type resumeBody struct {
	Version     *versionChoice `json:"version"`
	Reason      string         `json:"reason"`
	AllowResend bool           `json:"allowResend"`
}

// readBody decodes an optional JSON body strictly: unknown fields and bad
// values are 400/422 with the field's path.
func (s *executionsAPI) readJSONBody(c *gin.Context, v any) *httpapi.Error {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10))
	if err != nil {
		return httpapi.NewError(http.StatusRequestEntityTooLarge, "payload_too_large", "the body is limited to 64 KiB")
	}
	if strings.TrimSpace(string(raw)) == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_body", err.Error())
		var ute *json.UnmarshalTypeError
		switch {
		case errors.As(err, &ute):
			e.Path = ute.Field
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			e.Path = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			e.Detail = "unknown field " + e.Path
		case strings.Contains(err.Error(), "version"):
			e.Path = "version"
		default:
			e.Status, e.Code = http.StatusBadRequest, "malformed_json"
		}
		return e
	}
	return nil
}

func (s *executionsAPI) recoverer() *recovery.Recoverer {
	return &recovery.Recoverer{Client: s.Temporal, DataConverter: s.dataConverter()}
}

// definition resolves a version choice for a flow: nil for the original.
func (s *executionsAPI) definition(c *gin.Context, flowID string, v *versionChoice) (*flow.Flow, int64, *httpapi.Error) {
	if v == nil || v.Original {
		return nil, 0, nil
	}
	if s.cfg.Admin == nil {
		return nil, 0, httpapi.NewError(http.StatusNotImplemented, "no_store", "this API has no flow store: only the original version can run")
	}
	ctx := c.Request.Context()
	if v.Current {
		rec, err := s.cfg.Admin.Store.Flows().Get(ctx, flowID)
		if err != nil {
			return nil, 0, storeErrorOrInternal(err, "version")
		}
		return rec.Def, rec.Version, nil
	}
	ver, err := s.cfg.Admin.Store.Flows().GetVersion(ctx, flowID, v.Number)
	if err != nil {
		e := storeErrorOrInternal(err, "version")
		if e.Status == http.StatusNotFound {
			e.Detail = fmt.Sprintf("flow %s has no version %d", flowID, v.Number)
		}
		return nil, 0, e
	}
	return ver.Def, ver.Version, nil
}

func storeErrorOrInternal(err error, path string) *httpapi.Error {
	e := storeError(err)
	if e.Status != http.StatusServiceUnavailable {
		e.Path = path
	}
	return e
}

// recoveryFailure maps a Recoverer error.
func (s *executionsAPI) recoveryFailure(err error) *httpapi.Error {
	switch {
	case errors.Is(err, recovery.ErrExecutionNotFound):
		return httpapi.NewError(http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, recovery.ErrStillRunning):
		return httpapi.NewError(http.StatusConflict, "execution_running", err.Error())
	case errors.Is(err, recovery.ErrNotResumable):
		return httpapi.NewError(http.StatusConflict, "not_resumable", err.Error())
	}
	return s.TemporalError(err)
}

// rerunExecution handles POST /api/v1/executions/{id}/rerun.
func (s *executionsAPI) rerunExecution(c *gin.Context) {
	var body rerunBody
	if e := s.readJSONBody(c, &body); e != nil {
		httpapi.Fail(c, e)
		return
	}
	id := c.Param("id")
	rec := s.recoverer()
	orig, err := rec.Input(c.Request.Context(), id)
	if err != nil {
		httpapi.Fail(c, s.recoveryFailure(err))
		return
	}
	f, version, e := s.definition(c, orig.Flow.ID, body.Version)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	got, err := rec.Rerun(c.Request.Context(), contract.RerunRequest{ExecutionID: id, Flow: f, Version: version})
	if err != nil {
		httpapi.Fail(c, s.recoveryFailure(err))
		return
	}
	c.Header(httpapi.HeaderExecutionID, got.ExecutionID)
	c.JSON(http.StatusAccepted, gin.H{"executionId": got.ExecutionID, "runId": got.RunID, "version": got.Version, "rerunOf": id})
}

// resumeExecution handles POST /api/v1/executions/{id}/resume.
func (s *executionsAPI) resumeExecution(c *gin.Context) {
	var body resumeBody
	if e := s.readJSONBody(c, &body); e != nil {
		httpapi.Fail(c, e)
		return
	}
	if body.Version != nil && body.Version.Number > 0 {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_body", `a resume continues the run's own version: version is "original" or "current" (accepted only when the definition is unchanged)`)
		e.Path = "version"
		httpapi.Fail(c, e)
		return
	}
	id := c.Param("id")
	rec := s.recoverer()
	req := contract.ResumeExecutionRequest{ExecutionID: id, Reason: body.Reason, AllowResend: body.AllowResend}
	if body.Version != nil && body.Version.Current {
		orig, err := rec.Input(c.Request.Context(), id)
		if err != nil {
			httpapi.Fail(c, s.recoveryFailure(err))
			return
		}
		f, _, e := s.definition(c, orig.Flow.ID, body.Version)
		if e != nil {
			httpapi.Fail(c, e)
			return
		}
		req.Current = f
	}
	got, err := rec.Resume(c.Request.Context(), req)
	if err != nil {
		httpapi.Fail(c, s.recoveryFailure(err))
		return
	}
	c.Header(httpapi.HeaderExecutionID, id)
	c.JSON(http.StatusAccepted, gin.H{"executionId": id, "runId": got.RunID, "version": got.Version, "resetTo": got.ResetTo, "note": got.Note})
}

// replayBody is a bulk replay's request.
type replayBody struct {
	Action string `json:"action"` // rerun (default) or resume
	Filter struct {
		Status  []string   `json:"status"`
		From    *time.Time `json:"from"`
		To      *time.Time `json:"to"`
		Version int64      `json:"version"`
	} `json:"filter"`
	// Version is the definition a rerun runs (default original).
	Version   *versionChoice `json:"version"`
	PerSecond float64        `json:"perSecond"`
	DryRun    bool           `json:"dryRun"`
}

// MaxReplayWindow bounds a bulk replay's time range.
const MaxReplayWindow = 31 * 24 * time.Hour

// maxDryRunExamined bounds the runs a dry run reads from visibility to count
// the executions a replay selects; past it the count is a lower bound
// ("exact": false).
const maxDryRunExamined = 10_000

// replayFlow handles POST /api/v1/flows/{id}/replay: a dry run counts the
// executions the filter selects and shows a sample; otherwise a
// ReplayWorkflow recovers them, at a bounded rate, server-side.
func (s *executionsAPI) replayFlow(c *gin.Context) {
	var body replayBody
	if e := s.readJSONBody(c, &body); e != nil {
		httpapi.Fail(c, e)
		return
	}
	flowID := c.Param("id")
	q, e := replayQuery(flowID, &body)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	ctx := c.Request.Context()
	if body.DryRun {
		// Counted as the replay selects: executions by their current run,
		// not visibility's runs (a resumed execution has two).
		count, sample, exact, err := s.recoverer().CountForReplay(ctx, q, maxDryRunExamined)
		if err != nil {
			httpapi.Fail(c, s.TemporalError(err))
			return
		}
		c.JSON(http.StatusOK, gin.H{"dryRun": true, "count": count, "exact": exact, "sample": nonNil(sample), "query": q.Visibility()})
		return
	}
	f, version, e := s.definition(c, flowID, body.Version)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	in := contract.ReplayInput{Query: q, Action: body.Action, Flow: f.Snapshot(), Version: version, PerSecond: body.PerSecond}
	id := "replay:" + flowID + ":" + uuid.Must(uuid.NewV7()).String()
	run, err := s.Temporal.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{
		ID: id, TaskQueue: contract.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(contract.SearchAttrFlowID.ValueSet(flowID), contract.SearchAttrRecoveryOf.ValueSet("replay")),
		StaticSummary:         fmt.Sprintf("bulk replay (%s) of %s", body.Action, flowID),
		StaticDetails:         "selects: " + q.Visibility(),
	}, contract.ReplayWorkflowName, in)
	if err != nil {
		httpapi.Fail(c, s.TemporalError(err))
		return
	}
	c.Header("Location", "/api/v1/replays/"+id)
	c.JSON(http.StatusAccepted, gin.H{"replayId": run.GetID(), "statusUrl": "/api/v1/replays/" + id})
}

// replayQuery validates a bulk replay's filter: a bounded time range is
// required (a replay of "everything" is refused), statuses are the API's
// names of closed statuses.
func replayQuery(flowID string, b *replayBody) (contract.ReplayQuery, *httpapi.Error) {
	bad := func(path, detail string) (contract.ReplayQuery, *httpapi.Error) {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_filter", detail)
		e.Path = path
		return contract.ReplayQuery{}, e
	}
	switch b.Action {
	case "":
		b.Action = contract.ReplayRerun
	case contract.ReplayRerun, contract.ReplayResume:
	default:
		return bad("action", `must be "rerun" or "resume"`)
	}
	if b.Action == contract.ReplayResume && b.Version != nil && !b.Version.Original {
		return bad("version", "a resume continues each run's own version")
	}
	f := b.Filter
	switch {
	case f.From == nil:
		return bad("filter.from", "a replay needs a time range: filter.from (RFC 3339) is required")
	case f.To == nil:
		return bad("filter.to", "a replay needs a time range: filter.to (RFC 3339) is required")
	case !f.To.After(*f.From):
		return bad("filter.to", "must be after filter.from")
	case f.To.Sub(*f.From) > MaxReplayWindow:
		return bad("filter.to", fmt.Sprintf("the time range is limited to %d days; replay in several windows", int(MaxReplayWindow.Hours()/24)))
	}
	if b.PerSecond == 0 {
		b.PerSecond = 5
	}
	if b.PerSecond < 0.01 || b.PerSecond > 100 {
		return bad("perSecond", "must be between 0.01 and 100")
	}
	q := contract.ReplayQuery{FlowID: flowID, From: *f.From, To: *f.To, Version: f.Version}
	statuses := f.Status
	if len(statuses) == 0 {
		statuses = []string{"failed"}
	}
	for i, st := range statuses {
		name, ok := statusNames[st]
		if !ok || st == "running" {
			return bad("filter.status["+strconv.Itoa(i)+"]", "must be one of completed, failed, canceled, terminated, timedout")
		}
		q.Statuses = append(q.Statuses, name)
	}
	return q, nil
}

// getReplay handles GET /api/v1/replays/{id}: status and progress.
func (s *executionsAPI) getReplay(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	if !strings.HasPrefix(id, "replay:") {
		httpapi.Fail(c, httpapi.NewError(http.StatusNotFound, "not_found", "no such replay"))
		return
	}
	desc, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		httpapi.Fail(c, s.TemporalError(err))
		return
	}
	out := gin.H{"replayId": id, "status": statusName(desc.GetWorkflowExecutionInfo().GetStatus())}
	if v, err := s.Temporal.QueryWorkflow(ctx, id, "", contract.QueryReplayProgress); err == nil {
		var p contract.ReplayProgress
		if v.Get(&p) == nil {
			out["progress"] = p
		}
	}
	c.JSON(http.StatusOK, out)
}

// cancelReplay handles POST /api/v1/replays/{id}/cancel.
func (s *executionsAPI) cancelReplay(c *gin.Context) {
	id := c.Param("id")
	if !strings.HasPrefix(id, "replay:") {
		httpapi.Fail(c, httpapi.NewError(http.StatusNotFound, "not_found", "no such replay"))
		return
	}
	if err := s.Temporal.CancelWorkflow(c.Request.Context(), id, ""); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			httpapi.Fail(c, httpapi.NewError(http.StatusNotFound, "not_found", "no such replay"))
			return
		}
		httpapi.Fail(c, s.TemporalError(err))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"replayId": id, "status": "cancel requested"})
}

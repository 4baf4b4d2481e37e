package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/telemetry"
)

// Long polls of a result URL: ?wait=30s, at most maxResultWait. Without
// wait the answer comes at once, after at most minResultWait (the time an
// update needs to reach a run that already has its answer).
const (
	maxResultWait = 60 * time.Second
	minResultWait = time.Second
)

// resultPath is where a sync answer can be fetched after the caller's
// budget ran out. The token is part of it: whoever may trigger the flow
// may read its answers, and nobody else.
func resultPath(token, id string) string {
	return "/hooks/" + token + "/results/" + url.PathEscape(id)
}

// publicBase is the API's public base URL when configured, else the scheme
// and host the caller reached it at.
func (s *Public) publicBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// acceptedLater answers a sync caller whose budget ran out on a trigger
// with onTimeout: accepted: 202, Location and the result URL, where the
// response step's answer can be fetched (long polling) once it is there.
func (s *Public) acceptedLater(c *gin.Context, token, id string) {
	u := s.publicBase(c.Request) + resultPath(token, id)
	c.Header("Location", u)
	c.Set(outcomeKey, telemetry.TriggerTimeout)
	c.JSON(http.StatusAccepted, gin.H{"executionId": id, "resultUrl": u})
}

// syncResult handles GET /hooks/{token}/results/{executionId}[?wait=30s]:
// the answer the sync caller would have received (status, headers, body),
// 202 with Retry-After while the run has not answered yet, or the failure
// answer (500) of a run that failed. Protected like the trigger: its token,
// and its basic auth when it has one (a signature-only trigger signs
// bodies, and a GET has none: the token is the credential).
func (s *Public) syncResult(c *gin.Context) {
	entry, ok := s.flows.ByToken(c.Param("token"))
	if !ok {
		httpapi.Fail(c, httpapi.NewError(http.StatusNotFound, "not_found", "no flow has this trigger URL"))
		return
	}
	f := entry.Flow
	ctx := c.Request.Context()
	if a := f.Trigger.Auth; a != nil && a.Basic != nil {
		if e := s.auth.checkBasic(ctx, c.Request, a.Basic); e != nil {
			httpapi.Fail(c, e)
			return
		}
	}
	if f.Trigger.EffectiveMode() != trigger.ModeSync {
		httpapi.Fail(c, httpapi.NewError(http.StatusNotFound, "not_found", "this flow's trigger is async: its runs have no answer to fetch"))
		return
	}
	wait, e := parseWait(c.Query("wait"))
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	id := c.Param("executionId")
	notFound := httpapi.NewError(http.StatusNotFound, "not_found", "this flow has no execution "+strconv.Quote(id))
	if !strings.HasPrefix(id, f.ID+":") {
		httpapi.Fail(c, notFound)
		return
	}
	desc, err := s.Temporal.DescribeWorkflow(ctx, id, "")
	if err != nil {
		if isNotFound(err) {
			httpapi.Fail(c, notFound)
			return
		}
		httpapi.Fail(c, s.TemporalError(err))
		return
	}
	if owner, _ := desc.TypedSearchAttributes.GetKeyword(contract.SearchAttrFlowID); owner != f.ID {
		httpapi.Fail(c, notFound)
		return
	}
	c.Header(httpapi.HeaderExecutionID, id)

	var resp contract.Response
	ready := true
	if desc.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		resp, ready, err = s.awaitAnswer(ctx, id, desc, wait)
		if isNotFound(err) {
			// It closed meanwhile: its result holds the answer.
			ready, err = true, nil
			resp, err = s.closedRunAnswer(ctx, id)
		}
	} else {
		resp, err = s.closedRunAnswer(ctx, id)
	}
	if err != nil {
		if isTimeout(err) {
			ready, err = false, nil
		} else {
			httpapi.Fail(c, s.TemporalError(err))
			return
		}
	}
	if !ready {
		c.Header("Retry-After", "1")
		c.JSON(http.StatusAccepted, gin.H{
			"status": "running", "executionId": id,
			"resultUrl": s.publicBase(c.Request) + resultPath(c.Param("token"), id),
			"detail":    "the flow has not answered yet; ask again (?wait=30s waits for the answer)",
		})
		return
	}
	writeResponse(c, resp.Status, resp.Headers, resp.Body)
}

// awaitAnswer waits, up to wait, for a running run's answer through the
// sync trigger's update, under the trigger's own update id: while the
// caller's update is still in flight this attaches to it, and once it has
// completed Temporal returns its outcome again. ready is false when the
// run has not answered within wait, or has released the update without an
// answer (past the caller's budget, to continue as new; a later poll
// reaches the continuation).
func (s *Public) awaitAnswer(ctx context.Context, id string, desc *sdkclient.WorkflowExecutionDescription, wait time.Duration) (contract.Response, bool, error) {
	var digest string
	if err := desc.GetMemoValue(contract.MemoTriggerDigest, &digest); err != nil && !errors.Is(err, temporal.ErrNoData) {
		s.Log.Error("read the run's payload digest", "executionId", id, "error", err)
	}
	uo := sdkclient.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateID:     id,
		UpdateName:   contract.UpdateResponse,
		WaitForStage: sdkclient.WorkflowUpdateStageCompleted,
	}
	if digest != "" {
		uo.UpdateID += "/" + digest
		uo.Args = []any{digest}
	}
	ctx, cancel := context.WithTimeout(ctx, max(wait, minResultWait))
	defer cancel()
	handle, err := s.Temporal.UpdateWorkflow(ctx, uo)
	var resp contract.Response
	if err == nil {
		err = handle.Get(ctx, &resp)
	}
	if err != nil {
		return resp, false, err
	}
	return resp, !releasedAnswer(id, resp), nil
}

// releasedAnswer tells the answers the run's update handler gives without
// an answer of the flow's: the 504 that releases a caller past its budget
// so that the run can continue as new, and the 503 of an update that
// arrived during that hand-over. Neither is the flow's answer.
func releasedAnswer(id string, r contract.Response) bool {
	body, _ := r.Body.(map[string]any)
	switch r.Status {
	case http.StatusGatewayTimeout:
		return len(r.Headers) == 0 && reflect.DeepEqual(body, map[string]any{"error": "timeout", "executionId": id})
	case http.StatusServiceUnavailable:
		return body["error"] == "unavailable" && body["executionId"] == id && r.Headers["Retry-After"] != ""
	}
	return false
}

// parseWait reads ?wait: a Go duration (30s) or whole seconds (30), at
// most maxResultWait.
func parseWait(v string) (time.Duration, *httpapi.Error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.Atoi(v)
		if nerr != nil {
			d = -1
		} else {
			d = time.Duration(n) * time.Second
		}
	}
	if d < 0 || d > maxResultWait {
		e := httpapi.NewError(http.StatusBadRequest, "bad_request", fmt.Sprintf("wait must be a duration from 0s to %s, such as 30s", maxResultWait))
		e.Path = "query.wait"
		return 0, e
	}
	return d, nil
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}

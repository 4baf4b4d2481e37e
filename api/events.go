package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/contract"
)

// eventTimeout bounds the wait for a run to take or refuse an event.
const eventTimeout = 10 * time.Second

// sendEvent handles POST /api/v1/executions/{id}/events/{name}: the JSON
// body goes to the wait step waiting for that event (or the approval step
// of that id). The answer says which step took it: 200; 404 no such
// execution; 409 no step waits for it, its match refuses it, or the run
// has ended; 422 a body the step cannot take; 503 the run is handing over.
func (s *Server) sendEvent(c *gin.Context) {
	body, e := s.readEventBody(c)
	if e != nil {
		fail(c, e)
		return
	}
	id, name := c.Param("id"), c.Param("name")
	acc, e := s.deliverEvent(c.Request.Context(), id, contract.Event{Name: name, Body: body}, false)
	if e != nil {
		fail(c, e)
		return
	}
	c.JSON(http.StatusOK, gin.H{"accepted": true, "executionId": id, "event": name, "stepId": acc.StepID, "path": acc.Path})
}

// readEventBody reads a JSON body (empty: null), or a form's fields.
func (s *Server) readEventBody(c *gin.Context) (any, *Error) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return nil, newError(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("the body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes))
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch mt {
	case "application/json":
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, newError(http.StatusBadRequest, "malformed_json", "the body is not valid JSON")
		}
		return v, nil
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, newError(http.StatusBadRequest, "malformed_form", "the form body cannot be read")
		}
		out := map[string]any{}
		for k := range vals {
			out[k] = vals.Get(k)
		}
		return out, nil
	}
	e := newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the event as application/json")
	e.Path = "headers.Content-Type"
	return nil, e
}

// deliverEvent sends the event update and maps the run's answer. For a
// signed link (link true), a step no longer waiting is 410 Gone: the link
// was used, or its wait is over.
func (s *Server) deliverEvent(ctx context.Context, id string, ev contract.Event, link bool) (*contract.EventAccepted, *Error) {
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	h, err := s.temporal.UpdateWorkflow(ctx, sdkclient.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: contract.UpdateEvent, Args: []any{ev},
		WaitForStage: sdkclient.WorkflowUpdateStageCompleted,
	})
	var acc contract.EventAccepted
	if err == nil {
		err = h.Get(ctx, &acc)
	}
	if err == nil {
		return &acc, nil
	}
	gone := func(detail string) *Error {
		if link {
			return newError(http.StatusGone, "gone", detail)
		}
		return newError(http.StatusConflict, "not_waiting", detail)
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		switch ae.Type() {
		case contract.ErrorTypeEventNotWaiting:
			if link {
				return nil, gone("this link was already used, or its step is no longer waiting")
			}
			return nil, gone(ae.Message())
		case contract.ErrorTypeEventNoMatch:
			return nil, newError(http.StatusConflict, "no_match", ae.Message())
		case contract.ErrorTypeEventInvalid:
			e := newError(http.StatusUnprocessableEntity, "invalid_event", ae.Message())
			e.Path = "body"
			return nil, e
		case contract.ErrorTypeHandingOver:
			e := newError(http.StatusServiceUnavailable, "unavailable", ae.Message())
			e.RetryAfter = "1"
			return nil, e
		}
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		// Unknown, or closed: a closed run answers Describe.
		if _, derr := s.temporal.DescribeWorkflowExecution(ctx, id, ""); derr == nil {
			return nil, gone("the execution has ended")
		}
		if link {
			return nil, gone("the execution no longer exists")
		}
		return nil, newError(http.StatusNotFound, "not_found", "no such execution")
	}
	if strings.Contains(err.Error(), "workflow execution already completed") {
		return nil, gone("the execution has ended")
	}
	return nil, s.temporalError(err)
}

// verifyLink checks a resume link's token: 404 for anything not signed by
// this deployment's resume key (no hint why), 410 once expired.
func (s *Server) verifyLink(c *gin.Context) (*activities.ResumeClaim, *Error) {
	key, err := activities.ResumeKey(c.Request.Context(), s.cfg.Secrets)
	if err != nil {
		s.log.Error("resume links cannot be checked", "secret", activities.ResumeKeySecret, "error", err)
		return nil, newError(http.StatusInternalServerError, "misconfigured", "resume links are not configured on this server")
	}
	claim, err := activities.VerifyResumeToken(key, c.Param("token"), time.Now())
	switch {
	case errors.Is(err, activities.ErrResumeTokenExpired):
		return nil, newError(http.StatusGone, "expired", "this link has expired: its wait is over")
	case err != nil:
		return nil, newError(http.StatusNotFound, "not_found", "not a valid resume link")
	}
	return claim, nil
}

// resumeInfo handles GET /hooks/resume/{token}: it changes nothing (mail
// scanners and link previews fetch links). An approval link shows a page
// whose button POSTs the decision, with an optional comment and name;
// JSON callers get what the link does.
func (s *Server) resumeInfo(c *gin.Context) {
	claim, e := s.verifyLink(c)
	if e != nil {
		fail(c, e)
		return
	}
	info := gin.H{"executionId": claim.ExecutionID, "stepId": claim.StepID, "action": claim.Action,
		"expiresAt": time.Unix(claim.Expires, 0).UTC(), "method": http.MethodPost}
	if claim.Action == contract.ActionResume || strings.Contains(c.GetHeader("Accept"), "application/json") {
		c.JSON(http.StatusOK, info)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Status(http.StatusOK)
	c.Header("Content-Type", "text/html; charset=utf-8")
	_ = linkPage.Execute(c.Writer, map[string]any{"Action": claim.Action, "Step": claim.StepID, "Execution": claim.ExecutionID,
		"Expires": time.Unix(claim.Expires, 0).UTC().Format(time.RFC1123)})
}

var linkPage = template.Must(template.New("link").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Action}}: {{.Step}}</title><meta name="robots" content="noindex"></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>{{if eq .Action "approve"}}Approve{{else}}Reject{{end}} “{{.Step}}”</h1>
<p>Execution <code>{{.Execution}}</code>. This link works once, until {{.Expires}}.</p>
<form method="post">
<p><label>Your name<br><input name="decidedBy" maxlength="200" size="40"></label></p>
<p><label>Comment<br><textarea name="comment" maxlength="4000" rows="4" cols="50"></textarea></label></p>
<p><button type="submit">{{if eq .Action "approve"}}Approve{{else}}Reject{{end}}</button></p>
</form></body></html>
`))

var donePage = template.Must(template.New("done").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Recorded</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto"><h1>Recorded: {{.}}</h1><p>You can close this page.</p></body></html>
`))

// resume handles POST /hooks/resume/{token}: the link's action with the
// body (JSON, or the page's form) as the event. Each link works once: a
// second use, or a use after its wait ended, answers 410.
func (s *Server) resume(c *gin.Context) {
	claim, e := s.verifyLink(c)
	if e != nil {
		fail(c, e)
		return
	}
	body, e := s.readEventBody(c)
	if e != nil {
		fail(c, e)
		return
	}
	ev := contract.Event{Body: body, Link: &contract.EventLink{StepID: claim.StepID, Occurrence: claim.Occurrence, Action: claim.Action}}
	acc, e := s.deliverEvent(c.Request.Context(), claim.ExecutionID, ev, true)
	if e != nil {
		fail(c, e)
		return
	}
	c.Header(HeaderExecutionID, claim.ExecutionID)
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		c.Status(http.StatusOK)
		c.Header("Content-Type", "text/html; charset=utf-8")
		what := map[string]string{contract.ActionApprove: "approved", contract.ActionReject: "rejected"}[claim.Action]
		if what == "" {
			what = "resumed"
		}
		_ = donePage.Execute(c.Writer, what)
		return
	}
	c.JSON(http.StatusOK, gin.H{"accepted": true, "executionId": claim.ExecutionID, "stepId": acc.StepID, "action": claim.Action})
}

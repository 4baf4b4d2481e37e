package api

import (
	"errors"
	"html/template"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/contract"
)

// Resume links: the signed URLs wait and approval steps hand out
// (/hooks/resume/{token}), and the approval page behind them. Part of the
// public surface: the token is the credential.

// verifyLink checks a resume link's token: 404 for anything not signed by
// this deployment's resume key (no hint why), 410 once expired.
func (s *Public) verifyLink(c *gin.Context) (*activities.ResumeClaim, *httpapi.Error) {
	key, err := activities.ResumeKey(c.Request.Context(), s.cfg.Secrets)
	if err != nil {
		s.Log.Error("resume links cannot be checked", "secret", activities.ResumeKeySecret, "error", err)
		return nil, httpapi.NewError(http.StatusInternalServerError, "misconfigured", "resume links are not configured on this server")
	}
	claim, err := activities.VerifyResumeToken(key, c.Param("token"), time.Now())
	switch {
	case errors.Is(err, activities.ErrResumeTokenExpired):
		return nil, httpapi.NewError(http.StatusGone, "expired", "this link has expired: its wait is over")
	case err != nil:
		return nil, httpapi.NewError(http.StatusNotFound, "not_found", "not a valid resume link")
	}
	return claim, nil
}

// resumeInfo handles GET /hooks/resume/{token}: it changes nothing (mail
// scanners and link previews fetch links). An approval link shows a page
// whose button POSTs the decision, with an optional comment and name;
// JSON callers get what the link does.
func (s *Public) resumeInfo(c *gin.Context) {
	claim, e := s.verifyLink(c)
	if e != nil {
		httpapi.Fail(c, e)
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
func (s *Public) resume(c *gin.Context) {
	claim, e := s.verifyLink(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	body, e := httpapi.ReadEventBody(c, s.cfg.MaxBodyBytes)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	ev := contract.Event{Body: body, Link: &contract.EventLink{StepID: claim.StepID, Occurrence: claim.Occurrence, Action: claim.Action}}
	acc, e := s.DeliverEvent(c.Request.Context(), claim.ExecutionID, ev, true)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	c.Header(httpapi.HeaderExecutionID, claim.ExecutionID)
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

package api

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/capture"
	"github.com/hookflow/hookflow/flow"
)

// Test event capture's routes; its rules and persistence are package
// capture's.

// HeaderCaptureID names the capture a trigger request was recorded as.
const HeaderCaptureID = "Hookflow-Capture-Id"

// captureArmer is implemented by the trigger cache (store.Cache): whether a
// flow's trigger URL may be armed, from memory.
type captureArmer interface {
	CaptureArmed(flowID string, now time.Time) bool
}

// captured records the request instead of running the flow when the flow's
// trigger URL is armed. It runs right after the token lookup, before auth
// and body checks, so a sender's test event is seen even when it would be
// refused. The cache answers "not armed" from memory; only an armed flow
// costs a statement, and the store's conditional decrement decides.
func (s *Public) captured(c *gin.Context, entry *flow.Entry) bool {
	armer, ok := s.flows.(captureArmer)
	if !ok || s.cfg.Admin == nil || !armer.CaptureArmed(entry.Flow.ID, time.Now()) {
		return false
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		httpapi.Fail(c, httpapi.NewError(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("the body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes)))
		return true
	}
	req := capture.RequestOf(c.Request.Method, c.GetHeader("Content-Type"), c.Request.Header, c.Request.URL.Query(), raw, entry.Flow.Trigger.Auth)
	ctx := c.Request.Context()
	cp, ok, err := capture.NewStore(s.cfg.Admin.Store).Take(ctx, entry.Flow.ID, req)
	if err != nil {
		s.Log.Error("record a capture", "flow", entry.Flow.ID, "error", err)
		e := httpapi.NewError(http.StatusServiceUnavailable, "unavailable", "the request could not be recorded; retry later")
		e.RetryAfter = "5"
		httpapi.Fail(c, e)
		return true
	}
	if !ok {
		// Spent or expired meanwhile: the flow runs as usual, from the
		// body already read.
		s.cfg.Admin.Refresh(ctx, s.Log)
		c.Request.Body = io.NopCloser(strings.NewReader(string(raw)))
		return false
	}
	c.Set(outcomeKey, "captured")
	c.Header(HeaderCaptureID, cp.ID)
	c.JSON(http.StatusAccepted, gin.H{"captured": true, "captureId": cp.ID, "detail": "recorded as a test event; the flow did not run"})
	return true
}

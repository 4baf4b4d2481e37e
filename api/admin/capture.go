package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/capture"
	"github.com/hookflow/hookflow/store"
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

// armCapture handles POST /api/v1/flows/{id}/capture: the flow's trigger
// URL records its next count requests (default 1, at most 100), for up to
// for (default 10m, at most 24h), instead of running the flow. Arming
// again replaces the earlier arm.
func (s *Management) armCapture(c *gin.Context) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 4096))
	if err != nil {
		httpapi.Fail(c, httpapi.NewError(http.StatusRequestEntityTooLarge, "payload_too_large", "send {\"count\": n, \"for\": \"10m\"}"))
		return
	}
	count, d, aerr := capture.ParseArm(raw)
	if aerr != nil {
		status := http.StatusUnprocessableEntity
		if aerr.Code == "malformed_json" {
			status = http.StatusBadRequest
		}
		e := httpapi.NewError(status, aerr.Code, aerr.Message)
		e.Path = aerr.Path
		httpapi.Fail(c, e)
		return
	}
	ctx := c.Request.Context()
	arm, err := capture.NewStore(s.cfg.Admin.Store).Arm(ctx, c.Param("id"), count, time.Now().Add(d))
	if err != nil {
		s.failStore(c, err)
		return
	}
	s.cfg.Admin.Refresh(ctx, s.Log)
	c.JSON(http.StatusOK, gin.H{"flowId": arm.FlowID, "remaining": arm.Remaining, "until": arm.Until})
}

// listCaptures handles GET /api/v1/flows/{id}/captures: the recorded
// requests, newest first, and the arm still in force (null when none).
func (s *Management) listCaptures(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	if _, err := s.cfg.Admin.Store.Flows().Get(ctx, id); err != nil {
		s.failStore(c, err)
		return
	}
	caps := capture.NewStore(s.cfg.Admin.Store)
	list, err := caps.List(ctx, id)
	if err != nil {
		s.failStore(c, err)
		return
	}
	arm, err := caps.ArmOf(ctx, id)
	if err != nil {
		s.failStore(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"captures": list, "armed": arm})
}

// capturePaths answers POST /api/v1/parse with {"capture": id}: every path
// of the capture's body, query and headers with its JSON type, and parse
// rules for the scalar ones (the trigger's parse section, ready to edit).
func (s *Management) capturePaths(c *gin.Context, id string) {
	if s.cfg.Admin == nil {
		e := httpapi.NewError(http.StatusNotFound, "not_found", "captures need the flow store")
		e.Path = "capture"
		httpapi.Fail(c, e)
		return
	}
	cp, err := capture.NewStore(s.cfg.Admin.Store).Get(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		e := httpapi.NewError(http.StatusNotFound, "not_found", fmt.Sprintf("no capture has the id %q", id))
		e.Path = "capture"
		httpapi.Fail(c, e)
		return
	}
	if err != nil {
		s.failStore(c, err)
		return
	}
	p := capture.PathsOf(cp.Request)
	c.JSON(http.StatusOK, gin.H{"source": "capture", "captureId": cp.ID, "flowId": cp.FlowID,
		"paths": p.BodyPaths, "fields": p.Fields, "suggestedParse": p.Suggested})
}

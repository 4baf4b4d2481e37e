package admin

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/store"
)

// flowResource is a flow as the admin API shows it.
type flowResource struct {
	ID         string       `json:"id"`
	Name       string       `json:"name,omitempty"`
	Version    int64        `json:"version"`
	Enabled    bool         `json:"enabled"`
	Mode       trigger.Mode `json:"mode"`
	Token      string       `json:"token"`
	TriggerURL string       `json:"triggerUrl"`
	Definition *flow.Flow   `json:"definition"`
	CreatedAt  time.Time    `json:"createdAt"`
	UpdatedAt  time.Time    `json:"updatedAt"`
	// Changed is set on updates: false when the definition was unchanged
	// and no version was made.
	Changed *bool `json:"changed,omitempty"`
	// ScheduleSync, on writes of a flow with schedules (or that had some),
	// is what the write changed in Temporal Schedules.
	ScheduleSync *scheduleSync `json:"scheduleSync,omitempty"`
}

func resource(f *store.Flow) flowResource {
	return flowResource{
		ID: f.ID, Name: f.Def.Name, Version: f.Version, Enabled: f.Enabled, Mode: f.Def.Trigger.EffectiveMode(),
		Token: f.Token, TriggerURL: "/hooks/" + f.Token, Definition: f.Def, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt,
	}
}

func etag(version int64) string { return fmt.Sprintf(`"v%d"`, version) }

// ifMatch reads If-Match: a version ETag ("v3"), or none (0). Anything else
// is a 400.
func ifMatch(c *gin.Context) (int64, *httpapi.Error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	h = strings.TrimPrefix(h, "W/")
	v, err := strconv.ParseInt(strings.TrimPrefix(strings.Trim(h, `"`), "v"), 10, 64)
	if err != nil || v < 1 {
		e := httpapi.NewError(http.StatusBadRequest, "bad_if_match", `If-Match must be a version ETag such as "v3"`)
		e.Path = "headers.If-Match"
		return 0, e
	}
	return v, nil
}

// storeError maps store errors to answers.
func storeError(err error) *httpapi.Error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httpapi.NewError(http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, store.ErrExists):
		return httpapi.NewError(http.StatusConflict, "exists", err.Error())
	case errors.Is(err, store.ErrConflict):
		return httpapi.NewError(http.StatusPreconditionFailed, "precondition_failed", err.Error()+"; GET the flow and retry with its ETag")
	}
	// Anything else is the database not answering (or failing under us):
	// the caller did nothing wrong and may retry. Triggers are still served
	// from each replica's snapshot meanwhile.
	e := httpapi.NewError(http.StatusServiceUnavailable, "store_unavailable", "the flow store did not answer; retry later (triggers are still served)")
	e.RetryAfter = "5"
	return e
}

func (s *adminCore) failStore(c *gin.Context, err error) { s.failWith(c, storeError(err), err) }

// failWith answers a store failure, logging the cause when the store itself
// failed (its detail is never shown to the caller).
func (s *adminCore) failWith(c *gin.Context, e *httpapi.Error, cause error) {
	if e.Status == http.StatusServiceUnavailable {
		s.Log.Warn("flow store unavailable", "route", c.FullPath(), "error", cause)
	}
	httpapi.Fail(c, e)
}

// readDefinition decodes and validates a flow from the body: JSON, or YAML
// with Content-Type application/yaml. Invalid: 422 with every error.
func (s *Management) readDefinition(c *gin.Context) (*flow.Flow, *httpapi.Error) {
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return nil, httpapi.NewError(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("a flow definition is limited to %d bytes", s.cfg.MaxBodyBytes))
	}
	var f *flow.Flow
	switch mt {
	case "application/json", "":
		f, err = flow.Decode(raw)
	case "application/yaml", "application/x-yaml", "text/yaml":
		f, err = flow.DecodeYAML(raw)
	default:
		e := httpapi.NewError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the flow as application/json or application/yaml")
		e.Path = "headers.Content-Type"
		return nil, e
	}
	if err != nil {
		var ve *flow.ValidationError
		if errors.As(err, &ve) {
			e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_flow", ve.Errors[0].Error())
			e.Path, e.Errors = ve.Errors[0].Path, ve.Errors
			return nil, e
		}
		return nil, httpapi.NewError(http.StatusBadRequest, "malformed", err.Error())
	}
	return f, nil
}

func (s *Management) listFlows(c *gin.Context) {
	flows, err := s.cfg.Admin.Store.Flows().List(c.Request.Context())
	if err != nil {
		s.failStore(c, err)
		return
	}
	out := make([]flowResource, len(flows))
	for i, f := range flows {
		out[i] = resource(f)
	}
	c.JSON(http.StatusOK, gin.H{"flows": out})
}

func (s *Management) createFlow(c *gin.Context) {
	f, e := s.readDefinition(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	if e := s.checkCalls(c.Request.Context(), f); e != nil {
		httpapi.Fail(c, e)
		return
	}
	if e := s.checkDestinations(c.Request.Context(), f); e != nil {
		httpapi.Fail(c, e)
		return
	}
	rec, err := s.cfg.Admin.Store.Flows().Create(c.Request.Context(), f)
	if err != nil {
		s.failStore(c, err)
		return
	}
	s.cfg.Admin.Refresh(c.Request.Context(), s.Log)
	r := resource(rec)
	r.ScheduleSync = s.syncSchedules(c.Request.Context(), rec.ID, rec, nil)
	c.Header("ETag", etag(rec.Version))
	c.Header("Location", "/api/v1/flows/"+rec.ID)
	c.JSON(http.StatusCreated, r)
}

func (s *Management) getFlow(c *gin.Context) {
	rec, err := s.cfg.Admin.Store.Flows().Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failStore(c, err)
		return
	}
	c.Header("ETag", etag(rec.Version))
	c.JSON(http.StatusOK, resource(rec))
}

// updateFlow makes a new version; running executions keep the version they
// started with (their input holds its snapshot).
func (s *Management) updateFlow(c *gin.Context) {
	version, e := ifMatch(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	f, e := s.readDefinition(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	if f.ID != c.Param("id") {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_flow", fmt.Sprintf("the definition's id %q differs from the URL's %q", f.ID, c.Param("id")))
		e.Path = "id"
		httpapi.Fail(c, e)
		return
	}
	if e := s.checkCalls(c.Request.Context(), f); e != nil {
		httpapi.Fail(c, e)
		return
	}
	if e := s.checkDestinations(c.Request.Context(), f); e != nil {
		httpapi.Fail(c, e)
		return
	}
	// The schedules of the version before: an entry the new one drops is
	// deleted even before Temporal's schedule list shows it.
	var before *flow.Flow
	if old, err := s.cfg.Admin.Store.Flows().Get(c.Request.Context(), f.ID); err == nil {
		before = old.Def
	}
	rec, changed, err := s.cfg.Admin.Store.Flows().Update(c.Request.Context(), f, version)
	if err != nil {
		s.failStore(c, err)
		return
	}
	s.cfg.Admin.Refresh(c.Request.Context(), s.Log)
	r := resource(rec)
	r.Changed = &changed
	r.ScheduleSync = s.syncSchedules(c.Request.Context(), rec.ID, rec, before)
	c.Header("ETag", etag(rec.Version))
	c.JSON(http.StatusOK, r)
}

func (s *Management) deleteFlow(c *gin.Context) {
	// A flow other flows call is refused, as a destination flows send to
	// is: their call steps would fail at run time.
	callers, err := s.callersOf(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failStore(c, err)
		return
	}
	if len(callers) > 0 {
		httpapi.Fail(c, httpapi.NewError(http.StatusConflict, "in_use", fmt.Sprintf("flow %q is called by %s; change or delete those flows first", c.Param("id"), strings.Join(callers, ", "))))
		return
	}
	var before *flow.Flow
	if old, err := s.cfg.Admin.Store.Flows().Get(c.Request.Context(), c.Param("id")); err == nil {
		before = old.Def
	}
	if err := s.cfg.Admin.Store.Flows().Delete(c.Request.Context(), c.Param("id")); err != nil {
		s.failStore(c, err)
		return
	}
	s.cfg.Admin.Refresh(c.Request.Context(), s.Log)
	if sync := s.syncSchedules(c.Request.Context(), c.Param("id"), nil, before); sync != nil && sync.Error != "" {
		// The flow is gone; its schedules are not yet: say so rather
		// than answer 204 as if nothing were left.
		c.JSON(http.StatusOK, gin.H{"deleted": true, "scheduleSync": sync})
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Management) listVersions(c *gin.Context) {
	vs, err := s.cfg.Admin.Store.Flows().Versions(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failStore(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"versions": vs})
}

func (s *Management) getVersion(c *gin.Context) {
	n, err := strconv.ParseInt(c.Param("version"), 10, 64)
	if err != nil || n < 1 {
		e := httpapi.NewError(http.StatusBadRequest, "bad_request", "version must be a positive integer")
		e.Path = "version"
		httpapi.Fail(c, e)
		return
	}
	v, err := s.cfg.Admin.Store.Flows().GetVersion(c.Request.Context(), c.Param("id"), n)
	if err != nil {
		s.failStore(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

func (s *Management) setEnabled(enabled bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		rec, err := s.cfg.Admin.Store.Flows().SetEnabled(c.Request.Context(), c.Param("id"), enabled)
		if err != nil {
			s.failStore(c, err)
			return
		}
		s.cfg.Admin.Refresh(c.Request.Context(), s.Log)
		r := resource(rec)
		r.ScheduleSync = s.syncSchedules(c.Request.Context(), rec.ID, rec, nil)
		c.JSON(http.StatusOK, r)
	}
}

func (s *Management) rotateToken(c *gin.Context) {
	rec, err := s.cfg.Admin.Store.Flows().RotateToken(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failStore(c, err)
		return
	}
	s.cfg.Admin.Refresh(c.Request.Context(), s.Log)
	c.JSON(http.StatusOK, resource(rec))
}

// Package httpapi is what both parts of hookflow's HTTP API share, below
// them: the router with the shared middleware (Engine: request ids, logs,
// metrics, traces, panics, errors, unknown query parameters), the one
// error shape (Error) and Temporal's answers mapped to it (Core), the
// hand-over of an event to a waiting run (DeliverEvent), and the flow
// store and trigger cache both read (Admin, FlowSource). The public
// surface (package api) and the admin API (package api/admin) import it;
// it imports neither.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/telemetry"
)

// HeaderExecutionID names the run (the Temporal workflow id) in every
// trigger answer, so an operator can find it in the Web UI.
const HeaderExecutionID = "Hookflow-Execution-Id"

// DefaultMaxBodyBytes bounds a trigger body: well below Temporal's 2 MiB
// payload limit, leaving room for the flow snapshot in the same input.
const DefaultMaxBodyBytes = 1 << 20

// FlowSource finds flows by trigger token and by id.
type FlowSource interface {
	ByToken(token string) (*flow.Entry, bool)
	ByID(id string) (*flow.Entry, bool)
}

// Admin is the flow store and the cache this replica serves triggers from
// (refreshed at once after its own writes): what the admin API works on,
// and what the public surface reads for captures, enrollment lookups and
// readiness.
type Admin struct {
	Store *store.Store
	Cache *store.Cache
}

// Refresh makes this replica's cache see a write at once.
func (a *Admin) Refresh(ctx context.Context, log *slog.Logger) {
	if err := a.Cache.Refresh(ctx); err != nil {
		log.Warn("flow cache refresh after a write failed; it catches up within its TTL", "error", err)
	}
}

func init() {
	// Gin's debug route printing goes to stdout; hookflow logs through slog.
	gin.SetMode(gin.ReleaseMode)
	gin.DefaultWriter = io.Discard
}

// Engine is a router with the shared middleware and the routes of parts:
// unmatched paths answer 404 and unmatched methods 405 (with Allow), in the
// one error shape.
func Engine(log *slog.Logger, tel *telemetry.Telemetry, parts ...func(*gin.Engine)) *gin.Engine {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	// An execution id may hold a '/' (from an idempotency key): escaped as
	// %2F it stays one path segment.
	r.UseRawPath = true
	r.Use(observe(log, tel), recoverPanics(log), errorMiddleware(log))
	for _, register := range parts {
		register(r)
	}
	r.NoRoute(func(c *gin.Context) {
		Fail(c, NewError(http.StatusNotFound, "not_found", "no such route: "+c.Request.Method+" "+c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		allow := c.Writer.Header().Get("Allow")
		if allow == "" {
			allow = http.MethodPost
		}
		e := NewError(http.StatusMethodNotAllowed, "method_not_allowed", c.Request.Method+" is not allowed here; use "+allow)
		e.Allow = allow
		Fail(c, e)
	})
	return r
}

// Package api is hookflow's HTTP API (Gin), in two parts with their own
// types and dependencies, behind the same middleware and the one error
// shape (Error):
//
//   - Public (public.go) is what the internet talks to: trigger URLs
//     (/hooks/{token}) that start flows on Temporal, their result URLs, the
//     signed resume and approval links of wait and approval steps, and the
//     probes (/healthz, /readyz, /metrics). It holds no API key and reads
//     the flow store only for armed captures, enrollment lookups and
//     readiness.
//   - Management (management.go) is the admin API under /api/v1, guarded by
//     API keys: flows and their versions, collections and records,
//     destinations, executions and their recovery (rerun, resume, replay,
//     redeliver, events), captures, the parse helper, test actions, and the
//     Web UI's remote codec (/codec). Its parts are one type per feature
//     (collectionsAPI, destinationsAPI, executionsAPI) on a shared adminCore.
//
// New composes both on one handler (Server.Handler); each also serves alone
// (Public.Handler, Management.Handler). Shared middleware (request ids,
// logs, metrics, traces, panics, errors, unknown query parameters) lives in
// middleware.go.
package api

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/notify"
	"github.com/hookflow/hookflow/secrets"
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

// Config configures the whole API (New): the admin API gets all of it,
// the public surface its part (PublicConfig). Zero values take the
// defaults.
type Config struct {
	// MaxBodyBytes bounds trigger bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Secrets resolves the secrets trigger auth names (default: the
	// HOOKFLOW_SECRET_<NAME> environment variables).
	Secrets secrets.Provider
	// Deliver sends the test action's requests (nil: test actions answer
	// 501).
	Deliver *activities.Deliverer
	// Admin enables the admin API's routes that need the flow store
	// (flows, collections, destinations, captures, bulk replay). Nil: the
	// admin API serves only what needs none (see Management).
	Admin *Admin
	// APIKeys guard the admin API and /codec.
	APIKeys []APIKey
	// Codec serves the remote codec endpoint for the Web UI (nil: not
	// served).
	Codec *CodecEndpoint
	// Telemetry records metrics and traces, and /metrics serves them (nil:
	// neither).
	Telemetry *telemetry.Telemetry
	// PublicURL is this API's public base URL (https://hooks.example.com):
	// wait and approval steps' signed links start with it. Runs started
	// without it have no links (their steps fail when they read one).
	PublicURL string
	// DataConverter decodes what the API reads from history and
	// visibility (a redelivery's request): the client's, with its codec
	// when payloads are encrypted (default: Temporal's default converter).
	DataConverter converter.DataConverter
	// Notify sends destination.paused and destination.resumed to the
	// global notify destination (nil: no notifications; api/notify.go).
	Notify *notify.Emitter
}

// Admin is the flow store and the cache this replica serves triggers from
// (refreshed at once after its own writes): what the admin API works on,
// and what the public surface reads for captures, enrollment lookups and
// readiness.
type Admin struct {
	Store *store.Store
	Cache *store.Cache
}

// withDefaults fills in the zero values.
func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Secrets == nil {
		c.Secrets = secrets.Default("")
	}
	return c
}

// public is the part of the configuration the public surface gets.
func (c Config) public() PublicConfig {
	return PublicConfig{MaxBodyBytes: c.MaxBodyBytes, Secrets: c.Secrets, PublicURL: c.PublicURL, Telemetry: c.Telemetry, Admin: c.Admin}
}

// Server is the whole API on one handler: the public surface and the
// management API.
type Server struct {
	public *Public
	admin  *Management
	log    *slog.Logger
	tel    *telemetry.Telemetry
}

// New returns the whole API on the Temporal client c, serving the triggers
// of flows.
func New(c sdkclient.Client, flows FlowSource, log *slog.Logger, cfg Config) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	return &Server{public: NewPublic(c, flows, log, cfg.public()), admin: NewManagement(c, flows, log, cfg), log: log, tel: cfg.Telemetry}
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	return engine(s.log, s.tel, s.public.routes, s.admin.routes)
}

func init() {
	// Gin's debug route printing goes to stdout; hookflow logs through slog.
	gin.SetMode(gin.ReleaseMode)
	gin.DefaultWriter = io.Discard
}

// engine is a router with the shared middleware and the routes of parts:
// unmatched paths answer 404 and unmatched methods 405 (with Allow), in the
// one error shape.
func engine(log *slog.Logger, tel *telemetry.Telemetry, parts ...func(*gin.Engine)) *gin.Engine {
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
		fail(c, newError(http.StatusNotFound, "not_found", "no such route: "+c.Request.Method+" "+c.Request.URL.Path))
	})
	r.NoMethod(func(c *gin.Context) {
		allow := c.Writer.Header().Get("Allow")
		if allow == "" {
			allow = http.MethodPost
		}
		e := newError(http.StatusMethodNotAllowed, "method_not_allowed", c.Request.Method+" is not allowed here; use "+allow)
		e.Allow = allow
		fail(c, e)
	})
	return r
}

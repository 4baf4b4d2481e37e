// Package api is hookflow's HTTP API (Gin): trigger URLs that start flows on
// Temporal, and health. Handlers are methods on Server, which holds their
// dependencies.
package api

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/secrets"
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

// Config tunes the API. Zero values take the defaults.
type Config struct {
	// MaxBodyBytes bounds trigger bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Secrets resolves the secrets trigger auth names (default: the
	// HOOKFLOW_SECRET_<NAME> environment variables).
	Secrets secrets.Provider
	// Deliver sends the test action's requests (nil: test actions answer
	// 501).
	Deliver *activities.HTTP
}

// Server holds the handlers' dependencies.
type Server struct {
	temporal sdkclient.Client
	flows    FlowSource
	log      *slog.Logger
	cfg      Config
}

// New returns a Server.
func New(c sdkclient.Client, flows FlowSource, log *slog.Logger, cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Secrets == nil {
		cfg.Secrets = secrets.Default("")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{temporal: c, flows: flows, log: log, cfg: cfg}
}

func init() {
	// Gin's debug route printing goes to stdout; hookflow logs through slog.
	gin.SetMode(gin.ReleaseMode)
	gin.DefaultWriter = io.Discard
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	r.Use(recovery(s.log), errorMiddleware(s.log))

	r.POST("/hooks/:token", s.trigger)
	r.POST("/api/v1/parse", s.derivePaths)
	r.POST("/api/v1/flows/:id/steps/:stepId/test", s.testStep)
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })

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

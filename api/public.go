package api

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/secrets"
	"github.com/hookflow/hookflow/telemetry"
)

// PublicConfig is what the public surface needs. It has no API keys, no
// delivery and no notifier: nothing of the admin API.
type PublicConfig struct {
	// MaxBodyBytes bounds trigger and resume bodies (default
	// DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Secrets resolves the secrets trigger auth names and the resume links'
	// signing key (default: the HOOKFLOW_SECRET_<NAME> environment
	// variables).
	Secrets secrets.Provider
	// PublicURL is this API's public base URL: result URLs start with it,
	// and runs get it for their signed links.
	PublicURL string
	// Telemetry counts triggers and serves /metrics (nil: neither).
	Telemetry *telemetry.Telemetry
	// Admin is the flow store, read here for three things only: recording
	// a request to an armed trigger URL (capture.go), finding a trigger's
	// enrollment record (enroll.go), and /readyz. Nil: none of them.
	Admin *Admin
}

// Public is the surface the internet talks to, each route protected by
// what its URL holds (a trigger token, a signed link) and the trigger's own
// auth:
//
//	POST /hooks/{token}                        trigger.go (auth.go, enroll.go, capture.go)
//	GET  /hooks/{token}/results/{executionId}  results.go
//	GET  /hooks/resume/{token}                 links.go (the approval page)
//	POST /hooks/resume/{token}                 links.go
//	GET  /healthz, /readyz, /metrics           health.go
type Public struct {
	httpapi.Core
	flows FlowSource
	auth  triggerAuth
	cfg   PublicConfig
}

// NewPublic returns the public surface on the Temporal client c, serving
// the triggers of flows.
func NewPublic(c sdkclient.Client, flows FlowSource, log *slog.Logger, cfg PublicConfig) *Public {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Secrets == nil {
		cfg.Secrets = secrets.Default("")
	}
	return &Public{Core: httpapi.Core{Temporal: c, Log: log}, flows: flows, auth: triggerAuth{secrets: cfg.Secrets, log: log}, cfg: cfg}
}

// Handler serves the public surface alone (New's handler serves it with
// the admin API).
func (s *Public) Handler() http.Handler { return httpapi.Engine(s.Log, s.cfg.Telemetry, s.routes) }

func (s *Public) routes(r *gin.Engine) {
	r.POST("/hooks/:token", s.trigger)
	r.GET("/hooks/resume/:token", s.resumeInfo)
	r.POST("/hooks/resume/:token", s.resume)
	r.GET("/hooks/:token/results/:executionId", httpapi.KnownQuery(documentedQueryParams), s.syncResult)
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	if s.cfg.Telemetry != nil {
		r.GET("/metrics", gin.WrapH(s.cfg.Telemetry.MetricsHandler()))
	}
}

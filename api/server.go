// Package api is hookflow's HTTP API (Gin): trigger URLs that start flows on
// Temporal, and health. Handlers are methods on Server, which holds their
// dependencies.
package api

import (
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/flow"
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

// Config tunes the API. Zero values take the defaults.
type Config struct {
	// MaxBodyBytes bounds trigger bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Secrets resolves the secrets trigger auth names (default: the
	// HOOKFLOW_SECRET_<NAME> environment variables).
	Secrets secrets.Provider
	// Deliver sends the test action's requests (nil: test actions answer
	// 501).
	Deliver *activities.Deliverer
	// Admin enables the management API (flows in a store). Nil: only
	// triggers and the parse helper are served.
	Admin *Admin
	// APIKeys guard the management API.
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
	Notify *activities.Notifier
}

// Admin is what the management API works on: the store, and the cache this
// replica serves triggers from (refreshed at once after its own writes).
type Admin struct {
	Store *store.Store
	Cache *store.Cache
}

// Server holds the handlers' dependencies.
type Server struct {
	temporal sdkclient.Client
	flows    FlowSource
	log      *slog.Logger
	cfg      Config
	keys     []hashedKey
	// namespace is the Temporal client's, once learned (see listPage).
	namespace atomic.Pointer[string]
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
	srv := &Server{temporal: c, flows: flows, log: log, cfg: cfg}
	for _, k := range cfg.APIKeys {
		srv.keys = append(srv.keys, hashedKey{name: k.Name, sum: sha256.Sum256([]byte(k.Key)), scopes: k.Scopes})
	}
	return srv
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
	// An execution id may hold a '/' (from an idempotency key): escaped as
	// %2F it stays one path segment.
	r.UseRawPath = true
	r.Use(observe(s.log, s.cfg.Telemetry), recovery(s.log), errorMiddleware(s.log))

	r.POST("/hooks/:token", s.trigger)
	r.GET("/hooks/resume/:token", s.resumeInfo)
	r.POST("/hooks/resume/:token", s.resume)
	r.GET("/hooks/:token/results/:executionId", knownQuery(adminQueryParams), s.syncResult)
	v1 := r.Group("/api/v1", knownQuery(adminQueryParams))
	read, write := s.requireScope(ScopeRead), s.requireScope(ScopeWrite)
	v1.GET("/openapi.json", serveOpenAPI)
	v1.GET("/schemas/:name", serveSchema)
	v1.POST("/parse", read, s.derivePaths)
	v1.POST("/flows/:id/steps/:stepId/test", write, s.testStep)
	if s.cfg.Admin != nil {
		v1.GET("/flows", read, s.listFlows)
		v1.POST("/flows", write, s.createFlow)
		v1.GET("/flows/:id", read, s.getFlow)
		v1.PUT("/flows/:id", write, s.updateFlow)
		v1.DELETE("/flows/:id", write, s.deleteFlow)
		v1.GET("/flows/:id/versions", read, s.listVersions)
		v1.GET("/flows/:id/versions/:version", read, s.getVersion)
		v1.POST("/flows/:id/enable", write, s.setEnabled(true))
		v1.POST("/flows/:id/disable", write, s.setEnabled(false))
		v1.POST("/flows/:id/rotate-token", write, s.rotateToken)
		v1.POST("/flows/:id/capture", write, s.armCapture)
		v1.GET("/flows/:id/captures", read, s.listCaptures)
		s.collectionRoutes(v1, read, write)
		s.destinationRoutes(v1, read, write)
		v1.POST("/flows/:id/replay", write, s.replayFlow)
	}
	v1.GET("/flows/:id/executions", read, s.listExecutions)
	v1.GET("/executions/:id", read, s.getExecution)
	v1.POST("/executions/:id/cancel", write, s.cancelExecution)
	v1.POST("/executions/:id/rerun", write, s.rerunExecution)
	v1.POST("/executions/:id/resume", write, s.resumeExecution)
	v1.GET("/replays/:id", read, s.getReplay)
	v1.POST("/replays/:id/cancel", write, s.cancelReplay)
	v1.POST("/executions/:id/events/:name", write, s.sendEvent)
	v1.POST("/executions/:id/deliveries/:deliveryId/redeliver", write, s.redeliver)
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", s.readyz)
	if s.cfg.Codec != nil {
		s.codecRoutes(r)
	}
	if s.cfg.Telemetry != nil {
		r.GET("/metrics", gin.WrapH(s.cfg.Telemetry.MetricsHandler()))
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

// adminQueryParams lists the query parameters each admin API route takes,
// by "METHOD /api/v1/path/{param}": those openapi.json names for it, so the
// document and the server cannot disagree.
var adminQueryParams = queryParamsOf(openAPI)

func queryParamsOf(doc []byte) map[string][]string {
	type param struct{ Name, In string }
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		panic("api: openapi.json: " + err.Error())
	}
	out := map[string][]string{}
	for path, item := range d.Paths {
		var common []param
		if raw, ok := item["parameters"]; ok {
			_ = json.Unmarshal(raw, &common)
		}
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op struct{ Parameters []param }
			_ = json.Unmarshal(raw, &op)
			key := strings.ToUpper(method) + " " + path
			out[key] = []string{}
			for _, p := range append(common, op.Parameters...) {
				if p.In == "query" {
					out[key] = append(out[key], p.Name)
				}
			}
		}
	}
	return out
}

var ginParam = regexp.MustCompile(`:(\w+)`)

// knownQuery refuses (400) query parameters the route does not take, each
// named with its path (query.<name>): a misspelt parameter, silently
// ignored, would answer a different question than the one asked.
func knownQuery(allowed map[string][]string) gin.HandlerFunc {
	return func(c *gin.Context) {
		names := allowed[c.Request.Method+" "+ginParam.ReplaceAllString(c.FullPath(), "{$1}")]
		var unknown []string
		for name := range c.Request.URL.Query() {
			if !slices.Contains(names, name) {
				unknown = append(unknown, name)
			}
		}
		if len(unknown) == 0 {
			c.Next()
			return
		}
		slices.Sort(unknown)
		quoted := make([]string, len(unknown))
		e := newError(http.StatusBadRequest, "unknown_parameter", "")
		for i, name := range unknown {
			quoted[i] = strconv.Quote(name)
			e.Errors = append(e.Errors, flow.FieldError{Path: "query." + name, Message: "unknown query parameter"})
		}
		e.Path = e.Errors[0].Path
		e.Detail = "unknown query parameter " + strings.Join(quoted, ", ") + "; this route takes "
		if len(unknown) > 1 {
			e.Detail = "unknown query parameters " + strings.Join(quoted, ", ") + "; this route takes "
		}
		if len(names) == 0 {
			e.Detail += "none"
		} else {
			e.Detail += strings.Join(names, ", ")
		}
		fail(c, e)
	}
}

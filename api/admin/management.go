package admin

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/notify"
	"github.com/hookflow/hookflow/telemetry"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// Config configures the admin API. Zero values take the defaults.
type Config struct {
	// MaxBodyBytes bounds request bodies (default
	// httpapi.DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Deliver sends the test action's requests (nil: test actions answer
	// 501).
	Deliver *activities.Deliverer
	// Admin enables the routes that need the flow store (flows,
	// collections, destinations, captures, bulk replay). Nil: the admin API
	// serves only what needs none (see Management).
	Admin *httpapi.Admin
	// APIKeys guard the admin API and /codec.
	APIKeys []APIKey
	// Codec serves the remote codec endpoint for the Web UI (nil: not
	// served).
	Codec *CodecEndpoint
	// Telemetry records metrics and traces (nil: neither).
	Telemetry *telemetry.Telemetry
	// PublicURL is the public surface's base URL, for the signed links of
	// runs the admin API starts (rerun, resume, replay).
	PublicURL string
	// DataConverter decodes what the API reads from history and
	// visibility (a redelivery's request): the client's, with its codec
	// when payloads are encrypted (default: Temporal's default converter).
	DataConverter converter.DataConverter
	// Notify sends destination.paused and destination.resumed to the
	// global notify destination (nil: no notifications; notify.go).
	Notify *notify.Emitter
	// OpenAPI is the OpenAPI document of the whole API (package api's
	// openapi.json): served at /api/v1/openapi.json, and the query
	// parameters it lists are the only ones the routes take.
	OpenAPI []byte
}

// Management is the admin API under /api/v1, every route behind an API
// key's read or write scope (except openapi.json and the schemas, which
// editors fetch without one), and the Web UI's remote codec (/codec). It
// owns flows, their versions, checks and captures, the parse helper and
// test actions (admin.go, calls.go, capture.go, derive_paths.go,
// test_action.go); the other features are types of their own on the same
// adminCore: collections and records, destinations, executions with
// their recovery and events, schedules (schedules.go). Without a store
// (Config.Admin nil) it serves only what needs none: executions, replays'
// status, events, redeliveries, parse, test actions and the documents.
type Management struct {
	*adminCore
	keys         []hashedKey
	collections  *collectionsAPI
	destinations *destinationsAPI
	executions   *executionsAPI
	schedules    *schedulesAPI
	flowKeys     *flowKeysAPI
}

// adminCore is what every part of the admin API shares: the Temporal
// client, the flows this replica serves, the configuration (the store is
// cfg.Admin), the query parameters each route takes, the Temporal
// namespace once learned (listPage), and the helpers that read bodies and
// map store failures.
type adminCore struct {
	httpapi.Core
	flows      httpapi.FlowSource
	cfg        Config
	queryNames map[string][]string
	// namespace is the Temporal client's, once learned (see listPage).
	namespace atomic.Pointer[string]
}

// Feature parts of the admin API.
type (
	// collectionsAPI: /api/v1/collections and their records (collections.go).
	collectionsAPI struct{ *adminCore }
	// destinationsAPI: /api/v1/destinations, pause, resume, the circuit
	// (destinations.go, notify.go).
	destinationsAPI struct{ *adminCore }
	// executionsAPI: /api/v1/executions, replays, events and redeliveries
	// (executions.go, recovery.go, events.go, redeliver.go).
	executionsAPI struct{ *adminCore }
)

// New returns the admin API on the Temporal client c; flows are
// the ones test actions find steps in. cfg.OpenAPI should be set (package
// api sets it): without it, no route takes a query parameter.
func New(c sdkclient.Client, flows httpapi.FlowSource, log *slog.Logger, cfg Config) *Management {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = httpapi.DefaultMaxBodyBytes
	}
	ac := &adminCore{Core: httpapi.Core{Temporal: c, Log: log}, flows: flows, cfg: cfg, queryNames: httpapi.QueryParamsOf(cfg.OpenAPI)}
	m := &Management{adminCore: ac, collections: &collectionsAPI{ac}, destinations: &destinationsAPI{ac}, executions: &executionsAPI{ac}, schedules: &schedulesAPI{ac}, flowKeys: &flowKeysAPI{ac}}
	for _, k := range cfg.APIKeys {
		m.keys = append(m.keys, hashedKey{name: k.Name, sum: sha256.Sum256([]byte(k.Key)), scopes: k.Scopes})
	}
	return m
}

// Handler serves the admin API alone (package api's Server serves it
// beside the public surface).
func (s *Management) Handler() http.Handler { return httpapi.Engine(s.Log, s.cfg.Telemetry, s.Routes) }

// Routes registers the admin API's routes on r (package api serves them
// beside the public surface's).
func (s *Management) Routes(r *gin.Engine) {
	v1 := r.Group("/api/v1", httpapi.KnownQuery(s.queryNames))
	read, write := s.requireScope(ScopeRead), s.requireScope(ScopeWrite)
	v1.GET("/openapi.json", s.serveOpenAPI)
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
		s.collections.routes(v1, read, write)
		s.destinations.routes(v1, read, write)
		s.schedules.routes(v1, read, write)
	}
	s.executions.routes(v1, read, write)
	s.flowKeys.routes(v1, read)
	if s.cfg.Codec != nil {
		s.codecRoutes(r)
	}
}

// routes are the executions' and replays'; a bulk replay is served only
// with the flow store.
func (s *executionsAPI) routes(v1 *gin.RouterGroup, read, write gin.HandlerFunc) {
	if s.cfg.Admin != nil {
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
}

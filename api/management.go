package api

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"sync/atomic"

	"github.com/gin-gonic/gin"
	sdkclient "go.temporal.io/sdk/client"
)

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
// cfg.Admin), the Temporal namespace once learned (listPage), and the
// helpers that read bodies and map store failures.
type adminCore struct {
	core
	flows FlowSource
	cfg   Config
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

// NewManagement returns the admin API on the Temporal client c; flows are
// the ones test actions find steps in.
func NewManagement(c sdkclient.Client, flows FlowSource, log *slog.Logger, cfg Config) *Management {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	ac := &adminCore{core: core{temporal: c, log: log}, flows: flows, cfg: cfg}
	m := &Management{adminCore: ac, collections: &collectionsAPI{ac}, destinations: &destinationsAPI{ac}, executions: &executionsAPI{ac}, schedules: &schedulesAPI{ac}, flowKeys: &flowKeysAPI{ac}}
	for _, k := range cfg.APIKeys {
		m.keys = append(m.keys, hashedKey{name: k.Name, sum: sha256.Sum256([]byte(k.Key)), scopes: k.Scopes})
	}
	return m
}

// Handler serves the admin API alone (New's handler serves it with the
// public surface).
func (s *Management) Handler() http.Handler { return engine(s.log, s.cfg.Telemetry, s.routes) }

func (s *Management) routes(r *gin.Engine) {
	v1 := r.Group("/api/v1", knownQuery(documentedQueryParams))
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

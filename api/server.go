// Package api is hookflow's HTTP API (Gin), in two parts with their own
// types, packages and dependencies, behind the same middleware and the one
// error shape (package api/httpapi):
//
//   - Public (this package) is what the internet talks to: trigger URLs
//     (/hooks/{token}) that start flows on Temporal, their result URLs, the
//     signed resume and approval links of wait and approval steps, and the
//     probes (/healthz, /readyz, /metrics). It holds no API key and reads
//     the flow store only for armed captures, enrollment lookups and
//     readiness.
//   - Management (package api/admin) is the admin API under /api/v1,
//     guarded by API keys: flows and their versions, collections and
//     records, destinations, executions and their recovery (rerun, resume,
//     replay, redeliver, events), schedules, captures, the parse helper,
//     test actions, and the Web UI's remote codec (/codec).
//
// New composes both on one handler (Server.Handler); each also serves alone
// (Public.Handler, NewManagement(...).Handler). The API's OpenAPI document
// (openapi.json) lives here; both parts take only the query parameters it
// lists.
package api

import (
	"log/slog"
	"net/http"

	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api/admin"
	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/notify"
	"github.com/hookflow/hookflow/secrets"
	"github.com/hookflow/hookflow/telemetry"
)

// Names callers of the API use, defined by the part that owns them; they
// are named here too so that a caller composing the API imports one
// package.
const (
	// HeaderExecutionID names the run (the Temporal workflow id) in every
	// trigger answer, so an operator can find it in the Web UI.
	HeaderExecutionID = httpapi.HeaderExecutionID
	// HeaderRequestID carries a request's id: the caller's, or a fresh one.
	HeaderRequestID = httpapi.HeaderRequestID
	// DefaultMaxBodyBytes bounds a trigger body (httpapi.DefaultMaxBodyBytes).
	DefaultMaxBodyBytes = httpapi.DefaultMaxBodyBytes
	// ScopeRead and ScopeWrite are the admin API keys' scopes.
	ScopeRead  = admin.ScopeRead
	ScopeWrite = admin.ScopeWrite
	// StatusInterrupted is the status of a step a run's end cut short.
	StatusInterrupted = admin.StatusInterrupted
)

type (
	// Error is the one JSON error shape of the API.
	Error = httpapi.Error
	// FlowSource finds flows by trigger token and by id.
	FlowSource = httpapi.FlowSource
	// Admin is the flow store and the trigger cache.
	Admin = httpapi.Admin
	// APIKey is an admin API key.
	APIKey = admin.APIKey
	// CodecEndpoint is the Web UI's remote codec.
	CodecEndpoint = admin.CodecEndpoint
	// Management is the admin API.
	Management = admin.Management
)

// ParseAPIKeys reads admin API keys (admin.ParseAPIKeys).
func ParseAPIKeys(s string) ([]APIKey, error) { return admin.ParseAPIKeys(s) }

// Config configures the whole API (New): the admin API gets its part
// (admin.Config), the public surface its part (PublicConfig). Zero values
// take the defaults.
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
	// global notify destination (nil: no notifications; api/admin/notify.go).
	Notify *notify.Emitter
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

// admin is the part of the configuration the admin API gets, with the
// OpenAPI document.
func (c Config) admin() admin.Config {
	return admin.Config{MaxBodyBytes: c.MaxBodyBytes, Deliver: c.Deliver, Admin: c.Admin, APIKeys: c.APIKeys, Codec: c.Codec,
		Telemetry: c.Telemetry, PublicURL: c.PublicURL, DataConverter: c.DataConverter, Notify: c.Notify, OpenAPI: openAPI}
}

// NewManagement returns the admin API alone on the Temporal client c.
func NewManagement(c sdkclient.Client, flows FlowSource, log *slog.Logger, cfg Config) *Management {
	return admin.New(c, flows, log, cfg.withDefaults().admin())
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
	return &Server{public: NewPublic(c, flows, log, cfg.public()), admin: admin.New(c, flows, log, cfg.admin()), log: log, tel: cfg.Telemetry}
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	return httpapi.Engine(s.log, s.tel, s.public.routes, s.admin.Routes)
}

package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/namespace"
	"github.com/hookflow/hookflow/telemetry"
)

// HeaderRequestID carries a request's id: the caller's, or a fresh one.
const HeaderRequestID = "X-Request-Id"

// readyz answers 200 when Temporal answers within a second and the
// namespace holds hookflow's search attributes, 503 naming what does not
// ("namespace": "missing: default", "searchAttributes": "missing:
// HookflowFlowId, ..."; these two appear only while something is missing,
// and once found they are not asked again). A load balancer stops sending
// triggers to a replica that could not start them. A flow store that does
// not answer makes the replica "degraded", still 200: it serves triggers
// from its last snapshot (only admin writes wait for the store), and
// taking every replica out of rotation would stop those too.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
	defer cancel()
	checks := gin.H{}
	ready := true
	if _, err := s.temporal.CheckHealth(ctx, &sdkclient.CheckHealthRequest{}); err != nil {
		checks["temporal"] = "unreachable"
		ready = false
	} else {
		checks["temporal"] = "ok"
		for k, v := range namespace.NamespaceReadiness(s.temporal).Check(ctx) {
			checks[k] = v
			ready = false
		}
	}
	status := "ready"
	if s.cfg.Admin != nil && s.cfg.Admin.Store != nil {
		if err := s.cfg.Admin.Store.Ping(ctx); err != nil {
			checks["store"] = "unreachable"
			status = "degraded"
		} else {
			checks["store"] = "ok"
		}
	}
	if !ready {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not ready", "checks": checks})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": status, "checks": checks})
}

// observe gives every request an id (kept from X-Request-Id when the
// caller sends a sane one) and answers with it; continues the caller's trace
// (traceparent) when tracing is on; and records one log line and the HTTP
// metrics per request: method, route (the pattern, so trigger tokens never
// reach a log, a label or a span), status and duration. Bodies and headers
// are never logged.
func observe(log *slog.Logger, tel *telemetry.Telemetry) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if id == "" || len(id) > 128 {
			id = uuid.NewString()
		}
		c.Header(HeaderRequestID, id)
		route := c.FullPath() // gin routes before it runs middleware
		if route == "" {
			route = "unmatched"
		}
		ctx, span := c.Request.Context(), trace.SpanFromContext(c.Request.Context())
		if tel.Tracing() {
			ctx, span = tel.StartServerSpan(ctx, c.Request.Header, c.Request.Method+" "+route)
			c.Request = c.Request.WithContext(ctx)
		}
		start := time.Now()
		c.Next()
		d, status := time.Since(start), c.Writer.Status()
		telemetry.EndSpan(span, status, nil)
		tel.ObserveRequest(c.Request.Method, route, status, d)
		attrs := []slog.Attr{slog.String("requestId", id), slog.String("method", c.Request.Method), slog.String("route", route),
			slog.Int("status", status), slog.Duration("duration", d)}
		if sc := span.SpanContext(); sc.IsValid() {
			attrs = append(attrs, slog.String("traceId", sc.TraceID().String()))
		}
		log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
	}
}

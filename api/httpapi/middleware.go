package httpapi

// The middleware both parts of the API share, in the order a request meets
// it: observe (request id, log line, metrics, trace), recovery (a panic is
// a 500 in the one error shape), errorMiddleware (writes the error a
// handler recorded with Fail); and KnownQuery on routes that take only
// the query parameters openapi.json lists.

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/telemetry"
)

// HeaderRequestID carries a request's id: the caller's, or a fresh one.
const HeaderRequestID = "X-Request-Id"

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

// errorMiddleware writes the last error a handler recorded with c.Error, in
// the one error shape. Anything that is not an *Error is an internal fault:
// it is logged, and the caller gets a 500 without internals.
func errorMiddleware(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if len(c.Errors) == 0 || c.Writer.Written() {
			return
		}
		err := c.Errors.Last().Err
		var apiErr *Error
		if !errors.As(err, &apiErr) {
			log.Error("internal error", "route", c.FullPath(), "error", err)
			apiErr = NewError(http.StatusInternalServerError, "internal", "an internal error occurred")
		}
		if apiErr.Allow != "" {
			c.Header("Allow", apiErr.Allow)
		}
		if apiErr.WWWAuthenticate != "" {
			c.Header("WWW-Authenticate", apiErr.WWWAuthenticate)
		}
		if apiErr.RetryAfter != "" {
			c.Header("Retry-After", apiErr.RetryAfter)
		}
		c.AbortWithStatusJSON(apiErr.Status, apiErr)
	}
}

// recoverPanics turns a panic into the one error shape (and logs it): a caller
// never sees a stack or an empty reply.
func recoverPanics(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, rec any) {
		log.Error("panic in handler", "route", c.FullPath(), "panic", rec)
		c.AbortWithStatusJSON(http.StatusInternalServerError, NewError(http.StatusInternalServerError, "internal", "an internal error occurred"))
	})
}

// Fail records err for the error middleware and stops the handler chain.
func Fail(c *gin.Context, err *Error) {
	_ = c.Error(err)
	c.Abort()
}

// QueryParamsOf lists the query parameters each route of an OpenAPI
// document takes, by "METHOD /api/v1/path/{param}", for KnownQuery: the
// document and the server cannot disagree.
func QueryParamsOf(doc []byte) map[string][]string {
	type param struct{ Name, In string }
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if len(doc) == 0 {
		return map[string][]string{} // no document: no route takes a query parameter
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

// KnownQuery refuses (400) query parameters the route does not take, each
// named with its path (query.<name>): a misspelt parameter, silently
// ignored, would answer a different question than the one asked.
func KnownQuery(allowed map[string][]string) gin.HandlerFunc {
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
		e := NewError(http.StatusBadRequest, "unknown_parameter", "")
		for i, name := range unknown {
			quoted[i] = strconv.Quote(name)
			e.Errors = append(e.Errors, field.Error{Path: "query." + name, Message: "unknown query parameter"})
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
		Fail(c, e)
	}
}

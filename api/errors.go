package api

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/flow"
)

// Error is the one JSON error shape of the API:
//
//	{"error": "unsupported_media_type", "detail": "...", "path": "..."}
//
// Error is a stable machine-readable code, Detail a sentence for people,
// Path the offending field where there is one.
type Error struct {
	Status      int               `json:"-"`
	Code        string            `json:"error"`
	Detail      string            `json:"detail"`
	Path        string            `json:"path,omitempty"`
	Errors      []flow.FieldError `json:"errors,omitempty"`
	ExecutionID string            `json:"executionId,omitempty"`
	// Allow is sent as the Allow header with a 405.
	Allow string `json:"-"`
	// RetryAfter, in seconds, is sent as Retry-After: with a 429 (Temporal
	// throttled the request) and a 503 (Temporal could not be reached).
	RetryAfter string `json:"-"`
	// WWWAuthenticate is sent with a 401.
	WWWAuthenticate string `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }

func newError(status int, code, detail string) *Error {
	return &Error{Status: status, Code: code, Detail: detail}
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
			apiErr = newError(http.StatusInternalServerError, "internal", "an internal error occurred")
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

// recovery turns a panic into the one error shape (and logs it): a caller
// never sees a stack or an empty reply.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, rec any) {
		log.Error("panic in handler", "route", c.FullPath(), "panic", rec)
		c.AbortWithStatusJSON(http.StatusInternalServerError, newError(http.StatusInternalServerError, "internal", "an internal error occurred"))
	})
}

// fail records err for the error middleware and stops the handler chain.
func fail(c *gin.Context, err *Error) {
	_ = c.Error(err)
	c.Abort()
}

package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	sdkclient "go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hookflow/hookflow/flow/field"
)

// Error is the one JSON error shape of the API:
//
//	{"error": "unsupported_media_type", "detail": "...", "path": "..."}
//
// Error is a stable machine-readable code, Detail a sentence for people,
// Path the offending field where there is one.
type Error struct {
	Status      int           `json:"-"`
	Code        string        `json:"error"`
	Detail      string        `json:"detail"`
	Path        string        `json:"path,omitempty"`
	Errors      []field.Error `json:"errors,omitempty"`
	ExecutionID string        `json:"executionId,omitempty"`
	// Allow is sent as the Allow header with a 405.
	Allow string `json:"-"`
	// RetryAfter, in seconds, is sent as Retry-After: with a 429 (Temporal
	// throttled the request) and a 503 (Temporal could not be reached).
	RetryAfter string `json:"-"`
	// WWWAuthenticate is sent with a 401.
	WWWAuthenticate string `json:"-"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }

// NewError is an error in the one shape.
func NewError(status int, code, detail string) *Error {
	return &Error{Status: status, Code: code, Detail: detail}
}

// Core is what both parts of the API hold: the Temporal client and the
// log. Its methods map Temporal's answers to the one error shape
// (TemporalError) and hand an event to a waiting run (DeliverEvent, for
// resume links and the admin API's events).
type Core struct {
	Temporal sdkclient.Client
	Log      *slog.Logger
}

// throttleRetryAfter is the Retry-After, in seconds, of a 429 for a
// request Temporal throttled: its limits are per second.
const throttleRetryAfter = "1"

// TemporalError maps Temporal's answers to the one error shape, for both
// parts of the API.
func (s *Core) TemporalError(err error) *Error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return NewError(http.StatusNotFound, "not_found", "no such execution")
	}
	var ia *serviceerror.InvalidArgument
	if errors.As(err, &ia) {
		return NewError(http.StatusBadRequest, "bad_request", ia.Error())
	}
	if e := resourceExhausted(err); e != nil {
		s.Log.Warn("temporal throttled a request", "error", err)
		return e
	}
	s.Log.Error("temporal request failed", "error", err)
	detail := "Temporal could not be reached; retry later"
	var de *serviceerror.DeadlineExceeded
	if errors.As(err, &de) || errors.Is(err, context.DeadlineExceeded) {
		detail = "Temporal did not answer in time; retry later"
	}
	e := NewError(http.StatusServiceUnavailable, "unavailable", detail)
	e.RetryAfter = "5"
	return e
}

// resourceExhausted maps Temporal's ResourceExhausted (as a service error
// or a bare gRPC status): a rate or concurrency limit is a 429 naming the
// limit, with Retry-After; an answer over the gRPC message size is not
// something waiting fixes. Nil for any other error.
func resourceExhausted(err error) *Error {
	var re *serviceerror.ResourceExhausted
	if errors.As(err, &re) {
		return rateLimited(re.Cause, re.Scope, re.Message)
	}
	// SQL visibility reports its persistence rate limit wrapped in
	// Unavailable ("Unable to read search attributes types: System
	// Persistence Max QPS Reached."): it is a limit all the same.
	var un *serviceerror.Unavailable
	if errors.As(err, &un) && strings.Contains(un.Message, "Persistence Max QPS Reached") {
		return rateLimited(enumspb.RESOURCE_EXHAUSTED_CAUSE_PERSISTENCE_LIMIT, enumspb.RESOURCE_EXHAUSTED_SCOPE_UNSPECIFIED, un.Message)
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.ResourceExhausted {
		return nil
	}
	if strings.Contains(st.Message(), "larger than max") || strings.Contains(st.Message(), "message too large") {
		return NewError(http.StatusBadGateway, "answer_too_large", "Temporal's answer exceeded the gRPC message size limit; ask for less (a smaller pageSize)")
	}
	return rateLimited(enumspb.RESOURCE_EXHAUSTED_CAUSE_UNSPECIFIED, enumspb.RESOURCE_EXHAUSTED_SCOPE_UNSPECIFIED, st.Message())
}

// throttleLimits names Temporal's ResourceExhausted causes for people.
var throttleLimits = map[enumspb.ResourceExhaustedCause]string{
	enumspb.RESOURCE_EXHAUSTED_CAUSE_RPS_LIMIT:                 "request rate limit",
	enumspb.RESOURCE_EXHAUSTED_CAUSE_CONCURRENT_LIMIT:          "concurrent request limit",
	enumspb.RESOURCE_EXHAUSTED_CAUSE_SYSTEM_OVERLOADED:         "overload protection",
	enumspb.RESOURCE_EXHAUSTED_CAUSE_PERSISTENCE_LIMIT:         "persistence rate limit",
	enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW:             "busy workflow limit",
	enumspb.RESOURCE_EXHAUSTED_CAUSE_APS_LIMIT:                 "action rate limit",
	enumspb.RESOURCE_EXHAUSTED_CAUSE_PERSISTENCE_STORAGE_LIMIT: "storage limit",
	enumspb.RESOURCE_EXHAUSTED_CAUSE_CIRCUIT_BREAKER_OPEN:      "circuit breaker",
	enumspb.RESOURCE_EXHAUSTED_CAUSE_OPS_LIMIT:                 "operation rate limit",
}

func rateLimited(cause enumspb.ResourceExhaustedCause, scope enumspb.ResourceExhaustedScope, msg string) *Error {
	limit, ok := throttleLimits[cause]
	switch {
	case !ok && cause != enumspb.RESOURCE_EXHAUSTED_CAUSE_UNSPECIFIED:
		limit = "a limit (" + cause.String() + ")"
	case !ok:
		limit = "a limit"
	case scope == enumspb.RESOURCE_EXHAUSTED_SCOPE_NAMESPACE:
		limit = "the namespace's " + limit
	case scope == enumspb.RESOURCE_EXHAUSTED_SCOPE_SYSTEM:
		limit = "the server's " + limit
	default:
		limit = "its " + limit
	}
	detail := "Temporal refused the request: it reached " + limit
	if msg = strings.TrimSpace(msg); msg != "" {
		detail += " (" + strings.TrimSuffix(msg, ".") + ")"
	}
	e := NewError(http.StatusTooManyRequests, "rate_limited", detail+"; retry after "+throttleRetryAfter+" s")
	e.RetryAfter = throttleRetryAfter
	return e
}

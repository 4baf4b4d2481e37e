// Package contract is what the workflow and the activities agree on: each
// activity's registered name, its result and failure types, and the error
// types of its failures. It holds no I/O, so workflows/ imports it without
// pulling in the networking code of package activities.
package contract

// DeliverName is the delivery activity's registered name (stable: histories
// refer to it).
const DeliverName = "hookflow.Deliver"

// Error types of a failed delivery attempt (the ApplicationError's type).
// Non-retryable ones fail the step at once.
const (
	ErrHTTPClient         = "HTTPClientError"     // 4xx other than 429: not retried
	ErrHTTPRedirect       = "HTTPRedirect"        // 3xx: redirects are not followed
	ErrTooManyRequests    = "HTTPTooManyRequests" // 429: retried after Retry-After
	ErrHTTPServer         = "HTTPServerError"     // 5xx: retried
	ErrNetwork            = "NetworkError"        // connect, TLS, timeouts: retried
	ErrDestinationRefused = "DestinationRefused"  // SSRF guard, plain http: not retried
	ErrOutputMissing      = "OutputMissing"       // a named output is not in the response
	ErrInvalidRequest     = "InvalidRequest"      // the request cannot be built
	// ErrSecretUnavailable is retried: an operator who adds the missing
	// secret lets pending deliveries through.
	ErrSecretUnavailable = "SecretUnavailable"
)

// Result is one delivery's outcome, readable by later steps.
type Result struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers,omitempty"`
	// Body is the response: its JSON value, or text when it is not JSON.
	Body          any            `json:"body,omitempty"`
	BodyTruncated bool           `json:"bodyTruncated,omitempty"`
	Outputs       map[string]any `json:"outputs,omitempty"`
	Attempt       int32          `json:"attempt"`
}

// Failure is attached to a failed attempt's error, so the workflow can
// record the status and attempt count of a delivery that finally failed.
type Failure struct {
	StatusCode int    `json:"statusCode,omitempty"`
	Attempt    int32  `json:"attempt"`
	Body       string `json:"body,omitempty"`
}

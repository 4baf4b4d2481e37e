// Package contract is what the workflow and the activities agree on: each
// activity's registered name, its result and failure types, and the error
// types of its failures. It holds no I/O, so workflows/ imports it without
// pulling in the networking code of package activities.
package contract

import (
	"fmt"
	"time"

	"github.com/hookflow/hookflow/flow"
)

// DefaultMaxKeptBody is the response body a delivery keeps in its result
// (and so in history) unless the step or the worker says otherwise
// (--max-kept-response-bytes): what the workflow counts for a local first
// attempt's marker when the step does not say.
const DefaultMaxKeptBody = 64 << 10

// DeliverName is the delivery activity's registered name (stable: histories
// refer to it).
const DeliverName = "hookflow.Deliver"

// Recovery activities' registered names (a bulk replay runs them).
const (
	RerunName         = "hookflow.Rerun"
	ResumeName        = "hookflow.Resume"
	ListForReplayName = "hookflow.ListForReplay"
)

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
	// ErrDestinationParked: the destination was paused or its circuit
	// opened between the task's dispatch and its attempt; nothing was
	// sent, and the delivery goes back to wait in the destination's queue.
	ErrDestinationParked = "DestinationParked"
	// ErrNoDestination: the destination a step names does not exist (it
	// was deleted after the flow was applied). Not retried.
	ErrNoDestination = "NoDestination"
	// ErrStoreUnavailable: the flow store could not be read; retried.
	ErrStoreUnavailable = "StoreUnavailable"
)

// ResolveDestinationName is the local activity that reads a destination's
// retry policy and timeouts when a delivery to it starts.
const ResolveDestinationName = "hookflow.ResolveDestination"

// DestinationPolicy is what the workflow needs of a destination to
// schedule a delivery: no URL, no auth, no headers (the worker adds those
// when each attempt runs).
type DestinationPolicy struct {
	Name     string             `json:"name"`
	Version  int64              `json:"version"`
	Retry    *flow.RetryPolicy  `json:"retry,omitempty"`
	Timeouts *flow.HTTPTimeouts `json:"timeouts,omitempty"`
	// FirstAttemptLocal: the destination sets no rate (which the server
	// enforces on its queue), so a flow worker that makes first attempts
	// may make this delivery's, when the destination's gate admits it then
	// (DeliverFirst refuses it with ErrDestinationParked otherwise). Absent
	// from policies recorded before, so their runs replay as they ran.
	FirstAttemptLocal bool `json:"firstAttemptLocal,omitempty"`
}

// Result is one delivery's outcome, readable by later steps.
type Result struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers,omitempty"`
	// Body is the response: its JSON value, or text when it is not JSON.
	Body          any            `json:"body,omitempty"`
	BodyTruncated bool           `json:"bodyTruncated,omitempty"`
	Outputs       map[string]any `json:"outputs,omitempty"`
	Attempt       int32          `json:"attempt"`
	// URL is where a delivery to a destination went (base URL and path,
	// before auth is applied), and DestinationVersion the destination's
	// version that sent it.
	URL                string `json:"url,omitempty"`
	DestinationVersion int64  `json:"destinationVersion,omitempty"`
	// FirstAttempt, on a local first attempt's result, is its input: the
	// request and schedule, kept in history for redeliveries and resumes.
	FirstAttempt *FirstAttempt `json:"firstAttempt,omitempty"`
}

// Failure is attached to a failed attempt's error, so the workflow can
// record the status and attempt count of a delivery that finally failed.
type Failure struct {
	StatusCode int    `json:"statusCode,omitempty"`
	Attempt    int32  `json:"attempt"`
	Body       string `json:"body,omitempty"`
	// DestinationVersion is the destination's version that made the
	// attempt (deliveries to destinations).
	DestinationVersion int64 `json:"destinationVersion,omitempty"`
	// FirstAttempt: as on Result, for a local first attempt that failed.
	FirstAttempt *FirstAttempt `json:"firstAttempt,omitempty"`
	// Message is a local first attempt's error message: its failure
	// carries a generic one, because the SDK writes a local activity's
	// failure message to history in plaintext even when payloads and
	// failures are encrypted; details are payloads, encrypted with them.
	Message string `json:"message,omitempty"`
}

// RerunRequest asks for a new run of an execution's trigger data.
type RerunRequest struct {
	ExecutionID string `json:"executionId"`
	// Flow is the definition to run and Version its version; nil runs the
	// original run's own snapshot.
	Flow    *flow.Flow `json:"flow,omitempty"`
	Version int64      `json:"version,omitempty"`
	// Key makes the rerun idempotent (a bulk replay retrying its activity
	// starts one run); empty: a fresh one.
	Key string `json:"key,omitempty"`
}

// Recovered is what a rerun or a resume started.
type Recovered struct {
	ExecutionID string `json:"executionId"`
	RunID       string `json:"runId"`
	Version     int64  `json:"version"`
	// ResetTo is the history event a resume reset to.
	ResetTo int64 `json:"resetTo,omitempty"`
	// Note says what a resume continues from.
	Note string `json:"note,omitempty"`
}

// ResumeExecutionRequest asks to continue a failed, terminated, timed-out or
// canceled execution from where it stopped.
type ResumeExecutionRequest struct {
	ExecutionID string `json:"executionId"`
	// Current, when set, is the flow's current definition: a resume runs
	// the execution's own history, so it is refused unless the definition
	// is unchanged.
	Current *flow.Flow `json:"current,omitempty"`
	Reason  string     `json:"reason,omitempty"`
	// Key makes the reset idempotent (its request id).
	Key string `json:"key,omitempty"`
	// AllowResend accepts a resume that sends again deliveries that
	// succeeded after the reset point (side by side with the failed one,
	// in a parallel step or a concurrent loop) and restarts child runs
	// begun after it; without it such a resume is refused.
	AllowResend bool `json:"allowResend,omitempty"`
}

// Error types of a rerun or resume refused for good: no retry can change
// them, so a bulk replay records the execution as skipped, with the reason.
const (
	ErrExecutionNotFound = "ExecutionNotFound"
	ErrExecutionRunning  = "ExecutionRunning"
	ErrNotResumable      = "NotResumable"
)

// RecoveryRefusals are the error types above.
var RecoveryRefusals = []string{ErrExecutionNotFound, ErrExecutionRunning, ErrNotResumable}

// ReplayQuery selects the executions of a bulk replay.
type ReplayQuery struct {
	FlowID   string    `json:"flowId"`
	Statuses []string  `json:"statuses"` // Temporal's names: Failed, Terminated, ...
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Version  int64     `json:"version,omitempty"`
}

// Visibility is the query in Temporal's list filter language.
func (q ReplayQuery) Visibility() string {
	// Runs of the flow only: a bulk replay is tagged with the flow's id too.
	s := fmt.Sprintf("WorkflowType = %q AND %s = %q AND StartTime >= %q AND StartTime < %q",
		"FlowWorkflow", "HookflowFlowId", q.FlowID, q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano))
	if len(q.Statuses) > 0 {
		s += " AND ExecutionStatus IN ("
		for i, st := range q.Statuses {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprintf("%q", st)
		}
		s += ")"
	}
	if q.Version > 0 {
		s += fmt.Sprintf(" AND %s = %d", "HookflowFlowVersion", q.Version)
	}
	return s
}

// ReplayPage is one page of a bulk replay's selection.
type ReplayPage struct {
	IDs           []string `json:"ids"`
	NextPageToken []byte   `json:"nextPageToken,omitempty"`
}

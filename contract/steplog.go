package contract

import (
	"encoding/json"
	"time"
)

// Step statuses in the step log and in steps.<id>.status.
const (
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
	StatusCancelled = "cancelled"
)

// MaxStepLog bounds the records a run keeps in memory (and returns from the
// query); the oldest are dropped first and counted, so a long loop cannot
// grow the workflow's memory without bound.
const MaxStepLog = 1000

// StepRecord is one execution of one step.
type StepRecord struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Path locates the step in the definition, e.g. steps[0].then[1].
	Path   string `json:"path"`
	Status string `json:"status"`
	// Iteration is the index of the innermost loop element, for steps
	// inside a loop.
	Iteration *int       `json:"iteration,omitempty"`
	StartedAt time.Time  `json:"startedAt"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	Error     string     `json:"error,omitempty"`
	// Note explains a skip (e.g. a second response step).
	Note string `json:"note,omitempty"`
	// Delivery describes an http step's request and outcome.
	Delivery *Delivery `json:"delivery,omitempty"`
}

// Delivery is what the step log keeps of a send: the final request (its URL
// holds no secrets: auth is applied by the worker) and the outcome.
type Delivery struct {
	Method string          `json:"method"`
	URL    string          `json:"url"`
	Body   json.RawMessage `json:"body,omitempty"`
	// BodyOmitted is the body's size in bytes when the step log's answer
	// left it out to stay within Temporal's payload limit (answer); the
	// request is in history, in the send's marker or activity input.
	BodyOmitted int    `json:"bodyOmitted,omitempty"`
	DeliveryID  string `json:"deliveryId"`
	// Destination names the destination a step sent to, and
	// DestinationVersion its version that made the last attempt.
	Destination        string `json:"destination,omitempty"`
	DestinationVersion int64  `json:"destinationVersion,omitempty"`
	StatusCode         int    `json:"statusCode,omitempty"`
	Attempts           int32  `json:"attempts,omitempty"`
	LastError          string `json:"lastError,omitempty"`
}

// StepLog is what the QuerySteps query returns.
type StepLog struct {
	Steps []StepRecord `json:"steps"`
	// Dropped counts the oldest records dropped to keep MaxStepLog.
	Dropped int `json:"dropped,omitempty"`
}

package contract

import "github.com/hookflow/hookflow/flow"

// ReplayWorkflowName is the bulk replay's registered workflow type.
const ReplayWorkflowName = "ReplayWorkflow"

// QueryReplayProgress returns a bulk replay's ReplayProgress.
const QueryReplayProgress = "hookflow.replay.progress"

// Replay actions: what a bulk replay does to each execution it selects.
const (
	ReplayRerun  = "rerun"
	ReplayResume = "resume"
)

// ReplayInput is a bulk replay: which executions (a visibility query over a
// bounded time range), what to do to each, and how fast.
type ReplayInput struct {
	Query  ReplayQuery `json:"query"`
	Action string      `json:"action"`
	// Flow and Version: a rerun's definition (nil: each execution's own).
	Flow    *flow.Flow `json:"flow,omitempty"`
	Version int64      `json:"version,omitempty"`
	// PerSecond bounds the executions recovered per second.
	PerSecond float64 `json:"perSecond"`
	// Progress and PageToken carry a continued replay.
	Progress  ReplayProgress `json:"progress"`
	PageToken []byte         `json:"pageToken,omitempty"`
}

// ReplayProgress is what a bulk replay has done so far: each selected
// execution is done (recovered), skipped (refused for a reason no retry can
// change: nothing to resume, still running, gone) or failed (the recovery
// failed after its retries).
type ReplayProgress struct {
	Done     int             `json:"done"`
	Skipped  int             `json:"skipped"`
	Failed   int             `json:"failed"`
	Started  []ReplayStarted `json:"started,omitempty"`
	Skips    []ReplayError   `json:"skips,omitempty"`
	Errors   []ReplayError   `json:"errors,omitempty"`
	Finished bool            `json:"finished"`
}

// ReplayStarted pairs an execution with what recovered it.
type ReplayStarted struct {
	Of          string `json:"of"`
	ExecutionID string `json:"executionId"`
	RunID       string `json:"runId,omitempty"`
}

// ReplayError is an execution the replay did not recover, and why; Type is
// the refusal's error type (contract.ErrNotResumable, ...) for a skip.
type ReplayError struct {
	Of    string `json:"of"`
	Error string `json:"error"`
	Type  string `json:"type,omitempty"`
}

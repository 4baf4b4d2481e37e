package contract

import (
	"time"

	"github.com/hookflow/hookflow/flow"
)

// Names of the composition activities (stable: histories refer to them).
// They run on the flow task queue: ResolveFlow on workers with the flow
// store (--store), SignResume (a local activity) with the secret resume_key.
const (
	ResolveFlowName = "hookflow.ResolveFlow"
	SignResumeName  = "hookflow.SignResume"
)

// Error types of the composition activities. Neither is retried: the flow
// is gone, or the worker lacks what the operator must configure.
const (
	ErrFlowNotFound        = "FlowNotFound"
	ErrFlowStoreMissing    = "FlowStoreMissing"
	ErrResumeKeyMissing    = "ResumeKeyMissing"
	ErrResumeBaseURLAbsent = "ResumeBaseURLMissing"
)

// ResolveFlowRequest asks for a flow's current version, to pin it in a
// child run's input.
type ResolveFlowRequest struct {
	FlowID string `json:"flowId"`
}

// ResolvedFlow is a flow at its current version.
type ResolvedFlow struct {
	Flow    *flow.Flow `json:"flow"`
	Version int64      `json:"version"`
}

// ResumeRequest is the non-secret part of a wait's signed links: which
// execution, step and occurrence of it (a step in a loop waits once per
// element), which actions (resume; approve and reject), until when, and
// the public base URL the links start with.
type ResumeRequest struct {
	BaseURL     string    `json:"baseUrl"`
	ExecutionID string    `json:"executionId"`
	StepID      string    `json:"stepId"`
	Occurrence  int       `json:"occurrence"`
	Actions     []string  `json:"actions"`
	Expires     time.Time `json:"expires"`
}

// ResumeLinks are the signed URLs, by action.
type ResumeLinks struct {
	URLs map[string]string `json:"urls"`
}

// Resume actions: what a signed link does.
const (
	ActionResume  = "resume"
	ActionApprove = "approve"
	ActionReject  = "reject"
)

package contract

import (
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/trigger"
)

const (
	// TaskQueue is where FlowWorkflow tasks of async runs are polled.
	TaskQueue = "hookflow-flows"
	// SyncTaskQueue is where runs of sync triggers are polled, by pollers
	// of their own: a caller waits for the answer, so a burst of async
	// triggers must not queue in front of its first workflow task.
	SyncTaskQueue = "hookflow-sync"
	// WebhookTaskQueue is where deliveries (http steps) run, on workers
	// with their own concurrency and rate limits, so slow receivers never
	// starve flow progress.
	WebhookTaskQueue = "hookflow-webhooks"
	// KeyTaskQueue is where flow control's per-key workflows (coordinators
	// and gather workflows) are polled, by pollers and slots of their own:
	// an admission is an update the API waits for before it answers the
	// caller, so it must not queue behind the runs' workflow tasks, which
	// under a burst wait longer than the server's 5 s schedule-to-start
	// timeout for sticky and speculative tasks (docs/flow-control.md).
	KeyTaskQueue = "hookflow-keys"
	// WorkflowName is FlowWorkflow's registered type name (stable: runs in
	// history refer to it).
	WorkflowName = "FlowWorkflow"
	// UpdateResponse is the update a sync trigger sends with
	// Update-With-Start; it completes with the flow's answer.
	UpdateResponse = "hookflow.response"
	// QuerySteps returns the step log.
	QuerySteps = "hookflow.steps"
	// QueryInput returns the run's input (flow snapshot, version, trigger
	// data), decoded by the caller's data converter: what a rerun starts
	// from.
	QueryInput = "hookflow.input"
	// MemoTriggerDigest is the memo field holding Input.Digest, so the API
	// can compare a duplicate's payload with a run's, open or closed,
	// without reading its history.
	MemoTriggerDigest = "hookflowTriggerDigest"
)

// Search attributes let operators filter runs in the Web UI, for example
// `HookflowFlowId = "new-order"`.
var (
	SearchAttrFlowID      = temporal.NewSearchAttributeKeyKeyword("HookflowFlowId")
	SearchAttrFlowVersion = temporal.NewSearchAttributeKeyInt64("HookflowFlowVersion")
	SearchAttrTriggerMode = temporal.NewSearchAttributeKeyKeyword("HookflowTriggerMode")
	// SearchAttrRecoveryOf links a rerun, or a bulk replay's runs, to the
	// execution they recover.
	SearchAttrRecoveryOf = temporal.NewSearchAttributeKeyKeyword("HookflowRecoveryOf")
	// SearchAttrScheduleID is the flow's schedule entry that started a
	// scheduled run ("nightly"; Temporal's own TemporalScheduledById holds
	// the whole schedule id).
	SearchAttrScheduleID = temporal.NewSearchAttributeKeyKeyword("HookflowScheduleId")
)

// TriggerModeSchedule is HookflowTriggerMode and trigger.mode of a run a
// schedule started.
const TriggerModeSchedule = "schedule"

// Trigger data fields of a scheduled run: trigger.mode, trigger.schedule
// (the entry id) and trigger.scheduledAt (the nominal time, RFC 3339).
const (
	TriggerMode        = "mode"
	TriggerSchedule    = "schedule"
	TriggerScheduledAt = "scheduledAt"
)

// SearchAttrTemporalScheduledStartTime is the nominal time Temporal's
// scheduler sets on each run it starts (service/worker/scheduler,
// addSearchAttributes): a system attribute, never registered.
const SearchAttrTemporalScheduledStartTime = "TemporalScheduledStartTime"

// SearchAttributeTypes lists hookflow's custom search attributes with their
// types, for registering them in a namespace.
func SearchAttributeTypes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SearchAttrFlowID.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrFlowVersion.GetName():  enumspb.INDEXED_VALUE_TYPE_INT,
		SearchAttrTriggerMode.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrRedeliveryOf.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrRecoveryOf.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrScheduleID.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchAttrFlowKey.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// Input starts one run: a snapshot of the flow at its pinned version (the
// workflow never reads the store, so a later edit does not affect it) and
// the parsed trigger data.
type Input struct {
	Flow        *flow.Flow `json:"flow"`
	FlowVersion int64      `json:"flowVersion"`
	// Trigger holds body, headers and query of the request that started
	// the run; expressions read it as trigger.
	Trigger map[string]any `json:"trigger"`
	// Digest identifies the payload the run was started with: SHA-256 (hex)
	// over the canonical JSON of the trigger's body and query, set when the
	// event id came from the request (an idempotency key). A later request
	// with the same key and another digest is refused, never answered with
	// this run's answer. Empty in runs started without a key or before
	// digests existed: nothing to compare.
	Digest string `json:"digest,omitempty"`
	// Carry is the state of a continuation (continue-as-new): where the
	// previous run of the chain stood, its variables, step results and step
	// log. Nil in a chain's first run.
	Carry *Carry `json:"carry,omitempty"`
	// ContinueAfterSteps makes each run of the chain continue as new once
	// it has run this many steps, besides when Temporal suggests it (0:
	// only then). For tests, and operators who want smaller histories.
	ContinueAfterSteps int `json:"continueAfterSteps,omitempty"`
	// CallDepth is how deep in a chain of call steps this run is: 0 for a
	// run a trigger started (a child of it is 1). Bounded by
	// flow.MaxCallDepth, at run time too (a cycle made by concurrent edits).
	CallDepth int `json:"callDepth,omitempty"`
	// PublicURL is the API's public base URL, where the signed links of
	// wait and approval steps point (non-secret; a child inherits it).
	PublicURL string `json:"publicUrl,omitempty"`
	// Engine is the interpreter behaviour the run was started with
	// (Engine*; CurrentEngine for every new run, 0 in runs started before
	// it existed). It gates new behaviour the way GetVersion does, without
	// GetVersion's search attribute upsert, which costs a visibility write
	// per run. A continuation keeps it.
	Engine int `json:"engine,omitempty"`
	// FlowKey is the run's flow-control key as the API rendered it (a run
	// started elsewhere renders it itself); KeyAhead counts the runs that
	// were before it in the key's queue when it was admitted.
	FlowKey  string `json:"flowKey,omitempty"`
	KeyAhead int    `json:"keyAhead,omitempty"`
	// KeyGranted: the admission granted the permit (the key was free), so
	// the run starts holding it.
	KeyGranted bool `json:"keyGranted,omitempty"`
}

// Interpreter behaviours gated by Input.Engine.
const (
	// EngineLocalFirstAttempt: a send's first attempt may be a local
	// activity of the flow worker (without the first-attempt-local marker).
	EngineLocalFirstAttempt = 1
	// EngineTaskBudget: the sends of one workflow task carry at most
	// MaxSendBytesPerTask (local first attempts' markers and activity
	// schedules); the rest wait for the next task, and a send over
	// MaxSendRequestBytes fails its step (taskbudget.go). Before it, sends
	// side by side could make a task too large for Temporal.
	EngineTaskBudget = 2
	// CurrentEngine is what new runs start with.
	CurrentEngine = EngineTaskBudget
)

// Response is a sync trigger's answer.
type Response struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body,omitempty"`
}

// RunResult is what a finished run returns.
type RunResult struct {
	// Status is "succeeded" or "ended" (an end step with status success).
	Status string `json:"status"`
	// Message is an end step's message.
	Message string `json:"message,omitempty"`
	// Response is the answer a response step gave, if any.
	Response *Response `json:"response,omitempty"`
	// StepsRun counts step executions (loop iterations count each time).
	StepsRun int `json:"stepsRun"`
	// Output is what output steps set: a calling flow's call step
	// receives it as its outputs.
	Output map[string]any `json:"output,omitempty"`
}

// ErrorTypeStepFailed and ErrorTypeEnded are the ApplicationError types a
// failed run carries, for operators and for errors.As in callers.
const (
	ErrorTypeStepFailed = "StepFailed"
	ErrorTypeEnded      = "FlowEndedWithFailure"
	// ErrorTypeIdempotencyKeyReused rejects an UpdateResponse whose digest
	// differs from the run's: the idempotency key was reused for another
	// payload.
	ErrorTypeIdempotencyKeyReused = "IdempotencyKeyReused"
)

// WorkflowID names a run after its flow and the event that started it, so an
// operator can find it and duplicates of one event map to one run.
func WorkflowID(flowID, eventID string) string { return flowID + ":" + eventID }

// QueueFor is the task queue a run of a trigger in mode starts on: sync runs
// have their own, async ones (and calls, replays, redeliveries) share
// TaskQueue. A run's activities and children stay on its queue.
func QueueFor(mode trigger.Mode) string {
	if mode == trigger.ModeSync {
		return SyncTaskQueue
	}
	return TaskQueue
}

// StartOptions are the options a trigger starts a run with. The conflict
// policy makes a second start of the same id attach to the running execution
// instead of starting another (idempotent triggers; Update-With-Start
// requires a policy).
func StartOptions(f *flow.Flow, version int64, eventID string, extra ...temporal.SearchAttributeUpdate) client.StartWorkflowOptions {
	mode := f.Trigger.EffectiveMode()
	name := f.Name
	if name == "" {
		name = f.ID
	}
	return client.StartWorkflowOptions{
		ID:                       WorkflowID(f.ID, eventID),
		TaskQueue:                QueueFor(mode),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// No execution timeout: a run is bounded by its steps (loops,
		// delays and waits are bounded), and a timeout is a timer task the
		// server keeps until it fires, whether the run closed or not: a
		// 400-day backstop left two rows per run in the timer table for
		// 400 days, long after retention deleted the run (docs/performance.md,
		// "Cost as data grows").
		TypedSearchAttributes: temporal.NewSearchAttributes(append([]temporal.SearchAttributeUpdate{
			SearchAttrFlowID.ValueSet(f.ID),
			SearchAttrFlowVersion.ValueSet(version),
			SearchAttrTriggerMode.ValueSet(string(mode)),
		}, extra...)...),
		StaticSummary: fmt.Sprintf("%s (v%d, %s trigger)", name, version, mode),
		StaticDetails: fmt.Sprintf("hookflow flow `%s`, version %d, %s trigger, event `%s`", f.ID, version, mode, eventID),
	}
}

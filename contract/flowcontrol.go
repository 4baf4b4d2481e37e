package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/flow"
)

// Flow control (trigger.flowControl): a coordinator workflow per key hands
// out permits to the runs of that key (concurrency, throttle, singleton);
// a gather workflow per key turns bursts into one run (debounce, batch).
// Package flowcontrol holds the rules; these are the names and messages
// the API, the coordinators and the runs exchange.
const (
	// CoordinatorWorkflowName is the per-key coordinator's type name.
	CoordinatorWorkflowName = "FlowControlWorkflow"
	// GatherWorkflowName is the per-key debounce/batch workflow's type name.
	GatherWorkflowName = "GatherWorkflow"

	// UpdateAdmit puts an event's run in its key's queue before the run
	// starts (the API, in arrival order); its validator refuses a full
	// queue, so a refused event leaves no trace.
	UpdateAdmit = "hookflow.fc.admit"
	// SignalReady tells the coordinator a run is waiting for its permit.
	SignalReady = "hookflow.fc.ready"
	// SignalRelease gives a permit back (the run ended) or leaves the
	// queue (the run was cancelled while waiting).
	SignalRelease = "hookflow.fc.release"
	// SignalWithdraw takes an admitted run that never started out of the
	// queue (its start failed or found a closed duplicate).
	SignalWithdraw = "hookflow.fc.withdraw"
	// SignalDecision carries the coordinator's Decision to a run.
	SignalDecision = "hookflow.fc.decision"
	// QueryKey answers the key's state (KeyView).
	QueryKey = "hookflow.fc.key"
	// UpdateGather hands an event to its key's gather workflow.
	UpdateGather = "hookflow.fc.gather"
	// QueryGather answers a gather workflow's pending events (GatherView).
	QueryGather = "hookflow.fc.gathered"

	// CheckRunsName is the coordinator's activity that tells which of the
	// runs it waits for are closed or do not exist.
	CheckRunsName = "hookflow.CheckRuns"
	// SignalCoordinatorName is the local activity through which a run
	// reaches its coordinator (signal-with-start: the run may be the
	// key's first, or be started by a schedule or a rerun).
	SignalCoordinatorName = "hookflow.SignalCoordinator"

	// ErrorTypeKeyFull: the key's queue holds MaxWaiting events.
	ErrorTypeKeyFull = "FlowControlKeyFull"
)

// SearchAttrFlowKey holds a flow-controlled run's key, so operators can
// filter one key's runs in the Web UI.
var SearchAttrFlowKey = temporal.NewSearchAttributeKeyKeyword("HookflowFlowKey")

// KeyRules is what a coordinator enforces, from the flow's flowControl.
type KeyRules struct {
	Concurrency   int           `json:"concurrency,omitempty"`
	ThrottleLimit int           `json:"throttleLimit,omitempty"`
	ThrottlePer   time.Duration `json:"throttlePer,omitempty"`
	Singleton     string        `json:"singleton,omitempty"`
	MaxWaiting    int           `json:"maxWaiting,omitempty"`
}

// Admission is UpdateAdmit's answer.
type Admission struct {
	// Ahead counts the runs before this one: running and waiting.
	Ahead int `json:"ahead"`
	// Known: the run was already queued or running (a duplicate event).
	Known bool `json:"known,omitempty"`
	// Done: the run already had its turn and released it.
	Done bool `json:"done,omitempty"`
	// Decision is made in the answer when nothing waited before the run:
	// DecisionRun (the key was free: the run starts holding its permit)
	// or DecisionSkip (a singleton's key is taken by By: start nothing).
	Decision string `json:"decision,omitempty"`
	By       string `json:"by,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// ReadyMsg is SignalReady's, SignalRelease's and SignalWithdraw's
// argument, and UpdateAdmit's: the run's workflow id and the rules of the
// flow version it runs (the newest sender's rules apply).
type ReadyMsg struct {
	ID    string   `json:"id"`
	Rules KeyRules `json:"rules"`
}

// Decisions a coordinator sends a run.
const (
	DecisionRun  = "run"
	DecisionSkip = "skip"
)

// Decision is SignalDecision's argument: run now, or skip (singleton) since
// By is running or superseded this run.
type Decision struct {
	Decision string `json:"decision"`
	By       string `json:"by,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// CheckRunsResult lists the runs CheckRuns found closed or absent.
type CheckRunsResult struct {
	Gone []string `json:"gone,omitempty"`
}

// SignalCoordinatorInput is SignalCoordinatorName's argument.
type SignalCoordinatorInput struct {
	Signal string `json:"signal"`
	RunID  string `json:"runId"`
	// Start is the coordinator's input: SignalReady starts the coordinator
	// when it is not running; SignalRelease never does.
	Start CoordinatorStart `json:"start"`
}

// CoordinatorStart is what a key's coordinator starts from (its whole
// input when first started; the carried state comes with continue-as-new).
type CoordinatorStart struct {
	FlowID string   `json:"flowId"`
	Key    string   `json:"key"`
	Rules  KeyRules `json:"rules"`
}

// maxKeyInID is the longest key kept as it is in a coordinator's id.
const maxKeyInID = 200

// CoordinatorID is the workflow id of a flow's key coordinator:
// hookflow-key:<flow>:<key>, the key replaced by "sha256:<hex>" when it is
// long or holds control characters. One per key, whichever API replica or
// run asks.
func CoordinatorID(flowID, key string) string {
	return "hookflow-key:" + flowID + ":" + idKey(key)
}

// GatherID is the workflow id of a flow's key gather workflow (debounce,
// batch).
func GatherID(flowID, key string) string {
	return "hookflow-gather:" + flowID + ":" + idKey(key)
}

func idKey(key string) string {
	if len(key) <= maxKeyInID && !strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return key
	}
	h := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(h[:])
}

// KeyView is a key's state for operators (QueryKey; the keys API).
type KeyView struct {
	FlowID        string     `json:"flowId"`
	Key           string     `json:"key"`
	Running       []string   `json:"running"`
	Waiting       int        `json:"waiting"`
	NextWaiting   []string   `json:"nextWaiting,omitempty"`
	OldestWaiting *time.Time `json:"oldestWaitingSince,omitempty"`
	NextSlot      *time.Time `json:"nextThrottleSlot,omitempty"`
	Granted       int64      `json:"granted"`
	Skipped       int64      `json:"skipped"`
}

// GatherEvent is UpdateGather's argument: one accepted event of a
// debounced or batched flow, with the flow it was accepted for (the run
// starts from the newest snapshot a window saw).
type GatherEvent struct {
	EventID     string         `json:"eventId"`
	Trigger     map[string]any `json:"trigger"`
	Flow        *flow.Flow     `json:"flow"`
	FlowVersion int64          `json:"flowVersion"`
	PublicURL   string         `json:"publicUrl,omitempty"`
	// Digest identifies the payload (as Input.Digest): an event id taken
	// again with another digest is refused (ErrorTypeIdempotencyKeyReused).
	Digest string `json:"digest,omitempty"`
}

// GatherAccepted is UpdateGather's answer: the event is in the workflow's
// history (or was already: Duplicate), so the API may answer 2xx.
type GatherAccepted struct {
	Duplicate bool `json:"duplicate,omitempty"`
	// Pending counts the events of the key's open window, this one
	// included.
	Pending int `json:"pending"`
}

// GatherStart is what a key's gather workflow starts from (its whole input
// when the API starts it; the carried state comes with continue-as-new).
type GatherStart struct {
	FlowID string `json:"flowId"`
	Key    string `json:"key"`
}

// GatherView is a gather workflow's state for operators (QueryGather).
type GatherView struct {
	FlowID string `json:"flowId"`
	Key    string `json:"key"`
	// Kind is debounce or batch.
	Kind string `json:"kind"`
	// Pending counts the events of the open window.
	Pending int        `json:"pending"`
	FirstAt *time.Time `json:"firstAt,omitempty"`
	LastAt  *time.Time `json:"lastAt,omitempty"`
	// NextFlush is when the open window's run starts, unless more events
	// move it (debounce) or fill it (batch).
	NextFlush *time.Time `json:"nextFlush,omitempty"`
	// Closed counts windows closed and waiting for their run to start.
	Closed int `json:"closed,omitempty"`
	// Runs and Duplicates count, since the workflow started (carried
	// across continue-as-new), the runs started and the duplicate events
	// taken as one.
	Runs       int64 `json:"runs"`
	Duplicates int64 `json:"duplicates"`
}

// KeyForm is a key as workflow ids, the HookflowFlowKey search attribute
// and the Hookflow-Flow-Key header hold it: itself, or "sha256:<hex>" when
// longer than 200 characters or holding control characters (a search
// attribute value and a header stay small and printable).
func KeyForm(key string) string { return idKey(key) }

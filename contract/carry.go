package contract

import "time"

// The continuation state: recorded in a continued run's Input, so its
// JSON is part of every recorded history.

// RunState is what a run keeps of its own as it goes, and what its
// continuation goes on from: defined once, carried whole in Carry.
type RunState struct {
	// Vars and Steps are what expressions read as vars and steps.
	Vars  map[string]any `json:"vars,omitempty"`
	Steps map[string]any `json:"steps,omitempty"`
	// Executed and Deliveries go on counting across continuations (the
	// step bound; delivery ids).
	Executed   int `json:"executed"`
	Deliveries int `json:"deliveries"`
	// Response is the sync answer, once a response step gave it: a
	// duplicate delivery that reaches the continuation gets it too.
	Response *Response `json:"response,omitempty"`
	// StartedAt is when the first run of the chain started
	// (execution.startedAt).
	StartedAt time.Time `json:"startedAt"`
	// Output is what output steps set so far.
	Output map[string]any `json:"output,omitempty"`
	// Counts numbers, per step id, the times a call, wait or approval step
	// began: child workflow ids and resume links stay unique and stable.
	Counts map[string]int `json:"counts,omitempty"`
	// Permitted: the run holds its flow-control key's permit (it releases
	// it when the chain ends, not at a hand-over).
	Permitted bool `json:"permitted,omitempty"`
}

// Carry is the state a run hands to its continuation: its RunState (its
// fields at the top level of the JSON, as before RunState existed), where
// it stood, and the newest part of its step log.
type Carry struct {
	// At is where to resume in the flow's steps.
	At *Cursor `json:"at"`
	RunState
	// Log is the newest part of the step log; Dropped counts the rest.
	Log StepLog `json:"log"`
	// Continuations counts the hand-overs so far.
	Continuations int `json:"continuations"`
}

// Cursor is a position in a step list: the next step to run and, when that
// step is a container that had begun, where inside it.
type Cursor struct {
	Next  int         `json:"next"`
	Inner *StepCursor `json:"inner,omitempty"`
}

// StepCursor is where a container step (or a delay) stood.
type StepCursor struct {
	// Branch is the branch a condition (0 then, 1 else) or switch (case
	// index, -1 default) took; Body is the cursor inside it.
	Branch int     `json:"branch,omitempty"`
	Body   *Cursor `json:"body,omitempty"`
	// Lanes holds a parallel step's lane cursors; a finished lane's points
	// past its last step.
	Lanes []*Cursor `json:"lanes,omitempty"`
	// Loop: the first element not started, the elements that were under
	// way, how many had finished, and the list itself (carried only when
	// evaluating over again would not give the same list, checked by its
	// digest).
	NextItem  int          `json:"nextItem,omitempty"`
	Active    []ActiveItem `json:"active,omitempty"`
	Done      int          `json:"done,omitempty"`
	Items     []any        `json:"items,omitempty"`
	ItemsHash string       `json:"itemsHash,omitempty"`
	// Until is when an interrupted delay (or wait) ends.
	Until *time.Time `json:"until,omitempty"`
	// Occurrence is which time a wait or approval step began (its resume
	// links name it); Outputs what it received before the hand-over (an
	// event; an approval's decision while its then/else runs).
	Occurrence int            `json:"occurrence,omitempty"`
	Outputs    map[string]any `json:"outputs,omitempty"`
}

// ActiveItem is a loop element that was under way: its cursor in the loop's
// steps and, for concurrent loops, the outputs of its own steps so far.
type ActiveItem struct {
	Index int            `json:"index"`
	At    *Cursor        `json:"at"`
	Steps map[string]any `json:"steps,omitempty"`
}

package flowcontrol

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// Gather limits.
const (
	// MaxBatchBytes bounds the JSON of a batch's events: an event that
	// would take a batch past it closes the batch first, so a run's input
	// (the events and the flow snapshot) stays inside Temporal's 2 MB
	// payload limit.
	MaxBatchBytes = 1536 << 10
	// seenMemory is how many event ids of started runs a gather workflow
	// remembers (carried across continue-as-new), so a late duplicate of
	// an event that already ran is not run again. It is at least a whole
	// batch (maxSize is at most 1000).
	seenMemory = 1000
	// windowIDs bounds the ids a debounce window keeps for dedupe: a
	// window of more events counts them all but remembers the newest.
	windowIDs = 1000
)

// Kinds of gathering.
const (
	KindDebounce = "debounce"
	KindBatch    = "batch"
)

// Pending is an event of a window: its id, its trigger data and when it
// came. A debounce window keeps only its last event's data.
type Pending struct {
	ID      string         `json:"id"`
	Trigger map[string]any `json:"trigger"`
	At      time.Time      `json:"at"`
	// Size is the length of Trigger's JSON.
	Size int `json:"size"`
}

// Window is the events of one run to be: the open window takes events
// until it is due or full; a closed one waits for its run to start.
type Window struct {
	Events []Pending `json:"events,omitempty"`
	// IDs are the window's events, for dedupe (a debounce window keeps
	// the newest windowIDs).
	IDs     []Ref     `json:"ids,omitempty"`
	Count   int       `json:"count"`
	FirstAt time.Time `json:"firstAt"`
	LastAt  time.Time `json:"lastAt"`
	Bytes   int       `json:"bytes,omitempty"`
	// The newest flow snapshot the window saw: its run starts from it.
	Flow        *flow.Flow `json:"flow"`
	FlowVersion int64      `json:"flowVersion"`
	PublicURL   string     `json:"publicUrl,omitempty"`
}

// GatherState is a key's gather workflow state, carried whole across
// continue-as-new: the open window, the closed ones whose run has not
// started yet, and the ids of recent runs' events.
type GatherState struct {
	Key    string   `json:"key"`
	Open   *Window  `json:"open,omitempty"`
	Closed []Window `json:"closed,omitempty"`
	// Seen are the events of started runs, newest last.
	Seen       []Ref `json:"seen,omitempty"`
	Runs       int64 `json:"runs"`
	Duplicates int64 `json:"duplicates"`
	// LastKind is the kind of the newest event's flow, for the view of a
	// key with no window.
	LastKind string `json:"lastKind,omitempty"`
}

// AddResult is what Add did with an event.
type AddResult struct {
	// Duplicate: the event id is in a window or ran recently; nothing
	// changed.
	Duplicate bool
	// FlushNow: a window is closed (a batch is full, or the event would
	// have taken it past MaxBatchBytes) and its run should start now.
	FlushNow bool
	// Pending counts the open window's events.
	Pending int
}

// Run is a run to start for a window.
type Run struct {
	// EventID names the run: contract.WorkflowID(flow, EventID).
	// Debounce: the last event's id; batch: "batch-" and the first's.
	EventID     string
	Trigger     map[string]any
	Events      int
	Flow        *flow.Flow
	FlowVersion int64
	PublicURL   string
}

// Kind tells how the newest flow snapshot gathers: debounce or batch.
func (s *GatherState) Kind() string {
	if w := s.newest(); w != nil {
		return kindOf(w.Flow)
	}
	if s.LastKind != "" {
		return s.LastKind
	}
	return KindDebounce
}

func kindOf(f *flow.Flow) string {
	if f != nil && f.Trigger.FlowControl != nil && f.Trigger.FlowControl.Batch != nil {
		return KindBatch
	}
	return KindDebounce
}

func (s *GatherState) newest() *Window {
	if s.Open != nil {
		return s.Open
	}
	if len(s.Closed) > 0 {
		return &s.Closed[len(s.Closed)-1]
	}
	return nil
}

// Empty tells whether nothing waits: the workflow may close once idle.
func (s *GatherState) Empty() bool { return s.Open == nil && len(s.Closed) == 0 }

// Pending counts the events in the open window.
func (s *GatherState) Pending() int {
	if s.Open == nil {
		return 0
	}
	return s.Open.Count
}

// Ref is an event a gather workflow knows: its id and the digest of its
// payload (empty when the id was not the caller's idempotency key).
type Ref struct {
	ID     string `json:"id"`
	Digest string `json:"digest,omitempty"`
}

// ErrKeyReused is an event id the key already took with another payload.
var ErrKeyReused = errors.New("this event id was already taken with a different payload")

// find tells whether an event id is in a window or in a recent run.
func (s *GatherState) find(id string) (Ref, bool) {
	if s.Open != nil {
		if r, ok := lookup(s.Open.IDs, id); ok {
			return r, true
		}
	}
	for _, w := range s.Closed {
		if r, ok := lookup(w.IDs, id); ok {
			return r, true
		}
	}
	return lookup(s.Seen, id)
}

// IsDuplicate tells whether an event id is in a window or in a recent run.
func (s *GatherState) IsDuplicate(id string) bool {
	_, ok := s.find(id)
	return ok
}

// CheckReuse refuses an event whose id the key took with another payload
// (the update's validator: the caller reused an idempotency key for a new
// event). Without a digest on either side nothing can be compared.
func (s *GatherState) CheckReuse(ev contract.GatherEvent) error {
	if r, ok := s.find(ev.EventID); ok && r.Digest != "" && ev.Digest != "" && r.Digest != ev.Digest {
		return ErrKeyReused
	}
	return nil
}

// Add takes an event into the open window (opening one), unless its id is
// a duplicate. A batch closes when it reaches maxSize, and before an event
// that would take it past MaxBatchBytes (that event opens the next one).
func (s *GatherState) Add(ev contract.GatherEvent, now time.Time) AddResult {
	if s.IsDuplicate(ev.EventID) {
		s.Duplicates++
		return AddResult{Duplicate: true, FlushNow: len(s.Closed) > 0, Pending: s.Pending()}
	}
	fc := ev.Flow.Trigger.FlowControl
	s.LastKind = kindOf(ev.Flow)
	p := Pending{ID: ev.EventID, Trigger: ev.Trigger, At: now, Size: jsonSize(ev.Trigger)}
	if fc != nil && fc.Batch != nil {
		if w := s.Open; w != nil && w.Count > 0 && w.Bytes+p.Size > MaxBatchBytes {
			s.close()
		}
	}
	w := s.Open
	if w == nil {
		w = &Window{FirstAt: now}
		s.Open = w
	}
	w.Count++
	w.LastAt = now
	w.Flow, w.FlowVersion, w.PublicURL = ev.Flow, ev.FlowVersion, ev.PublicURL
	w.IDs = append(w.IDs, Ref{ID: ev.EventID, Digest: ev.Digest})
	if fc != nil && fc.Batch != nil {
		w.Events = append(w.Events, p)
		w.Bytes += p.Size
		if w.Count >= fc.Batch.MaxSize {
			s.close()
		}
	} else {
		// Debounce: the last event wins; the others are only counted.
		w.Events = []Pending{p}
		w.Bytes = p.Size
		if len(w.IDs) > windowIDs {
			w.IDs = append(w.IDs[:0:0], w.IDs[len(w.IDs)-windowIDs:]...)
		}
	}
	return AddResult{FlushNow: len(s.Closed) > 0, Pending: s.Pending()}
}

func (s *GatherState) close() {
	s.Closed = append(s.Closed, *s.Open)
	s.Open = nil
}

// DueAt is when the open window's run starts: debounce, period after its
// last event, at most maxWait after its first; batch, timeout after its
// first. Zero when no window is open. A flow without debounce or batch
// (the flow was edited) is due at once.
func (s *GatherState) DueAt() time.Time {
	w := s.Open
	if w == nil {
		return time.Time{}
	}
	fc := w.Flow.Trigger.FlowControl
	switch {
	case fc != nil && fc.Batch != nil:
		return w.FirstAt.Add(fc.Batch.Timeout.Std())
	case fc != nil && fc.Debounce != nil:
		due := w.LastAt.Add(fc.Debounce.Period.Std())
		if mw := fc.Debounce.MaxWait.Std(); mw > 0 && w.FirstAt.Add(mw).Before(due) {
			due = w.FirstAt.Add(mw)
		}
		return due
	}
	return w.FirstAt
}

// Ready tells whether a run should start now: a window is closed, or the
// open one is due.
func (s *GatherState) Ready(now time.Time) bool {
	return len(s.Closed) > 0 || (s.Open != nil && !now.Before(s.DueAt()))
}

// Flush closes the open window if it is due, and returns the run of the
// oldest closed window; false when none is ready. The window stays until
// Started, so a run whose start failed is tried again (and carried across
// continue-as-new).
func (s *GatherState) Flush(now time.Time) (Run, bool) {
	if s.Open != nil && !now.Before(s.DueAt()) {
		s.close()
	}
	if len(s.Closed) == 0 {
		return Run{}, false
	}
	return s.runOf(&s.Closed[0]), true
}

// Started drops the oldest closed window: its run started (or existed
// already, a duplicate). Its ids are remembered.
func (s *GatherState) Started() {
	if len(s.Closed) == 0 {
		return
	}
	w := s.Closed[0]
	s.Closed = append(s.Closed[:0:0], s.Closed[1:]...)
	s.Runs++
	s.Seen = append(s.Seen, w.IDs...)
	if len(s.Seen) > seenMemory {
		s.Seen = append(s.Seen[:0:0], s.Seen[len(s.Seen)-seenMemory:]...)
	}
}

// runOf is the run of a window: its id and trigger data.
//
// Debounce: the last event's trigger data (body, headers, query, parsed
// aliases) and debounced: {key, events, firstAt, lastAt}. Batch: events,
// each event's trigger data in arrival order, and batch: {key, size,
// firstAt, lastAt}.
func (s *GatherState) runOf(w *Window) Run {
	r := Run{Events: w.Count, Flow: w.Flow, FlowVersion: w.FlowVersion, PublicURL: w.PublicURL}
	fc := w.Flow.Trigger.FlowControl
	if fc != nil && fc.Batch != nil {
		events := make([]any, len(w.Events))
		for i, e := range w.Events {
			events[i] = e.Trigger
		}
		r.EventID = "batch-" + w.Events[0].ID
		r.Trigger = map[string]any{
			"events": events,
			"batch": map[string]any{
				"key": s.Key, "size": len(w.Events),
				"firstAt": stamp(w.FirstAt), "lastAt": stamp(w.LastAt),
			},
		}
		return r
	}
	last := w.Events[len(w.Events)-1]
	r.EventID = last.ID
	r.Trigger = make(map[string]any, len(last.Trigger)+1)
	// Sorted, though order does not matter in a copy: workflow code
	// iterates no map (workflowcheck).
	for _, k := range flow.SortedKeys(last.Trigger) {
		r.Trigger[k] = last.Trigger[k]
	}
	r.Trigger["debounced"] = map[string]any{
		"key": s.Key, "events": w.Count,
		"firstAt": stamp(w.FirstAt), "lastAt": stamp(w.LastAt),
	}
	return r
}

// MaxCarryBytes bounds the JSON of the state a gather workflow carries
// across continue-as-new: Temporal refuses a payload past 2 MB.
const MaxCarryBytes = 1900 << 10

// FitCarry makes the state fit MaxCarryBytes before a continue-as-new:
// the oldest remembered ids go first; if the windows alone are too large
// (a large flow snapshot beside a full batch), the open window closes
// early, and its run must start before the workflow continues. It tells
// whether it closed the window.
func (s *GatherState) FitCarry() bool {
	size := jsonSize(s)
	if size <= MaxCarryBytes {
		return false
	}
	// Everything but the ids, then the ids kept, oldest dropped first.
	other, kept := size-jsonSize(s.Seen), refSize(s.Seen)
	drop := 0
	for drop < len(s.Seen) && other+kept > MaxCarryBytes {
		kept -= refSize(s.Seen[drop:drop+1]) - 2
		drop++
	}
	s.Seen = append(s.Seen[:0:0], s.Seen[drop:]...)
	if jsonSize(s) <= MaxCarryBytes || s.Open == nil {
		return false
	}
	s.close()
	return true
}

// refSize is about the JSON length of refs.
func refSize(refs []Ref) int {
	n := 2
	for _, r := range refs {
		n += len(r.ID) + len(r.Digest) + 24
	}
	return n
}

// View is the state for operators (QueryGather).
func (s *GatherState) View(flowID string) contract.GatherView {
	v := contract.GatherView{FlowID: flowID, Key: s.Key, Kind: s.Kind(), Pending: s.Pending(), Closed: len(s.Closed), Runs: s.Runs, Duplicates: s.Duplicates}
	if w := s.Open; w != nil {
		first, last, due := w.FirstAt, w.LastAt, s.DueAt()
		v.FirstAt, v.LastAt, v.NextFlush = &first, &last, &due
	}
	return v
}

// stamp writes a time as trigger data does: RFC 3339 text.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// jsonSize is the length of v's JSON (trigger data decoded from JSON
// always encodes; a value that does not counts as empty).
func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b) + 1
}

func lookup(refs []Ref, id string) (Ref, bool) {
	for _, r := range refs {
		if r.ID == id {
			return r, true
		}
	}
	return Ref{}, false
}

// CheckEvent refuses a malformed UpdateGather argument (the update's
// validator): no event id, no flow, or a flow that does not gather.
func CheckEvent(ev contract.GatherEvent) error {
	switch {
	case ev.EventID == "":
		return errors.New("the event has no id")
	case ev.Flow == nil:
		return errors.New("the event has no flow snapshot")
	case !ev.Flow.Trigger.FlowControl.Gathers():
		return fmt.Errorf("flow %q neither debounces nor batches its events", ev.Flow.ID)
	}
	return nil
}

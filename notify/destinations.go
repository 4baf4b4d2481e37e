package notify

import (
	"time"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// Destination notifications (paused, resumed, circuit opened, circuit
// closed) follow the destination's state in the flow store, as every
// worker reads it at each reload (and at once after a transition this
// worker made). Each event's id is derived from the state change it
// reports (the destination, the event, and when the pause or the open
// circuit began), so every worker, and the api that handled a pause,
// emit the same id, and Temporal starts its notification once
// (WorkflowID). A process that dies between its store write and
// Temporal taking the event loses nothing: the workers' next reload emits
// it. A worker's first reload learns the state without notifying (it
// cannot tell what changed before it started).

// State is what a destination's notifications follow.
type State struct {
	Paused   bool
	PausedAt time.Time
	Open     bool
	OpenedAt time.Time
}

// StateOf is the part of d's state its notifications follow.
func StateOf(d *store.Destination) State {
	var s State
	s.Paused = d.State.Paused
	if d.State.PausedAt != nil {
		s.PausedAt = *d.State.PausedAt
	}
	s.Open = d.State.Circuit == store.CircuitOpen
	if d.State.OpenedAt != nil {
		s.OpenedAt = *d.State.OpenedAt
	}
	return s
}

// Event is one event between two states of a destination: its type, when
// the state change it reports began (its id derives from it) and what it
// carries besides the destination.
type Event struct {
	Type  string
	Since time.Time
	Data  map[string]any
}

// Transitions is the events between the state a worker saw at its last
// reload (prev) and the current one, in order: the end of a pause or an
// open circuit before the start of the next (a state that ended and began
// again between two reloads, with a new start time, is both). Data is
// left to EventData.
func Transitions(prev, cur State) []Event {
	var out []Event
	if prev.Paused && (!cur.Paused || !cur.PausedAt.Equal(prev.PausedAt)) {
		out = append(out, Event{Type: flow.EventDestinationResumed, Since: prev.PausedAt})
	}
	if cur.Paused && (!prev.Paused || !cur.PausedAt.Equal(prev.PausedAt)) {
		out = append(out, Event{Type: flow.EventDestinationPaused, Since: cur.PausedAt})
	}
	if prev.Open && (!cur.Open || !cur.OpenedAt.Equal(prev.OpenedAt)) {
		out = append(out, Event{Type: flow.EventDestinationCircuitClosed, Since: prev.OpenedAt})
	}
	if cur.Open && (!prev.Open || !cur.OpenedAt.Equal(prev.OpenedAt)) {
		out = append(out, Event{Type: flow.EventDestinationCircuitOpened, Since: cur.OpenedAt})
	}
	return out
}

// EventData is what an event of type typ about d carries besides its
// destination.
func EventData(typ string, d *store.Destination) map[string]any {
	switch typ {
	case flow.EventDestinationPaused:
		data := map[string]any{"reason": d.State.PauseReason}
		if at := StateOf(d).PausedAt; !at.IsZero() {
			data["pausedAt"] = at
		}
		return data
	case flow.EventDestinationCircuitOpened:
		return openedWhy(d)
	}
	return nil
}

// openedWhy says what opened a circuit: the breaker's rules and the state
// when it opened.
func openedWhy(d *store.Destination) map[string]any {
	_, failures, probe := d.Def.Breaker()
	why := map[string]any{
		"reason": "consecutive_failures", "consecutiveFailures": failures,
		"probeInterval": probe.String(), "lastError": d.State.LastError,
	}
	if w := d.Def.RateWindow(); w.Rate > 0 {
		why["reason"] = "failure_rate_or_consecutive"
		why["failureRate"], why["window"], why["minRequests"] = w.Rate, w.Window.String(), w.MinRequests
	}
	if !StateOf(d).OpenedAt.IsZero() {
		why["openedAt"] = *d.State.OpenedAt
	}
	return why
}

// PauseChange is the event a pause or resume request that left d in its
// state emits: destination.paused or destination.resumed when the request
// changed the state (pausing a paused destination tells no one); was is
// the state before (nil when unknown: then the request notifies as if it
// changed it). Its Since is the pause's start, as the workers' would be.
func PauseChange(d *store.Destination, was *store.DestinationState) (Event, bool) {
	if was != nil && was.Paused == d.State.Paused {
		return Event{}, false
	}
	if d.State.Paused {
		ev := Event{Type: flow.EventDestinationPaused, Data: map[string]any{"reason": d.State.PauseReason}}
		if d.State.PausedAt != nil {
			ev.Data["pausedAt"], ev.Since = d.State.PausedAt, *d.State.PausedAt
		}
		return ev, true
	}
	ev := Event{Type: flow.EventDestinationResumed}
	if was != nil && was.PausedAt != nil {
		ev.Since = *was.PausedAt
	}
	return ev, true
}

// Follower turns the destinations' states, as a worker reads them at each
// reload, into their events: it remembers each destination's State as of
// the last Observe and returns the Transitions since, with their data.
// Not safe for concurrent use (one supervisor's reload loop owns it).
type Follower struct {
	seen map[string]State
}

// NewFollower returns a Follower that has seen nothing yet.
func NewFollower() *Follower {
	return &Follower{seen: map[string]State{}}
}

// Observe takes d's state as read now and returns the events to emit:
// none at the first sight of a destination (it learns the state), then
// what changed since the last Observe.
func (f *Follower) Observe(d *store.Destination) []Event {
	cur := StateOf(d)
	prev, ok := f.seen[d.Name]
	f.seen[d.Name] = cur
	if !ok {
		return nil
	}
	out := Transitions(prev, cur)
	for i := range out {
		out[i].Data = EventData(out[i].Type, d)
	}
	return out
}

// Keep forgets every destination not in seen (deleted since): one made
// again under its name is learnt anew, without notifying.
func (f *Follower) Keep(seen map[string]bool) {
	for name := range f.seen {
		if !seen[name] {
			delete(f.seen, name)
		}
	}
}

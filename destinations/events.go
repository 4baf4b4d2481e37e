package destinations

import (
	"time"

	"github.com/hookflow/hookflow/flow"
)

// Destination notifications (paused, resumed, circuit opened, circuit
// closed) follow the destination's state in the flow store, as every
// worker reads it at each reload (and at once after a transition this
// worker made). Each event's id is derived from the state change it
// reports (the destination, the event, and when the pause or the open
// circuit began), so every worker, and the api that handled a pause,
// emit the same id, and Temporal starts its notification once
// (NotifyWorkflowID). A process that dies between its store write and
// Temporal taking the event loses nothing: the workers' next reload emits
// it. A worker's first reload learns the state without notifying (it
// cannot tell what changed before it started).

// destEvents is what a destination's notifications follow.
type destEvents struct {
	paused   bool
	pausedAt time.Time
	open     bool
	openedAt time.Time
}

func destEventsOf(d *Destination) destEvents {
	var e destEvents
	e.paused = d.State.Paused
	if d.State.PausedAt != nil {
		e.pausedAt = *d.State.PausedAt
	}
	e.open = d.State.Circuit == CircuitOpen
	if d.State.OpenedAt != nil {
		e.openedAt = *d.State.OpenedAt
	}
	return e
}

// destEvent is one event between two states of a destination: its type
// and when the state change it reports began (its id derives from it).
type destEvent struct {
	typ   string
	since time.Time
}

// destTransitions is the events between the state a worker saw at its
// last reload (prev) and the current one, in order: the end of a pause
// or an open circuit before the start of the next (a state that ended and
// began again between two reloads, with a new start time, is both).
func destTransitions(prev, cur destEvents) []destEvent {
	var out []destEvent
	if prev.paused && (!cur.paused || !cur.pausedAt.Equal(prev.pausedAt)) {
		out = append(out, destEvent{flow.EventDestinationResumed, prev.pausedAt})
	}
	if cur.paused && (!prev.paused || !cur.pausedAt.Equal(prev.pausedAt)) {
		out = append(out, destEvent{flow.EventDestinationPaused, cur.pausedAt})
	}
	if prev.open && (!cur.open || !cur.openedAt.Equal(prev.openedAt)) {
		out = append(out, destEvent{flow.EventDestinationCircuitClosed, prev.openedAt})
	}
	if cur.open && (!prev.open || !cur.openedAt.Equal(prev.openedAt)) {
		out = append(out, destEvent{flow.EventDestinationCircuitOpened, cur.openedAt})
	}
	return out
}

// eventData is what an event about d carries besides its destination.
func eventData(typ string, d *Destination) map[string]any {
	switch typ {
	case flow.EventDestinationPaused:
		data := map[string]any{"reason": d.State.PauseReason}
		if at := destEventsOf(d).pausedAt; !at.IsZero() {
			data["pausedAt"] = at
		}
		return data
	case flow.EventDestinationCircuitOpened:
		return openedWhy(d)
	}
	return nil
}

// notifyTransitions emits the events between the state this worker saw
// at its last reload (prev) and d's. Called without m.mu held.
func (m *Supervisor) notifyTransitions(prev destEvents, d *Destination) {
	if m.notifier == nil {
		return
	}
	for _, ev := range destTransitions(prev, destEventsOf(d)) {
		m.notifier.DestinationEvent(ev.typ, d.Name, ev.since, eventData(ev.typ, d))
	}
}

// openedWhy says what opened a circuit: the breaker's rules and the state
// when it opened.
func openedWhy(d *Destination) map[string]any {
	_, failures, probe := d.Def.Breaker()
	why := map[string]any{
		"reason": "consecutive_failures", "consecutiveFailures": failures,
		"probeInterval": probe.String(), "lastError": d.State.LastError,
	}
	if w := d.Def.RateWindow(); w.Rate > 0 {
		why["reason"] = "failure_rate_or_consecutive"
		why["failureRate"], why["window"], why["minRequests"] = w.Rate, w.Window.String(), w.MinRequests
	}
	if !destEventsOf(d).openedAt.IsZero() {
		why["openedAt"] = *d.State.OpenedAt
	}
	return why
}

// Event is one destination event to emit: its type, when the state
// change it reports began (its id derives from it; zero: a new id), and
// what it carries besides the destination.
type Event struct {
	Type  string
	Since time.Time
	Data  map[string]any
}

// PauseRequestEvent is the event a pause or resume request emits at once
// (the workers emit the same, with the same id, at their next reload, so
// it is not lost if the api dies before Temporal takes it): none when the
// request changed nothing (pausing a paused destination tells no one).
// was is the state before the request (nil: unknown; then it emits as if
// it changed the state, and a resume, not knowing when the pause began,
// has a new id).
func PauseRequestEvent(d *Destination, was *State) (Event, bool) {
	if was != nil && was.Paused == d.State.Paused {
		return Event{}, false
	}
	if d.State.Paused {
		return Event{Type: flow.EventDestinationPaused, Since: destEventsOf(d).pausedAt, Data: eventData(flow.EventDestinationPaused, d)}, true
	}
	var since time.Time
	if was != nil && was.PausedAt != nil {
		since = *was.PausedAt
	}
	return Event{Type: flow.EventDestinationResumed, Since: since}, true
}

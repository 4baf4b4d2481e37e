package worker

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

func destEventsOf(d *store.Destination) destEvents {
	var e destEvents
	e.paused = d.State.Paused
	if d.State.PausedAt != nil {
		e.pausedAt = *d.State.PausedAt
	}
	e.open = d.State.Circuit == store.CircuitOpen
	if d.State.OpenedAt != nil {
		e.openedAt = *d.State.OpenedAt
	}
	return e
}

// notifyTransitions emits the events between the state this worker saw
// at its last reload (prev) and d's. Called without m.mu held.
func (m *destinations) notifyTransitions(prev destEvents, d *store.Destination) {
	if m.notifier == nil {
		return
	}
	cur := destEventsOf(d)
	if prev.paused && (!cur.paused || !cur.pausedAt.Equal(prev.pausedAt)) {
		m.notifier.DestinationEvent(flow.EventDestinationResumed, d.Name, prev.pausedAt, nil)
	}
	if cur.paused && (!prev.paused || !cur.pausedAt.Equal(prev.pausedAt)) {
		data := map[string]any{"reason": d.State.PauseReason}
		if !cur.pausedAt.IsZero() {
			data["pausedAt"] = cur.pausedAt
		}
		m.notifier.DestinationEvent(flow.EventDestinationPaused, d.Name, cur.pausedAt, data)
	}
	if prev.open && (!cur.open || !cur.openedAt.Equal(prev.openedAt)) {
		m.notifier.DestinationEvent(flow.EventDestinationCircuitClosed, d.Name, prev.openedAt, nil)
	}
	if cur.open && (!prev.open || !cur.openedAt.Equal(prev.openedAt)) {
		m.notifier.DestinationEvent(flow.EventDestinationCircuitOpened, d.Name, cur.openedAt, openedWhy(d))
	}
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
	if !destEventsOf(d).openedAt.IsZero() {
		why["openedAt"] = *d.State.OpenedAt
	}
	return why
}

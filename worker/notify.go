package worker

import (
	"context"
	"time"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// notifyingStates is the destination states with notifications: a
// circuit that opens or closes (the one worker whose conditional update
// made the transition) emits destination.circuit_opened or
// destination.circuit_closed to the global notify destination. Other
// transitions pass through untouched.
type notifyingStates struct {
	DestinationStates
	n *activities.Notifier
}

// withNotifications wraps st when notifications are on (a nil notifier,
// or no global destination: st as it is).
func withNotifications(st DestinationStates, n *activities.Notifier) DestinationStates {
	if st == nil || n == nil || n.Global().Destination == "" {
		return st
	}
	return &notifyingStates{DestinationStates: st, n: n}
}

func (s *notifyingStates) RecordOutcome(ctx context.Context, name string, ok, probe bool, failures int, probeInterval time.Duration, lastError string) (string, error) {
	tr, err := s.DestinationStates.RecordOutcome(ctx, name, ok, probe, failures, probeInterval, lastError)
	if err == nil {
		s.transition(name, tr, failures, probeInterval, lastError)
	}
	return tr, err
}

// transition emits the circuit's transitions; others (a period limit's)
// pass.
func (s *notifyingStates) transition(name, tr string, failures int, probeInterval time.Duration, lastError string) {
	switch tr {
	case store.TransitionOpened:
		s.n.DestinationEvent(flow.EventDestinationCircuitOpened, name, map[string]any{
			"consecutiveFailures": failures, "probeInterval": probeInterval.String(), "lastError": lastError,
		})
	case store.TransitionClosed:
		s.n.DestinationEvent(flow.EventDestinationCircuitClosed, name, nil)
	}
}

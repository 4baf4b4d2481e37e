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
		s.transition(name, tr, probeInterval, lastError, map[string]any{"reason": "consecutive_failures", "consecutiveFailures": failures})
	}
	return tr, err
}

func (s *notifyingStates) RecordWindowOutcome(ctx context.Context, name string, ok, probe bool, failures int, w flow.FailureWindow, probeInterval time.Duration, lastError string) (string, error) {
	tr, err := s.DestinationStates.RecordWindowOutcome(ctx, name, ok, probe, failures, w, probeInterval, lastError)
	if err == nil {
		s.transition(name, tr, probeInterval, lastError, map[string]any{"reason": "failure_rate_or_consecutive",
			"failureRate": w.Rate, "window": w.Window.String(), "minRequests": w.MinRequests,
		})
	}
	return tr, err
}

// transition emits the circuit's transitions; others (a period limit's)
// pass. why says what opened it.
func (s *notifyingStates) transition(name, tr string, probeInterval time.Duration, lastError string, why map[string]any) {
	switch tr {
	case store.TransitionOpened:
		why["probeInterval"], why["lastError"] = probeInterval.String(), lastError
		s.n.DestinationEvent(flow.EventDestinationCircuitOpened, name, why)
	case store.TransitionClosed:
		s.n.DestinationEvent(flow.EventDestinationCircuitClosed, name, nil)
	}
}

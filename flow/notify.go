package flow

import (
	"fmt"
	"strings"

	"github.com/hookflow/hookflow/flow/field"
)

// Notification event types: what hookflow tells an operator about, as
// Standard Webhooks messages sent to a destination.
const (
	// EventRunFailed: a run ended failed (a step failed, or an end step
	// ended it with failure). Not sent for cancelled or terminated runs:
	// someone did that on purpose.
	EventRunFailed = "run.failed"
	// EventDeliveryGaveUp: a delivery ran out of retries (giveUpAfter or
	// maximumAttempts) without an answer it could accept.
	EventDeliveryGaveUp = "delivery.gave_up"
	// EventDeliveryFailed: a receiver refused a delivery for good (a 4xx
	// other than 429, a redirect, a missing output, a refused host): it is
	// not retried, so it fails at its first such answer.
	EventDeliveryFailed = "delivery.failed"
	// Destination events: an operator paused or resumed a destination,
	// its circuit breaker opened or closed.
	EventDestinationPaused        = "destination.paused"
	EventDestinationResumed       = "destination.resumed"
	EventDestinationCircuitOpened = "destination.circuit_opened"
	EventDestinationCircuitClosed = "destination.circuit_closed"
)

// FlowEvents are the events about a flow's runs: a flow's notify may pick
// among them (all by default).
var FlowEvents = []string{EventRunFailed, EventDeliveryGaveUp, EventDeliveryFailed}

// NotifyEvents are every event type, in the order the docs list them.
var NotifyEvents = []string{
	EventRunFailed, EventDeliveryGaveUp, EventDeliveryFailed,
	EventDestinationPaused, EventDestinationResumed, EventDestinationCircuitOpened, EventDestinationCircuitClosed,
}

// Notify is a flow's notifications: its run and delivery events sent to a
// destination (Standard Webhooks, signed with the destination's
// standardWebhooks secret), besides the worker's global notify setting.
//
//	notify: {destination: ops, events: [run.failed, delivery.gave_up]}
//	notify: {global: false}   # this flow's events skip the global setting
type Notify struct {
	// Destination receives the flow's events (empty: only the global
	// setting, if any).
	Destination string `json:"destination,omitempty" validate:"omitempty,flowid" doc:"The destination that receives the flow's events (empty: only the global setting, if any)."`
	// Events picks the flow events to send (empty: all of FlowEvents).
	Events []string `json:"events,omitempty" validate:"max=3,dive,oneof=run.failed delivery.gave_up delivery.failed" doc:"The flow events to send (empty: all)."`
	// Global false keeps this flow's events from the worker's global
	// notify destination (a flow that receives notifications and could
	// fail on them, for one).
	Global *bool `json:"global,omitempty" doc:"false keeps this flow's events from the worker's global notify destination."`
}

// Wants tells whether the flow's own destination takes event.
func (n *Notify) Wants(event string) bool {
	if n == nil || n.Destination == "" {
		return false
	}
	return wants(n.Events, FlowEvents, event)
}

// GlobalAllowed tells whether the flow's events may also go to the global
// notify destination.
func (n *Notify) GlobalAllowed() bool { return n == nil || n.Global == nil || *n.Global }

func wants(picked, all []string, event string) bool {
	if len(picked) == 0 {
		picked = all
	}
	for _, e := range picked {
		if e == event {
			return true
		}
	}
	return false
}

// NotifySetting is the global notify destination (the worker's and the
// API's --notify and --notify-events): every event it picks, from every
// flow (but those with global: false) and every destination.
type NotifySetting struct {
	Destination string   `json:"destination,omitempty"`
	Events      []string `json:"events,omitempty"`
}

// Wants tells whether the global destination takes event.
func (s NotifySetting) Wants(event string) bool {
	return s.Destination != "" && wants(s.Events, NotifyEvents, event)
}

// ParseNotifySetting reads --notify (a destination name, empty: none) and
// --notify-events (comma-separated event types, empty: all).
func ParseNotifySetting(destination string, events []string) (NotifySetting, error) {
	s := NotifySetting{Destination: strings.TrimSpace(destination)}
	if s.Destination != "" && !field.IsFlowID(s.Destination) {
		return s, fmt.Errorf("notify destination %q is not a destination name", s.Destination)
	}
	for _, e := range events {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if !wants(NotifyEvents, nil, e) {
			return s, fmt.Errorf("unknown notification event %q (known: %s)", e, strings.Join(NotifyEvents, ", "))
		}
		s.Events = append(s.Events, e)
	}
	return s, nil
}

// notifyRefs is the flow's notify destination, for the destination checks
// (apply refuses an unknown one; delete refuses one in use).
func (f *Flow) notifyRefs() []DestinationRef {
	if f.Notify == nil || f.Notify.Destination == "" {
		return nil
	}
	return []DestinationRef{{Path: "notify.destination", Name: f.Notify.Destination}}
}

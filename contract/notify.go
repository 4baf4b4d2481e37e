package contract

import (
	"encoding/json"
	"time"

	"github.com/hookflow/hookflow/flow"
)

// EmitNotificationName is the local activity a run emits its events with
// (run.failed, delivery.gave_up, delivery.failed): it starts one
// NotifyWorkflow per destination that takes the event (stable name:
// histories refer to it).
const EmitNotificationName = "hookflow.EmitNotification"

// Notification is one event, as built where it happened. ID is unique per
// event and the same on every retry of its delivery (the webhook-id).
type Notification struct {
	ID        string         `json:"id"`
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// EmitRequest is a run's event and the flow's own notify setting (the
// worker adds its global one).
type EmitRequest struct {
	Event Notification `json:"event"`
	Flow  *flow.Notify `json:"flow,omitempty"`
}

// NotifyInput is a NotifyWorkflow's: the destination and the message as
// it is sent (Standard Webhooks: {"type", "timestamp", "data"}); EventID
// becomes the webhook-id and the Idempotency-Key.
type NotifyInput struct {
	Destination string          `json:"destination"`
	EventID     string          `json:"eventId"`
	Type        string          `json:"type"`
	Body        json.RawMessage `json:"body"`
}

// NotifyWorkflowName is NotifyWorkflow's registered type name (stable).
const NotifyWorkflowName = "hookflow.NotifyWorkflow"

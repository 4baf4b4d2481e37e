package telemetry

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// notifications counts notifications by event type and outcome, one
// counter per registry (registered on first use, so this file stands
// alone beside metrics.go).
var notifications sync.Map // *prometheus.Registry -> *prometheus.CounterVec

// Notification outcomes.
const (
	NotificationStarted   = "started"   // handed to Temporal (a NotifyWorkflow) for delivery
	NotificationDuplicate = "duplicate" // this event was already handed over (a retry)
	NotificationSkipped   = "skipped"   // the loop guard: an event about the notify destination itself
	NotificationNoTarget  = "no_destination"
	NotificationError     = "error" // Temporal did not take it (retried)
)

// Notification counts one notification (hookflow_notifications_total):
// event is a known event type, outcome one of the Notification* values.
func (t *Telemetry) Notification(event, outcome string) {
	if t == nil {
		return
	}
	v, ok := notifications.Load(t.registry)
	if !ok {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookflow_notifications_total",
			Help: "Notifications (Standard Webhooks events sent to a notify destination) by event type and outcome (started: handed to Temporal for delivery; duplicate; skipped: about the notify destination itself; no_destination; error).",
		}, []string{"event", "outcome"})
		var loaded bool
		if v, loaded = notifications.LoadOrStore(t.registry, c); !loaded {
			t.registry.MustRegister(c)
		}
	}
	v.(*prometheus.CounterVec).WithLabelValues(event, outcome).Inc()
}

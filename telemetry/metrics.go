package telemetry

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// hookflow's own metrics. Label values come from closed sets (route
// patterns, flow ids of stored flows, outcome names), never from request
// data, so cardinality stays bounded and no token reaches a label.
type metrics struct {
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	triggers     *prometheus.CounterVec
	attempts     *prometheus.CounterVec
	attemptTime  *prometheus.HistogramVec
	// Per destination (names of stored destinations: a closed set).
	destAttempts *prometheus.CounterVec
	destTime     *prometheus.HistogramVec
	destState    *prometheus.GaugeVec
	destParked   *prometheus.GaugeVec
	destOldest   *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookflow_http_requests_total",
			Help: "HTTP requests served by the API, by method, route pattern and status.",
		}, []string{"method", "route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookflow_http_request_duration_seconds",
			Help:    "Time to answer an API request, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookflow_triggers_total",
			Help: "Trigger requests by flow, mode (sync, async) and outcome (accepted, skipped, rejected_<status>, timeout, unavailable).",
		}, []string{"flow", "mode", "outcome"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookflow_delivery_attempts_total",
			Help: "Webhook delivery attempts by outcome (delivered, or the error type) and attempt number (1 to 5, then 6+).",
		}, []string{"outcome", "attempt"}),
		attemptTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hookflow_delivery_attempt_duration_seconds",
			Help:    "Time of one delivery attempt, request to classified answer, by outcome.",
			Buckets: prometheus.DefBuckets,
		}, []string{"outcome"}),
	}
	m.destAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hookflow_destination_attempts_total",
		Help: "Delivery attempts to destinations by destination and outcome (delivered, or the error type; DestinationParked: nothing was sent).",
	}, []string{"destination", "outcome"})
	m.destTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hookflow_destination_attempt_duration_seconds",
		Help:    "Time of one delivery attempt to a destination, by destination.",
		Buckets: prometheus.DefBuckets,
	}, []string{"destination"})
	m.destState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hookflow_destination_state",
		Help: "1 for a destination's current state (closed, open, paused, limited), as this worker last read it.",
	}, []string{"destination", "state"})
	m.destParked = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hookflow_destination_parked",
		Help: "Deliveries waiting in a destination's task queue (Temporal's approximate backlog; every worker reports the same queue: aggregate with max).",
	}, []string{"destination"})
	m.destOldest = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hookflow_destination_parked_oldest_age_seconds",
		Help: "Age of the oldest delivery waiting in a destination's task queue (0 when none waits).",
	}, []string{"destination"})
	reg.MustRegister(m.httpRequests, m.httpDuration, m.triggers, m.attempts, m.attemptTime, m.destAttempts, m.destTime, m.destState, m.destParked, m.destOldest)
	return m
}

// Trigger outcomes besides rejected_<status>.
const (
	// TriggerAccepted: handed to Temporal, which started a run or, for a
	// duplicate idempotency key, returned the earlier one; a sync caller
	// got the run's answer.
	TriggerAccepted    = "accepted"
	TriggerSkipped     = "skipped"     // the enrollment filter let the event pass
	TriggerTimeout     = "timeout"     // a sync caller's budget ran out (504)
	TriggerUnavailable = "unavailable" // Temporal could not be reached (503)
)

// ObserveRequest records one API request.
func (t *Telemetry) ObserveRequest(method, route string, status int, d time.Duration) {
	if t == nil {
		return
	}
	t.m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	t.m.httpDuration.WithLabelValues(method, route).Observe(d.Seconds())
}

// Trigger records a trigger's outcome. flow is "" when no flow matched the
// token.
func (t *Telemetry) Trigger(flow, mode, outcome string) {
	if t == nil {
		return
	}
	if flow == "" {
		flow = "unknown"
	}
	t.m.triggers.WithLabelValues(flow, mode, outcome).Inc()
}

// DeliveryAttempt records one delivery attempt.
func (t *Telemetry) DeliveryAttempt(outcome string, attempt int32, d time.Duration) {
	if t == nil {
		return
	}
	a := "6+"
	if attempt >= 1 && attempt <= 5 {
		a = strconv.Itoa(int(attempt))
	}
	t.m.attempts.WithLabelValues(outcome, a).Inc()
	t.m.attemptTime.WithLabelValues(outcome).Observe(d.Seconds())
}

// DestinationAttempt records one attempt of a delivery to a destination.
func (t *Telemetry) DestinationAttempt(destination, outcome string, d time.Duration) {
	if t == nil {
		return
	}
	t.m.destAttempts.WithLabelValues(destination, outcome).Inc()
	t.m.destTime.WithLabelValues(destination).Observe(d.Seconds())
}

// DestinationParked sets a destination's parked deliveries gauges.
func (t *Telemetry) DestinationParked(destination string, count int64, oldest time.Duration) {
	if t == nil {
		return
	}
	t.m.destParked.WithLabelValues(destination).Set(float64(count))
	t.m.destOldest.WithLabelValues(destination).Set(oldest.Seconds())
}

// DestinationState sets a destination's state gauge (closed, open, paused,
// limited).
func (t *Telemetry) DestinationState(destination, state string) {
	if t == nil {
		return
	}
	for _, s := range []string{"closed", "open", "paused", "limited"} {
		v := 0.0
		if s == state {
			v = 1
		}
		t.m.destState.WithLabelValues(destination, s).Set(v)
	}
}

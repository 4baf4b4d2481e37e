package flow_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

func TestWindowsAreFixedAndAlignedToTheEpoch(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	ms := func(s string) int64 { return at(s).UnixMilli() }
	cases := []struct {
		name string
		per  time.Duration
		t    string
		want string
	}{
		{"a minute's window starts on the wall-clock minute", time.Minute, "2026-03-01T12:34:56.789Z", "2026-03-01T12:34:00Z"},
		{"a time on the boundary starts its own window", time.Minute, "2026-03-01T12:34:00Z", "2026-03-01T12:34:00Z"},
		{"the last millisecond of a window is still in it", time.Minute, "2026-03-01T12:34:59.999Z", "2026-03-01T12:34:00Z"},
		{"a day's window is the UTC day, whatever the zone of the time", 24 * time.Hour, "2026-03-01T23:30:00-05:00", "2026-03-02T00:00:00Z"},
		{"a 7-second window aligns to the epoch, not to the minute", 7 * time.Second, "1970-01-01T00:00:20Z", "1970-01-01T00:00:14Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, ms(c.want), flow.PeriodLimit{Per: field.Duration(c.per), Max: 1}.WindowStart(at(c.t)))
			require.Equal(t, ms(c.want), flow.FailureWindow{Rate: 0.5, Window: c.per}.WindowStart(at(c.t)))
		})
	}
}

func TestTripsNeedsTheMinimumRequestsAndTheRate(t *testing.T) {
	w := flow.FailureWindow{Rate: 0.5, Window: time.Minute, MinRequests: 4}
	cases := []struct {
		name             string
		w                flow.FailureWindow
		requests, failed int64
		want             bool
	}{
		{"below the minimum requests nothing trips, even all failed", w, 3, 3, false},
		{"at the minimum with the failed share at the rate it trips", w, 4, 2, true},
		{"at the minimum below the rate it does not", w, 4, 1, false},
		{"above the minimum with every attempt failed it trips", w, 40, 40, true},
		{"a rate of 1 needs every attempt failed", flow.FailureWindow{Rate: 1, MinRequests: 2}, 10, 9, false},
		{"no rate never trips", flow.FailureWindow{MinRequests: 1}, 10, 10, false},
		{"no requests never trip, even with no minimum", flow.FailureWindow{Rate: 0.1}, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, c.w.Trips(c.requests, c.failed))
		})
	}
}

func TestBreakerAndRateWindowDefaults(t *testing.T) {
	cases := []struct {
		name     string
		cb       *flow.CircuitBreaker
		enabled  bool
		failures int
		probe    time.Duration
		window   flow.FailureWindow
	}{
		{"no breaker settings: on, with the defaults and no window", nil, true, flow.DefaultBreakerFailures, flow.DefaultBreakerProbeInterval, flow.FailureWindow{}},
		{"disabled: off, and no window even with a rate", &flow.CircuitBreaker{Disabled: true, FailureRate: 0.5}, false, flow.DefaultBreakerFailures, flow.DefaultBreakerProbeInterval, flow.FailureWindow{}},
		{"its own failures and probe interval win", &flow.CircuitBreaker{Failures: 3, ProbeInterval: field.Duration(5 * time.Second)}, true, 3, 5 * time.Second, flow.FailureWindow{}},
		{"a rate alone takes the window's defaults", &flow.CircuitBreaker{FailureRate: 0.25}, true, flow.DefaultBreakerFailures, flow.DefaultBreakerProbeInterval,
			flow.FailureWindow{Rate: 0.25, Window: flow.DefaultBreakerWindow, MinRequests: flow.DefaultBreakerMinRequests}},
		{"a rate with its window and minimum keeps them", &flow.CircuitBreaker{FailureRate: 0.25, Window: field.Duration(10 * time.Second), MinRequests: 3}, true, flow.DefaultBreakerFailures, flow.DefaultBreakerProbeInterval,
			flow.FailureWindow{Rate: 0.25, Window: 10 * time.Second, MinRequests: 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &flow.Destination{CircuitBreaker: c.cb}
			enabled, failures, probe := d.Breaker()
			require.Equal(t, c.enabled, enabled)
			require.Equal(t, c.failures, failures)
			require.Equal(t, c.probe, probe)
			require.Equal(t, c.window, d.RateWindow())
		})
	}
}

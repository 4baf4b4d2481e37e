package worker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// t0 is the tests' fixed now: the rules read no clock of their own.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time {
	t := t0.Add(d)
	return &t
}

func dest(name string, mutate ...func(*store.Destination)) *store.Destination {
	d := &store.Destination{Name: name, Def: &flow.Destination{Name: name, BaseURL: "https://example.com/"}, State: store.DestinationState{Circuit: store.CircuitClosed}}
	for _, f := range mutate {
		f(d)
	}
	return d
}

func open(next time.Duration) func(*store.Destination) {
	return func(d *store.Destination) {
		d.State.Circuit, d.State.OpenedAt, d.State.NextProbeAt = store.CircuitOpen, at(-time.Minute), at(next)
	}
}

func TestWorkerForDecidesEachDestinationsPoller(t *testing.T) {
	const self = "worker-a"
	cases := []struct {
		name         string
		d            *store.Destination
		key          string
		probe, claim bool
	}{
		{"a closed destination polls with the worker's default in-flight bound and no rate", dest("a"), "poll rate=0 inflight=8", false, false},
		{"a destination's own rate and in-flight bound name its key, so a change restarts it", dest("a", func(d *store.Destination) {
			d.Def.RateLimit, d.Def.MaxInFlight = &flow.RateLimit{PerSecond: 2.5}, 3
		}), "poll rate=2.5 inflight=3", false, false},
		{"a paused destination has no poller", dest("a", func(d *store.Destination) { d.State.Paused = true }), "", false, false},
		{"a paused destination with an open circuit and a due probe claims nothing", dest("a", open(-time.Second), func(d *store.Destination) { d.State.Paused = true }), "", false, false},
		{"a used-up period stops polling until it ends", dest("a", func(d *store.Destination) { d.State.LimitedUntil = at(time.Second) }), "", false, false},
		{"a period that ended at now polls again", dest("a", func(d *store.Destination) { d.State.LimitedUntil = at(0) }), "poll rate=0 inflight=8", false, false},
		{"a used-up period holds back even a due probe", dest("a", open(-time.Second), func(d *store.Destination) { d.State.LimitedUntil = at(time.Second) }), "", false, false},
		{"an open circuit whose probe is not due has no poller", dest("a", open(time.Second)), "", false, false},
		{"an open circuit whose probe is due at now asks for a claim", dest("a", open(0)), "", false, true},
		{"an open circuit without a probe time never claims", dest("a", func(d *store.Destination) { d.State.Circuit = store.CircuitOpen }), "", false, false},
		{"this worker's live claim keeps its probe worker even before the next probe time", dest("a", open(time.Minute), func(d *store.Destination) {
			d.State.ProbeOwner, d.State.ProbeClaimedAt = self, t0.Add(-probeClaimTTL+time.Second)
		}), probeKey, true, false},
		{"this worker's lapsed claim is claimed again when the probe is due", dest("a", open(-time.Second), func(d *store.Destination) {
			d.State.ProbeOwner, d.State.ProbeClaimedAt = self, t0.Add(-probeClaimTTL)
		}), "", false, true},
		{"another worker's claim is no probe of this one's, but a due probe is still asked for (the store refuses a live claim)", dest("a", open(-time.Second), func(d *store.Destination) {
			d.State.ProbeOwner, d.State.ProbeClaimedAt = "worker-b", t0
		}), "", false, true},
		{"an open circuit with the breaker disabled polls as if closed", dest("a", open(time.Minute), func(d *store.Destination) {
			d.Def.CircuitBreaker = &flow.CircuitBreaker{Disabled: true}
		}), "poll rate=0 inflight=8", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, probe, claim := workerFor(c.d, t0, self, 8)
			require.Equal(t, c.key, key)
			require.Equal(t, c.probe, probe)
			require.Equal(t, c.claim, claim)
		})
	}
}

func TestWorkerChangeStopsAndStartsOnlyWhatDiffers(t *testing.T) {
	cases := []struct {
		name        string
		running     bool
		curKey, key string
		stop, start bool
	}{
		{"nothing running and nothing wanted does nothing", false, "", "", false, false},
		{"nothing running and a poller wanted starts it", false, "", "poll", false, true},
		{"the same key keeps the running worker", true, "poll", "poll", false, false},
		{"a changed key restarts the worker", true, "poll rate=1", "poll rate=2", true, true},
		{"no worker wanted stops the running one", true, "poll", "", true, false},
		{"a poller turning into a probe restarts it", true, "poll", probeKey, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stop, start := workerChange(c.running, c.curKey, c.key)
			require.Equal(t, c.stop, stop, "stop")
			require.Equal(t, c.start, start, "start")
		})
	}
}

func TestEarliestLimitEndIsTheNextPeriodToEndAfterNow(t *testing.T) {
	limited := func(d time.Duration) *store.Destination {
		return dest("x", func(x *store.Destination) { x.State.LimitedUntil = at(d) })
	}
	cases := []struct {
		name string
		list []*store.Destination
		want time.Time
	}{
		{"no destination wakes nothing", nil, time.Time{}},
		{"no used-up period wakes nothing", []*store.Destination{dest("a")}, time.Time{}},
		{"a period that ended already wakes nothing", []*store.Destination{limited(-time.Second), limited(0)}, time.Time{}},
		{"the earliest of several future ends wins", []*store.Destination{limited(time.Hour), limited(time.Minute), dest("a"), limited(2 * time.Minute)}, t0.Add(time.Minute)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, earliestLimitEnd(c.list, t0))
		})
	}
}

func TestLimitWaitIsTwoReloadsOrThePeriodsEndWhicheverComesFirst(t *testing.T) {
	reload := 2 * time.Second
	cases := []struct {
		name  string
		until time.Time
		want  time.Duration
	}{
		{"a period ending in an hour waits two reloads", t0.Add(time.Hour), 4 * time.Second},
		{"a period ending in one second waits until then plus half a reload", t0.Add(time.Second), 2 * time.Second},
		{"a period that ended just now waits half a reload", t0, time.Second},
		{"a period that ended long ago waits nothing, never a negative time", t0.Add(-time.Minute), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, limitWait(c.until, t0, reload))
		})
	}
}

func TestGateRuleParksPausedThenLimitedThenOpen(t *testing.T) {
	cases := []struct {
		name string
		d    *store.Destination
		want gateVerdict
	}{
		{"a closed destination admits", dest("a"), gateAdmit},
		{"a paused destination parks, whatever else holds", dest("a", open(0), func(d *store.Destination) {
			d.State.Paused, d.State.LimitedUntil = true, at(time.Hour)
		}), gatePaused},
		{"a used-up period parks before an open circuit's probe", dest("a", open(0), func(d *store.Destination) { d.State.LimitedUntil = at(time.Second) }), gateLimited},
		{"a period that has ended no longer parks", dest("a", func(d *store.Destination) { d.State.LimitedUntil = at(0) }), gateAdmit},
		{"an open circuit lets only the probe through", dest("a", open(time.Minute)), gateProbe},
		{"an open circuit of a disabled breaker admits", dest("a", open(0), func(d *store.Destination) {
			d.Def.CircuitBreaker = &flow.CircuitBreaker{Disabled: true}
		}), gateAdmit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, gateRule(c.d, t0))
		})
	}
}

func TestOutcomeWorthWritingSkipsOnlyAHealthyDestinationsSuccess(t *testing.T) {
	clean := store.DestinationState{Circuit: store.CircuitClosed}
	cases := []struct {
		name              string
		ok, probe, failed bool
		st                store.DestinationState
		want              bool
	}{
		{"a success on a healthy destination writes nothing", true, false, false, clean, false},
		{"a failure always writes", false, false, false, clean, true},
		{"a probe's success writes (it closes the circuit)", true, true, false, clean, true},
		{"a success after a failure seen here writes (it clears the count)", true, false, true, clean, true},
		{"a success while the state read shows failures writes", true, false, false, store.DestinationState{Circuit: store.CircuitClosed, ConsecutiveFailures: 2}, true},
		{"a success while the circuit is open writes", true, false, false, store.DestinationState{Circuit: store.CircuitOpen}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, outcomeWorthWriting(c.ok, c.probe, c.failed, c.st))
		})
	}
}

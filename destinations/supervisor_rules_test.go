package destinations

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

// t0 is the tests' fixed now: the rules read no clock of their own.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time {
	t := t0.Add(d)
	return &t
}

func dest(name string, mutate ...func(*Destination)) *Destination {
	d := &Destination{Name: name, Def: &flow.Destination{Name: name, BaseURL: "https://example.com/"}, State: State{Circuit: CircuitClosed}}
	for _, f := range mutate {
		f(d)
	}
	return d
}

func open(next time.Duration) func(*Destination) {
	return func(d *Destination) {
		d.State.Circuit, d.State.OpenedAt, d.State.NextProbeAt = CircuitOpen, at(-time.Minute), at(next)
	}
}

func TestWorkerForDecidesEachDestinationsPoller(t *testing.T) {
	const self = "worker-a"
	cases := []struct {
		name         string
		d            *Destination
		key          string
		probe, claim bool
	}{
		{"a closed destination polls with the worker's default in-flight bound and no rate", dest("a"), "poll rate=0 inflight=8", false, false},
		{"a destination's own rate and in-flight bound name its key, so a change restarts it", dest("a", func(d *Destination) {
			d.Def.RateLimit, d.Def.MaxInFlight = &flow.RateLimit{PerSecond: 2.5}, 3
		}), "poll rate=2.5 inflight=3", false, false},
		{"a paused destination has no poller", dest("a", func(d *Destination) { d.State.Paused = true }), "", false, false},
		{"a paused destination with an open circuit and a due probe claims nothing", dest("a", open(-time.Second), func(d *Destination) { d.State.Paused = true }), "", false, false},
		{"a used-up period stops polling until it ends", dest("a", func(d *Destination) { d.State.LimitedUntil = at(time.Second) }), "", false, false},
		{"a period that ended at now polls again", dest("a", func(d *Destination) { d.State.LimitedUntil = at(0) }), "poll rate=0 inflight=8", false, false},
		{"a used-up period holds back even a due probe", dest("a", open(-time.Second), func(d *Destination) { d.State.LimitedUntil = at(time.Second) }), "", false, false},
		{"an open circuit whose probe is not due has no poller", dest("a", open(time.Second)), "", false, false},
		{"an open circuit whose probe is due at now asks for a claim", dest("a", open(0)), "", false, true},
		{"an open circuit without a probe time never claims", dest("a", func(d *Destination) { d.State.Circuit = CircuitOpen }), "", false, false},
		{"this worker's live claim keeps its probe worker even before the next probe time", dest("a", open(time.Minute), func(d *Destination) {
			d.State.ProbeOwner, d.State.ProbeClaimedAt = self, t0.Add(-probeClaimTTL+time.Second)
		}), probeKey, true, false},
		{"this worker's lapsed claim is claimed again when the probe is due", dest("a", open(-time.Second), func(d *Destination) {
			d.State.ProbeOwner, d.State.ProbeClaimedAt = self, t0.Add(-probeClaimTTL)
		}), "", false, true},
		{"another worker's claim is no probe of this one's, but a due probe is still asked for (the store refuses a live claim)", dest("a", open(-time.Second), func(d *Destination) {
			d.State.ProbeOwner, d.State.ProbeClaimedAt = "worker-b", t0
		}), "", false, true},
		{"an open circuit with the breaker disabled polls as if closed", dest("a", open(time.Minute), func(d *Destination) {
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
	limited := func(d time.Duration) *Destination {
		return dest("x", func(x *Destination) { x.State.LimitedUntil = at(d) })
	}
	cases := []struct {
		name string
		list []*Destination
		want time.Time
	}{
		{"no destination wakes nothing", nil, time.Time{}},
		{"no used-up period wakes nothing", []*Destination{dest("a")}, time.Time{}},
		{"a period that ended already wakes nothing", []*Destination{limited(-time.Second), limited(0)}, time.Time{}},
		{"the earliest of several future ends wins", []*Destination{limited(time.Hour), limited(time.Minute), dest("a"), limited(2 * time.Minute)}, t0.Add(time.Minute)},
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
		d    *Destination
		want gateVerdict
	}{
		{"a closed destination admits", dest("a"), gateAdmit},
		{"a paused destination parks, whatever else holds", dest("a", open(0), func(d *Destination) {
			d.State.Paused, d.State.LimitedUntil = true, at(time.Hour)
		}), gatePaused},
		{"a used-up period parks before an open circuit's probe", dest("a", open(0), func(d *Destination) { d.State.LimitedUntil = at(time.Second) }), gateLimited},
		{"a period that has ended no longer parks", dest("a", func(d *Destination) { d.State.LimitedUntil = at(0) }), gateAdmit},
		{"an open circuit lets only the probe through", dest("a", open(time.Minute)), gateProbe},
		{"an open circuit of a disabled breaker admits", dest("a", open(0), func(d *Destination) {
			d.Def.CircuitBreaker = &flow.CircuitBreaker{Disabled: true}
		}), gateAdmit},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, gateRule(c.d, t0))
		})
	}
}

func TestFirstAttemptRuleAdmitsOnlyWhatTheQueueWouldSendAtOnce(t *testing.T) {
	cases := []struct {
		name string
		d    *Destination
		want bool
	}{
		{"a closed destination with no rate", dest("a"), true},
		{"one with a maxInFlight and period limits (the gate counts them)", dest("a", func(d *Destination) {
			d.Def.MaxInFlight, d.Def.Limits = 2, []flow.PeriodLimit{{Max: 10, Per: field.Duration(time.Minute)}}
		}), true},
		{"one with a rate: the server enforces it on the queue", dest("a", func(d *Destination) { d.Def.RateLimit = &flow.RateLimit{PerSecond: 5} }), false},
		{"a paused one", dest("a", func(d *Destination) { d.State.Paused = true }), false},
		{"a limited one", dest("a", func(d *Destination) { d.State.LimitedUntil = at(time.Second) }), false},
		{"an open circuit: the probe is the queue's", dest("a", open(time.Minute)), false},
		{"an open circuit of a disabled breaker", dest("a", open(0), func(d *Destination) {
			d.Def.CircuitBreaker = &flow.CircuitBreaker{Disabled: true}
		}), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, firstAttemptRule(c.d, t0))
		})
	}
}

func TestOutcomeWorthWritingSkipsOnlyAHealthyDestinationsSuccess(t *testing.T) {
	clean := State{Circuit: CircuitClosed}
	cases := []struct {
		name              string
		ok, probe, failed bool
		st                State
		want              bool
	}{
		{"a success on a healthy destination writes nothing", true, false, false, clean, false},
		{"a failure always writes", false, false, false, clean, true},
		{"a probe's success writes (it closes the circuit)", true, true, false, clean, true},
		{"a success after a failure seen here writes (it clears the count)", true, false, true, clean, true},
		{"a success while the state read shows failures writes", true, false, false, State{Circuit: CircuitClosed, ConsecutiveFailures: 2}, true},
		{"a success while the circuit is open writes", true, false, false, State{Circuit: CircuitOpen}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, outcomeWorthWriting(c.ok, c.probe, c.failed, c.st))
		})
	}
}

func TestDestTransitionsAreTheEventsBetweenTwoReloads(t *testing.T) {
	p1, p2, o1, o2 := t0, t0.Add(time.Minute), t0.Add(time.Second), t0.Add(2*time.Minute)
	paused := func(at time.Time) destEvents { return destEvents{paused: true, pausedAt: at} }
	opened := func(at time.Time) destEvents { return destEvents{open: true, openedAt: at} }
	cases := []struct {
		name      string
		prev, cur destEvents
		want      []destEvent
	}{
		{"no change emits nothing", destEvents{}, destEvents{}, nil},
		{"a pause that goes on emits nothing", paused(p1), paused(p1), nil},
		{"a pause emits paused with its start", destEvents{}, paused(p1), []destEvent{{flow.EventDestinationPaused, p1}}},
		{"a resume emits resumed with the pause's start (its id matches the pause's)", paused(p1), destEvents{}, []destEvent{{flow.EventDestinationResumed, p1}}},
		{"a resume and a new pause between two reloads emit both, the end first", paused(p1), paused(p2), []destEvent{{flow.EventDestinationResumed, p1}, {flow.EventDestinationPaused, p2}}},
		{"a circuit that opens emits opened with its start", destEvents{}, opened(o1), []destEvent{{flow.EventDestinationCircuitOpened, o1}}},
		{"a circuit that closes emits closed with the opening's start", opened(o1), destEvents{}, []destEvent{{flow.EventDestinationCircuitClosed, o1}}},
		{"a circuit that closed and opened again emits closed then opened", opened(o1), opened(o2), []destEvent{{flow.EventDestinationCircuitClosed, o1}, {flow.EventDestinationCircuitOpened, o2}}},
		{"a pause and an opening at once emit paused before opened", destEvents{}, destEvents{paused: true, pausedAt: p1, open: true, openedAt: o1}, []destEvent{{flow.EventDestinationPaused, p1}, {flow.EventDestinationCircuitOpened, o1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, destTransitions(c.prev, c.cur))
		})
	}
}

func TestEventDataSaysWhyAndWhen(t *testing.T) {
	p := dest("a", func(d *Destination) {
		d.State.Paused, d.State.PausedAt, d.State.PauseReason = true, at(0), "maintenance"
	})
	require.Equal(t, map[string]any{"reason": "maintenance", "pausedAt": t0}, eventData(flow.EventDestinationPaused, p))
	require.Equal(t, map[string]any{"reason": ""}, eventData(flow.EventDestinationPaused, dest("a")), "a pause without its time carries no pausedAt")

	o := dest("a", open(time.Minute), func(d *Destination) {
		d.State.LastError = "HTTP 503"
		d.Def.CircuitBreaker = &flow.CircuitBreaker{Failures: 3, ProbeInterval: field.Duration(10 * time.Second)}
	})
	require.Equal(t, map[string]any{
		"reason": "consecutive_failures", "consecutiveFailures": 3, "probeInterval": "10s",
		"lastError": "HTTP 503", "openedAt": t0.Add(-time.Minute),
	}, eventData(flow.EventDestinationCircuitOpened, o))

	o.Def.CircuitBreaker.FailureRate = 0.5
	why := eventData(flow.EventDestinationCircuitOpened, o)
	require.Equal(t, "failure_rate_or_consecutive", why["reason"])
	require.Equal(t, 0.5, why["failureRate"])
	require.Equal(t, "1m0s", why["window"])
	require.Equal(t, flow.DefaultBreakerMinRequests, why["minRequests"])

	require.Nil(t, eventData(flow.EventDestinationResumed, p))
	require.Nil(t, eventData(flow.EventDestinationCircuitClosed, o))
}

func TestPollerOptionsAreTheDestinationsLimitsOrOneProbe(t *testing.T) {
	limited := dest("a", func(d *Destination) { d.Def.MaxInFlight, d.Def.RateLimit = 2, &flow.RateLimit{PerSecond: 5} })
	cases := []struct {
		name              string
		d                 *Destination
		probe             bool
		stopTimeout       time.Duration
		rate              float64
		inFlight, pollers int
		wantStop          time.Duration
	}{
		{"the destination's rate and in flight", limited, false, 0, 5, 2, 0, 40 * time.Second},
		{"no limits: the process's in flight, no rate", dest("b"), false, time.Minute, 0, 4, 0, time.Minute},
		{"a probe: one delivery, one poll, whatever the limits", limited, true, 0, 0, 1, 1, 40 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := PollerOptions(c.d, c.probe, 4, c.stopTimeout)
			require.Equal(t, c.rate, o.TaskQueueActivitiesPerSecond)
			require.Equal(t, c.inFlight, o.MaxConcurrentActivityExecutionSize)
			require.Equal(t, c.pollers, o.MaxConcurrentActivityTaskPollers)
			require.Equal(t, c.wantStop, o.WorkerStopTimeout, "a stopped poller lets a whole attempt finish")
		})
	}
}

func TestOnlyTheDestinationsOwnFailuresCountAgainstIt(t *testing.T) {
	for typ, want := range map[string]bool{
		contract.ErrHTTPServer: true, contract.ErrNetwork: true, contract.ErrTooManyRequests: true,
		contract.ErrHTTPClient: false, contract.ErrDestinationRefused: false, contract.ErrDestinationParked: false, "Error": false,
	} {
		require.Equal(t, want, CountsAgainst(typ), typ)
	}
	require.Equal(t, contract.ErrHTTPServer, errorType(temporal.NewApplicationError("HTTP 503", contract.ErrHTTPServer)))
	require.Equal(t, "Error", errorType(errors.New("plain")), "an error without a type counts as none of the destination's")
}

func TestAPauseRequestEmitsOnlyWhatItChanged(t *testing.T) {
	paused := dest("a", func(d *Destination) {
		d.State.Paused, d.State.PausedAt, d.State.PauseReason = true, at(0), "maintenance"
	})
	resumed := dest("a")
	cases := []struct {
		name string
		d    *Destination
		was  *State
		want Event
		ok   bool
	}{
		{"a pause emits paused, with when it began and why", paused, &State{}, Event{Type: flow.EventDestinationPaused, Since: t0, Data: map[string]any{"reason": "maintenance", "pausedAt": t0}}, true},
		{"pausing a paused destination tells no one", paused, &State{Paused: true, PausedAt: at(0)}, Event{}, false},
		{"a resume emits resumed with the pause's start (the pause's id)", resumed, &State{Paused: true, PausedAt: at(-time.Hour)}, Event{Type: flow.EventDestinationResumed, Since: t0.Add(-time.Hour)}, true},
		{"resuming a running destination tells no one", resumed, &State{}, Event{}, false},
		{"an unknown state before a pause emits paused", paused, nil, Event{Type: flow.EventDestinationPaused, Since: t0, Data: map[string]any{"reason": "maintenance", "pausedAt": t0}}, true},
		{"an unknown state before a resume emits resumed with a new id", resumed, nil, Event{Type: flow.EventDestinationResumed}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := PauseRequestEvent(c.d, c.was)
			require.Equal(t, c.ok, ok)
			require.Equal(t, c.want, got)
		})
	}
}

func TestALeaseOutlivesItsAttemptsTimeoutByTheMarginOnly(t *testing.T) {
	cases := []struct {
		name         string
		startToClose time.Duration
		want         time.Duration
	}{
		{"the default attempt (connect 3s + response 30s + 5s)", 38 * time.Second, 38*time.Second + leaseMargin},
		{"the longest attempt allowed", maxAttemptTimeout, maxAttemptTimeout + leaseMargin},
		{"an unknown timeout is taken as the longest allowed", 0, maxAttemptTimeout + leaseMargin},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, leaseTTL(c.startToClose))
			require.Greater(t, leaseTTL(c.startToClose), max(c.startToClose, time.Second), "never expires before its attempt's timeout")
		})
	}
}

func TestAnAttemptWaitsForALeaseOnlyAsLongAsItsDeadlineLeavesItsRequest(t *testing.T) {
	const need = 33 * time.Second // connect 3s + response 30s
	cases := []struct {
		name     string
		deadline time.Time
		want     time.Duration
	}{
		{"a fresh attempt (start-to-close: need + 5s) waits up to its slack less the reserve", t0.Add(need + 5*time.Second), 3 * time.Second},
		{"a long slack still waits at most maxLeaseWait", t0.Add(need + time.Minute), maxLeaseWait},
		{"a little slack waits what is left beyond the reserve", t0.Add(need + leaseWaitReserve + 500*time.Millisecond), 500 * time.Millisecond},
		{"no slack beyond the reserve: no wait", t0.Add(need + leaseWaitReserve), 0},
		{"a deadline shorter than the request (give-up near): no wait, never negative", t0.Add(time.Second), 0},
		{"no deadline (not an activity): no wait", time.Time{}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, leaseWait(c.deadline, t0, need))
		})
	}
}

func TestAnAttemptThatWaitedInVainIsTriedAgainLaterTheMoreOftenItParked(t *testing.T) {
	cases := []struct {
		parked int32
		want   time.Duration
	}{
		{0, time.Second}, {1, 2 * time.Second}, {2, 4 * time.Second}, {3, 8 * time.Second},
		{4, 10 * time.Second}, {50, 10 * time.Second}, {-1, time.Second},
	}
	for _, c := range cases {
		require.Equal(t, c.want, leaseParkDelay(c.parked), "after %d parked attempts", c.parked)
	}
}

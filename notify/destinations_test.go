package notify

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

func open(opened time.Duration) func(*store.Destination) {
	return func(d *store.Destination) {
		d.State.Circuit, d.State.OpenedAt, d.State.NextProbeAt = store.CircuitOpen, at(opened), at(opened+time.Minute)
	}
}

func paused(since time.Duration, reason string) func(*store.Destination) {
	return func(d *store.Destination) {
		d.State.Paused, d.State.PausedAt, d.State.PauseReason = true, at(since), reason
	}
}

func TestTransitionsAreTheEventsBetweenTwoReloads(t *testing.T) {
	p1, p2, o1, o2 := t0, t0.Add(time.Minute), t0.Add(time.Second), t0.Add(2*time.Minute)
	pausedAt := func(at time.Time) State { return State{Paused: true, PausedAt: at} }
	opened := func(at time.Time) State { return State{Open: true, OpenedAt: at} }
	cases := []struct {
		name      string
		prev, cur State
		want      []Event
	}{
		{"no change emits nothing", State{}, State{}, nil},
		{"a pause that goes on emits nothing", pausedAt(p1), pausedAt(p1), nil},
		{"a pause emits paused with its start", State{}, pausedAt(p1), []Event{{Type: flow.EventDestinationPaused, Since: p1}}},
		{"a resume emits resumed with the pause's start (its id matches the pause's)", pausedAt(p1), State{}, []Event{{Type: flow.EventDestinationResumed, Since: p1}}},
		{"a resume and a new pause between two reloads emit both, the end first", pausedAt(p1), pausedAt(p2), []Event{{Type: flow.EventDestinationResumed, Since: p1}, {Type: flow.EventDestinationPaused, Since: p2}}},
		{"a circuit that opens emits opened with its start", State{}, opened(o1), []Event{{Type: flow.EventDestinationCircuitOpened, Since: o1}}},
		{"a circuit that closes emits closed with the opening's start", opened(o1), State{}, []Event{{Type: flow.EventDestinationCircuitClosed, Since: o1}}},
		{"a circuit that closed and opened again emits closed then opened", opened(o1), opened(o2), []Event{{Type: flow.EventDestinationCircuitClosed, Since: o1}, {Type: flow.EventDestinationCircuitOpened, Since: o2}}},
		{"a pause and an opening at once emit paused before opened", State{}, State{Paused: true, PausedAt: p1, Open: true, OpenedAt: o1}, []Event{{Type: flow.EventDestinationPaused, Since: p1}, {Type: flow.EventDestinationCircuitOpened, Since: o1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, Transitions(c.prev, c.cur))
		})
	}
}

func TestEventDataSaysWhyAndWhen(t *testing.T) {
	p := dest("a", paused(0, "maintenance"))
	require.Equal(t, map[string]any{"reason": "maintenance", "pausedAt": t0}, EventData(flow.EventDestinationPaused, p))
	require.Equal(t, map[string]any{"reason": ""}, EventData(flow.EventDestinationPaused, dest("a")), "a pause without its time carries no pausedAt")

	o := dest("a", open(-time.Minute), func(d *store.Destination) {
		d.State.LastError = "HTTP 503"
		d.Def.CircuitBreaker = &flow.CircuitBreaker{Failures: 3, ProbeInterval: flow.Duration(10 * time.Second)}
	})
	require.Equal(t, map[string]any{
		"reason": "consecutive_failures", "consecutiveFailures": 3, "probeInterval": "10s",
		"lastError": "HTTP 503", "openedAt": t0.Add(-time.Minute),
	}, EventData(flow.EventDestinationCircuitOpened, o))

	o.Def.CircuitBreaker.FailureRate = 0.5
	why := EventData(flow.EventDestinationCircuitOpened, o)
	require.Equal(t, "failure_rate_or_consecutive", why["reason"])
	require.Equal(t, 0.5, why["failureRate"])
	require.Equal(t, "1m0s", why["window"])
	require.Equal(t, flow.DefaultBreakerMinRequests, why["minRequests"])

	require.Nil(t, EventData(flow.EventDestinationResumed, p))
	require.Nil(t, EventData(flow.EventDestinationCircuitClosed, o))
}

func TestPauseChangeIsTheEventOfARequestThatChangedThePause(t *testing.T) {
	running := &store.DestinationState{Circuit: store.CircuitClosed}
	wasPaused := &dest("a", paused(-time.Hour, "old")).State
	cases := []struct {
		name string
		d    *store.Destination
		was  *store.DestinationState
		want Event
		ok   bool
	}{
		{"pausing a running destination emits paused with the pause's start", dest("a", paused(0, "deploy")), running,
			Event{Type: flow.EventDestinationPaused, Since: t0, Data: map[string]any{"reason": "deploy", "pausedAt": at(0)}}, true},
		{"pausing with the state before unknown emits paused", dest("a", paused(0, "")), nil,
			Event{Type: flow.EventDestinationPaused, Since: t0, Data: map[string]any{"reason": "", "pausedAt": at(0)}}, true},
		{"pausing a paused destination tells no one", dest("a", paused(0, "again")), wasPaused, Event{}, false},
		{"resuming emits resumed with the start of the pause it ends (its id matches the pause's)", dest("a"), wasPaused,
			Event{Type: flow.EventDestinationResumed, Since: t0.Add(-time.Hour)}, true},
		{"resuming with the state before unknown emits resumed without a start (a new id)", dest("a"), nil,
			Event{Type: flow.EventDestinationResumed}, true},
		{"resuming a running destination tells no one", dest("a"), running, Event{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := PauseChange(c.d, c.was)
			require.Equal(t, c.ok, ok)
			require.Equal(t, c.want, got)
		})
	}
}

// The Follower is the supervisor's side of destination events: it is fed
// each reload's destinations and returns what to emit.
func TestTheFollowerLearnsFirstThenReturnsWhatChangedAtEachReload(t *testing.T) {
	f := NewFollower()
	require.Empty(t, f.Observe(dest("a", paused(0, "x"))), "the first reload learns the state without notifying")
	require.Empty(t, f.Observe(dest("b")))
	require.Empty(t, f.Observe(dest("a", paused(0, "x"))), "nothing changed")

	got := f.Observe(dest("a", open(time.Minute)))
	require.Len(t, got, 2)
	require.Equal(t, Event{Type: flow.EventDestinationResumed, Since: t0}, got[0])
	require.Equal(t, flow.EventDestinationCircuitOpened, got[1].Type)
	require.Equal(t, t0.Add(time.Minute), got[1].Since)
	require.Equal(t, "consecutive_failures", got[1].Data["reason"], "the event carries its data")

	// A destination gone from a reload is forgotten: made again, it is
	// learnt anew.
	f.Keep(map[string]bool{"a": true})
	require.Empty(t, f.Observe(dest("b", paused(0, "new"))))
	require.Equal(t, []Event{{Type: flow.EventDestinationResumed, Since: t0}}, f.Observe(dest("b")))
}

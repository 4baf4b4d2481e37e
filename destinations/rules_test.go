package destinations

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

// The destinations' rules on their own, with a fixed clock; the statements
// that call them run against SQLite and PostgreSQL in
// store_test.go.

var tRules = time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)

func TestAfterOutcomeOpensReprobesOrStays(t *testing.T) {
	rate := flow.FailureWindow{Rate: 0.5, Window: time.Minute, MinRequests: 4}
	none := flow.FailureWindow{}
	cases := []struct {
		name             string
		circuit          string
		ok, probe        bool
		count            int64
		failures         int
		w                flow.FailureWindow
		requests, failed int64
		want             breakerStep
	}{
		{"a failure below the count keeps the circuit closed", CircuitClosed, false, false, 4, 5, none, 0, 0, breakerStay},
		{"the failure that reaches the count opens the circuit", CircuitClosed, false, false, 5, 5, none, 0, 0, breakerOpen},
		{"a failure past the count (another worker lost the race) still asks to open", CircuitClosed, false, false, 7, 5, none, 0, 0, breakerOpen},
		{"no failure count (0) never opens by count", CircuitClosed, false, false, 100, 0, none, 0, 0, breakerStay},
		{"a success never opens by count, whatever the count read", CircuitClosed, true, false, 9, 5, none, 0, 0, breakerStay},
		{"a failed probe sets the next probe", CircuitOpen, false, true, 12, 5, none, 0, 0, breakerReprobe},
		{"a failure that is no probe leaves an open circuit as it is", CircuitOpen, false, false, 12, 5, none, 0, 0, breakerStay},
		{"a probe's success leaves the closing to its own statement", CircuitOpen, true, true, 0, 5, none, 0, 0, breakerStay},
		{"a window below its minimum requests does not trip", CircuitClosed, false, false, 1, 5, rate, 3, 3, breakerStay},
		{"a window at its minimum with the rate reached opens", CircuitClosed, false, false, 1, 5, rate, 4, 2, breakerOpen},
		{"a window under the rate does not trip", CircuitClosed, false, false, 1, 5, rate, 5, 2, breakerStay},
		{"a success that leaves the window at the rate still opens (the rate counts, not this outcome)", CircuitClosed, true, false, 0, 5, rate, 4, 2, breakerOpen},
		{"a window's rate opens nothing once the circuit is open", CircuitOpen, false, false, 1, 5, rate, 10, 10, breakerStay},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, afterOutcome(c.circuit, c.ok, c.probe, c.count, c.failures, c.w, c.requests, c.failed))
		})
	}
}

func TestClipLastErrorKeepsTheFirst500Bytes(t *testing.T) {
	require.Equal(t, "short", clipLastError("short"))
	require.Equal(t, strings.Repeat("x", 500), clipLastError(strings.Repeat("x", 500)))
	require.Equal(t, strings.Repeat("x", 500), clipLastError(strings.Repeat("x", 501)))
}

func TestLockOrderIsLongestPeriodFirstAndLeavesTheDefinitionAlone(t *testing.T) {
	in := []flow.PeriodLimit{{Per: field.Duration(time.Minute), Max: 1}, {Per: field.Duration(24 * time.Hour), Max: 2}, {Per: field.Duration(time.Hour), Max: 3}}
	got := lockOrder(in)
	require.Equal(t, []int64{2, 3, 1}, []int64{got[0].Max, got[1].Max, got[2].Max})
	require.Equal(t, int64(1), in[0].Max, "the destination's own list keeps its order")
}

func TestAdmissionArithmeticOverPeriods(t *testing.T) {
	minute := time.Minute.Milliseconds()
	ws := flow.PeriodLimit{Per: field.Duration(time.Minute)}.WindowStart(tRules)
	require.Equal(t, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli(), ws, "a minute's window starts on the wall-clock minute")

	t.Run("a refused attempt waits until the end of the window holding now", func(t *testing.T) {
		require.Equal(t, time.UnixMilli(ws+minute).UTC(), refused(ws, 0, minute).ResetsAt)
		require.False(t, refused(ws, 0, minute).Admitted)
	})
	t.Run("a refused attempt waits for a later stored window, from a clock that runs ahead", func(t *testing.T) {
		require.Equal(t, time.UnixMilli(ws+2*minute).UTC(), refused(ws, ws+minute, minute).ResetsAt)
	})

	// counted is one limit's window as its statement returned it.
	type counted struct {
		used, start, per, max int64
		wasFull               bool
	}
	cases := []struct {
		name string
		// each limit's counted window, in lock order
		counts     []counted
		transition string
		resetsAt   time.Time
	}{
		{"an attempt below every limit reports nothing", []counted{{3, ws, minute, 10, false}}, "", time.Time{}},
		{"the attempt that fills a window reports limited until its end", []counted{{10, ws, minute, 10, false}}, TransitionLimited, time.UnixMilli(ws + minute).UTC()},
		{"two windows filled at once report the later end", []counted{{5, ws - 30*minute, 60 * minute, 5, false}, {10, ws, minute, 10, false}}, TransitionLimited, time.UnixMilli(ws + 30*minute).UTC()},
		{"the first attempt after a full window reports unlimited", []counted{{1, ws, minute, 10, true}}, TransitionUnlimited, time.Time{}},
		{"an attempt that ends one full window and fills another reports limited", []counted{{5, ws - 30*minute, 60 * minute, 5, false}, {1, ws, minute, 10, true}}, TransitionLimited, time.UnixMilli(ws + 30*minute).UTC()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			adm := Admission{Admitted: true}
			for _, k := range c.counts {
				adm.countIn(k.used, k.start, k.per, k.max, k.wasFull)
			}
			require.True(t, adm.Admitted)
			require.Equal(t, c.transition, adm.Transition)
			require.Equal(t, c.resetsAt, adm.ResetsAt)
		})
	}
}

func TestWithLimitsShowsEachPeriodsUseAndStatusAtNow(t *testing.T) {
	minute, hour := time.Minute.Milliseconds(), time.Hour.Milliseconds()
	ws := tRules.Truncate(time.Minute).UnixMilli()
	hs := tRules.Truncate(time.Hour).UnixMilli()
	def := func() *flow.Destination {
		return &flow.Destination{Name: "a", Limits: []flow.PeriodLimit{{Per: field.Duration(time.Minute), Max: 2}, {Per: field.Duration(time.Hour), Max: 100}}}
	}
	cases := []struct {
		name    string
		windows []limitWindow
		used    []int64
		limited *time.Time
		status  string
	}{
		{"no stored window uses nothing", nil, []int64{0, 0}, nil, StatusClosed},
		{"a window that has ended counts nothing", []limitWindow{{minute, ws - minute, 2}}, []int64{0, 0}, nil, StatusClosed},
		{"the current window's use shows", []limitWindow{{minute, ws, 1}, {hour, hs, 40}}, []int64{1, 40}, nil, StatusClosed},
		{"a full window limits until its end", []limitWindow{{minute, ws, 2}, {hour, hs, 40}}, []int64{2, 40}, ptr(time.UnixMilli(ws + minute).UTC()), StatusLimited},
		{"a window later than this clock's is the current one", []limitWindow{{minute, ws + minute, 2}}, []int64{2, 0}, ptr(time.UnixMilli(ws + 2*minute).UTC()), StatusLimited},
		{"two full windows limit until the later end", []limitWindow{{minute, ws, 2}, {hour, hs, 100}}, []int64{2, 100}, ptr(time.UnixMilli(hs + hour).UTC()), StatusLimited},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &Destination{Name: "a", Def: def(), State: State{Circuit: CircuitClosed}}
			withLimits(d, c.windows, tRules)
			require.Len(t, d.State.Limits, 2)
			require.Equal(t, c.used, []int64{d.State.Limits[0].Used, d.State.Limits[1].Used})
			require.Equal(t, c.limited, d.State.LimitedUntil)
			require.Equal(t, c.status, d.State.Status)
		})
	}

	t.Run("a failure window that has ended shows empty, resetting at the next window's end", func(t *testing.T) {
		d := &Destination{Name: "a", Def: &flow.Destination{Name: "a", CircuitBreaker: &flow.CircuitBreaker{FailureRate: 0.5}}}
		d.State.FailureWindow = &FailureWindowUsage{Requests: 30, Failures: 20, ResetsAt: tRules}
		withLimits(d, nil, tRules)
		require.Equal(t, FailureWindowUsage{ResetsAt: time.UnixMilli(ws + minute).UTC()}, *d.State.FailureWindow)
	})
}

func ptr[T any](v T) *T { return &v }

func TestStatusAtNamesWhyDeliveriesPark(t *testing.T) {
	until := tRules.Add(time.Second)
	cases := []struct {
		name string
		st   State
		cb   *flow.CircuitBreaker
		want string
	}{
		{"nothing holds deliveries: closed", State{Circuit: CircuitClosed}, nil, StatusClosed},
		{"paused wins over an open circuit and a used-up period", State{Paused: true, Circuit: CircuitOpen, LimitedUntil: &until}, nil, StatusPaused},
		{"an open circuit wins over a used-up period", State{Circuit: CircuitOpen, LimitedUntil: &until}, nil, StatusOpen},
		{"an open circuit of a disabled breaker does not count", State{Circuit: CircuitOpen}, &flow.CircuitBreaker{Disabled: true}, StatusClosed},
		{"a used-up period is limited until it ends", State{Circuit: CircuitClosed, LimitedUntil: &until}, nil, StatusLimited},
		{"a period that ended at now is closed", State{Circuit: CircuitClosed, LimitedUntil: &tRules}, nil, StatusClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &Destination{Def: &flow.Destination{CircuitBreaker: c.cb}, State: c.st}
			require.Equal(t, c.want, d.StatusAt(tRules))
		})
	}
}

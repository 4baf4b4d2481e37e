package schedules

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stepClock hands each wait the loop asks for to the test, which lets it
// pass by sending on fire.
type stepClock struct {
	waits chan time.Duration
	fire  chan time.Time
}

func newStepClock() *stepClock {
	return &stepClock{waits: make(chan time.Duration, 1), fire: make(chan time.Time)}
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.waits <- d
	return c.fire
}

// scripted is a fake of the loop's seam (the real one, Reconciler.Reconcile,
// runs against Temporal in ./tests): it answers the results in order.
type scripted struct {
	mu      sync.Mutex
	results []result
	calls   int
}

type result struct {
	changes []Change
	err     error
}

func (s *scripted) reconcile(context.Context) ([]Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.results[s.calls]
	s.calls++
	return r.changes, r.err
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestTheLoopReconcilesAtStartRetriesWhileTemporalFailsThenEveryIntervalAndLogsWhatItRepaired(t *testing.T) {
	down := errors.New("temporal: connection refused")
	recreated := Change{Kind: Create, ID: "hookflow:f:a", Reason: "missing"}
	s := &scripted{results: []result{
		{err: down}, {err: down}, {err: down}, // at start, Temporal not up yet
		{changes: []Change{recreated}}, // at start: done
		{},                             // first tick: in step
		{changes: []Change{recreated, {Kind: Update, ID: "hookflow:f:b", Reason: "edited in Temporal: spec"}}},
		{err: down},             // a tick while Temporal is away
		{},                      // the retry: in step
		{err: context.Canceled}, // never reached
	}}
	clock := newStepClock()
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Loop(ctx, LoopConfig{Interval: 3 * time.Minute, MaxRetryWait: 4 * time.Second, Clock: clock,
			Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, s.reconcile)
	}()

	// The waits the loop asks for, one per reconcile: backing off at
	// start (1 s, doubling, capped), then the interval; after a failed
	// tick, from 1 s again.
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 3 * time.Minute, 3 * time.Minute, 3 * time.Minute, time.Second, 3 * time.Minute}
	for i, w := range want {
		select {
		case got := <-clock.waits:
			require.Equal(t, w, got, "wait %d", i)
		case <-time.After(5 * time.Second):
			t.Fatalf("the loop asked for no wait %d", i)
		}
		if i < len(want)-1 {
			clock.fire <- time.Time{}
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not stop when its context ended")
	}
	require.Equal(t, len(want), s.calls)

	out := logs.String()
	require.Equal(t, 3, strings.Count(out, "schedules reconcile at start failed; retrying"), out)
	require.Contains(t, out, `msg="schedules reconciled at start" changes=1`)
	require.Equal(t, 2, strings.Count(out, "schedules reconciled: in step"), out)
	require.Contains(t, out, `msg="schedules reconciled: drift repaired" changes=2 changed="[create hookflow:f:a: missing update hookflow:f:b: edited in Temporal: spec]"`)
	require.Contains(t, out, `msg="schedules reconcile failed; retrying" error="temporal: connection refused"`)
}

func TestWithANegativeIntervalTheLoopReconcilesAtStartOnlyAndReturns(t *testing.T) {
	s := &scripted{results: []result{{err: errors.New("unavailable")}, {}}}
	clock := newStepClock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Loop(context.Background(), LoopConfig{Interval: -1, Clock: clock}, s.reconcile)
	}()
	require.Equal(t, time.Second, <-clock.waits)
	clock.fire <- time.Time{}
	select {
	case <-done:
	case w := <-clock.waits:
		t.Fatalf("the loop waits %s after reconciling at start", w)
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not return")
	}
	require.Equal(t, 2, s.calls)
}

func TestTheLoopStopsWhileWaitingWhenItsContextEnds(t *testing.T) {
	s := &scripted{results: []result{{}}}
	clock := newStepClock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Loop(ctx, LoopConfig{Clock: clock}, s.reconcile)
	}()
	require.Equal(t, DefaultInterval, <-clock.waits, "0 is the default interval")
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not stop")
	}
	require.Equal(t, 1, s.calls)
}

//go:build !nodev

package tests

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/hookflow/hookflow/api"
)

// TestRunsOfDelaysAllCompleteWithEveryTimerFired soaks the embedded
// server's timers through hookflow's real trigger, interpreter and worker:
// runs each with five 1 s delays one after another beside a concurrent loop
// of short (1 ms and 50 ms) delays. Every run completes and every timer it
// started fired, counted from the runs' histories. The suite runs 200;
// `make soak-timers` runs 2,000 (HOOKFLOW_SOAK_RUNS), about 6 minutes on
// two busy cores.
func TestRunsOfDelaysAllCompleteWithEveryTimerFired(t *testing.T) {
	if testing.Short() {
		t.Skip("runs of 15 timers each")
	}
	runs := envInt("HOOKFLOW_SOAK_RUNS", 200)
	const (
		longDelays  = 5
		loopLen     = 5
		shortDelays = 2 * loopLen
		perRun      = longDelays + shortDelays
	)
	s := setup(t, fmt.Sprintf(`
id: soak-timers
trigger: {mode: async}
steps:
  - id: both
    type: parallel
    branches:
      - steps:
          - {id: d1, type: delay, duration: 1s}
          - {id: d2, type: delay, duration: 1s}
          - {id: d3, type: delay, duration: 1s}
          - {id: d4, type: delay, duration: 1s}
          - {id: d5, type: delay, duration: 1s}
      - steps:
          - id: short
            type: loop
            over: "1..%d"
            concurrency: %d
            steps:
              - {id: tick, type: delay, duration: 1ms}
              - {id: tock, type: delay, duration: 50ms}
`, loopLen, loopLen))
	hook := s.hookURL("soak-timers")

	start := time.Now()
	ids := make([]string, runs)
	require.NoError(t, inParallel(runs, 16, func(i int) error {
		resp, err := http.Post(hook, "application/json", strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("trigger %d: status %d", i, resp.StatusCode)
		}
		ids[i] = resp.Header.Get(api.HeaderExecutionID)
		return nil
	}))
	triggered := time.Since(start)

	// Every run closes as completed: visibility counts them (it is written
	// asynchronously, so wait for it), and none closes otherwise.
	ctx := context.Background()
	countOf := func(q string) int64 {
		resp, err := s.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: "default", Query: `HookflowFlowId = 'soak-timers' AND ` + q,
		})
		require.NoError(t, err)
		return resp.GetCount()
	}
	deadline := time.Now().Add(15 * time.Minute)
	for countOf(`ExecutionStatus = 'Completed'`) < int64(runs) {
		require.Zero(t, countOf(`ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed'`), "a run closed other than completed")
		require.True(t, time.Now().Before(deadline), "not every run completed within 15 minutes")
		time.Sleep(time.Second)
	}
	elapsed := time.Since(start)

	// Every timer started fired, none was cancelled, and each run started
	// all of its own.
	var (
		mu                     sync.Mutex
		started, fired, others int
		short                  []string
		// lateness is how long after its due time each timer fired.
		lateness []time.Duration
	)
	require.NoError(t, inParallel(runs, 8, func(i int) error {
		var st, fi, ot int
		due := map[string]time.Time{}
		var late []time.Duration
		it := s.client.GetWorkflowHistory(ctx, ids[i], "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return fmt.Errorf("history of %s: %w", ids[i], err)
			}
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_TIMER_STARTED:
				st++
				a := e.GetTimerStartedEventAttributes()
				due[a.GetTimerId()] = e.GetEventTime().AsTime().Add(a.GetStartToFireTimeout().AsDuration())
			case enumspb.EVENT_TYPE_TIMER_FIRED:
				fi++
				late = append(late, e.GetEventTime().AsTime().Sub(due[e.GetTimerFiredEventAttributes().GetTimerId()]))
			case enumspb.EVENT_TYPE_TIMER_CANCELED:
				ot++
			}
		}
		mu.Lock()
		defer mu.Unlock()
		started, fired, others = started+st, fired+fi, others+ot
		lateness = append(lateness, late...)
		if st != perRun || fi != perRun {
			short = append(short, fmt.Sprintf("%s: %d started, %d fired", ids[i], st, fi))
		}
		return nil
	}))
	require.Empty(t, short, "runs whose timers did not all start and fire")
	require.Equal(t, runs*perRun, started)
	require.Equal(t, runs*perRun, fired)
	require.Zero(t, others, "cancelled timers")
	slices.Sort(lateness)
	t.Logf("%d runs, %d timers fired: triggered in %s, all completed %s after the first trigger (%.0f timers/s); fired after their due time by p50 %s, p99 %s, max %s",
		runs, fired, triggered.Round(time.Millisecond), elapsed.Round(time.Millisecond), float64(fired)/elapsed.Seconds(),
		lateness[len(lateness)/2].Round(time.Millisecond), lateness[len(lateness)*99/100].Round(time.Millisecond), lateness[len(lateness)-1].Round(time.Millisecond))
}

// inParallel calls fn(0..n-1) from the given number of goroutines and
// returns the first error (the remaining calls are skipped after one).
func inParallel(n, workers int, fn func(i int) error) error {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				if err := fn(i); err != nil {
					errOnce.Do(func() { first = err })
					next.Store(int64(n))
				}
			}
		}()
	}
	wg.Wait()
	return first
}

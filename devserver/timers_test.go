//go:build !nodev

package devserver_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/devserver"
)

// temporalTimerDefaults are Temporal's own values of the two timer-queue
// settings devserver changes: with them, a timer created within a second of
// the queue's last read fires no earlier than that read plus 1 s.
var temporalTimerDefaults = map[string]any{
	"history.timerProcessorMaxTimeShift": time.Second,
	"history.timerProcessorMaxPollRPS":   20,
}

// localThenTimer runs n times a local activity followed by a timer of d:
// the shape of a send's local first attempt followed by a 1 ms timer that
// starts the next workflow task.
func localThenTimer(ctx workflow.Context, n int, d time.Duration) error {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	for range n {
		if err := workflow.ExecuteLocalActivity(lctx, noop).Get(ctx, nil); err != nil {
			return err
		}
		if err := workflow.NewTimer(ctx, d).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

func noop(context.Context) error { return nil }

// sideBySide runs n local activities at once, each returning size bytes:
// the SDK completes the workflow task only when none is pending, so all n
// markers (each holding its result) go in one RespondWorkflowTaskCompleted.
func sideBySide(ctx workflow.Context, n, size int) error {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second})
	futures := make([]workflow.Future, n)
	for i := range futures {
		futures[i] = workflow.ExecuteLocalActivity(lctx, blob, size)
	}
	for _, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

func blob(_ context.Context, size int) (string, error) { return strings.Repeat("x", size), nil }

// timerServer starts an embedded server with the given dynamic config on
// top of devserver's defaults, and a worker running the test workflows.
func timerServer(t *testing.T, dyn map[string]any) sdkclient.Client {
	t.Helper()
	srv, err := devserver.Start(devserver.Options{DynamicConfig: dyn})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	c, err := sdkclient.Dial(sdkclient.Options{
		HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(),
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	w := worker.New(c, "timers", worker.Options{})
	w.RegisterWorkflow(localThenTimer)
	w.RegisterWorkflow(sideBySide)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return c
}

// runHistory starts a workflow, waits for it to close and returns its
// history.
func runHistory(t *testing.T, c sdkclient.Client, id string, wf any, args ...any) []*historypb.HistoryEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{ID: id, TaskQueue: "timers"}, wf, args...)
	require.NoError(t, err)
	_ = run.Get(ctx, nil) // a terminated run's error is read from its history
	var events []*historypb.HistoryEvent
	it := c.GetWorkflowHistory(ctx, id, run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		events = append(events, e)
	}
	return events
}

// timerGaps is, for each timer of a history in order, the time from its
// TimerStarted event to its TimerFired event; a timer that never fired
// fails the test.
func timerGaps(t *testing.T, events []*historypb.HistoryEvent) []time.Duration {
	t.Helper()
	started := map[string]time.Time{}
	var order []string
	fired := map[string]time.Duration{}
	for _, e := range events {
		if a := e.GetTimerStartedEventAttributes(); a != nil {
			started[a.GetTimerId()] = e.GetEventTime().AsTime()
			order = append(order, a.GetTimerId())
		}
		if a := e.GetTimerFiredEventAttributes(); a != nil {
			fired[a.GetTimerId()] = e.GetEventTime().AsTime().Sub(started[a.GetTimerId()])
		}
	}
	gaps := make([]time.Duration, 0, len(order))
	for _, id := range order {
		g, ok := fired[id]
		require.True(t, ok, "timer %s never fired", id)
		gaps = append(gaps, g)
	}
	return gaps
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// With Temporal's default timer-queue settings, every 1 ms timer that
// follows a local activity fires about a second after it started, and
// none hangs: the "timer after the 40th task never fired" of the
// first-attempt work was this floor (with that code a loop ran one
// workflow task per second: 60 sends one after another took 59 s, and
// nothing stalled). The queue sets
// the earliest fire time of a new timer to its last read plus
// history.timerProcessorMaxTimeShift (task_key_manager.go,
// getExclusiveReaderHighWatermark; task_key_generator.go, setTaskKeys),
// and each timer that fires is such a read.
func TestTemporalsDefaultTimerShiftHoldsEveryShortTimerForAboutASecond(t *testing.T) {
	if testing.Short() {
		t.Skip("waits about a second per timer")
	}
	c := timerServer(t, temporalTimerDefaults)
	const n = 8
	gaps := timerGaps(t, runHistory(t, c, "floor", localThenTimer, n, time.Millisecond))
	require.Len(t, gaps, n)
	t.Logf("1 ms timers after a local activity, Temporal's defaults: %v (median %v)", gaps, median(gaps))
	// The first timer may miss the floor (no read in the second before
	// it); every later one is created just after the read that fired the
	// one before it.
	for i, g := range gaps[1:] {
		require.Greater(t, g, 900*time.Millisecond, "timer %d of %d", i+2, n)
	}
}

// On the embedded server's settings a 1 ms timer after a local activity
// fires in milliseconds, every time, and a 50 ms timer fires after its
// 50 ms and long before the old 1 s floor. With Temporal's defaults
// (above) every such timer but the first takes over 900 ms, so this
// bound cannot pass without devserver's timer-queue settings.
func TestShortTimersFireWellUnderTheOldOneSecondFloorOnTheEmbeddedServer(t *testing.T) {
	c := timerServer(t, nil)
	const n = 40
	gaps := timerGaps(t, runHistory(t, c, "short-1ms", localThenTimer, n, time.Millisecond))
	require.Len(t, gaps, n)
	t.Logf("1 ms timers after a local activity: median %v, max %v", median(gaps), slices.Max(gaps))
	for i, g := range gaps {
		require.Less(t, g, 300*time.Millisecond, "1 ms timer %d of %d", i+1, n)
	}

	gaps = timerGaps(t, runHistory(t, c, "short-50ms", localThenTimer, 10, 50*time.Millisecond))
	require.Len(t, gaps, 10)
	t.Logf("50 ms timers after a local activity: median %v, max %v", median(gaps), slices.Max(gaps))
	for i, g := range gaps {
		require.GreaterOrEqual(t, g, 50*time.Millisecond, "50 ms timer %d fired early", i+1)
		require.Less(t, g, 350*time.Millisecond, "50 ms timer %d of 10", i+1)
	}
}

// Local activities side by side complete in one workflow task, and their
// markers travel in one RespondWorkflowTaskCompleted. Past gRPC's 4 MiB
// (the frontend sets no larger receive limit) the SDK fails the task with
// GRPC_MESSAGE_TOO_LARGE, and the history service terminates the run
// (service/history/api/respondworkflowtaskfailed/api.go): the "Temporal
// terminated the loop's run" of the first-attempt work. Below the limit
// the same workflow completes.
func TestMarkersOverFourMiBInOneWorkflowTaskGetTheRunTerminated(t *testing.T) {
	c := timerServer(t, nil)
	const size = 80 << 10

	// 32 × 80 KiB = 2.5 MiB of markers: one task, completed.
	events := runHistory(t, c, "markers-fit", sideBySide, 32, size)
	last := events[len(events)-1]
	require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, last.GetEventType())

	// 64 × 80 KiB = 5 MiB: over the limit.
	events = runHistory(t, c, "markers-too-large", sideBySide, 64, size)
	last = events[len(events)-1]
	require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, last.GetEventType())
	term := last.GetWorkflowExecutionTerminatedEventAttributes()
	require.Equal(t, "GrpcMessageTooLarge", term.GetReason())
	require.Equal(t, "history-service", term.GetIdentity())
	for _, e := range events {
		require.Nil(t, e.GetMarkerRecordedEventAttributes(), "no marker of the failed task reaches history")
	}
}

// Temporal can take a completion in pages (the SDK pages one when the
// namespace allows it; history.enableWorkflowTaskCompletionPagination is off
// by default), but that only moves the limit: the task's events are then
// one transaction over system.transactionSizeLimit (4 MiB), and the run is
// terminated all the same (persistence/history_manager.go, AppendHistoryNodes;
// respondworkflowtaskcompleted/api.go, Invoke). So no setting
// lifts the bound on what one workflow task carries; hookflow has to keep
// its tasks under it.
func TestPagedCompletionsStillEndAtTheTransactionSizeLimit(t *testing.T) {
	c := timerServer(t, map[string]any{"history.enableWorkflowTaskCompletionPagination": true})
	events := runHistory(t, c, "markers-paged", sideBySide, 64, 80<<10)
	last := events[len(events)-1]
	require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, last.GetEventType())
	term := last.GetWorkflowExecutionTerminatedEventAttributes()
	require.Equal(t, "Transaction size exceeds limit.", term.GetReason())
	require.Equal(t, "history-service", term.GetIdentity())
}

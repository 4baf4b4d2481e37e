//go:build !nodev

package tests

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/hookflow/hookflow/contract"
)

// Flow control at scale (make soak-flowcontrol; skipped unless
// HOOKFLOW_FC_SCALE is set): one key with 10,000 events waiting (its
// coordinator continues as new with the queue), and 10,000 events over
// 1,000 keys. Every event's run completes, once. A 503 is sent again, as
// senders do, and counted.
func TestFlowControlAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HOOKFLOW_FC_SCALE"))
	if n == 0 {
		t.Skip("set HOOKFLOW_FC_SCALE=10000 (make soak-flowcontrol)")
	}
	for _, tc := range []struct {
		name string
		keys int
	}{{"one key", 1}, {"1000 keys", 1000}} {
		t.Run(tc.name, func(t *testing.T) {
			flowID := fmt.Sprintf("it-fc-scale-%d", tc.keys)
			s := setup(t, fmt.Sprintf(`
id: %s
trigger:
  flowControl: {key: "{{ trigger.body.key }}", concurrency: 1}
steps: [{id: out, type: output, values: {n: "{{ trigger.body.n }}"}}]
`, flowID))
			hook := s.hookURL(flowID)
			began := time.Now()
			var next, failed, retried atomic.Int64
			var latMu sync.Mutex
			var lat []time.Duration
			var slowKey string
			var wg sync.WaitGroup
			for c := 0; c < 16; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(n) {
							return
						}
						// As a webhook sender does: a 503 (Temporal slow to
						// answer) is sent again, with the same key, later.
						for attempt := 0; ; attempt++ {
							sent := time.Now()
							st, h, body, err := postJSON(hook, fmt.Sprintf(`{"key":"k%d","n":%d}`, i%int64(tc.keys), i), "Idempotency-Key", fmt.Sprint("scale-", i))
							took := time.Since(sent)
							latMu.Lock()
							lat = append(lat, took)
							if took > 2*time.Second && slowKey == "" {
								slowKey = fmt.Sprintf("k%d", i%int64(tc.keys))
							}
							latMu.Unlock()
							if err == nil && st == http.StatusOK {
								break
							}
							if retried.Add(1) <= 5 {
								t.Logf("event %d: %d %s %v (Retry-After %s)", i, st, body, err, h.Get("Retry-After"))
							}
							if attempt == 5 {
								failed.Add(1)
								break
							}
							time.Sleep(time.Second)
						}
					}
				}()
			}
			wg.Wait()
			accepted := time.Since(began)
			if failed.Load() > 0 || os.Getenv("FC_DEBUG") != "" {
				shown := 0
				for _, l := range strings.Split(logs.String(), "\n") {
					if (strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN")) && shown < 40 {
						t.Log(l)
						shown++
					}
				}
			}
			require.Zero(t, failed.Load(), "events refused after 5 retries")
			// Since the keys' worker polls its normal queue under a burst
			// (worker.newKeyWorker), every admission is answered well
			// within the API's 10 s on a quiet machine.
			require.Zero(t, retried.Load(), "answers to send again (503: an admission waited 10 s)")
			if tc.keys == 1 {
				t.Logf("waiting on the key after acceptance: %d", keyView(t, s, flowID, "k0").Waiting)
			}
			count := func(q string) int64 {
				resp, err := s.client.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{Query: q})
				require.NoError(t, err)
				return resp.GetCount()
			}
			q := fmt.Sprintf("WorkflowType = %q AND HookflowFlowId = %q", contract.WorkflowName, flowID)
			require.Eventually(t, func() bool {
				return count(q+` AND ExecutionStatus = "Completed"`) == int64(n)
			}, 30*time.Minute, 2*time.Second, "not every event's run completed")
			total := time.Since(began)
			require.EqualValues(t, n, count(q), "runs started")
			hand := count(fmt.Sprintf("WorkflowType = %q AND ExecutionStatus = \"ContinuedAsNew\" AND WorkflowId STARTS_WITH %q",
				contract.CoordinatorWorkflowName, contract.CoordinatorID(flowID, "")))
			slices.Sort(lat)
			pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))].Round(time.Millisecond) }
			t.Logf("%s: answer times p50 %s, p99 %s, max %s; answers over 2 s: %d", tc.name, pct(0.5), pct(0.99), pct(1),
				len(lat)-sort.Search(len(lat), func(i int) bool { return lat[i] > 2*time.Second }))
			logTaskTimeouts(t, s, flowID)
			if slowKey != "" && os.Getenv("FC_DEBUG") != "" {
				dumpCoordinator(t, s, flowID, slowKey)
			}
			t.Logf("%s: %d events accepted in %s (%.0f/s; %d answers to send again), all completed after %s (%.0f/s); coordinator hand-overs %d",
				tc.name, n, accepted.Round(time.Millisecond), float64(n)/accepted.Seconds(), retried.Load(), total.Round(time.Millisecond), float64(n)/total.Seconds(), hand)
		})
	}
}

// logTaskTimeouts logs the workflow tasks of the flow's coordinators that
// timed out, by kind: a task no poller took in time (schedule-to-start: a
// sticky queue's, or a speculative update task's) is what an admission
// that waits 5 s or more meets.
func logTaskTimeouts(t *testing.T, s *stack, flowID string) {
	t.Helper()
	ctx := context.Background()
	byType := map[string]int{}
	coordinators, withTimeout := 0, 0
	var token []byte
	for {
		resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = %q AND WorkflowId STARTS_WITH %q", contract.CoordinatorWorkflowName,
				contract.CoordinatorID(flowID, "")),
			NextPageToken: token,
		})
		require.NoError(t, err)
		for _, e := range resp.GetExecutions() {
			coordinators++
			found := false
			it := s.client.GetWorkflowHistory(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				require.NoError(t, err)
				if a := ev.GetWorkflowTaskTimedOutEventAttributes(); a != nil {
					byType[a.GetTimeoutType().String()]++
					found = true
				}
			}
			if found {
				withTimeout++
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	t.Logf("coordinator runs %d, with a workflow task timed out %d; timeouts by type %v", coordinators, withTimeout, byType)
}

// dumpCoordinator logs the history of a key's first coordinator run (the
// key of the first slow answer), for FC_DEBUG.
func dumpCoordinator(t *testing.T, s *stack, flowID, key string) {
	t.Helper()
	ctx := context.Background()
	resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = %q", contract.CoordinatorID(flowID, key)),
	})
	require.NoError(t, err)
	for _, e := range resp.GetExecutions() {
		t.Logf("coordinator %s run %s started %s status %s", key, e.GetExecution().GetRunId(), e.GetStartTime().AsTime().Format("15:04:05.000"), e.GetStatus())
		it := s.client.GetWorkflowHistory(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for n := 0; it.HasNext() && n < 40; n++ {
			ev, err := it.Next()
			require.NoError(t, err)
			extra := ""
			if a := ev.GetWorkflowTaskScheduledEventAttributes(); a != nil {
				extra = a.GetTaskQueue().GetName() + " " + a.GetTaskQueue().GetKind().String()
			}
			if a := ev.GetWorkflowTaskStartedEventAttributes(); a != nil {
				extra = a.GetIdentity()
			}
			t.Logf("  %s %s %s", ev.GetEventTime().AsTime().Format("15:04:05.000"), ev.GetEventType(), extra)
		}
	}
}

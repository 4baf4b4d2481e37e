//go:build !nodev

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// TestLoopOfTenThousandSends runs one flow whose loop sends 10,000
// webhooks, on the embedded server with its default limits: every element
// is received exactly once, the run completes, and no run of its
// continue-as-new chain comes near Temporal's history warning limit (10,240
// events). HOOKFLOW_LONGRUN_SENDS and HOOKFLOW_LONGRUN_CONCURRENCY change the
// size and the loop's concurrency for measuring (docs/performance.md).
func TestLoopOfTenThousandSends(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 10,000 webhooks")
	}
	sends, concurrency := envInt("HOOKFLOW_LONGRUN_SENDS", 10_000), envInt("HOOKFLOW_LONGRUN_CONCURRENCY", 16)

	var mu sync.Mutex
	got := map[string]int{}
	keys := map[string]bool{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			N json.Number `json:"n"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		mu.Lock()
		got[body.N.String()]++
		keys[r.Header.Get("Idempotency-Key")] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(recv.Close)

	s := setup(t, fmt.Sprintf(`
id: longrun
trigger: {mode: async}
steps:
  - id: each
    type: loop
    over: "1..%d"
    max: 100000
    concurrency: %d
    steps:
      - {id: send, type: http, method: POST, url: "%s/item", body: {mode: keyValue, fields: {n: "{{ item }}"}}}
  - {id: done, type: set, values: {sent: "{{ steps.each.outputs.count }}"}}
`, sends, concurrency, recv.URL))

	start := time.Now()
	a := post(t, s.hookURL("longrun"), "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get("Hookflow-Execution-Id")
	require.NotEmpty(t, id)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var res struct {
		Status   string `json:"status"`
		StepsRun int    `json:"stepsRun"`
	}
	// GetWorkflow follows the continue-as-new chain to its last run.
	require.NoError(t, s.client.GetWorkflow(ctx, id, "").Get(ctx, &res))
	elapsed := time.Since(start)
	require.Equal(t, "succeeded", res.Status)
	require.Equal(t, sends+2, res.StepsRun, "the loop, each send once, the last step")

	mu.Lock()
	require.Len(t, got, sends, "every element received")
	for n, c := range got {
		require.Equal(t, 1, c, "element %s received %d times", n, c)
	}
	require.Len(t, keys, sends, "one idempotency key per delivery")
	mu.Unlock()

	// Every run of the chain stayed far inside the history limits.
	// Visibility is written asynchronously: wait until it shows every run
	// of the chain closed (GetWorkflow already saw the last one complete).
	var (
		runs                []string
		maxEvents, maxBytes int
		open                bool
	)
	require.Eventually(t, func() bool {
		runs, maxEvents, maxBytes, open = chainHistories(t, s, id)
		return !open
	}, 15*time.Second, 200*time.Millisecond, "visibility never showed the chain's last run closed")
	require.Greater(t, len(runs), 1, "a run this long must have continued as new")
	require.Less(t, maxEvents, 10_240, "a run of the chain reached Temporal's history warning limit")
	// The executions API lists the execution once (its latest run), not
	// once per run of the chain.
	admin := setupAdmin(t)
	require.Eventually(t, func() bool {
		a := admin.call("GET", "/api/v1/flows/longrun/executions", readKey, "", "")
		var list struct {
			Executions []struct{ ID, Status string } `json:"executions"`
		}
		if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &list) != nil {
			return false
		}
		return len(list.Executions) == 1 && list.Executions[0].ID == id && list.Executions[0].Status == "completed"
	}, 15*time.Second, 200*time.Millisecond, "the executions list shows the chain as one execution")
	t.Logf("%d sends at concurrency %d: %s (%.0f sends/s); %d runs in the chain, at most %d events and %d KiB of history per run",
		sends, concurrency, elapsed.Round(time.Millisecond), float64(sends)/elapsed.Seconds(), len(runs), maxEvents, maxBytes/1024)
}

// chainHistories lists the runs of a workflow id (its continue-as-new chain)
// and the largest history among them, in events and bytes.
func chainHistories(t *testing.T, s *stack, id string) (runs []string, maxEvents, maxBytes int, open bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var token []byte
	for {
		resp, err := s.client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = %q", id), PageSize: 1000, NextPageToken: token,
		})
		require.NoError(t, err)
		for _, e := range resp.GetExecutions() {
			runs = append(runs, e.GetExecution().GetRunId())
			switch e.GetStatus() {
			case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
			case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
				open = true
			default:
				t.Errorf("run %s ended %s", e.GetExecution().GetRunId(), e.GetStatus())
			}
			maxEvents = max(maxEvents, int(e.GetHistoryLength()))
			maxBytes = max(maxBytes, int(e.GetHistorySizeBytes()))
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return runs, maxEvents, maxBytes, open
		}
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

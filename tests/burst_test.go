//go:build !nodev

package tests

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/worker"
)

// An async trigger is answered once its run has started, whether the run's
// first workflow task came back with the start (eager start: the API and
// the worker share a process) or goes through matching because the worker
// already holds its limit of eager tasks. Under a burst from many callers
// every trigger is accepted and every run completes, delivering once,
// counted outside hookflow: by the runs' results and at the receiver.
func TestABurstOfAsyncTriggersIsAllAcceptedAndEveryRunCompletesOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts another embedded server")
	}
	// A server of its own: only this test's workers poll its queues, so
	// every run is started and run under the limit being tested.
	srv, c, err := startStack("")
	require.NoError(t, err)
	defer srv.Stop()
	defer c.Close()

	const triggers, callers = 200, 32
	for i, tc := range []struct {
		name     string
		maxEager int
	}{
		{"with no eager start", -1},
		{"with one eager start at a time", 1},
		{"with the default eager limit", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := worker.New(c, testDeliverer(), worker.Options{MaxEagerStarts: tc.maxEager})
			require.NoError(t, w.Start())
			defer w.Stop()

			// Each delivery is counted by its Idempotency-Key, per trigger.
			keys := map[string]map[string]bool{}
			rcv := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) })
			flowID := fmt.Sprintf("it-burst-%d", i)
			s := setupWith(t, c, `
id: `+flowID+`
trigger: {}
steps:
  - {id: send, type: http, method: POST, url: "`+rcv.URL+`/burst", body: {mode: keyValue, fields: {n: "{{ trigger.body.n }}"}}}
`)

			ids := make([]string, triggers)
			errs := make([]error, triggers)
			next := make(chan int)
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					for n := range next {
						ids[n], errs[n] = postAsync(s.hookURL(flowID), fmt.Sprintf(`{"n":%d}`, n))
					}
				})
			}
			for n := range triggers {
				next <- n
			}
			close(next)
			wg.Wait()
			seen := map[string]bool{}
			for n := range triggers {
				require.NoError(t, errs[n], "trigger %d", n)
				require.False(t, seen[ids[n]], "trigger %d: execution id %s answered twice", n, ids[n])
				seen[ids[n]] = true
			}

			for _, id := range ids {
				_, err := s.result(id)
				require.NoError(t, err, "run %s", id)
			}
			require.Equal(t, int64(triggers), s.settledCount(flowID, triggers), "one run per trigger, no more")
			for _, h := range rcv.all() {
				n := gjson.Get(h.body, "n").String()
				if keys[n] == nil {
					keys[n] = map[string]bool{}
				}
				keys[n][h.header.Get("Idempotency-Key")] = true
			}
			require.Len(t, keys, triggers, "a delivery from every run")
			for n, k := range keys {
				require.Len(t, k, 1, "trigger %s: one delivery (a retry keeps its key)", n)
			}
		})
	}
}

// postAsync sends one async trigger and returns its execution id; an
// answer other than 200 is an error (this test's flow answers 200).
func postAsync(url, body string) (string, error) {
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	id := resp.Header.Get(api.HeaderExecutionID)
	if id == "" {
		return "", fmt.Errorf("no %s header", api.HeaderExecutionID)
	}
	return id, nil
}

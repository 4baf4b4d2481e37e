//go:build !nodev

package tests

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/devserver"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/worker"
)

// startRuns starts n runs of f the way a trigger does (StartOptions: the
// id, the search attributes), at most 16 at a time, and returns their ids.
// Event ids are the prefix and a number.
func startRuns(t *testing.T, c sdkclient.Client, f *flow.Flow, prefix string, n int, adjust func(*sdkclient.StartWorkflowOptions)) []string {
	t.Helper()
	ids := make([]string, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		opts := contract.StartOptions(f, 1, fmt.Sprintf("%s%05d", prefix, i))
		if adjust != nil {
			adjust(&opts)
		}
		ids[i] = opts.ID
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			in := contract.Input{Flow: f, FlowVersion: 1, Trigger: map[string]any{
				"body": map[string]any{}, "headers": map[string]any{}, "query": map[string]any{},
			}}
			if _, err := c.ExecuteWorkflow(ctx, opts, contract.WorkflowName, in); err != nil {
				errs <- fmt.Errorf("start %s: %w", opts.ID, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return ids
}

func decodeFlow(t *testing.T, y string) *flow.Flow {
	t.Helper()
	f, err := flow.DecodeYAML([]byte(y))
	require.NoError(t, err)
	return f
}

// awaitClosed waits until visibility shows n closed runs of a flow with the
// given status (Completed, Terminated, ...).
func awaitClosed(t *testing.T, c sdkclient.Client, flowID, status string, n int64, within time.Duration) {
	t.Helper()
	var got int64
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: fmt.Sprintf("HookflowFlowId = %q AND ExecutionStatus = %q", flowID, status),
		})
		if err != nil {
			return false
		}
		got = resp.GetCount()
		return got >= n
	}, within, 250*time.Millisecond, "visibility never showed %d %s run(s) of %s", n, status, flowID)
}

// listAll pages through a flow's executions with nextPageToken until the
// token is empty, and returns how often each id was seen and the pages.
func (s *adminStack) listAll(flowID string, pageSize int) (map[string]int, int) {
	s.t.Helper()
	seen := map[string]int{}
	token, pages := "", 0
	for {
		q := url.Values{"pageSize": {fmt.Sprint(pageSize)}}
		if token != "" {
			q.Set("nextPageToken", token)
		}
		start := time.Now()
		a := s.call("GET", "/api/v1/flows/"+flowID+"/executions?"+q.Encode(), readKey, "", "")
		require.Equal(s.t, http.StatusOK, a.status, "page %d after %s: %s", pages+1, time.Since(start), a.body)
		pages++
		m := a.json(s.t)
		for _, e := range m["executions"].([]any) {
			seen[e.(map[string]any)["id"].(string)]++
		}
		token = m["nextPageToken"].(string)
		if token == "" {
			return seen, pages
		}
		require.Less(s.t, pages, 100, "paging does not end")
	}
}

// 3,000 runs listed 1,000 per page through the admin API: every run once,
// no error (the embedded server used to answer ResourceExhausted, which the
// API reported as 503 "unreachable" after 10 s).
func TestListThreeThousandExecutionsInPagesOfAThousand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3,000 runs")
	}
	s := setupAdmin(t)
	f := decodeFlow(t, `{id: it-exec-many, trigger: {}, steps: [{id: s, type: set, values: {x: 1}}]}`)
	const n = 3000
	began := time.Now()
	ids := startRuns(t, s.client, f, "e", n, nil)
	awaitClosed(t, s.client, f.ID, "Completed", n, 5*time.Minute)
	t.Logf("%d runs started and completed in %s", n, time.Since(began).Round(time.Millisecond))

	began = time.Now()
	seen, pages := s.listAll(f.ID, 1000)
	t.Logf("listed in %d pages in %s", pages, time.Since(began).Round(time.Millisecond))
	require.Len(t, seen, n)
	for _, id := range ids {
		require.Equal(t, 1, seen[id], "run %s seen %d times", id, seen[id])
	}
	require.LessOrEqual(t, pages, 4)
}

// One name for the page token in and out (nextPageToken; pageToken stays
// an alias), and parameters the route does not take are refused by name.
func TestExecutionsPagingParameters(t *testing.T) {
	s := setupAdmin(t)
	f := decodeFlow(t, `{id: it-exec-pages, trigger: {}, steps: [{id: s, type: set, values: {x: 1}}]}`)
	ids := startRuns(t, s.client, f, "p", 5, nil)
	awaitClosed(t, s.client, f.ID, "Completed", 5, 30*time.Second)

	base := "/api/v1/flows/it-exec-pages/executions"
	a := s.call("GET", base+"?pageSize=2", readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	page1 := a.json(t)
	require.Len(t, page1["executions"], 2)
	next := page1["nextPageToken"].(string)
	require.NotEmpty(t, next)

	// The answer's nextPageToken goes back as nextPageToken...
	a = s.call("GET", base+"?pageSize=2&nextPageToken="+url.QueryEscape(next), readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	page2 := a.json(t)
	require.Len(t, page2["executions"], 2)
	require.NotEqual(t, toJSON(t, page1["executions"]), toJSON(t, page2["executions"]))
	// ...and pageToken, the old name, gives the same page.
	a = s.call("GET", base+"?pageSize=2&pageToken="+url.QueryEscape(next), readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, toJSON(t, page2["executions"]), toJSON(t, a.json(t)["executions"]))
	// An empty nextPageToken is the first page.
	a = s.call("GET", base+"?pageSize=2&nextPageToken=", readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, toJSON(t, page1["executions"]), toJSON(t, a.json(t)["executions"]))

	// Paging to the end sees every run once.
	seen, pages := s.listAll(f.ID, 2)
	require.Equal(t, 3, pages)
	require.Len(t, seen, len(ids))
	for _, id := range ids {
		require.Equal(t, 1, seen[id], id)
	}

	for _, tc := range []struct{ query, path, detail string }{
		{"pageSize=2&page_token=" + url.QueryEscape(next), "query.page_token", `unknown query parameter "page_token"; this route takes status, pageSize, nextPageToken, pageToken`},
		{"limit=5", "query.limit", `unknown query parameter "limit"`},
		{"nextPageToken=%25%25", "query.nextPageToken", "nextPageToken is not a token this API gave"},
		{"nextPageToken=" + url.QueryEscape(next) + "&pageToken=other", "query.pageToken", "nextPageToken and pageToken (its alias) differ"},
	} {
		a = s.call("GET", base+"?"+tc.query, readKey, "", "")
		require.Equal(t, http.StatusBadRequest, a.status, tc.query+": "+a.body)
		m := a.json(t)
		require.Equal(t, tc.path, m["path"], a.body)
		require.Contains(t, m["detail"], tc.detail)
	}
	// Every admin route refuses what it does not take, not only the list.
	a = s.call("GET", "/api/v1/executions/"+ids[0]+"?verbose=1", readKey, "", "")
	require.Equal(t, http.StatusBadRequest, a.status, a.body)
	require.Equal(t, "query.verbose", a.json(t)["path"])
	require.Equal(t, "unknown_parameter", a.json(t)["error"])
}

const delayFlow = `
id: %s
trigger: {}
steps:
  - {id: first, type: set, values: {x: 1}}
  - {id: wait, type: delay, duration: 1h}
  - {id: after, type: set, values: {y: 2}}
`

// awaitWaiting waits until the run's step log shows its delay running.
func awaitWaiting(t *testing.T, s *stack, id string) {
	t.Helper()
	require.Eventually(t, func() bool {
		v, err := s.client.QueryWorkflow(context.Background(), id, "", contract.QuerySteps)
		if err != nil {
			return false
		}
		var log contract.StepLog
		if v.Get(&log) != nil {
			return false
		}
		for _, r := range log.Steps {
			if r.ID == "wait" && r.Status == contract.StatusRunning {
				return true
			}
		}
		return false
	}, 15*time.Second, 50*time.Millisecond, "the run never waited in its delay")
}

// stepByID finds the latest record of a step in an execution answer.
func stepByID(t *testing.T, m map[string]any, id string) map[string]any {
	t.Helper()
	steps, ok := m["steps"].(map[string]any)
	require.True(t, ok, "no step log: %v", m["stepsError"])
	var found map[string]any
	for _, r := range steps["steps"].([]any) {
		if rec := r.(map[string]any); rec["id"] == id {
			found = rec
		}
	}
	require.NotNil(t, found, "no record of %s in %v", id, steps)
	return found
}

// A run terminated from outside says so in the executions API: the reason
// and who gave it, and the step it was in shows it was interrupted, why.
func TestTerminatedRunShowsTheReason(t *testing.T) {
	s := setupAdmin(t)
	f := decodeFlow(t, fmt.Sprintf(delayFlow, "it-exec-term"))
	id := startRuns(t, s.client, f, "t", 1, nil)[0]
	awaitWaiting(t, s.stack, id)
	require.NoError(t, s.client.TerminateWorkflow(context.Background(), id, "", "stopped by test"))

	a := s.call("GET", "/api/v1/executions/"+id, readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	m := a.json(t)
	require.Equal(t, "terminated", m["status"])
	why := m["closeReason"].(map[string]any)
	require.Equal(t, "terminated", why["kind"])
	require.Equal(t, "stopped by test", why["reason"])
	require.NotEmpty(t, why["identity"], "who terminated it")
	require.Contains(t, why["detail"], "stopped by test")
	require.Contains(t, why["detail"], why["identity"])

	require.Equal(t, "succeeded", stepByID(t, m, "first")["status"])
	wait := stepByID(t, m, "wait")
	require.Equal(t, api.StatusInterrupted, wait["status"])
	require.Contains(t, wait["error"], "stopped by test")
	require.Equal(t, m["closedAt"], wait["endedAt"])
}

// A run that timed out names the timeout; a failed one its failure message.
func TestTimedOutAndFailedRunsShowWhy(t *testing.T) {
	s := setupAdmin(t)
	f := decodeFlow(t, fmt.Sprintf(delayFlow, "it-exec-timeout"))
	exec := startRuns(t, s.client, f, "x", 1, func(o *sdkclient.StartWorkflowOptions) {
		o.WorkflowExecutionTimeout = 2 * time.Second
	})[0]
	run := startRuns(t, s.client, f, "r", 1, func(o *sdkclient.StartWorkflowOptions) {
		o.WorkflowRunTimeout = 2 * time.Second
	})[0]
	failing := decodeFlow(t, `{id: it-exec-fail, trigger: {}, steps: [{id: stop, type: end, status: failure, message: "refused order {{ 40 + 2 }}"}]}`)
	failed := startRuns(t, s.client, failing, "f", 1, nil)[0]

	awaitClosed(t, s.client, f.ID, "TimedOut", 2, 30*time.Second)
	for id, which := range map[string]string{exec: "execution", run: "run"} {
		a := s.call("GET", "/api/v1/executions/"+id, readKey, "", "")
		require.Equal(t, http.StatusOK, a.status, a.body)
		m := a.json(t)
		require.Equal(t, "timedout", m["status"])
		why := m["closeReason"].(map[string]any)
		require.Equal(t, "timedout", why["kind"], a.body)
		require.Equal(t, which, why["timeout"], a.body)
		require.Equal(t, "2s", why["timeoutAfter"], a.body)
		require.Contains(t, why["detail"], "workflow "+which+" timeout (2s)")
		wait := stepByID(t, m, "wait")
		require.Equal(t, api.StatusInterrupted, wait["status"])
		require.Contains(t, wait["error"], which+" timeout")
	}

	_, err := s.result(failed)
	require.Error(t, err)
	a := s.call("GET", "/api/v1/executions/"+failed, readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	m := a.json(t)
	require.Equal(t, "failed", m["status"])
	why := m["closeReason"].(map[string]any)
	require.Equal(t, "failed", why["kind"])
	require.Equal(t, "refused order 42", why["message"])
	require.Equal(t, "the run failed: refused order 42", why["detail"])

	// A completed run has no close reason.
	ok := startRuns(t, s.client, decodeFlow(t, `{id: it-exec-ok, trigger: {}, steps: [{id: s, type: set, values: {x: 1}}]}`), "o", 1, nil)[0]
	_, err = s.result(ok)
	require.NoError(t, err)
	a = s.call("GET", "/api/v1/executions/"+ok, readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.NotContains(t, a.body, "closeReason")
}

// A run Temporal itself terminates at its history event limit says so
// plainly, not as an anonymous termination. The server here allows 20
// events per run (far below its continue-as-new suggestion, so the flow
// never hands over), and the flow waits in a loop of one-second delays.
func TestRunTerminatedAtTheHistoryLimitSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own embedded server")
	}
	srv, err := devserver.Start(devserver.Options{
		SearchAttributes: contract.SearchAttributeTypes(),
		Logger:           slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		DynamicConfig:    map[string]any{"limit.historyCount.error": 20},
	})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	c, err := sdkclient.Dial(sdkclient.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(), Logger: sdklog.NewStructuredLogger(testLog)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	w := worker.New(c, testDeliverer(), worker.Options{})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	h := httptest.NewServer(api.New(c, catalog(t), testLog, testAPIConfig(nil)).Handler())
	t.Cleanup(h.Close)
	s := &adminStack{stack: &stack{t: t, client: c, url: h.URL}}

	f := decodeFlow(t, `
id: it-exec-limit
trigger: {}
steps:
  - id: each
    type: loop
    over: "1..20"
    steps: [{id: wait, type: delay, duration: 1s}]
`)
	id := startRuns(t, c, f, "l", 1, nil)[0]
	_, err = s.result(id)
	require.ErrorContains(t, err, "terminated")

	a := s.call("GET", "/api/v1/executions/"+id, readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	m := a.json(t)
	require.Equal(t, "terminated", m["status"])
	why := m["closeReason"].(map[string]any)
	require.Equal(t, "history_limit", why["kind"], a.body)
	require.Equal(t, "history count", why["limit"], a.body)
	require.Equal(t, "Temporal terminated the run because its event history grew past the server's event count limit (limit.historyCount.error)", why["detail"])
	require.Equal(t, "history-service", why["identity"])
	// The loop and the delay it was in were interrupted; earlier delays
	// had finished.
	for _, id := range []string{"each", "wait"} {
		rec := stepByID(t, m, id)
		require.Equal(t, api.StatusInterrupted, rec["status"], a.body)
		require.Equal(t, "interrupted: "+why["detail"].(string), rec["error"])
	}
	require.Equal(t, "succeeded", m["steps"].(map[string]any)["steps"].([]any)[1].(map[string]any)["status"])
}

// When Temporal throttles a request, the caller gets 429 with Retry-After
// and the limit named, at once, not 503 "unreachable" after the SDK's
// retries ran out.
func TestThrottledListAnswers429(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own embedded server")
	}
	srv, err := devserver.Start(devserver.Options{
		SearchAttributes: contract.SearchAttributeTypes(),
		Logger:           slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		// One visibility request per second for the namespace.
		DynamicConfig: map[string]any{"frontend.namespaceRPS.visibility": 1},
	})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)
	c, err := sdkclient.Dial(sdkclient.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(), Logger: sdklog.NewStructuredLogger(testLog)})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	h := httptest.NewServer(api.New(c, catalog(t), testLog, testAPIConfig(nil)).Handler())
	t.Cleanup(h.Close)
	s := &adminStack{stack: &stack{t: t, client: c, url: h.URL}}

	var throttled answer
	for i := 0; i < 10 && throttled.status == 0; i++ {
		start := time.Now()
		a := s.call("GET", "/api/v1/flows/it-throttled/executions", readKey, "", "")
		switch a.status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			require.Less(t, time.Since(start), 3*time.Second, "a throttled request is answered at once")
			throttled = a
		default:
			require.Failf(t, "unexpected answer", "%d %s", a.status, a.body)
		}
	}
	require.Equal(t, http.StatusTooManyRequests, throttled.status, "ten requests in a row at 1 per second are throttled")
	require.Equal(t, "1", throttled.header.Get("Retry-After"))
	m := throttled.json(t)
	require.Equal(t, "rate_limited", m["error"])
	require.True(t, strings.HasPrefix(m["detail"].(string), "Temporal refused the request: it reached the namespace's request rate limit ("), m["detail"])
}

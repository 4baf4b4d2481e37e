//go:build !nodev

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/devserver"
	"github.com/hookflow/hookflow/worker"
)

// gathered is what a gathered run sent its receiver.
type gathered struct {
	N      float64   `json:"n"`
	Events float64   `json:"events"`
	Key    string    `json:"key"`
	IDs    []float64 `json:"ids"`
	Size   float64   `json:"size"`
}

func receivedRuns(t *testing.T, r *receiver) []gathered {
	t.Helper()
	var out []gathered
	for _, h := range r.all() {
		var g gathered
		require.NoError(t, json.Unmarshal([]byte(h.body), &g), h.body)
		out = append(out, g)
	}
	return out
}

// flowExecutions lists a flow's executions through the executions API.
func flowExecutions(t *testing.T, s *stack, flowID string) []string {
	t.Helper()
	a := send(t, "GET", s.url+"/api/v1/flows/"+flowID+"/executions", "", "Authorization", "Bearer "+readKey)
	require.Equal(t, http.StatusOK, a.status, a.body)
	var page struct {
		Executions []struct {
			ID string `json:"id"`
		} `json:"executions"`
	}
	require.NoError(t, json.Unmarshal([]byte(a.body), &page))
	var ids []string
	for _, e := range page.Executions {
		ids = append(ids, e.ID)
	}
	sort.Strings(ids)
	return ids
}

// awaitExecutions waits until the executions API lists want (sorted), then
// checks for a while that nothing more appears.
func awaitExecutions(t *testing.T, s *stack, flowID string, want []string, settle time.Duration) {
	t.Helper()
	sort.Strings(want)
	require.Eventually(t, func() bool { return fmt.Sprint(flowExecutions(t, s, flowID)) == fmt.Sprint(want) },
		20*time.Second, 100*time.Millisecond, "executions of %s: %v; want %v", flowID, flowExecutions(t, s, flowID), want)
	time.Sleep(settle)
	require.Equal(t, want, flowExecutions(t, s, flowID), "a run more appeared")
}

func gatherView(t *testing.T, s *stack, flowID, key string) contract.GatherView {
	t.Helper()
	v, err := s.client.QueryWorkflow(context.Background(), contract.GatherID(flowID, key), "", contract.QueryGather)
	require.NoError(t, err)
	var view contract.GatherView
	require.NoError(t, v.Get(&view))
	return view
}

// A burst of 30 events in 2 s for one key, with a 1 s debounce, is one run,
// with the last event, started once the key was quiet for the period. Each
// event is answered at once with the trigger's response and the key.
func TestADebouncedBurstOfThirtyEventsIsOneRunWithTheLastEvent(t *testing.T) {
	recv := newReceiver(t, okJSON(`{}`))
	id := uniqueFlowID("it-debounce")
	s := setup(t, fmt.Sprintf(`
id: %s
trigger: {mode: async, response: {status: 202, body: {queued: true}}, flowControl: {key: "{{ trigger.body.customer }}", debounce: {period: 1s}}}
steps:
  - {id: send, type: http, method: POST, url: "%s/d", body: {mode: keyValue, fields: {n: "{{ trigger.body.n }}", events: "{{ trigger.debounced.events }}", key: "{{ trigger.debounced.key }}"}}}
`, id, recv.URL))
	var last time.Time // when the last event was sent: it was taken after
	for i := range 30 {
		last = time.Now()
		a := post(t, s.hookURL(id), "application/json", fmt.Sprintf(`{"customer":"cus_42","n":%d}`, i), "Idempotency-Key", fmt.Sprintf("evt-%02d", i))
		require.Equal(t, http.StatusAccepted, a.status, a.body)
		require.JSONEq(t, `{"queued":true}`, a.body)
		require.Equal(t, "cus_42", a.header.Get(api.HeaderFlowKey))
		require.Empty(t, a.header.Get(api.HeaderExecutionID), "no run exists yet")
		time.Sleep(50 * time.Millisecond)
	}
	// A retried delivery of an event already gathered changes nothing.
	a := post(t, s.hookURL(id), "application/json", `{"customer":"cus_42","n":28}`, "Idempotency-Key", "evt-28")
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	// The window is still open (the last event came less than the period
	// ago): its state is visible to operators.
	v := gatherView(t, s, id, "cus_42")
	require.Equal(t, "debounce", v.Kind)
	require.Equal(t, 30, v.Pending, "%+v", v)
	require.NotNil(t, v.NextFlush)
	require.Zero(t, v.Runs)

	awaitExecutions(t, s, id, []string{id + ":evt-29"}, 1500*time.Millisecond)
	require.Eventually(t, func() bool { return len(recv.all()) == 1 }, 10*time.Second, 50*time.Millisecond)
	got := receivedRuns(t, recv)
	require.Len(t, got, 1)
	require.Equal(t, gathered{N: 29, Events: 30, Key: "cus_42"}, got[0])
	require.GreaterOrEqual(t, recv.all()[0].at.Sub(last), time.Second, "the run starts once the key was quiet for the period")
	run, err := s.client.DescribeWorkflowExecution(context.Background(), id+":evt-29", "")
	require.NoError(t, err)
	key := run.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[contract.SearchAttrFlowKey.GetName()]
	require.NotNil(t, key, "the run carries its key as a search attribute")
	require.Contains(t, string(key.GetData()), "cus_42")

	// The gather workflow's history replays against the current code.
	h := runHistory(t, s, contract.GatherID(id, "cus_42"), "")
	replayer := sdkworker.NewWorkflowReplayer()
	worker.Register(replayer)
	require.NoError(t, replayer.ReplayWorkflowHistoryWithOptions(nil, h, sdkworker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: contract.GatherID(id, "cus_42")},
	}))
}

// Two keys debounce independently: a key that went quiet runs while the
// other is still busy, each with its own last event.
func TestTwoKeysDebounceIndependently(t *testing.T) {
	recv := newReceiver(t, okJSON(`{}`))
	id := uniqueFlowID("it-debounce-keys")
	s := setup(t, fmt.Sprintf(`
id: %s
trigger: {mode: async, flowControl: {key: "{{ trigger.body.k }}", debounce: {period: 1s}}}
steps:
  - {id: send, type: http, method: POST, url: "%s/d", body: {mode: keyValue, fields: {n: "{{ trigger.body.n }}", events: "{{ trigger.debounced.events }}", key: "{{ trigger.debounced.key }}"}}}
`, id, recv.URL))
	sendTo := func(k string, n int) {
		a := post(t, s.hookURL(id), "application/json", fmt.Sprintf(`{"k":%q,"n":%d}`, k, n), "Idempotency-Key", fmt.Sprintf("%s-%02d", k, n))
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, k, a.header.Get(api.HeaderFlowKey))
	}
	// a and b alternate for 5 events; then only a, for 2.5 s.
	for n := range 5 {
		sendTo("a", n)
		sendTo("b", n)
		time.Sleep(50 * time.Millisecond)
	}
	var aDone time.Time
	for n := 5; n < 30; n++ {
		sendTo("a", n)
		time.Sleep(100 * time.Millisecond)
	}
	aDone = time.Now()
	awaitExecutions(t, s, id, []string{id + ":a-29", id + ":b-04"}, time.Second)
	require.Eventually(t, func() bool { return len(recv.all()) == 2 }, 10*time.Second, 50*time.Millisecond)
	hits := recv.all()
	got := receivedRuns(t, recv)
	require.Equal(t, gathered{N: 4, Events: 5, Key: "b"}, got[0], "b ran first, while a was busy")
	require.True(t, hits[0].at.Before(aDone), "b's run started while a still took events")
	require.Equal(t, gathered{N: 29, Events: 30, Key: "a"}, got[1])
}

// 25 events with maxSize 10 are three runs, of 10, 10 and 5 events: every
// event exactly once, in arrival order.
func TestTwentyFiveEventsInBatchesOfTenAreThreeRuns(t *testing.T) {
	recv := newReceiver(t, okJSON(`{}`))
	id := uniqueFlowID("it-batch")
	s := setup(t, fmt.Sprintf(`
id: %s
trigger: {mode: async, flowControl: {batch: {maxSize: 10, timeout: 2s}}}
steps:
  - {id: send, type: http, method: POST, url: "%s/b", body: {mode: keyValue, fields: {ids: "{{ map(trigger.events, #.body.n) }}", size: "{{ trigger.batch.size }}", key: "{{ trigger.batch.key }}"}}}
`, id, recv.URL))
	for i := range 25 {
		a := post(t, s.hookURL(id), "application/json", fmt.Sprintf(`{"n":%d}`, i), "Idempotency-Key", fmt.Sprintf("evt-%02d", i))
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, "", a.header.Get(api.HeaderFlowKey), "the flow's one key")
	}
	awaitExecutions(t, s, id, []string{id + ":batch-evt-00", id + ":batch-evt-10", id + ":batch-evt-20"}, 2500*time.Millisecond)
	require.Eventually(t, func() bool { return len(recv.all()) == 3 }, 10*time.Second, 50*time.Millisecond)
	// The gather workflow polls the keys' queue; the runs it starts, the
	// flows' queue.
	for wid, queue := range map[string]string{contract.GatherID(id, ""): contract.KeyTaskQueue, id + ":batch-evt-00": contract.TaskQueue} {
		ex, err := s.client.DescribeWorkflowExecution(context.Background(), wid, "")
		require.NoError(t, err)
		require.Equal(t, queue, ex.GetExecutionConfig().GetTaskQueue().GetName(), wid)
	}
	got := receivedRuns(t, recv)
	// Deliveries of different runs may arrive in any order.
	sort.Slice(got, func(i, j int) bool { return got[i].IDs[0] < got[j].IDs[0] })
	var all []float64
	for i, want := range []int{10, 10, 5} {
		require.Len(t, got[i].IDs, want, "run %d: %+v", i, got[i])
		require.Equal(t, float64(want), got[i].Size)
		all = append(all, got[i].IDs...)
	}
	for i, n := range all {
		require.Equal(t, float64(i), n, "every event once, in arrival order: %v", all)
	}
}

// A duplicate event id inside a batch is one entry; a duplicate arriving
// after its batch ran starts nothing; the id reused for another payload is
// refused (422), as for a single run.
func TestADuplicateEventInsideABatchIsOneEntry(t *testing.T) {
	recv := newReceiver(t, okJSON(`{}`))
	id := uniqueFlowID("it-batch-dup")
	s := setup(t, fmt.Sprintf(`
id: %s
trigger: {mode: async, flowControl: {batch: {maxSize: 5, timeout: 2s}}}
steps:
  - {id: send, type: http, method: POST, url: "%s/b", body: {mode: keyValue, fields: {ids: "{{ map(trigger.events, #.body.n) }}", size: "{{ trigger.batch.size }}"}}}
`, id, recv.URL))
	for _, n := range []int{1, 1, 2, 1, 3} {
		a := post(t, s.hookURL(id), "application/json", fmt.Sprintf(`{"n":%d}`, n), "Idempotency-Key", fmt.Sprintf("evt-%d", n))
		require.Equal(t, http.StatusOK, a.status, a.body)
	}
	// The key reused for another payload is refused, and changes nothing.
	a := post(t, s.hookURL(id), "application/json", `{"n":99}`, "Idempotency-Key", "evt-2")
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "idempotency_key_reused", a.json(t)["error"], a.body)
	require.Equal(t, "headers.Idempotency-Key", a.json(t)["path"], a.body)
	awaitExecutions(t, s, id, []string{id + ":batch-evt-1"}, 0)
	require.Eventually(t, func() bool { return len(recv.all()) == 1 }, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, []gathered{{IDs: []float64{1, 2, 3}, Size: 3}}, receivedRuns(t, recv))

	// After the run: the same event again is remembered, and so is its
	// payload.
	a = post(t, s.hookURL(id), "application/json", `{"n":2}`, "Idempotency-Key", "evt-2")
	require.Equal(t, http.StatusOK, a.status, a.body)
	a = post(t, s.hookURL(id), "application/json", `{"n":98}`, "Idempotency-Key", "evt-3")
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	v := gatherView(t, s, id, "")
	require.Equal(t, "batch", v.Kind)
	require.Equal(t, 0, v.Pending, "%+v", v)
	require.EqualValues(t, 1, v.Runs)
	awaitExecutions(t, s, id, []string{id + ":batch-evt-1"}, 2500*time.Millisecond)
	require.Len(t, recv.all(), 1)
}

// When Temporal cannot be reached, a gathered trigger answers 503 with
// Retry-After, as a plain async one does: the caller retries the delivery.
func TestAGatheredEventAnswers503WhenTemporalIsUnreachable(t *testing.T) {
	port, err := devserver.FreePort("127.0.0.1")
	require.NoError(t, err)
	c, err := sdkclient.NewLazyClient(sdkclient.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", port), Logger: sdklog.NewStructuredLogger(quietLogger())})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	s := setupWith(t, c, `
id: it-gather-down
trigger: {flowControl: {batch: {maxSize: 5, timeout: 1s}}}
steps: [{id: s, type: set, values: {x: 1}}]
`)
	a := post(t, s.hookURL("it-gather-down"), "application/json", `{"n":1}`)
	require.Equal(t, http.StatusServiceUnavailable, a.status, a.body)
	require.Equal(t, "5", a.header.Get("Retry-After"))
	require.Equal(t, "unavailable", a.json(t)["error"], a.body)
}

// TestHistoriesReplayGather records a gather workflow's history (a batch
// closed full, one closed by its timeout) and replays it against the
// current code; with -record (make record-histories) it becomes the
// workflows/testdata fixture gather_batch.json, which later code must
// still replay.
func TestHistoriesReplayGather(t *testing.T) {
	id := uniqueFlowID("it-gather-replay")
	s := setup(t, fmt.Sprintf(`
id: %s
trigger: {flowControl: {key: "{{ trigger.body.k }}", batch: {maxSize: 3, timeout: 2s}}}
steps: [{id: s, type: set, values: {n: "{{ len(trigger.events) }}"}}]
`, id))
	for i := range 5 {
		a := post(t, s.hookURL(id), "application/json", fmt.Sprintf(`{"k":"r","n":%d}`, i), "Idempotency-Key", fmt.Sprintf("evt-%d", i))
		require.Equal(t, http.StatusOK, a.status, a.body)
	}
	awaitExecutions(t, s, id, []string{id + ":batch-evt-0", id + ":batch-evt-3"}, 0)
	gid := contract.GatherID(id, "r")
	require.Eventually(t, func() bool { return gatherView(t, s, id, "r").Runs == 2 }, 10*time.Second, 50*time.Millisecond)
	h := runHistory(t, s, gid, "")
	replayer := sdkworker.NewWorkflowReplayer()
	worker.Register(replayer)
	require.NoError(t, replayer.ReplayWorkflowHistoryWithOptions(nil, h, sdkworker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: gid},
	}))
	if *record && (*recordOnly == "" || slices.Contains(strings.Split(*recordOnly, ","), "gather_batch")) {
		b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("..", "workflows", "testdata", "gather_batch.json"), b, 0o644))
	}
}

// A key longer than 200 characters is written as its digest wherever it
// is named: the gather workflow's id, the answer's header and the run's
// search attribute (which bound their values' size).
func TestALongKeyIsNamedByItsDigest(t *testing.T) {
	id := uniqueFlowID("it-gather-longkey")
	s := setup(t, fmt.Sprintf(`
id: %s
trigger: {flowControl: {key: "{{ trigger.body.k }}", batch: {maxSize: 1, timeout: 1s}}}
steps: [{id: s, type: set, values: {x: 1}}]
`, id))
	long := strings.Repeat("k", 300)
	a := post(t, s.hookURL(id), "application/json", fmt.Sprintf(`{"k":%q}`, long), "Idempotency-Key", "evt-1")
	require.Equal(t, http.StatusOK, a.status, a.body)
	form := a.header.Get(api.HeaderFlowKey)
	require.True(t, strings.HasPrefix(form, "sha256:"), form)
	require.Equal(t, contract.GatherID(id, long), contract.GatherID(id, "")+form)
	awaitExecutions(t, s, id, []string{id + ":batch-evt-1"}, 0)
	run, err := s.client.DescribeWorkflowExecution(context.Background(), id+":batch-evt-1", "")
	require.NoError(t, err)
	attr := run.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[contract.SearchAttrFlowKey.GetName()]
	require.NotNil(t, attr)
	require.Equal(t, `"`+form+`"`, string(attr.GetData()))
}

// 400 events from 16 concurrent callers for one key: the gather workflow
// continues as new on the way (every 300 events), updates in flight then
// are aborted by the server and handed over again (the SDK retries them;
// the server logs "workflow update was aborted"), and every event accepted
// with a 2xx is in exactly one run.
func TestEveryEventOfABusyKeyRunsOnceAcrossContinueAsNew(t *testing.T) {
	recv := newReceiver(t, okJSON(`{}`))
	id := uniqueFlowID("it-batch-busy")
	s := setup(t, fmt.Sprintf(`
id: %s
trigger: {flowControl: {batch: {maxSize: 1000, timeout: 2s}}}
steps:
  - {id: send, type: http, method: POST, url: "%s/b", body: {mode: keyValue, fields: {ids: "{{ map(trigger.events, #.body.n) }}", size: "{{ trigger.batch.size }}"}}}
`, id, recv.URL))
	const n = 400
	statuses := make(chan int, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			a := post(t, s.hookURL(id), "application/json", fmt.Sprintf(`{"n":%d}`, i), "Idempotency-Key", fmt.Sprintf("evt-%03d", i))
			statuses <- a.status
		}()
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		require.Equal(t, http.StatusOK, st)
	}
	seen := map[float64]int{}
	require.Eventually(t, func() bool {
		total := 0
		for _, g := range receivedRuns(t, recv) {
			total += len(g.IDs)
		}
		return total >= n
	}, 30*time.Second, 100*time.Millisecond, "not every event ran")
	time.Sleep(2500 * time.Millisecond) // a late extra run would show now
	for _, g := range receivedRuns(t, recv) {
		require.Equal(t, float64(len(g.IDs)), g.Size)
		for _, x := range g.IDs {
			seen[x]++
		}
	}
	require.Len(t, seen, n)
	for x, c := range seen {
		require.Equal(t, 1, c, "event %v ran %d times", x, c)
	}
	// The key's gather workflow continued as new at least once.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := s.client.DescribeWorkflowExecution(ctx, contract.GatherID(id, ""), "")
	require.NoError(t, err)
	require.NotEmpty(t, desc.GetWorkflowExecutionInfo().GetFirstRunId())
	require.NotEqual(t, desc.GetWorkflowExecutionInfo().GetFirstRunId(), desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), "the gather workflow never continued as new")
}

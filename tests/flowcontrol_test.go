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
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	sdkworker "go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flowcontrol"
	"github.com/hookflow/hookflow/worker"
)

// keyRecorder is a receiver that records, per key, when each run's first
// step began and its last step ended, and counts overlaps: two runs of one
// key between their first and last step at once.
type keyRecorder struct {
	*httptest.Server
	mu       sync.Mutex
	active   map[string]string // key -> the event running
	starts   map[string][]keyHit
	ends     map[string]int
	overlaps []string
}

type keyHit struct {
	event string
	at    time.Time
}

func newKeyRecorder(t *testing.T) *keyRecorder {
	r := &keyRecorder{active: map[string]string{}, starts: map[string][]keyHit{}, ends: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var m struct{ Key, Event string }
		b, _ := io.ReadAll(req.Body)
		_ = json.Unmarshal(b, &m)
		r.mu.Lock()
		switch req.URL.Path {
		case "/start":
			// The same event again is a retried send (at least once),
			// not a second run.
			if other, busy := r.active[m.Key]; busy && other != m.Event {
				r.overlaps = append(r.overlaps, fmt.Sprintf("key %s: %s started while %s ran", m.Key, m.Event, other))
			}
			r.active[m.Key] = m.Event
			r.starts[m.Key] = append(r.starts[m.Key], keyHit{m.Event, time.Now()})
		case "/end":
			delete(r.active, m.Key)
			r.ends[m.Event]++
		}
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(r.Close)
	return r
}

// keyedFlow is a flow whose runs mark their start and end at rec, with
// flowControl fc and the steps mid between the two marks.
func keyedFlow(flowID, fc string, rec *keyRecorder, mid ...string) string {
	mark := func(id, path string) string {
		return fmt.Sprintf(`  - {id: %s, type: http, method: POST, url: "%s/%s", body: {mode: keyValue, fields: {key: "{{ trigger.body.key ?? 'k' }}", event: "{{ trigger.body.event }}"}}}`, id, rec.URL, path)
	}
	lines := []string{"id: " + flowID, "trigger:", "  mode: async", "  flowControl: " + fc, "steps:", mark("begin", "start")}
	for _, m := range mid {
		lines = append(lines, "  - "+m)
	}
	return strings.Join(append(lines, mark("finish", "end")), "\n") + "\n"
}

// awaitEnds waits until n distinct events have ended at the recorder.
func (r *keyRecorder) awaitEnds(t *testing.T, n int, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.ends) == n
	}, within, 100*time.Millisecond, "not every event's run ended")
}

// sent is one event as its caller saw it: when it was sent and when the
// API's answer came back.
type sent struct {
	key, event     string
	sentAt, doneAt time.Time
	status         int
}

func postJSON(url, body string, headers ...string) (int, http.Header, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), nil
}

// 16 callers send 50 events for each of 10 keys, through two API
// replicas, to a flow with concurrency 1 per key. Every event runs exactly once; no two runs of a
// key overlap; and a key's runs start in arrival order: an event answered
// before another was sent starts before it.
func TestConcurrencyOnePerKeyRunsEachEventOnceInArrivalOrderWithoutOverlap(t *testing.T) {
	if testing.Short() {
		t.Skip("500 runs on the embedded server")
	}
	rec := newKeyRecorder(t)
	const flowID = "it-fc-concurrency"
	s := setup(t, keyedFlow(flowID, `{key: "{{ trigger.body.key }}", concurrency: 1}`, rec))
	// Two API replicas take the events, alternately: one coordinator per
	// key whichever replica admits.
	replica := httptest.NewServer(api.New(s.client, s.cat, testLog, testAPIConfig(nil)).Handler())
	t.Cleanup(replica.Close)
	hooks := []string{s.hookURL(flowID), replica.URL + strings.TrimPrefix(s.hookURL(flowID), s.url)}

	const keys, perKey, callers = 10, 50, 16
	// The keys' coordinators are started here to continue as new every 25
	// admissions, reports and releases: each hands its queue over about
	// six times while the events flow.
	for k := 0; k < keys; k++ {
		key := fmt.Sprintf("k%d", k)
		_, err := s.client.ExecuteWorkflow(context.Background(), flowcontrol.CoordinatorStartOptions(flowID, key), contract.CoordinatorWorkflowName,
			flowcontrol.CoordinatorInput{CoordinatorStart: contract.CoordinatorStart{FlowID: flowID, Key: key, Rules: contract.KeyRules{Concurrency: 1, MaxWaiting: 10000}}, ContinueAfter: 25})
		require.NoError(t, err)
	}
	jobs := make(chan [2]int)
	var mu sync.Mutex
	var all []sent
	var wg sync.WaitGroup
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				key, event := fmt.Sprintf("k%d", j[0]), fmt.Sprintf("k%d-e%d", j[0], j[1])
				x := sent{key: key, event: event, sentAt: time.Now()}
				var err error
				x.status, _, _, err = postJSON(hooks[j[1]%2], fmt.Sprintf(`{"key":%q,"event":%q}`, key, event))
				if err != nil {
					x.status = -1
				}
				x.doneAt = time.Now()
				mu.Lock()
				all = append(all, x)
				mu.Unlock()
			}
		}()
	}
	for e := 0; e < perKey; e++ {
		for k := 0; k < keys; k++ {
			jobs <- [2]int{k, e}
		}
	}
	close(jobs)
	wg.Wait()
	for _, x := range all {
		if x.status != http.StatusOK {
			for _, l := range strings.Split(logs.String(), "\n") {
				if os.Getenv("FC_DEBUG") != "" && strings.Contains(l, "hookflow-key") && !strings.Contains(l, "level=DEBUG") || (strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN")) && (strings.Contains(l, flowID) || strings.Contains(l, "FlowControlWorkflow")) {
					t.Log(l)
				}
			}
		}
		require.Equal(t, http.StatusOK, x.status, x.event)
	}

	rec.awaitEnds(t, keys*perKey, 3*time.Minute)
	time.Sleep(300 * time.Millisecond) // a late duplicate would show by now
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Empty(t, rec.overlaps)
	for ev, n := range rec.ends {
		require.Equal(t, 1, n, "event %s ran %d times", ev, n)
	}
	// The hand-overs happened: the coordinator's chain holds several runs.
	resp, err := s.client.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = %q AND ExecutionStatus = \"ContinuedAsNew\"", contract.CoordinatorID(flowID, "k0")),
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, resp.GetCount(), int64(4), "the coordinator did not continue as new")
	// Coordinators poll a queue of their own, the runs the flows' queue,
	// so an admission never waits behind the runs' workflow tasks.
	co, err := s.client.DescribeWorkflowExecution(context.Background(), contract.CoordinatorID(flowID, "k0"), "")
	require.NoError(t, err)
	require.Equal(t, contract.KeyTaskQueue, co.GetExecutionConfig().GetTaskQueue().GetName())
	byEvent := map[string]sent{}
	for _, x := range all {
		byEvent[x.event] = x
	}
	for k := 0; k < keys; k++ {
		key := fmt.Sprintf("k%d", k)
		starts := rec.starts[key]
		require.Len(t, starts, perKey, key)
		for i := range starts {
			for j := i + 1; j < len(starts); j++ {
				earlier, later := byEvent[starts[i].event], byEvent[starts[j].event]
				require.False(t, later.doneAt.Before(earlier.sentAt),
					"key %s: %s was answered before %s was sent, but started after it", key, later.event, earlier.event)
			}
		}
	}
}

// throttle {limit: 5, per: 1s}: 30 events take at least 5 s to start,
// and no second holds more than 5 starts.
func TestThrottleSpacesAKeysStarts(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the throttle")
	}
	rec := newKeyRecorder(t)
	const flowID = "it-fc-throttle"
	s := setup(t, keyedFlow(flowID, `{throttle: {limit: 5, per: 1s}}`, rec))
	hook := s.hookURL(flowID)
	for i := 0; i < 30; i++ {
		st, _, body, err := postJSON(hook, fmt.Sprintf(`{"event":"e%d"}`, i))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, st, body)
	}
	rec.awaitEnds(t, 30, time.Minute)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	starts := rec.starts["k"]
	require.Len(t, starts, 30)
	sort.Slice(starts, func(i, j int) bool { return starts[i].at.Before(starts[j].at) })
	// Grants are a second apart per five; delivery delays may differ by
	// a little between two runs.
	const slack = 250 * time.Millisecond
	for i := 0; i+5 < len(starts); i++ {
		require.GreaterOrEqual(t, starts[i+5].at.Sub(starts[i].at), time.Second-slack, "starts %d and %d", i, i+5)
	}
	require.GreaterOrEqual(t, starts[29].at.Sub(starts[0].at), 5*time.Second-slack)
}

// singleton skip on a sync trigger: while a run holds the key, a new
// event is answered 409 already_running naming it, and starts nothing;
// once it has ended, the next event runs.
func TestSingletonSkipAnswersAlreadyRunningWhileTheKeyRuns(t *testing.T) {
	const flowID = "it-fc-singleton-skip"
	s := setup(t, fmt.Sprintf(`
id: %s
trigger:
  mode: sync
  timeout: 10s
  flowControl: {key: "{{ trigger.body.account }}", singleton: skip}
steps:
  - {id: reply, type: response, status: 201, body: {n: "{{ trigger.body.n }}"}}
  - {id: hold, type: delay, duration: 2s}
`, flowID))
	hook := s.hookURL(flowID)
	st, h, body, err := postJSON(hook, `{"account":"a1","n":1}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, st, body)
	first := h.Get(api.HeaderExecutionID)
	require.Equal(t, "a1", h.Get(api.HeaderFlowKey))

	// Turned away at its admission: nothing starts for it.
	st, h, body, err = postJSON(hook, `{"account":"a1","n":2}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, st, body)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	require.Equal(t, "already_running", m["error"])
	require.Equal(t, first, m["runningExecutionId"], body)
	require.Equal(t, first, h.Get(api.HeaderRunningExecutionID))
	require.Empty(t, h.Get(api.HeaderExecutionID), "a skipped event starts no run")

	// Another key is not held up.
	st, _, body, err = postJSON(hook, `{"account":"a2","n":3}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, st, body)

	_, err = s.result(first)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, _, _, err := postJSON(hook, `{"account":"a1","n":4}`)
		return err == nil && st == http.StatusCreated
	}, 10*time.Second, 200*time.Millisecond, "the key was not freed when its run ended")
}

// singleton cancel: a new event cancels the run holding the key and runs.
func TestSingletonCancelStopsTheRunningEventForTheNewOne(t *testing.T) {
	rec := newKeyRecorder(t)
	const flowID = "it-fc-singleton-cancel"
	s := setup(t, keyedFlow(flowID, `{singleton: cancel}`, rec, `{id: hold, type: delay, duration: 3s}`))
	hook := s.hookURL(flowID)
	_, h, _, err := postJSON(hook, `{"event":"old"}`)
	require.NoError(t, err)
	old := h.Get(api.HeaderExecutionID)
	require.Eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.starts["k"]) == 1
	}, 10*time.Second, 50*time.Millisecond)
	_, h, _, err = postJSON(hook, `{"event":"new"}`)
	require.NoError(t, err)
	newer := h.Get(api.HeaderExecutionID)

	_, err = s.result(newer)
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, runStatus(t, s, old))
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, map[string]int{"new": 1}, rec.ends)
}

// A key's queue is bounded: past maxWaiting the trigger answers 429 with
// Retry-After, and nothing is started for that event.
func TestAFullKeyAnswers429AndStartsNothing(t *testing.T) {
	const flowID = "it-fc-full"
	s := setup(t, fmt.Sprintf(`
id: %s
trigger:
  mode: async
  flowControl: {concurrency: 1, maxWaiting: 2}
steps:
  - {id: hold, type: delay, duration: 2s}
`, flowID))
	hook := s.hookURL(flowID)
	var ids []string
	for i := 0; i < 3; i++ {
		st, h, body, err := postJSON(hook, `{}`, "Idempotency-Key", fmt.Sprintf("full-%d", i))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, st, body)
		ids = append(ids, h.Get(api.HeaderExecutionID))
		if i == 0 {
			// The first holds the key; the next two wait.
			require.Eventually(t, func() bool {
				return keyView(t, s, flowID, "").Waiting == 0 && len(keyView(t, s, flowID, "").Running) == 1
			}, 10*time.Second, 50*time.Millisecond)
		}
	}
	// Operators see the key through the API: one running, two waiting, in
	// arrival order; the page of keys lists it.
	a := send(t, http.MethodGet, s.url+"/api/v1/flows/"+flowID+"/keys/", "", "Authorization", "Bearer "+readKey)
	require.Equal(t, http.StatusOK, a.status, a.body)
	var kv contract.KeyView
	require.NoError(t, json.Unmarshal([]byte(a.body), &kv))
	require.Equal(t, []string{ids[0]}, kv.Running, a.body)
	require.Equal(t, 2, kv.Waiting, a.body)
	require.Equal(t, []string{ids[1], ids[2]}, kv.NextWaiting, a.body)
	require.NotNil(t, kv.OldestWaiting, a.body)
	a = send(t, http.MethodGet, s.url+"/api/v1/flows/"+flowID+"/keys", "", "Authorization", "Bearer "+readKey)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, `"waiting":2`)
	// A key nothing was sent to is idle.
	a = send(t, http.MethodGet, s.url+"/api/v1/flows/"+flowID+"/keys/nobody", "", "Authorization", "Bearer "+readKey)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.JSONEq(t, `{"flowId":"`+flowID+`","key":"nobody","running":[],"waiting":0,"granted":0,"skipped":0}`, a.body)

	st, h, body, err := postJSON(hook, `{}`, "Idempotency-Key", "full-3")
	require.NoError(t, err)
	require.Equal(t, http.StatusTooManyRequests, st, body)
	require.Equal(t, "30", h.Get("Retry-After"))
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	require.Equal(t, "key_queue_full", m["error"], body)
	require.Equal(t, "trigger.flowControl.key", m["path"], body)
	// A duplicate of a queued event is still its answer, not a refusal.
	st, _, body, err = postJSON(hook, `{}`, "Idempotency-Key", "full-1")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st, body)

	for _, id := range ids {
		_, err := s.result(id)
		require.NoError(t, err)
	}
	_, err = s.client.DescribeWorkflowExecution(context.Background(), contract.WorkflowID(flowID, "full-3"), "")
	require.Error(t, err, "the refused event's run exists")
	require.EqualValues(t, 3, s.awaitCount(flowID, 3))
}

// keyView asks a key's coordinator for its state.
func keyView(t *testing.T, s *stack, flowID, key string) contract.KeyView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := s.client.QueryWorkflow(ctx, contract.CoordinatorID(flowID, key), "", contract.QueryKey)
	if err != nil {
		return contract.KeyView{Waiting: -1}
	}
	var kv contract.KeyView
	require.NoError(t, v.Get(&kv))
	return kv
}

// Recovery composes with flow control: a waiting run cancelled by an
// operator leaves its key's queue at once and never runs a step; a rerun
// of a keyed run waits for its key like any event.
func TestACancelledWaitingRunFreesItsPlaceAndARerunWaitsForItsKey(t *testing.T) {
	rec := newKeyRecorder(t)
	const flowID = "it-fc-recovery"
	s := setup(t, keyedFlow(flowID, `{key: "{{ trigger.body.key }}", concurrency: 1}`, rec,
		`{id: maybe, type: condition, if: "trigger.body.hold", then: [{id: hold, type: delay, duration: 3s}]}`))
	hook := s.hookURL(flowID)
	auth := []string{"Authorization", "Bearer " + writeKey}
	ev := func(name string, hold bool) string {
		st, h, body, err := postJSON(hook, fmt.Sprintf(`{"key":"r1","event":%q,"hold":%v}`, name, hold))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, st, body)
		return h.Get(api.HeaderExecutionID)
	}
	done := ev("done", false)
	_, err := s.result(done)
	require.NoError(t, err)
	holder := ev("holder", true)
	waiter := ev("waiter", false)
	require.Eventually(t, func() bool { return keyView(t, s, flowID, "r1").Waiting == 1 }, 10*time.Second, 50*time.Millisecond)

	a := send(t, http.MethodPost, s.url+"/api/v1/executions/"+waiter+"/cancel", "", auth...)
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	require.Eventually(t, func() bool { return keyView(t, s, flowID, "r1").Waiting == 0 }, 10*time.Second, 50*time.Millisecond,
		"the cancelled run kept its place")
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, runClosed(t, s, waiter))

	a = send(t, http.MethodPost, s.url+"/api/v1/executions/"+done+"/rerun", "{}", append(auth, "Content-Type", "application/json")...)
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	rerun := a.json(t)["executionId"].(string)
	require.Eventually(t, func() bool {
		kv := keyView(t, s, flowID, "r1")
		return kv.Waiting == 1 && kv.NextWaiting[0] == rerun
	}, 10*time.Second, 50*time.Millisecond, "the rerun did not wait for its key")
	_, err = s.result(holder)
	require.NoError(t, err)
	_, err = s.result(rerun)
	require.NoError(t, err)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Empty(t, rec.overlaps)
	require.Equal(t, map[string]int{"done": 2, "holder": 1}, rec.ends, "the cancelled run must not have run; the rerun runs done again")
}

func runClosed(t *testing.T, s *stack, id string) enumspb.WorkflowExecutionStatus {
	t.Helper()
	var st enumspb.WorkflowExecutionStatus
	require.Eventually(t, func() bool {
		st = runStatus(t, s, id)
		return st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}, 15*time.Second, 50*time.Millisecond)
	return st
}

// A keyed run that waited for its permit, and its key's coordinator,
// replay with the current code; -record writes them to workflows/testdata.
func TestKeyedRunAndItsCoordinatorReplay(t *testing.T) {
	const flowID = "it-fc-replay"
	s := setup(t, fmt.Sprintf(`
id: %s
trigger:
  mode: async
  flowControl: {key: "{{ trigger.body.key }}", concurrency: 1, throttle: {limit: 100, per: 1m}}
steps:
  - {id: hold, type: delay, duration: 300ms}
  - {id: out, type: output, values: {key: "{{ trigger.body.key }}"}}
`, flowID))
	hook := s.hookURL(flowID)
	var ids []string
	for i := 0; i < 3; i++ {
		st, h, body, err := postJSON(hook, `{"key":"replay"}`, "Idempotency-Key", fmt.Sprintf("fc-replay-%d", i))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, st, body)
		ids = append(ids, h.Get(api.HeaderExecutionID))
	}
	for _, id := range ids {
		_, err := s.result(id)
		require.NoError(t, err)
	}
	histories := map[string]*historypb.History{
		"flowcontrol_run":         history(t, s, ids[2]),
		"flowcontrol_coordinator": history(t, s, contract.CoordinatorID(flowID, "replay")),
	}
	for _, name := range []string{"flowcontrol_run", "flowcontrol_coordinator"} {
		replayer := sdkworker.NewWorkflowReplayer()
		worker.Register(replayer)
		require.NoError(t, replayer.ReplayWorkflowHistory(nil, histories[name]), name)
		if *record && (*recordOnly == "" || slices.Contains(strings.Split(*recordOnly, ","), name)) {
			b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(histories[name])
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join("..", "workflows", "testdata", name+".json"), b, 0o644))
		}
	}
}

// A sync caller of a busy key waits within its budget: past it, the
// trigger's onTimeout answer (504 by default); its run goes on waiting
// and runs once the key is free.
func TestASyncCallerOfABusyKeyGetsTheTimeoutAnswerAndItsRunStillRuns(t *testing.T) {
	const flowID = "it-fc-sync"
	s := setup(t, fmt.Sprintf(`
id: %s
trigger:
  mode: sync
  timeout: 1s
  flowControl: {concurrency: 1}
steps:
  - {id: reply, type: response, status: 200, body: {n: "{{ trigger.body.n }}"}}
  - {id: maybe, type: condition, if: "trigger.body.n == 1", then: [{id: hold, type: delay, duration: 3s}]}
`, flowID))
	hook := s.hookURL(flowID)
	st, _, body, err := postJSON(hook, `{"n":1}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, st, body)
	began := time.Now()
	st, h, body, err := postJSON(hook, `{"n":2}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusGatewayTimeout, st, body)
	require.Less(t, time.Since(began), 2500*time.Millisecond, "the caller waited past its budget")
	res, err := s.result(h.Get(api.HeaderExecutionID))
	require.NoError(t, err)
	require.Equal(t, "succeeded", res.Status)
	require.Equal(t, http.StatusOK, res.Response.Status)
}

//go:build cluster

package cluster

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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
)

// TestCluster starts the cluster once and runs the scenarios on it in
// order; each leaves the cluster as it found it (a killed worker is
// started again, a cut network joined again, a stopped database started
// again), also when it fails.
func TestCluster(t *testing.T) {
	began := time.Now()
	c := startCluster(t)
	c.scenario(t, "triggers through either replica", c.testTriggers)
	c.scenario(t, "flow store database stopped", c.testStoreDown)
	c.scenario(t, "worker killed during a local first attempt", c.testWorkerKilledDuringLocalAttempt)
	c.scenario(t, "worker killed during a handed-over attempt", c.testWorkerKilled)
	c.scenario(t, "workers cut from the receiver during a local first attempt", c.testNetworkCutDuringLocalAttempt)
	c.scenario(t, "workers cut from the receiver mid retry", c.testNetworkCut)
	c.scenario(t, "temporal restarted", c.testTemporalRestart)
	c.scenario(t, "rolling restart under load", c.testRollingRestart)
	c.scenario(t, "destination lease holder killed", c.testLeaseHolderKilled)
	c.scenario(t, "schedule across restarts", c.testScheduleAcrossRestarts)
	c.scenario(t, "keyed runs across a worker kill and a temporal restart", c.testFlowControlAcrossFaults)
	t.Logf("cluster suite: %s in all", time.Since(began).Round(time.Second))
}

// scenario runs f as a subtest with c reporting to it.
// HOOKFLOW_CLUSTER_SCENARIOS, when set, names the scenarios to run (a
// comma-separated list of parts of their names), while one is written.
func (c *Cluster) scenario(t *testing.T, name string, f func(t *testing.T)) {
	if only := os.Getenv("HOOKFLOW_CLUSTER_SCENARIOS"); only != "" && !slices.ContainsFunc(strings.Split(only, ","), func(part string) bool { return strings.Contains(name, part) }) {
		return
	}
	t.Run(name, func(st *testing.T) {
		prev := c.t
		c.t = st
		defer func() { c.t = prev }()
		began := time.Now()
		f(st)
		st.Logf("%s: %s", name, time.Since(began).Round(time.Second))
	})
}

// tokens holds the trigger tokens of the flows scenario 1 creates, which
// later scenarios reuse.
var tokens sync.Map

func token(flowID string) string {
	v, _ := tokens.Load(flowID)
	s, _ := v.(string)
	return s
}

const flowSync = `
id: %s
name: cluster sync
trigger: {mode: sync}
steps:
  - {id: reply, type: response, status: 201, body: {n: "{{ trigger.body.n }}", via: sync}}
`

const flowAsyncDelivery = `
id: %[1]s
name: cluster async
trigger: {mode: async, response: {status: 202, body: {queued: true}}}
steps:
  - id: send
    type: http
    method: POST
    url: "http://receiver:8080/ok/%[1]s/{{ trigger.body.n }}"
    body: {mode: keyValue, fields: {n: "{{ trigger.body.n }}"}}
    timeouts: {connect: 2s, response: 10s}
    retry: {initialInterval: 1s, backoffCoefficient: 2, maximumInterval: 5s}
`

// 1. Sync and async triggers through either api replica; a flow created
// through replica 1 is served by replica 2 within the cache TTL.
func (c *Cluster) testTriggers(t *testing.T) {
	syncTok := c.createFlow(0, fmt.Sprintf(flowSync, "c1-sync"))
	created := time.Now()
	asyncTok := c.createFlow(0, fmt.Sprintf(flowAsyncDelivery, "c1-async"))
	tokens.Store("c1-sync", syncTok)
	tokens.Store("c1-async", asyncTok)

	// Replica 2 learns of the flow from the store within its TTL.
	var servedAfter time.Duration
	eventually(t, cacheTTL+time.Second, 50*time.Millisecond, "replica 2 serves a flow created through replica 1", func() error {
		a := c.trigger(1, syncTok, `{"n":0}`, "ttl-probe")
		if a.status == http.StatusNotFound {
			return errPending
		}
		if a.status != http.StatusCreated {
			return fmt.Errorf("replica 2 answered %s", a)
		}
		servedAfter = time.Since(created)
		return nil
	})
	t.Logf("replica 2 served the new flow %s after it was created through replica 1 (TTL %s)", servedAfter.Round(10*time.Millisecond), cacheTTL)

	var syncIDs, asyncIDs []string
	for n := 1; n <= 6; n++ {
		i := n % 2
		key := "c1-" + strconv.Itoa(n)
		a := c.trigger(i, syncTok, fmt.Sprintf(`{"n":%d}`, n), key)
		require.Equal(t, http.StatusCreated, a.status, "sync through replica %d: %s", i+1, a)
		require.JSONEq(t, fmt.Sprintf(`{"n":%d,"via":"sync"}`, n), a.body)
		require.Equal(t, "c1-sync:"+key, a.header.Get("Hookflow-Execution-Id"))
		syncIDs = append(syncIDs, "c1-sync:"+key)

		a = c.trigger(i, asyncTok, fmt.Sprintf(`{"n":%d}`, n), key)
		require.Equal(t, http.StatusAccepted, a.status, "async through replica %d: %s", i+1, a)
		require.JSONEq(t, `{"queued":true}`, a.body)
		require.Equal(t, "c1-async:"+key, a.header.Get("Hookflow-Execution-Id"))
		asyncIDs = append(asyncIDs, "c1-async:"+key)
	}
	// A duplicate through the other replica starts nothing new and gets
	// the same answer.
	a := c.trigger(0, syncTok, `{"n":1}`, "c1-1")
	require.Equal(t, http.StatusCreated, a.status, a.String())
	require.Equal(t, "c1-sync:c1-1", a.header.Get("Hookflow-Execution-Id"))

	// Each async run delivered once; every run completed, seen through
	// either replica.
	eventually(t, time.Minute, 250*time.Millisecond, "each async run's delivery at the receiver", func() error {
		if n := len(c.records("/ok/c1-async/")); n < 6 {
			return fmt.Errorf("%d of 6 deliveries", n)
		}
		return nil
	})
	seen := map[string]int{}
	for _, r := range c.records("/ok/c1-async/") {
		seen[r.Path]++
	}
	for n := 1; n <= 6; n++ {
		require.Equal(t, 1, seen["/ok/c1-async/"+strconv.Itoa(n)], "deliveries of run %d: %v", n, seen)
	}
	c.requireRuns(t, "c1-sync", append(syncIDs, "c1-sync:ttl-probe"), nil, time.Minute)
	c.requireRuns(t, "c1-async", asyncIDs, nil, time.Minute)
	// hookflow worker makes a delivery's first attempt itself by default:
	// a local activity's marker, no activity task.
	tc := c.temporalClient()
	defer tc.Close()
	for _, id := range asyncIDs {
		require.Equal(t, 1, c.historyCount(t, tc, id, enumspb.EVENT_TYPE_MARKER_RECORDED, localActivityMarker), "%s: its first attempt a local activity", id)
		require.Zero(t, c.historyCount(t, tc, id, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), "%s: no activity for a send that succeeded at once", id)
	}
	for i := range c.apis {
		list, err := c.executions(i, "c1-async")
		require.NoError(t, err)
		require.Len(t, list, 6, "replica %d lists every run", i+1)
	}
}

// 4. The flow store's PostgreSQL stops: both replicas keep serving
// triggers from their snapshots; admin writes answer 503 naming the store;
// once it is back, writes work again.
func (c *Cluster) testStoreDown(t *testing.T) {
	syncTok, asyncTok := token("c1-sync"), token("c1-async")
	require.NotEmpty(t, syncTok, "needs the flows of scenario 1")
	c.stop(c.storeDB, 10*time.Second)
	t.Cleanup(func() {
		if st, err := c.storeDB.c.State(context.Background()); err == nil && !st.Running {
			c.start(c.storeDB)
		}
		c.waitStore()
	})
	// Let both replicas notice (a cache reload fails, the pool's
	// connections are gone).
	time.Sleep(2 * cacheTTL)

	var ids []string
	for n := 0; n < 6; n++ {
		i := n % 2
		key := fmt.Sprintf("c4-%d", n)
		a := c.trigger(i, syncTok, fmt.Sprintf(`{"n":%d}`, 100+n), key)
		require.Equal(t, http.StatusCreated, a.status, "sync trigger through replica %d with the store down: %s", i+1, a)
		ids = append(ids, "c1-sync:"+key)
		a = c.trigger(i, asyncTok, fmt.Sprintf(`{"n":%d}`, 100+n), key)
		require.Equal(t, http.StatusAccepted, a.status, "async trigger through replica %d with the store down: %s", i+1, a)
	}
	for i := range c.apis {
		// assert, not require: the rest of the scenario still runs and
		// reports.
		a := c.admin(i, http.MethodPost, "/api/v1/flows", "application/yaml", fmt.Sprintf(flowSync, "c4-new"))
		assert.Equal(t, http.StatusServiceUnavailable, a.status, "a write through replica %d with the store down: %s", i+1, a)
		assert.Contains(t, strings.ToLower(a.body), "store", "the answer names the store: %s", a.body)
	}

	c.start(c.storeDB)
	c.waitPostgres(c.storeDB)
	var newTok string
	eventually(t, 30*time.Second, 500*time.Millisecond, "a write once the store is back", func() error {
		a := c.admin(1, http.MethodPost, "/api/v1/flows", "application/yaml", fmt.Sprintf(flowSync, "c4-new"))
		if a.status != http.StatusCreated {
			return fmt.Errorf("%s", a)
		}
		newTok = jsonField(a.body, "token")
		return nil
	})
	eventually(t, cacheTTL+time.Second, 50*time.Millisecond, "replica 1 serves the flow created through replica 2", func() error {
		if a := c.trigger(0, newTok, `{"n":1}`, "c4-new-1"); a.status != http.StatusCreated {
			return fmt.Errorf("%s", a)
		}
		return nil
	})
	c.requireRunsInclude(t, "c1-sync", ids, time.Minute)
}

const flowHold = `
id: c2-hold
trigger: {mode: async}
steps:
  - id: send
    type: http
    method: POST
    url: http://receiver:8080/hold/c2
    body: {mode: all}
    timeouts: {connect: 2s, response: 10s}
    retry: {initialInterval: 1s, backoffCoefficient: 1, maximumInterval: 1s}
`

// 2. A delivery whose local first attempt outlasted its budget (the
// receiver holds it) is handed over to the webhook queue; the worker
// running that activity attempt is SIGKILLed while the receiver holds it
// too: another worker delivers it; the receiver answers one request with
// success; every attempt carries the same Idempotency-Key.
func (c *Cluster) testWorkerKilled(t *testing.T) {
	tok := c.createFlow(0, flowHold)
	a := c.trigger(0, tok, `{"order":"c2"}`, "c2")
	require.Equal(t, http.StatusOK, a.status, a.String())
	id := "c2-hold:c2"

	tc := c.temporalClient()
	defer tc.Close()
	var holder *node
	// The local first attempt holds for its 5 s budget, then the
	// activity's attempt arrives.
	eventually(t, 30*time.Second, 100*time.Millisecond, "a worker holds the delivery's activity attempt", func() error {
		if len(c.records("/hold/c2")) < 2 {
			return errPending
		}
		d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			return err
		}
		for _, pa := range d.GetPendingActivities() {
			if w := c.workerOf(pa.GetLastWorkerIdentity()); w != nil {
				holder = w
				return nil
			}
			return fmt.Errorf("activity held by %q", pa.GetLastWorkerIdentity())
		}
		return errPending
	})
	t.Logf("%s holds the delivery; SIGKILL", holder.name)
	c.kill(holder)

	// Temporal retries the attempt once its start-to-close timeout has
	// passed (no worker reports it), on the worker left.
	eventually(t, time.Minute, 100*time.Millisecond, "the retry reaches the receiver", func() error {
		if n := len(c.records("/hold/c2")); n < 3 {
			return fmt.Errorf("%d requests", n)
		}
		return nil
	})
	require.Equal(t, 1, c.release(), "only the retry was still waiting for its answer: the first attempt gave up at its budget, the killed worker's request got none")
	e := c.waitCompleted(t, id, time.Minute)
	d := e.delivery(t, "send")
	require.Equal(t, 200, d.StatusCode)
	require.Equal(t, 3, d.Attempts, "the local first attempt, the killed one, the retry")

	time.Sleep(2 * time.Second)
	rs := c.records("/hold/c2")
	require.Len(t, rs, 3, "the first attempt past its budget, one cut attempt and one delivered")
	for _, r := range rs {
		require.Equal(t, d.DeliveryID, r.Headers.Get("Idempotency-Key"), "every attempt carries the delivery's key")
	}
	c.start(holder)
}

// localActivityMarker is the marker the SDK records for a local activity
// (a delivery's first attempt).
const localActivityMarker = "LocalActivity"

const flowHoldLocal = `
id: c7-hold
trigger: {mode: async}
steps:
  - id: send
    type: http
    method: POST
    url: http://receiver:8080/hold/c7
    body: {mode: all}
    timeouts: {connect: 2s, response: 10s}
    retry: {initialInterval: 1s, backoffCoefficient: 1, maximumInterval: 1s}
`

// 7. The worker making a delivery's local first attempt (inside the run's
// workflow task) is SIGKILLed while the receiver holds the request: the
// task times out, the surviving worker runs it again and makes the first
// attempt again, with the same key; nothing of the killed attempt is in
// history, and the delivery is made once more, not lost.
func (c *Cluster) testWorkerKilledDuringLocalAttempt(t *testing.T) {
	tok := c.createFlow(0, flowHoldLocal)
	a := c.trigger(0, tok, `{"order":"c7"}`, "c7")
	require.Equal(t, http.StatusOK, a.status, a.String())
	id := "c7-hold:c7"

	tc := c.temporalClient()
	defer tc.Close()
	eventually(t, 30*time.Second, 50*time.Millisecond, "the local first attempt reaches the receiver", func() error {
		if len(c.records("/hold/c7")) == 0 {
			return errPending
		}
		return nil
	})
	// The worker holding the workflow task makes the local attempt: the
	// history's last WorkflowTaskStarted names it.
	holder, started := c.taskHolder(t, tc, id)
	require.NotNil(t, holder, "the workflow task's worker (%q) is one of the cluster's", started)
	d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
	require.NoError(t, err)
	require.Empty(t, d.GetPendingActivities(), "the first attempt is a local activity, not a task on the webhook queue")
	t.Logf("%s makes the local first attempt; SIGKILL", holder.name)
	c.kill(holder)
	killedAt := time.Now()

	// The task times out (10 s); the survivor replays the run and makes
	// the first attempt again. It is released at once, within its budget.
	eventually(t, time.Minute, 50*time.Millisecond, "the first attempt made again by the surviving worker", func() error {
		if n := len(c.records("/hold/c7")); n < 2 {
			return fmt.Errorf("%d requests", n)
		}
		return nil
	})
	again := time.Since(killedAt)
	require.Equal(t, 1, c.release(), "only the survivor's request was waiting: the killed worker's connection closed with it")
	e := c.waitCompleted(t, id, time.Minute)
	dl := e.delivery(t, "send")
	require.Equal(t, 200, dl.StatusCode)
	require.Equal(t, 1, dl.Attempts, "the killed attempt recorded nothing: the survivor's is the first")
	survivor, _ := c.taskHolder(t, tc, id)
	require.NotNil(t, survivor)
	require.NotEqual(t, holder.name, survivor.name, "the survivor completed the run")
	require.Zero(t, c.historyCount(t, tc, id, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED), "no hand-over: the survivor's local attempt delivered it")
	require.Equal(t, 1, c.historyCount(t, tc, id, enumspb.EVENT_TYPE_MARKER_RECORDED, localActivityMarker), "one first attempt in history")
	t.Logf("made again by %s %s after the kill", survivor.name, again.Round(100*time.Millisecond))

	time.Sleep(2 * time.Second)
	rs := c.records("/hold/c7")
	require.Len(t, rs, 2, "the killed attempt and the survivor's")
	for _, r := range rs {
		require.Equal(t, dl.DeliveryID, r.Headers.Get("Idempotency-Key"), "both carry the delivery's key: the receiver can drop the second")
	}
	c.start(holder)
}

// 8. Every worker is cut from the receiver while a local first attempt
// waits for its answer: the attempt gives up at its budget and hands the
// delivery over at once; the webhook queue's attempts fail while cut and
// are retried on the step's schedule; once connected again the delivery
// arrives, with the same key.
func (c *Cluster) testNetworkCutDuringLocalAttempt(t *testing.T) {
	const path = "/hold/c8"
	tok := c.createFlow(0, strings.ReplaceAll(strings.ReplaceAll(flowHoldLocal, "c7", "c8"), "/hold/c8", path))
	a := c.trigger(0, tok, `{"order":"c8"}`, "c8")
	require.Equal(t, http.StatusOK, a.status, a.String())
	id := "c8-hold:c8"
	eventually(t, 30*time.Second, 20*time.Millisecond, "the local first attempt reaches the receiver", func() error {
		if len(c.records(path)) == 0 {
			return errPending
		}
		return nil
	})
	connected := map[*node]bool{}
	for _, w := range c.workers {
		c.disconnect(w, c.hooks)
		connected[w] = false
	}
	t.Cleanup(func() {
		for w, ok := range connected {
			if !ok {
				c.connect(w, c.hooks)
			}
		}
	})

	tc := c.temporalClient()
	defer tc.Close()
	var attempt int32
	var lastFailure string
	eventually(t, 45*time.Second, 200*time.Millisecond, "handed over, two attempts fail while cut", func() error {
		d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
		if err != nil {
			return err
		}
		for _, pa := range d.GetPendingActivities() {
			attempt, lastFailure = pa.GetAttempt(), pa.GetLastFailure().GetMessage()
		}
		if attempt < 3 {
			return fmt.Errorf("activity attempt %d, last failure %q", attempt, lastFailure)
		}
		return nil
	})
	t.Logf("while cut: attempt %d, %q", attempt, lastFailure)
	require.Len(t, c.records(path), 1, "nothing reaches the receiver while cut")

	for _, w := range c.workers {
		c.connect(w, c.hooks)
		connected[w] = true
	}
	eventually(t, time.Minute, 50*time.Millisecond, "an attempt reaches the receiver once connected", func() error {
		if len(c.records(path)) < 2 {
			return errPending
		}
		return nil
	})
	c.release()
	e := c.waitCompleted(t, id, time.Minute)
	d := e.delivery(t, "send")
	require.Equal(t, 200, d.StatusCode)
	require.GreaterOrEqual(t, d.Attempts, int(attempt)+1, "the local attempt, and the activity's, the last of them (at least attempt %d) delivered", attempt)
	for _, r := range c.records(path) {
		require.Equal(t, d.DeliveryID, r.Headers.Get("Idempotency-Key"))
	}
}

const flowFlaky = `
id: c5-flaky
trigger: {mode: async}
steps:
  - id: send
    type: http
    method: POST
    url: http://receiver:8080/flaky/2/c5
    body: {mode: all}
    timeouts: {connect: 1s, response: 3s}
    retry: {initialInterval: 1s, backoffCoefficient: 1, maximumInterval: 1s}
`

// 5. Mid retry (the receiver answered 503), the workers are cut from the
// receiver's network: the attempts fail with network errors and reach
// nothing; once they are connected again the delivery arrives.
//
// Both workers are cut: with one cut, the other would simply deliver and
// the reconnection would prove nothing.
func (c *Cluster) testNetworkCut(t *testing.T) {
	tok := c.createFlow(0, flowFlaky)
	a := c.trigger(0, tok, `{"order":"c5"}`, "c5")
	require.Equal(t, http.StatusOK, a.status, a.String())
	id := "c5-flaky:c5"
	// The local first attempt gets a 503, then the handed-over activity's
	// first attempt another, a second later: cut after that one.
	eventually(t, 30*time.Second, 20*time.Millisecond, "the first retry reaches the receiver", func() error {
		if len(c.records("/flaky/2/c5")) < 2 {
			return errPending
		}
		return nil
	})
	connected := map[*node]bool{}
	for _, w := range c.workers {
		c.disconnect(w, c.hooks)
		connected[w] = false
	}
	t.Cleanup(func() {
		for w, ok := range connected {
			if !ok {
				c.connect(w, c.hooks)
			}
		}
	})
	before := len(c.records("/flaky/2/c5"))

	tc := c.temporalClient()
	defer tc.Close()
	attemptAt := func() (int32, string) {
		d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
		require.NoError(t, err)
		for _, pa := range d.GetPendingActivities() {
			return pa.GetAttempt(), pa.GetLastFailure().GetMessage()
		}
		return 0, ""
	}
	cutAt, _ := attemptAt()
	require.NotZero(t, cutAt, "the activity is retrying when cut")
	var lastFailure string
	eventually(t, 30*time.Second, 200*time.Millisecond, "two attempts fail while cut", func() error {
		n, msg := attemptAt()
		lastFailure = msg
		if n < cutAt+2 {
			return fmt.Errorf("attempt %d (cut at %d), last failure %q", n, cutAt, msg)
		}
		return nil
	})
	t.Logf("while cut: %q", lastFailure)
	require.Len(t, c.records("/flaky/2/c5"), before, "nothing reaches the receiver while cut")

	for _, w := range c.workers {
		c.connect(w, c.hooks)
		connected[w] = true
	}
	e := c.waitCompleted(t, id, time.Minute)
	d := e.delivery(t, "send")
	require.Equal(t, 200, d.StatusCode)
	require.GreaterOrEqual(t, d.Attempts, 5, "2 answered 503 (the local first attempt and the activity's first), at least 2 cut, 1 delivered")
	rs := c.records("/flaky/2/c5")
	require.Len(t, rs, 3, "two 503s and one success reach the receiver")
	for _, r := range rs {
		require.Equal(t, d.DeliveryID, r.Headers.Get("Idempotency-Key"))
	}
}

const flowDelay = `
id: c3-delay
trigger: {mode: async}
steps:
  - {id: wait, type: delay, duration: 20s}
  - {id: done, type: set, values: {ok: true}}
`

const flowAsync = `
id: %s
trigger: {mode: async}
steps:
  - {id: done, type: set, values: {n: "{{ trigger.body.n }}"}}
`

// outage is how long Temporal stays down in scenario 3.
const outage = 20 * time.Second

// holdRuns is how many runs scenario 3 has making a first attempt when
// Temporal stops.
const holdRuns = 6

const flowHoldEach = `
id: c3-hold
trigger: {mode: async}
steps:
  - id: send
    type: http
    method: POST
    url: "http://receiver:8080/hold/c3/{{ trigger.body.n }}"
    body: {mode: all}
    timeouts: {connect: 2s, response: 10s}
    retry: {initialInterval: 1s, backoffCoefficient: 1, maximumInterval: 1s}
`

// 3. Temporal restarts while runs wait in a delay and triggers arrive:
// the waiting runs complete; meanwhile callers get 2xx or 503 with
// Retry-After, never anything else; every trigger that got a 2xx has
// exactly one completed run.
func (c *Cluster) testTemporalRestart(t *testing.T) {
	delayTok := c.createFlow(0, flowDelay)
	asyncTok := c.createFlow(0, fmt.Sprintf(flowAsync, "c3-async"))
	syncTok := c.createFlow(0, fmt.Sprintf(flowSync, "c3-sync"))
	sendTok := c.createFlow(0, fmt.Sprintf(flowAsyncDelivery, "c3-send"))
	holdTok := c.createFlow(0, flowHoldEach)
	time.Sleep(cacheTTL + 500*time.Millisecond) // both replicas serve them

	var waiting []string
	for n := 0; n < 10; n++ {
		key := fmt.Sprintf("d-%d", n)
		a := c.trigger(n%2, delayTok, fmt.Sprintf(`{"n":%d}`, n), key)
		require.Equal(t, http.StatusOK, a.status, a.String())
		waiting = append(waiting, "c3-delay:"+key)
	}

	ctx, cancel := context.WithCancel(context.Background())
	// Local first attempts in flight when Temporal stops: the receiver
	// holds them until it is stopped, then answers them within their
	// budget, so their workflow tasks cannot be completed.
	var inFlight []string
	for n := 0; n < holdRuns; n++ {
		key := fmt.Sprintf("h-%d", n)
		a := c.trigger(n%2, holdTok, fmt.Sprintf(`{"n":%d}`, n), key)
		require.Equal(t, http.StatusOK, a.status, a.String())
		inFlight = append(inFlight, "c3-hold:"+key)
	}
	eventually(t, 10*time.Second, 20*time.Millisecond, "every held first attempt at the receiver", func() error {
		if n := len(c.records("/hold/c3/")); n < holdRuns {
			return fmt.Errorf("%d of %d", n, holdRuns)
		}
		return nil
	})
	load := c.startLoad(ctx, "c3", 6, []loadFlow{{"c3-async", asyncTok, false}, {"c3-sync", syncTok, true}, {"c3-send", sendTok, false}}, loadOpts{syncTimeoutOK: true})
	time.Sleep(500 * time.Millisecond)
	// Down long enough that callers cannot be served by waiting (the
	// server itself restarts in a few seconds, which the SDK's retries
	// hide from callers).
	began := time.Now()
	c.stop(c.temporal, 10*time.Second)
	stopped := time.Since(began)
	held := c.release()
	t.Logf("%d first attempts held answered %s after the first reached the receiver, Temporal stopped", held, time.Since(c.records("/hold/c3/")[0].Time).Round(100*time.Millisecond))
	require.Equal(t, holdRuns, held, "every first attempt was still waiting for its answer (within its 5 s budget) when Temporal stopped")
	time.Sleep(outage)
	c.start(c.temporal)
	// Their tasks are run again: every hold answered at once from now on.
	stopReleasing := c.releaseUntilDone()
	defer stopReleasing()
	for _, api := range c.apis {
		c.waitReady(api, 3*time.Minute)
	}
	t.Logf("temporal: stopped in %s, down for %s, answering again %s after the stop began",
		stopped.Round(100*time.Millisecond), outage, time.Since(began).Round(100*time.Millisecond))
	time.Sleep(10 * time.Second)
	cancel()
	rep := load.wait()
	t.Logf("triggers during the restart: %s", rep)

	// assert, not require: the runs are checked (and reported) as well.
	assert.Empty(t, rep.unexpected, "callers get 2xx, 503 with Retry-After, or (sync) 504 naming the run that goes on; nothing else")
	for _, u := range rep.unexpected {
		id, _, _ := strings.Cut(u, ": ")
		e, err := c.execution(0, id)
		t.Logf("%s: the run behind that answer: status %q %v", id, e.Status, err)
	}
	require.NotZero(t, rep.byStatus[http.StatusServiceUnavailable], "some triggers arrived during the outage")
	c.requireRuns(t, "c3-delay", waiting, nil, 2*time.Minute)
	c.requireRuns(t, "c3-async", rep.accepted["c3-async"], rep.unanswered["c3-async"], 2*time.Minute)
	// Sends made during the restart, and first attempts in flight when
	// Temporal went away (made again once it is back, the task's outcome
	// lost), with the same key; none lost.
	c.requireRuns(t, "c3-send", rep.accepted["c3-send"], rep.unanswered["c3-send"], 2*time.Minute)
	c.requireDelivered(t, "c3-send", rep.accepted["c3-send"], rep.numbers)
	c.requireRuns(t, "c3-hold", inFlight, nil, 2*time.Minute)
	numbers := map[string]string{}
	for n, id := range inFlight {
		numbers[id] = strconv.Itoa(n)
	}
	c.requireDeliveredAt(t, "/hold/c3/", "c3-hold", inFlight, numbers)
	// A sync trigger whose budget ran out during the outage was told its
	// run goes on: it must, once; and its caller, retrying with the same
	// key, gets the flow's answer.
	syncRuns := append(append([]string{}, rep.accepted["c3-sync"]...), rep.timedOut["c3-sync"]...)
	// 4 minutes: once (in five runs of the suite), after a slower restart
	// (32 s), 4 sync runs took more than 2 minutes to complete; why is not
	// known yet.
	c.requireRuns(t, "c3-sync", syncRuns, rep.unanswered["c3-sync"], 4*time.Minute)
	for _, id := range rep.timedOut["c3-sync"] {
		_, key, _ := strings.Cut(id, ":")
		a := c.trigger(0, syncTok, rep.bodies[id], key)
		require.Equal(t, http.StatusCreated, a.status, "%s retried after its 504: %s", id, a)
		require.JSONEq(t, fmt.Sprintf(`{"n":%s,"via":"sync"}`, rep.numbers[id]), a.body)
	}
}

// 6. Both api replicas, then both workers, restart one at a time (SIGTERM,
// drain, start, ready) under steady load of sync and async triggers with
// idempotency keys; callers retry a 503 with the same key. No accepted
// trigger is lost, none runs twice, and callers see only 2xx or 503.
func (c *Cluster) testRollingRestart(t *testing.T) {
	asyncTok := c.createFlow(0, fmt.Sprintf(flowAsyncDelivery, "c6-async"))
	syncTok := c.createFlow(0, fmt.Sprintf(flowSync, "c6-sync"))
	time.Sleep(cacheTTL + 500*time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	load := c.startLoad(ctx, "c6", 10, []loadFlow{{"c6-async", asyncTok, false}, {"c6-sync", syncTok, true}}, loadOpts{retry503: true})
	began := time.Now()
	time.Sleep(3 * time.Second)
	c.rollingRestart()
	t.Logf("rolling restart of 2 apis and 2 workers took %s", time.Since(began).Round(time.Second))
	if rest := 40*time.Second - time.Since(began); rest > 0 {
		time.Sleep(rest)
	}
	cancel()
	rep := load.wait()
	t.Logf("triggers during the rolling restart: %s", rep)

	require.Empty(t, rep.unexpected, "callers see only 2xx or 503")
	require.Zero(t, rep.transport, "no request failed at the transport: replicas leave rotation before they stop")
	require.Empty(t, rep.unanswered["c6-async"], "every async trigger accepted in the end")
	require.Empty(t, rep.unanswered["c6-sync"], "every sync trigger answered in the end")
	c.requireRuns(t, "c6-async", rep.accepted["c6-async"], nil, 2*time.Minute)
	c.requireRuns(t, "c6-sync", rep.accepted["c6-sync"], nil, 2*time.Minute)

	// Every async run delivered, at least once: a delivery is made again
	// when its outcome is lost.
	c.requireDelivered(t, "c6-async", rep.accepted["c6-async"], rep.numbers)
}

// requireDelivered waits until the receiver has a delivery of each
// accepted run of a flowAsyncDelivery flow (its path ends in the run's
// n), then requires that every copy of one run's delivery carries the same
// Idempotency-Key, so the receiver can drop the duplicates; it logs how
// many runs were delivered more than once.
func (c *Cluster) requireDelivered(t *testing.T, flowID string, accepted []string, numbers map[string]string) {
	t.Helper()
	c.requireDeliveredAt(t, "/ok/"+flowID+"/", flowID, accepted, numbers)
}

// requireDeliveredAt is requireDelivered for sends whose paths are prefix
// followed by the run's n.
func (c *Cluster) requireDeliveredAt(t *testing.T, prefix, flowID string, accepted []string, numbers map[string]string) {
	t.Helper()
	var keys map[string][]string
	eventually(t, time.Minute, 500*time.Millisecond, flowID+": every accepted run's delivery", func() error {
		keys = map[string][]string{}
		for _, r := range c.records(prefix) {
			n := strings.TrimPrefix(r.Path, prefix)
			keys[n] = append(keys[n], r.Headers.Get("Idempotency-Key"))
		}
		missing := 0
		for _, id := range accepted {
			if len(keys[numbers[id]]) == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d of %d runs not delivered", missing, len(accepted))
		}
		return nil
	})
	dup := 0
	for n, ks := range keys {
		require.NotEmpty(t, ks[0], "%s run %s: a delivery without Idempotency-Key", flowID, n)
		for _, k := range ks {
			require.Equal(t, ks[0], k, "%s run %s: every copy of a delivery carries its key", flowID, n)
		}
		if len(ks) > 1 {
			dup++
		}
	}
	t.Logf("%s: %d runs delivered, %d of them more than once (same key)", flowID, len(keys), dup)
}

// rollingRestart restarts both api replicas, then both workers, one at a
// time: SIGTERM (the process drains), start, ready.
func (c *Cluster) rollingRestart() {
	c.t.Helper()
	for _, api := range c.apis {
		// As a load balancer does: out of rotation, then stop (the
		// replica drains what it has), start, ready, back in.
		c.setRotation(api, false)
		time.Sleep(time.Second)
		c.stop(api, 30*time.Second)
		c.start(api)
		c.setRotation(api, true)
		time.Sleep(2 * time.Second)
	}
	for _, w := range c.workers {
		c.stop(w, 30*time.Second)
		c.start(w)
		time.Sleep(2 * time.Second)
	}
}

// --- load ---

type loadFlow struct {
	id, token string
	sync      bool
}

type load struct {
	c    *Cluster
	done chan struct{}
	wg   sync.WaitGroup

	mu  sync.Mutex
	rep *loadReport
}

// loadReport is what the callers saw.
type loadReport struct {
	sent     int
	byStatus map[int]int
	// transport counts requests that got no HTTP answer (retried on
	// another replica).
	transport int
	// unexpected lists answers other than 2xx and 503 with Retry-After.
	unexpected []string
	// accepted: execution ids of triggers answered 2xx, by flow;
	// unanswered: those that never got a 2xx (a 503 may still have
	// started a run).
	accepted, unanswered map[string][]string
	// timedOut: sync triggers answered 504 (the caller's budget ran out;
	// the run goes on), when loadOpts.syncTimeoutOK.
	timedOut map[string][]string
	// numbers maps an execution id to the n its body carried; bodies to
	// the body sent.
	numbers, bodies map[string]string
}

type loadOpts struct {
	// retry503: a 503 is retried (same key, same body) after its
	// Retry-After (at most 1 s here), for up to 2 minutes.
	retry503 bool
	// syncTimeoutOK: a sync trigger may answer 504 timeout naming its run
	// (the flow did not answer within its budget and goes on running).
	syncTimeoutOK bool
}

func (r *loadReport) String() string {
	var codes []int
	for s := range r.byStatus {
		codes = append(codes, s)
	}
	sort.Ints(codes)
	var parts []string
	for _, s := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", r.byStatus[s], s))
	}
	acc, un := 0, 0
	for _, ids := range r.accepted {
		acc += len(ids)
	}
	for _, ids := range r.unanswered {
		un += len(ids)
	}
	to := 0
	for _, ids := range r.timedOut {
		to += len(ids)
	}
	return fmt.Sprintf("%d triggers, %d accepted, %d sync timed out, %d never accepted; answers %s; %d transport errors; %d unexpected",
		r.sent, acc, to, un, strings.Join(parts, " "), r.transport, len(r.unexpected))
}

// startLoad sends rate triggers per second, round robin over flows and
// the replicas in rotation, each with its own idempotency key, until ctx
// is done.
func (c *Cluster) startLoad(ctx context.Context, prefix string, rate int, flows []loadFlow, opts loadOpts) *load {
	l := &load{c: c, done: make(chan struct{}), rep: &loadReport{
		byStatus: map[int]int{}, accepted: map[string][]string{}, unanswered: map[string][]string{}, timedOut: map[string][]string{},
		numbers: map[string]string{}, bodies: map[string]string{},
	}}
	var n atomic.Int64
	go func() {
		defer close(l.done)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				l.wg.Wait()
				return
			case <-tick.C:
			}
			i := int(n.Add(1))
			f := flows[i%len(flows)]
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				l.send(f, fmt.Sprintf("%s-%d", prefix, i), i, opts)
			}()
		}
	}()
	return l
}

func (l *load) send(f loadFlow, key string, n int, opts loadOpts) {
	id := f.id + ":" + key
	body := fmt.Sprintf(`{"n":%d,"key":%q}`, n, key)
	l.mu.Lock()
	l.rep.sent++
	l.rep.numbers[id] = strconv.Itoa(n)
	l.rep.bodies[id] = body
	l.mu.Unlock()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		a := l.c.trigger(l.c.pick(), f.token, body, key)
		l.mu.Lock()
		if a.err != nil {
			l.rep.transport++
		} else {
			l.rep.byStatus[a.status]++
		}
		ok := a.err == nil && a.status >= 200 && a.status < 300
		is503 := a.err == nil && a.status == http.StatusServiceUnavailable
		timedOut := opts.syncTimeoutOK && f.sync && a.err == nil && a.status == http.StatusGatewayTimeout &&
			jsonField(a.body, "error") == "timeout" && jsonField(a.body, "executionId") == id
		switch {
		case ok:
			l.rep.accepted[f.id] = append(l.rep.accepted[f.id], id)
		case timedOut:
			l.rep.timedOut[f.id] = append(l.rep.timedOut[f.id], id)
		case is503 && a.header.Get("Retry-After") == "":
			l.rep.unexpected = append(l.rep.unexpected, fmt.Sprintf("%s: 503 without Retry-After: %s", id, a.body))
		case a.err == nil && !is503:
			l.rep.unexpected = append(l.rep.unexpected, fmt.Sprintf("%s: %s", id, a))
		}
		l.mu.Unlock()
		if ok || timedOut {
			return
		}
		retry := a.err != nil || (is503 && opts.retry503)
		if !retry || time.Now().After(deadline) {
			l.mu.Lock()
			l.rep.unanswered[f.id] = append(l.rep.unanswered[f.id], id)
			l.mu.Unlock()
			return
		}
		wait := time.Second
		if s, err := strconv.Atoi(a.header.Get("Retry-After")); err == nil && a.err == nil {
			wait = min(time.Duration(s)*time.Second, time.Second)
		}
		time.Sleep(wait)
	}
}

// wait returns the report once the load has stopped and every caller has
// its final answer.
func (l *load) wait() *loadReport {
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rep
}

// --- runs ---

// requireRuns waits until each of the expected runs of a flow has
// completed, then requires that the flow has exactly one run per expected
// id, plus at most one for each maybe id (a trigger answered 503 whose
// start reached Temporal anyway), every one completed: nothing lost,
// nothing doubled, nothing from nowhere.
func (c *Cluster) requireRuns(t *testing.T, flowID string, expected, maybe []string, within time.Duration) {
	t.Helper()
	var list []execution
	eventually(t, within, time.Second, flowID+": every accepted trigger's run completed", func() error {
		var err error
		list, err = c.executions(0, flowID)
		if err != nil {
			return err
		}
		byID := map[string][]execution{}
		for _, e := range list {
			byID[e.ID] = append(byID[e.ID], e)
		}
		pending := 0
		for _, id := range expected {
			es := byID[id]
			if len(es) == 0 || es[0].Status != "completed" {
				pending++
			}
		}
		if pending > 0 {
			return fmt.Errorf("%d of %d runs not listed as completed yet", pending, len(expected))
		}
		return nil
	})
	allowed := map[string]bool{}
	for _, id := range expected {
		allowed[id] = true
	}
	extra := 0
	for _, id := range maybe {
		allowed[id] = true
	}
	count := map[string]int{}
	for _, e := range list {
		count[e.ID]++
		require.True(t, allowed[e.ID], "%s: run %s was never triggered", flowID, e.ID)
		require.Equal(t, "completed", e.Status, "%s: run %s", flowID, e.ID)
		if !contains(expected, e.ID) {
			extra++
		}
	}
	for id, n := range count {
		require.Equal(t, 1, n, "%s: run %s exists %d times", flowID, id, n)
	}
	for _, id := range expected {
		require.Equal(t, 1, count[id], "%s: accepted trigger %s has no run", flowID, id)
	}
	t.Logf("%s: %d runs, each completed once (%d accepted, %d more from triggers answered 503)", flowID, len(list), len(expected), extra)
}

// requireRunsInclude waits until the given runs of a flow completed.
func (c *Cluster) requireRunsInclude(t *testing.T, flowID string, ids []string, within time.Duration) {
	t.Helper()
	for _, id := range ids {
		c.waitCompleted(t, id, within)
	}
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// waitCompleted waits until one run has completed and returns it with its
// step log.
func (c *Cluster) waitCompleted(t *testing.T, id string, within time.Duration) execution {
	t.Helper()
	var e execution
	eventually(t, within, 250*time.Millisecond, id+" completes", func() error {
		var err error
		e, err = c.execution(0, id)
		if err != nil {
			return err
		}
		if e.Status != "completed" {
			return fmt.Errorf("status %s", e.Status)
		}
		return nil
	})
	return e
}

type delivery struct {
	DeliveryID string
	StatusCode int
	Attempts   int
}

// delivery is the step log's record of an http step's send.
func (e execution) delivery(t *testing.T, stepID string) delivery {
	t.Helper()
	require.NotNil(t, e.Steps, "%s has no step log", e.ID)
	for _, s := range e.Steps.Steps {
		if s.ID == stepID && s.Delivery != nil {
			return delivery{DeliveryID: s.Delivery.DeliveryID, StatusCode: s.Delivery.StatusCode, Attempts: s.Delivery.Attempts}
		}
	}
	t.Fatalf("%s: no delivery of step %s in %+v", e.ID, stepID, e.Steps)
	return delivery{}
}

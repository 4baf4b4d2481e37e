//go:build !nodev

package tests

import (
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/worker"
)

var (
	record     = flag.Bool("record", false, "write the histories of TestHistoriesReplay to workflows/testdata")
	recordOnly = flag.String("record-only", "", "with -record, write only these fixtures (comma-separated names, such as composition): older fixtures stay as they were recorded")
)

// everyStepFlow uses each step type, so its history exercises every
// executor's commands (timers, parallel coroutines, the update).
const everyStepFlow = `
id: it-every-step
trigger: {mode: sync, timeout: 20s}
steps:
  - {id: init, type: set, values: {count: 0, kind: "{{ trigger.body.kind }}"}}
  - {id: notify, type: http, method: POST, url: "RECEIVER/notify", body: {mode: all}, outputs: {ack: ack}, retry: {initialInterval: 100ms}}
  - id: route
    type: switch
    cases:
      - {name: order, if: 'vars.kind == "order"', steps: [{id: team, type: set, values: {team: shipping}}]}
    default: [{id: other, type: set, values: {team: support}}]
  - id: each
    type: loop
    over: trigger.body.items
    steps:
      - id: big
        type: condition
        if: item.qty > 1
        then: [{id: bump, type: set, values: {count: "{{ vars.count + item.qty }}"}}]
  - id: both
    type: parallel
    branches:
      - steps: [{id: wait_a, type: delay, duration: 1s}, {id: a, type: set, values: {a: true}}]
      - steps: [{id: wait_b, type: delay, until: "{{ execution.startedAt }}"}, {id: b, type: set, values: {b: true}}]
  - {id: reply, type: response, status: 201, body: {team: "{{ vars.team }}", count: "{{ vars.count }}", a: "{{ vars.a }}", b: "{{ vars.b }}", ack: "{{ steps.notify.outputs.ack }}"}}
  - {id: cool_down, type: delay, duration: 1s}
  - {id: stop, type: end, message: "handled {{ len(trigger.body.items) }} items"}
`

const failingFlow = `
id: it-failing
trigger: {}
steps:
  - id: both
    type: parallel
    branches:
      - steps: [{id: slow, type: delay, duration: 1h}]
      - steps: [{id: quick, type: delay, duration: 1s}, {id: stop, type: end, status: failure, message: "refused"}]
`

// continuedFlow hands over (continue-as-new) mid-loop and mid-parallel,
// with a delay interrupted and resumed.
const continuedFlow = `
id: it-continued
trigger: {}
steps:
  - {id: init, type: set, values: {n: 0}}
  - id: both
    type: parallel
    branches:
      - steps: [{id: wait, type: delay, duration: 2s}]
      - steps:
          - id: each
            type: loop
            over: "1..6"
            concurrency: 2
            steps:
              - {id: send, type: http, method: POST, url: "RECEIVER/item", body: {mode: keyValue, fields: {n: "{{ item }}"}}}
              - {id: add, type: set, values: {n: "{{ vars.n + 1 }}"}}
  - {id: stop, type: end, message: "sent {{ vars.n }}"}
`

// compositionFlow calls another flow (waiting, and fire and forget), waits
// for an event with a signed link read by its notify step, takes an
// approval and sets the run's output; its last wait times out.
const compositionFlow = `
id: it-composition
trigger: {}
steps:
  - {id: quote, type: call, flow: it-replay-callee, input: {n: 2}}
  - {id: fire, type: call, flow: it-replay-callee, input: {n: 1}, wait: false}
  - id: confirm
    type: wait
    event: go
    timeout: 1h
    notify: [{id: link, type: set, values: {url: "{{ steps.confirm.resumeUrl }}"}}]
  - id: review
    type: approval
    timeout: 1h
    then: [{id: yes, type: output, values: {double: "{{ steps.quote.outputs.double }}", by: "{{ steps.review.outputs.decidedBy }}", got: "{{ steps.confirm.outputs.x }}"}}]
  - {id: idle, type: wait, event: never, timeout: 1s, onTimeout: continue}
`

// replayIDs are the execution ids histories replay under, where the
// commands depend on it (a call step's child id).
var replayIDs = map[string]string{"composition": "it-composition:replay-4"}

const replayCallee = `
id: it-replay-callee
trigger: {}
steps: [{id: o, type: output, values: {double: "{{ trigger.body.n * 2 }}"}}]
`

// runComposition runs compositionFlow through the API, sending its event
// and its decision once it waits for each, and returns its execution id.
func runComposition(t *testing.T) string {
	s := setupSharedAdmin(t)
	for _, y := range []string{replayCallee, compositionFlow} {
		a := s.apply(y)
		require.Contains(t, []int{http.StatusCreated, http.StatusOK}, a.status, a.body)
	}
	a := post(t, s.hook("it-composition"), "application/json", `{}`, "Idempotency-Key", "replay-4")
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	require.Equal(t, replayIDs["composition"], id)
	for _, ev := range []struct{ name, body string }{{"go", `{"x":1}`}, {"review", `{"decision":"approved","decidedBy":"ann"}`}} {
		require.Eventually(t, func() bool {
			return s.call("POST", "/api/v1/executions/"+id+"/events/"+ev.name, writeKey, "application/json", ev.body).status == http.StatusOK
		}, 15*time.Second, 50*time.Millisecond, "the run never waited for %s", ev.name)
	}
	res, err := s.result(id)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"double": 4.0, "by": "ann", "got": 1.0}, res.Output)
	return id
}

// TestHistoriesReplay runs real flows on the embedded server and replays
// their histories against the current workflow code: a change that breaks
// determinism fails here. With -record the histories are also written to
// workflows/testdata, where workflows' replay test keeps them as fixtures
// against which later code must still replay.
func TestHistoriesReplay(t *testing.T) {
	// The receiver fails once, so the history holds a retried delivery.
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		okJSON(`{"ack":"yes"}`)(n, w)
	})
	s := setup(t, strings.ReplaceAll(everyStepFlow, "RECEIVER", rcv.URL), failingFlow, strings.ReplaceAll(continuedFlow, "RECEIVER", rcv.URL))
	a := post(t, s.hookURL("it-every-step"), "application/json",
		`{"kind":"order","items":[{"qty":1},{"qty":2},{"qty":5}]}`, "Idempotency-Key", "replay-1")
	require.Equal(t, http.StatusCreated, a.status, a.body)
	require.JSONEq(t, `{"team":"shipping","count":7,"a":true,"b":true,"ack":"yes"}`, a.body)
	okID := a.header.Get(api.HeaderExecutionID)
	res, err := s.result(okID)
	require.NoError(t, err)
	require.Equal(t, "ended", res.Status)
	require.Equal(t, "handled 3 items", res.Message)

	a = post(t, s.hookURL("it-failing"), "application/json", `{}`, "Idempotency-Key", "replay-2")
	require.Equal(t, http.StatusOK, a.status)
	failID := a.header.Get(api.HeaderExecutionID)
	_, err = s.result(failID)
	require.Error(t, err)

	// Pure steps add no history events: the flow above runs set, switch,
	// loop (3 iterations with conditions), parallel, response and end in
	// workflow code. Its history holds only the run's own events, one timer
	// per delay that waits (wait_a, cool_down; wait_b's time is past), the
	// delivery (two attempts, one activity) and the sync answer's update.
	counts := map[enumspb.EventType]int{}
	for _, e := range history(t, s, okID).Events {
		counts[e.GetEventType()]++
	}
	// The delivery's first attempt ran locally (a marker) and failed, so
	// it was handed over after a timer (the retry interval) to one
	// activity; the worker's first-attempt setting is recorded once (a
	// side effect marker). The run's engine (its input) says local first
	// attempts exist: no version marker, and no search attribute upsert.
	require.Equal(t, 3, counts[enumspb.EVENT_TYPE_TIMER_STARTED])
	require.Equal(t, 1, counts[enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED])
	require.Equal(t, 2, counts[enumspb.EVENT_TYPE_MARKER_RECORDED])
	require.Zero(t, counts[enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES], "no visibility write beyond start and close")
	require.Equal(t, 1, counts[enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED])
	for typ := range counts {
		switch typ {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
			enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED, enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
			enumspb.EVENT_TYPE_TIMER_STARTED, enumspb.EVENT_TYPE_TIMER_FIRED,
			enumspb.EVENT_TYPE_MARKER_RECORDED, enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
			enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED, enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
		default:
			t.Errorf("unexpected history event %s: pure steps must add none", typ)
		}
	}

	// A chain: the run is started as a trigger would, with a small step
	// budget per run so that it continues as new twice or more.
	e, ok := s.cat.ByID("it-continued")
	require.True(t, ok)
	opts := contract.StartOptions(e.Flow, 1, "replay-3")
	run, err := s.client.ExecuteWorkflow(context.Background(), opts, contract.WorkflowName,
		contract.Input{Flow: e.Flow, FlowVersion: 1, Trigger: map[string]any{"body": map[string]any{}}, ContinueAfterSteps: 4})
	require.NoError(t, err)
	var chained contract.RunResult
	require.NoError(t, s.client.GetWorkflow(context.Background(), opts.ID, "").Get(context.Background(), &chained))
	require.Equal(t, "sent 6", chained.Message)
	firstRun := runHistory(t, s, opts.ID, run.GetRunID())
	require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, firstRun.Events[len(firstRun.Events)-1].GetEventType())

	histories := map[string]*historypb.History{
		"every_step": history(t, s, okID), "every_step_local": history(t, s, okID), "every_step_engine1": history(t, s, okID),
		"every_step_engine2": history(t, s, okID),
		"parallel_failure":   history(t, s, failID),
		"continued_first":    firstRun, "continued_last": history(t, s, opts.ID),
		"composition": history(t, s, runComposition(t)),
	}
	// every_step_local is every_step with its send's first attempt run
	// locally and handed over (every_step.json was recorded before), as a
	// run started without an engine does it (behind a version marker);
	// every_step_engine1 as a run started with Engine 1 (no marker);
	// every_step_engine2 with Engine 2 (sends placed by the byte budget of
	// their workflow task).
	for _, name := range []string{"every_step", "every_step_local", "every_step_engine1", "every_step_engine2", "parallel_failure", "continued_first", "continued_last", "composition"} {
		h := histories[name]
		replayer := sdkworker.NewWorkflowReplayer()
		worker.Register(replayer)
		// Child workflow ids name their parent: replay under the run's
		// own id (workflows/replay_test.go knows it for the fixture).
		require.NoError(t, replayer.ReplayWorkflowHistoryWithOptions(nil, h, sdkworker.ReplayWorkflowHistoryOptions{
			OriginalExecution: workflow.Execution{ID: replayIDs[name]},
		}), name)
		if *record && (*recordOnly == "" || slices.Contains(strings.Split(*recordOnly, ","), name)) {
			b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join("..", "workflows", "testdata", name+".json"), b, 0o644))
		}
	}
}

func history(t *testing.T, s *stack, id string) *historypb.History {
	t.Helper()
	return runHistory(t, s, id, "")
}

// runHistory is one run's history ("": the latest run of the id).
func runHistory(t *testing.T, s *stack, id, runID string) *historypb.History {
	t.Helper()
	it := s.client.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, e)
	}
	return h
}

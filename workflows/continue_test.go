package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/worker"
)

// receiver records what the mocked delivery activity was asked to send, as a
// webhook receiver would, across every run of a chain.
type receiver struct {
	mu   sync.Mutex
	got  map[string]int // body -> times received
	keys map[string]int // delivery id -> times received
}

func newReceiver() *receiver { return &receiver{got: map[string]int{}, keys: map[string]int{}} }

func (rc *receiver) deliver(_ context.Context, req flow.HTTPRequest) (*contract.Result, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got[string(req.Body)]++
	rc.keys[req.DeliveryID]++
	return &contract.Result{StatusCode: 200, Attempt: 1, Outputs: map[string]any{"echo": json.RawMessage(req.Body)}}, nil
}

// chain runs a flow the way Temporal runs a continue-as-new chain: each
// continuation's input is taken from the previous run's ContinueAsNewError
// and run in a fresh test environment, until a run completes. It returns
// the final result, the inputs of every continuation and the final step log.
func chain(t *testing.T, rc *receiver, in contract.Input, onFirst func(env *testsuite.TestWorkflowEnvironment)) (*contract.RunResult, []contract.Input, contract.StepLog) {
	t.Helper()
	var continuations []contract.Input
	for round := 0; ; round++ {
		require.Less(t, round, 200, "the chain never completed")
		var s testsuite.WorkflowTestSuite
		s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
		env := s.NewTestWorkflowEnvironment()
		// Each continuation starts a minute after the previous run (as a
		// real chain would start later): a resumed delay must still end
		// when the first run said.
		env.SetStartTime(startTime.Add(time.Duration(round) * time.Minute))
		worker.Register(env)
		env.RegisterActivityWithOptions(rc.deliver, activity.RegisterOptions{Name: contract.DeliverName})
		if round == 0 && onFirst != nil {
			onFirst(env)
		}
		env.ExecuteWorkflow(contract.WorkflowName, in)
		require.True(t, env.IsWorkflowCompleted())
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			var next contract.Input
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			require.NotNil(t, next.Carry)
			require.Equal(t, len(continuations)+1, next.Carry.Continuations)
			continuations = append(continuations, next)
			in = next
			continue
		}
		require.NoError(t, err)
		var res contract.RunResult
		require.NoError(t, env.GetWorkflowResult(&res))
		v, err := env.QueryWorkflow(contract.QuerySteps)
		require.NoError(t, err)
		var log contract.StepLog
		require.NoError(t, v.Get(&log))
		return &res, continuations, log
	}
}

func input(t *testing.T, yaml string, body any, every int) contract.Input {
	return contract.Input{Flow: mustFlow(t, yaml), FlowVersion: 1, Trigger: map[string]any{"body": body}, ContinueAfterSteps: every}
}

// requireEachOnce checks that every expected body arrived exactly once, and
// that no delivery id was used twice.
func requireEachOnce(t *testing.T, rc *receiver, want []string) {
	t.Helper()
	got := make([]string, 0, len(rc.got))
	for b, n := range rc.got {
		require.Equal(t, 1, n, "body %s received %d times", b, n)
		got = append(got, b)
	}
	sort.Strings(got)
	sort.Strings(want)
	require.Equal(t, want, got)
	for k, n := range rc.keys {
		require.Equal(t, 1, n, "delivery id %s used %d times", k, n)
	}
}

func items(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"item":"%s%d"}`, prefix, i+1)
	}
	return out
}

func TestContinueAsNewMidLoop(t *testing.T) {
	const yaml = `
id: l
trigger: {}
steps:
  - {id: init, type: set, values: {sum: 0}}
  - id: each
    type: loop
    over: "1..40"
    steps:
      - {id: send, type: http, method: POST, url: "https://r.example/x", body: {mode: keyValue, fields: {item: "a{{ item }}"}}}
      - {id: add, type: set, values: {sum: "{{ vars.sum + item }}", last: "{{ steps.send.outputs.echo.item }}"}}
  - {id: after, type: set, values: {count: "{{ steps.each.outputs.count }}"}}
  - {id: fin, type: end, message: "{{ toJSON(vars) }}"}
`
	rc := newReceiver()
	res, cont, _ := chain(t, rc, input(t, yaml, nil, 15), nil)
	require.Equal(t, "ended", res.Status)
	require.Greater(t, len(cont), 2, "the loop should have continued as new several times")
	requireEachOnce(t, rc, items("a", 40))
	// Variables and outputs carried: the sum of 1..40, the last echo, the
	// loop's count read after it.
	last := cont[len(cont)-1].Carry
	require.NotNil(t, last.At.Inner, "the hand-over was inside the loop")
	vars := finalVars(t, res)
	require.EqualValues(t, 820, vars["sum"])
	require.Equal(t, "a40", vars["last"])
	require.EqualValues(t, 40, vars["count"])
	require.Equal(t, 40*2+4, res.StepsRun, "every step counted once across the chain")
}

func TestContinueAsNewConcurrentLoop(t *testing.T) {
	const yaml = `
id: l
trigger: {}
steps:
  - id: each
    type: loop
    over: "1..60"
    concurrency: 8
    steps:
      - {id: send, type: http, method: POST, url: "https://r.example/x", body: {mode: keyValue, fields: {item: "c{{ item }}"}}}
      - {id: check, type: condition, if: "steps.send.outputs.echo.item != 'c' + string(item)", then: [{id: wrong, type: end, status: failure, message: "element {{ item }} read another element's output"}]}
  - {id: after, type: set, values: {count: "{{ steps.each.outputs.count }}"}}
  - {id: fin, type: end, message: "{{ toJSON(vars) }}"}
`
	rc := newReceiver()
	res, cont, _ := chain(t, rc, input(t, yaml, nil, 25), nil)
	require.Equal(t, "ended", res.Status)
	require.Greater(t, len(cont), 1)
	requireEachOnce(t, rc, items("c", 60))
	require.EqualValues(t, 60, finalVars(t, res)["count"])
}

func TestContinueAsNewMidParallel(t *testing.T) {
	const yaml = `
id: p
trigger: {}
steps:
  - id: fan
    type: parallel
    branches:
      - steps:
          - {id: wait, type: delay, duration: 1h}
          - {id: late, type: set, values: {waited: "{{ steps.wait.outputs.until }}"}}
      - steps:
          - id: each
            type: loop
            over: "1..30"
            steps: [{id: send, type: http, method: POST, url: "https://r.example/x", body: {mode: keyValue, fields: {item: "p{{ item }}"}}}]
      - steps:
          - {id: quick, type: set, values: {q: 1}}
  - {id: after, type: set, values: {lanes: "{{ steps.fan.outputs.branches }}", sent: "{{ steps.each.outputs.count }}"}}
  - {id: fin, type: end, message: "{{ toJSON(vars) }}"}
`
	rc := newReceiver()
	res, cont, _ := chain(t, rc, input(t, yaml, nil, 12), nil)
	require.Equal(t, "ended", res.Status)
	require.Greater(t, len(cont), 1)
	requireEachOnce(t, rc, items("p", 30))
	vars := finalVars(t, res)
	require.EqualValues(t, 3, vars["lanes"])
	require.EqualValues(t, 30, vars["sent"])
	require.EqualValues(t, 1, vars["q"])
	// The delay was interrupted by a hand-over and resumed with the time
	// left: it ends one hour after the run started, not later.
	require.Equal(t, startTime.Add(time.Hour).Format(time.RFC3339Nano), vars["waited"])
	first := cont[0].Carry.At.Inner
	require.Len(t, first.Lanes, 3, "the hand-over carried every branch")
}

func TestContinueAsNewSyncCallerStillAnswered(t *testing.T) {
	const yaml = `
id: s
trigger: {mode: sync}
steps:
  - id: first
    type: loop
    over: "1..20"
    steps: [{id: send1, type: http, method: POST, url: "https://r.example/x", body: {mode: keyValue, fields: {item: "s{{ item }}"}}}]
  - {id: reply, type: response, status: 201, body: {sent: "{{ steps.first.outputs.count }}"}}
  - id: rest
    type: loop
    over: "1..20"
    steps: [{id: send2, type: http, method: POST, url: "https://r.example/x", body: {mode: keyValue, fields: {item: "t{{ item }}"}}}]
`
	rc := newReceiver()
	var answer *contract.Response
	res, cont, _ := chain(t, rc, input(t, yaml, nil, 10), func(env *testsuite.TestWorkflowEnvironment) {
		env.RegisterDelayedCallback(func() {
			env.UpdateWorkflow(contract.UpdateResponse, "u1", &testsuite.TestUpdateCallback{
				OnAccept: func() {},
				OnReject: func(e error) { t.Errorf("update rejected: %v", e) },
				OnComplete: func(r any, e error) {
					require.NoError(t, e)
					resp := r.(contract.Response)
					answer = &resp
				},
			})
		}, 0)
	})
	require.NotNil(t, answer, "the caller got no answer")
	require.Equal(t, 201, answer.Status)
	require.EqualValues(t, map[string]any{"sent": float64(20)}, jsonRoundTrip(t, answer.Body))
	require.Greater(t, len(cont), 0, "the run continued as new after answering")
	// The first hand-over came only after the caller was answered: it
	// carries the answer, for duplicates that reach the continuation.
	require.NotNil(t, cont[0].Carry.Response)
	require.NotNil(t, res.Response)
	require.Equal(t, 201, res.Response.Status)
	requireEachOnce(t, rc, append(items("s", 20), items("t", 20)...))
}

// finalVars reads the variables a flow's last step (an end step with the
// message "{{ toJSON(vars) }}") reported.
func finalVars(t *testing.T, res *contract.RunResult) map[string]any {
	t.Helper()
	out := map[string]any{}
	require.NoError(t, json.Unmarshal([]byte(res.Message), &out), res.Message)
	return out
}

func jsonRoundTrip(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

// TestResponseKeptOnlyWhenRead: an http step whose response body nobody
// reads asks the activity to return none of it (history stays small).
func TestResponseKeptOnlyWhenRead(t *testing.T) {
	var mu sync.Mutex
	keep := map[string]*int{}
	capture := func(_ context.Context, req flow.HTTPRequest) (*contract.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		keep[req.URL] = req.KeepBody
		return &contract.Result{StatusCode: 200, Attempt: 1, Body: map[string]any{"x": 1}, Outputs: map[string]any{"id": "x"}}, nil
	}
	h := setup(t)
	h.env.RegisterActivityWithOptions(capture, activity.RegisterOptions{Name: contract.DeliverName})
	_, err := h.run(`
id: k
trigger: {}
steps:
  - {id: quiet, type: http, method: POST, url: "https://r.example/quiet", outputs: {id: id}}
  - {id: read, type: http, method: POST, url: "https://r.example/read"}
  - {id: sized, type: http, method: POST, url: "https://r.example/sized", keepResponseBytes: 100}
  - {id: use, type: set, values: {a: "{{ steps.quiet.outputs.id }}", b: "{{ steps.read.outputs.body.x }}", c: "{{ steps.sized.outputs.statusCode }}"}}
`, nil)
	require.NoError(t, err)
	require.NotNil(t, keep["https://r.example/quiet"])
	require.Equal(t, 0, *keep["https://r.example/quiet"], "only a named output is read")
	require.Nil(t, keep["https://r.example/read"], "the body is read: the worker's limit applies")
	require.Equal(t, 100, *keep["https://r.example/sized"])
}

// TestContinueAsNewLoopWhoseListChanged: the loop's own steps change what
// over reads; the continuation iterates the list the loop began with (it is
// carried), not the changed one.
func TestContinueAsNewLoopWhoseListChanged(t *testing.T) {
	const yaml = `
id: l
trigger: {}
steps:
  - {id: init, type: set, values: {queue: "{{ 1..12 }}", seen: 0}}
  - id: each
    type: loop
    over: vars.queue
    steps:
      - {id: send, type: http, method: POST, url: "https://r.example/x", body: {mode: keyValue, fields: {item: "q{{ item }}"}}}
      - {id: shrink, type: set, values: {queue: "{{ nil }}", seen: "{{ vars.seen + 1 }}"}}
  - {id: fin, type: end, message: "{{ toJSON(vars) }}"}
`
	rc := newReceiver()
	res, cont, _ := chain(t, rc, input(t, yaml, nil, 7), nil)
	require.Greater(t, len(cont), 1)
	carried := false
	for _, c := range cont {
		if c.Carry.At.Inner != nil && c.Carry.At.Inner.Items != nil {
			carried = true
		}
	}
	require.True(t, carried, "the list was carried: evaluating over again gives null")
	requireEachOnce(t, rc, items("q", 12))
	require.EqualValues(t, 12, finalVars(t, res)["seen"])
}

// TestContinuationTooLargeFailsClearly: a run whose own state cannot fit a
// continuation's input fails naming the sizes, instead of being terminated
// by Temporal for an oversized payload.
func TestContinuationTooLargeFailsClearly(t *testing.T) {
	const yaml = `
id: big
trigger: {}
steps:
  - id: each
    type: loop
    over: "1..4"
    steps:
      - {id: grow, type: set, values: {blob: "{{ repeat('x', 500000) }}", more: "{{ repeat('y', 600000) }}", again: "{{ repeat('z', 600000) }}"}}
`
	h := setup(t)
	in := input(t, yaml, nil, 2)
	h.env.ExecuteWorkflow(contract.WorkflowName, in)
	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	require.Error(t, err)
	require.ErrorContains(t, err, "over the 1536 KiB a continue-as-new can carry")
	require.ErrorContains(t, err, "variables 1660 KiB")
}

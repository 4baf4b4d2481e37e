package workflows_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/worker"
	"github.com/hookflow/hookflow/workflows"
)

var startTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
}

func setup(t *testing.T) *harness {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(startTime)
	worker.Register(env)
	return &harness{t: t, env: env}
}

func mustFlow(t *testing.T, yaml string) *flow.Flow {
	t.Helper()
	f, err := flow.DecodeYAML([]byte(yaml))
	require.NoError(t, err)
	return f
}

// run executes the flow to completion and returns its result or error.
func (h *harness) run(yaml string, body any) (*contract.RunResult, error) {
	h.t.Helper()
	f := mustFlow(h.t, yaml)
	h.env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: f, FlowVersion: 3, Trigger: map[string]any{"body": body}})
	require.True(h.t, h.env.IsWorkflowCompleted())
	if err := h.env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var res contract.RunResult
	require.NoError(h.t, h.env.GetWorkflowResult(&res))
	return &res, nil
}

// sendUpdate sends the sync-answer update as Update-With-Start would, in the
// first workflow task, and returns a func that yields its result.
func (h *harness) sendUpdate() func() (contract.Response, error) {
	var (
		resp contract.Response
		err  error
		done bool
	)
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(contract.UpdateResponse, "u1", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(e error) { err, done = e, true },
			OnComplete: func(r any, e error) {
				done, err = true, e
				if e == nil {
					resp = r.(contract.Response)
				}
			},
		})
	}, 0)
	return func() (contract.Response, error) {
		require.True(h.t, done, "the update never completed")
		return resp, err
	}
}

func (h *harness) stepLog() contract.StepLog {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(contract.QuerySteps)
	require.NoError(h.t, err)
	var log contract.StepLog
	require.NoError(h.t, v.Get(&log))
	return log
}

// statuses maps "id" (or "id#iteration") to status.
func statuses(log contract.StepLog) map[string]string {
	out := map[string]string{}
	for _, r := range log.Steps {
		k := r.ID
		if r.Iteration != nil {
			k = k + "#" + string(rune('0'+*r.Iteration))
		}
		out[k] = r.Status
	}
	return out
}

func TestEveryStepTypeHasAnExecutor(t *testing.T) {
	for _, k := range flow.Kinds() {
		require.True(t, workflows.HasExecutor(k.Name), "no executor for step type %q", k.Name)
	}
}

func TestCondition(t *testing.T) {
	const yaml = `
id: c
trigger: {mode: sync}
steps:
  - id: big
    type: condition
    if: trigger.body.total > 100
    then: [{id: yes, type: set, values: {size: big}}]
    else: [{id: no, type: set, values: {size: small}}]
  - {id: reply, type: response, body: {size: "{{ vars.size }}", was: "{{ steps.big.outputs.result }}"}}
`
	for _, tc := range []struct {
		total float64
		size  string
		ran   string
	}{{250, "big", "yes"}, {50, "small", "no"}} {
		h := setup(t)
		res, err := h.run(yaml, map[string]any{"total": tc.total})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"size": tc.size, "was": tc.total > 100}, res.Response.Body)
		st := statuses(h.stepLog())
		require.Equal(t, "succeeded", st[tc.ran])
		require.Len(t, st, 3, "only the branch taken runs")
	}
}

func TestConditionErrorNamesStepAndExpression(t *testing.T) {
	h := setup(t)
	_, err := h.run(`
id: c
trigger: {}
steps:
  - {id: check, type: condition, if: "trigger.body.name", then: [{id: t, type: set, values: {x: 1}}]}
`, map[string]any{"name": "ada"})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, contract.ErrorTypeStepFailed, appErr.Type())
	require.Contains(t, appErr.Error(), `step "check" (steps[0]): if: expression `+"`trigger.body.name`"+`: condition must yield true or false, got a string`)
	rec := h.stepLog().Steps[0]
	require.Equal(t, "failed", rec.Status)
	require.Contains(t, rec.Error, "condition must yield true or false")
	require.NotNil(t, rec.EndedAt)
}

func TestSwitch(t *testing.T) {
	const yaml = `
id: s
trigger: {mode: sync}
steps:
  - id: route
    type: switch
    cases:
      - {name: bug, if: 'trigger.body.kind == "bug"', steps: [{id: eng, type: set, values: {team: engineering}}]}
      - {name: sale, if: 'trigger.body.kind == "sale"', steps: [{id: sales, type: set, values: {team: sales}}]}
    default: [{id: other, type: set, values: {team: support}}]
  - {id: reply, type: response, body: {team: "{{ vars.team }}", case: "{{ steps.route.outputs.case }}"}}
`
	for kind, want := range map[string][]any{"bug": {"engineering", 0}, "sale": {"sales", 1}, "spam": {"support", -1}} {
		h := setup(t)
		res, err := h.run(yaml, map[string]any{"kind": kind})
		require.NoError(t, err)
		require.Equal(t, map[string]any{"team": want[0], "case": float64(want[1].(int))}, res.Response.Body, kind)
	}
}

func TestSetEvaluatesAgainstPreviousVariables(t *testing.T) {
	h := setup(t)
	res, err := h.run(`
id: s
trigger: {mode: sync}
steps:
  - {id: init, type: set, values: {a: 1, b: 2, list: ["{{ trigger.body.x }}", "lit"], obj: {n: "{{ trigger.body.x * 2 }}"}}}
  - {id: swap, type: set, values: {a: "{{ vars.b }}", b: "{{ vars.a }}"}}
  - {id: reply, type: response, body: "{{ vars }}"}
`, map[string]any{"x": 21.0})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"a": 2.0, "b": 1.0, "list": []any{21.0, "lit"}, "obj": map[string]any{"n": 42.0}}, res.Response.Body)
}

func TestLoop(t *testing.T) {
	h := setup(t)
	res, err := h.run(`
id: l
trigger: {mode: sync}
steps:
  - {id: init, type: set, values: {acc: ""}}
  - id: each
    type: loop
    over: trigger.body.items
    steps:
      - {id: add, type: set, values: {acc: "{{ vars.acc }}{{ index }}={{ item.name }};"}}
  - {id: reply, type: response, body: {acc: "{{ vars.acc }}", count: "{{ steps.each.outputs.count }}"}}
`, map[string]any{"items": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}, map[string]any{"name": "c"}}})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"acc": "0=a;1=b;2=c;", "count": 3.0}, res.Response.Body)
	st := statuses(h.stepLog())
	require.Equal(t, "succeeded", st["add#0"])
	require.Equal(t, "succeeded", st["add#2"])
}

func TestLoopBound(t *testing.T) {
	h := setup(t)
	_, err := h.run(`
id: l
trigger: {}
steps:
  - {id: each, type: loop, over: "1..20", max: 10, steps: [{id: x, type: set, values: {i: "{{ item }}"}}]}
`, nil)
	require.ErrorContains(t, err, "over: 20 elements exceed the loop's bound of 10")
	require.Len(t, h.stepLog().Steps, 1, "no iteration runs when the bound is exceeded")

	h = setup(t)
	_, err = h.run(`
id: l
trigger: {}
steps:
  - {id: each, type: loop, over: "trigger.body", steps: [{id: x, type: set, values: {i: 1}}]}
`, "not a list")
	require.ErrorContains(t, err, "must yield an array")
}

func TestNestedLoopsAreBoundedPerRun(t *testing.T) {
	h := setup(t)
	_, err := h.run(`
id: l
trigger: {}
steps:
  - id: outer
    type: loop
    over: "1..1000"
    max: 1000
    steps:
      - {id: inner, type: loop, over: "1..1000", steps: [{id: x, type: set, values: {i: "{{ item }}"}}]}
`, nil)
	require.ErrorContains(t, err, "exceeded 1000000 step executions")
	log := h.stepLog()
	require.Len(t, log.Steps, contract.MaxStepLog, "the step log keeps a bounded window")
	require.Greater(t, log.Dropped, 0)
}

func TestParallelRunsAllBranches(t *testing.T) {
	h := setup(t)
	res, err := h.run(`
id: p
trigger: {mode: sync}
steps:
  - id: both
    type: parallel
    branches:
      - steps: [{id: wait_a, type: delay, duration: 2h}, {id: a, type: set, values: {a: 1}}]
      - steps: [{id: wait_b, type: delay, duration: 1h}, {id: b, type: set, values: {b: 2}}]
  - {id: reply, type: response, body: {a: "{{ vars.a }}", b: "{{ vars.b }}", sa: "{{ steps.a.status }}"}}
`, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"a": 1.0, "b": 2.0, "sa": "succeeded"}, res.Response.Body)
	// The branches waited side by side: 2h in all, not 3h.
	require.Equal(t, startTime.Add(2*time.Hour), h.env.Now().UTC())
}

func TestParallelFailureCancelsSiblings(t *testing.T) {
	h := setup(t)
	_, err := h.run(`
id: p
trigger: {}
steps:
  - id: both
    type: parallel
    branches:
      - steps: [{id: slow, type: delay, duration: 10h}, {id: after_slow, type: set, values: {x: 1}}]
      - steps: [{id: quick, type: delay, duration: 1m}, {id: boom, type: loop, over: "trigger.body", steps: [{id: y, type: set, values: {y: 1}}]}]
  - {id: never, type: set, values: {z: 1}}
`, "not a list")
	require.ErrorContains(t, err, `step "boom"`)
	st := statuses(h.stepLog())
	require.Equal(t, "cancelled", st["slow"], "the sibling's timer is cancelled")
	require.NotContains(t, st, "after_slow")
	require.NotContains(t, st, "never")
	require.Equal(t, "failed", st["both"])
	require.Less(t, h.env.Now().Sub(startTime), time.Hour, "the run did not wait for the cancelled sibling")
}

func TestDelay(t *testing.T) {
	h := setup(t)
	res, err := h.run(`
id: d
trigger: {mode: sync}
steps:
  - {id: wait, type: delay, duration: 3d}
  - {id: reply, type: response, body: {until: "{{ steps.wait.outputs.until }}"}}
`, nil)
	require.NoError(t, err)
	require.Equal(t, startTime.Add(72*time.Hour), h.env.Now().UTC())
	require.Equal(t, map[string]any{"until": "2026-03-04T12:00:00Z"}, res.Response.Body)
	rec := h.stepLog().Steps[0]
	require.Equal(t, 72*time.Hour, rec.EndedAt.Sub(rec.StartedAt))
}

func TestDelayUntil(t *testing.T) {
	const yaml = `
id: d
trigger: {}
steps:
  - {id: wait, type: delay, until: "{{ trigger.body.at }}"}
`
	h := setup(t)
	_, err := h.run(yaml, map[string]any{"at": "2026-03-01T15:30:00Z"})
	require.NoError(t, err)
	require.Equal(t, startTime.Add(3*time.Hour+30*time.Minute), h.env.Now().UTC())

	h = setup(t)
	_, err = h.run(yaml, map[string]any{"at": "2020-01-01T00:00:00Z"})
	require.NoError(t, err)
	require.Equal(t, startTime, h.env.Now().UTC(), "a time in the past does not wait")

	h = setup(t)
	_, err = h.run(yaml, map[string]any{"at": "tomorrow"})
	require.ErrorContains(t, err, "cannot parse")
}

func TestEnd(t *testing.T) {
	h := setup(t)
	res, err := h.run(`
id: e
trigger: {}
steps:
  - {id: stop, type: end, message: "done with {{ trigger.body.id }}"}
  - {id: never, type: set, values: {x: 1}}
`, map[string]any{"id": "A1"})
	require.NoError(t, err)
	require.Equal(t, "ended", res.Status)
	require.Equal(t, "done with A1", res.Message)
	require.NotContains(t, statuses(h.stepLog()), "never")

	h = setup(t)
	_, err = h.run(`
id: e
trigger: {}
steps:
  - id: p
    type: parallel
    branches:
      - steps: [{id: wait, type: delay, duration: 1h}, {id: late, type: set, values: {x: 1}}]
      - steps: [{id: stop, type: end, status: failure, message: "refused {{ trigger.body.id }}"}]
`, map[string]any{"id": "A2"})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	require.Equal(t, contract.ErrorTypeEnded, appErr.Type())
	require.Contains(t, appErr.Error(), "refused A2")
	st := statuses(h.stepLog())
	require.Equal(t, "cancelled", st["wait"], "an end step stops parallel siblings too")
	require.NotContains(t, st, "late")
}

func TestResponseAnswersTheUpdateAndTheFlowGoesOn(t *testing.T) {
	h := setup(t)
	get := h.sendUpdate()
	res, err := h.run(`
id: r
trigger: {mode: sync}
steps:
  - {id: reply, type: response, status: 201, headers: {X-Id: "{{ trigger.body.id }}"}, body: {id: "{{ trigger.body.id }}", n: "{{ 1 + 1 }}"}}
  - {id: later, type: delay, duration: 1h}
  - {id: again, type: response, status: 500}
`, map[string]any{"id": "A1"})
	require.NoError(t, err)
	resp, err := get()
	require.NoError(t, err)
	require.Equal(t, 201, resp.Status)
	require.Equal(t, map[string]string{"X-Id": "A1"}, resp.Headers)
	body, _ := json.Marshal(resp.Body)
	require.JSONEq(t, `{"id": "A1", "n": 2}`, string(body))
	require.Equal(t, 201, res.Response.Status)
	log := h.stepLog()
	require.Equal(t, "succeeded", statuses(log)["later"], "the flow goes on after answering")
	again := log.Steps[2]
	require.Equal(t, "skipped", again.Status)
	require.Contains(t, again.Note, "already answered")
}

func TestSyncWithoutResponseStep(t *testing.T) {
	h := setup(t)
	get := h.sendUpdate()
	_, err := h.run(`{id: n, trigger: {mode: sync}, steps: [{id: s, type: set, values: {x: 1}}]}`, nil)
	require.NoError(t, err)
	resp, err := get()
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status)

	h = setup(t)
	get = h.sendUpdate()
	_, err = h.run(`{id: n, trigger: {mode: sync}, steps: [{id: s, type: end, status: failure, message: "secret internals"}]}`, nil)
	require.Error(t, err)
	resp, err = get()
	require.NoError(t, err)
	require.Equal(t, 500, resp.Status)
	require.NotContains(t, resp.Body.(map[string]any)["error"], "secret internals", "no internals for the caller")
}

func TestExecutionValuesAreDeterministic(t *testing.T) {
	h := setup(t)
	res, err := h.run(`
id: x
trigger: {mode: sync}
steps:
  - {id: reply, type: response, body: {flow: "{{ execution.flowId }}", version: "{{ execution.flowVersion }}", at: "{{ execution.startedAt }}"}}
`, nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"flow": "x", "version": 3.0, "at": "2026-03-01T12:00:00Z"}, res.Response.Body)
}

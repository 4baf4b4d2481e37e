package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/worker"
)

// compEnv is a test environment with the composition activities mocked:
// flows resolved from a map, links signed as readable fake URLs.
func compEnv(t *testing.T, start time.Time, flows map[string]string) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	worker.Register(env)
	env.RegisterActivityWithOptions(func(_ context.Context, req contract.ResolveFlowRequest) (*contract.ResolvedFlow, error) {
		y, ok := flows[req.FlowID]
		if !ok {
			return nil, temporal.NewNonRetryableApplicationError("no flow has the id "+req.FlowID, contract.ErrFlowNotFound, nil)
		}
		return &contract.ResolvedFlow{Flow: mustFlow(t, y), Version: 7}, nil
	}, activity.RegisterOptions{Name: contract.ResolveFlowName})
	env.RegisterActivityWithOptions(func(_ context.Context, req contract.ResumeRequest) (*contract.ResumeLinks, error) {
		out := &contract.ResumeLinks{URLs: map[string]string{}}
		for _, a := range req.Actions {
			out.URLs[a] = fmt.Sprintf("https://hooks.test/hooks/resume/%s-%d-%s", req.StepID, req.Occurrence, a)
		}
		return out, nil
	}, activity.RegisterOptions{Name: contract.SignResumeName})
	return env
}

func result(t *testing.T, env *testsuite.TestWorkflowEnvironment) (*contract.RunResult, error) {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	if err := env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var res contract.RunResult
	require.NoError(t, env.GetWorkflowResult(&res))
	return &res, nil
}

// sendEvent sends the event update after d and records what became of it.
type sent struct {
	accepted *contract.EventAccepted
	err      error
}

func sendEvent(env *testsuite.TestWorkflowEnvironment, d time.Duration, ev contract.Event, into *sent) {
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(contract.UpdateEvent, fmt.Sprint("ev-", d, ev.Name), &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(e error) { into.err = e },
			OnComplete: func(r any, e error) {
				into.err = e
				if e == nil {
					a := r.(contract.EventAccepted)
					into.accepted = &a
				}
			},
		}, ev)
	}, d)
}

func errType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	return ""
}

const calleeFlow = `
id: pricing
trigger:
  parse:
    body: [{path: sku, type: string, required: true}]
steps:
  - {id: price, type: output, values: {sku: "{{ trigger.sku }}", price: "{{ trigger.body.qty * 2.5 }}"}}
`

func TestCallRunsTheCalleeAndReturnsItsOutput(t *testing.T) {
	env := compEnv(t, startTime, map[string]string{"pricing": calleeFlow})
	env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: mustFlow(t, `
id: shop
steps:
  - {id: quote, type: call, flow: pricing, input: {sku: "{{ trigger.body.sku }}", qty: 4}}
  - {id: fire, type: call, flow: pricing, input: {sku: b}, wait: false}
  - {id: done, type: output, values: {total: "{{ steps.quote.outputs.price }}", sku: "{{ steps.quote.outputs.sku }}", child: "{{ steps.fire.outputs.executionId }}"}}
`), FlowVersion: 1, Trigger: map[string]any{"body": map[string]any{"sku": "A-1"}}})
	res, err := result(t, env)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"total": 10.0, "sku": "A-1", "child": "default-test-workflow-id.fire.1"}, res.Output)
}

func TestCallFailsClearly(t *testing.T) {
	for name, c := range map[string]struct {
		flow, want string
		depth      int
	}{
		"unknown callee": {flow: "{id: c, type: call, flow: gone}", want: "no flow has the id gone"},
		"parse rules":    {flow: "{id: c, type: call, flow: pricing, input: {qty: 1}}", want: `the input does not fit the parse rules of flow "pricing": input.sku`},
		"too deep":       {flow: "{id: c, type: call, flow: pricing}", depth: 4, want: "at most 5"},
	} {
		t.Run(name, func(t *testing.T) {
			env := compEnv(t, startTime, map[string]string{"pricing": calleeFlow})
			env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: mustFlow(t, "id: p\nsteps: ["+c.flow+"]\n"), CallDepth: c.depth, Trigger: map[string]any{}})
			_, err := result(t, env)
			require.ErrorContains(t, err, c.want)
		})
	}
}

const waitFlow = `
id: confirm
steps:
  - id: confirm
    type: wait
    event: confirmed
    match: event.orderId == trigger.body.id
    timeout: 1h
    notify: [{id: link, type: set, values: {url: "{{ steps.confirm.resumeUrl }}"}}]
  - {id: done, type: output, values: {by: "{{ steps.confirm.outputs.by }}", url: "{{ vars.url }}"}}
  - {id: linger, type: delay, duration: 10m}
`

func TestWaitTakesTheMatchingEvent(t *testing.T) {
	env := compEnv(t, startTime, nil)
	var wrongName, noMatch, ok, again sent
	sendEvent(env, time.Minute, contract.Event{Name: "other", Body: map[string]any{}}, &wrongName)
	sendEvent(env, 2*time.Minute, contract.Event{Name: "confirmed", Body: map[string]any{"orderId": "B"}}, &noMatch)
	sendEvent(env, 3*time.Minute, contract.Event{Name: "confirmed", Body: map[string]any{"orderId": "A", "by": "ann"}}, &ok)
	sendEvent(env, 3*time.Minute+time.Second, contract.Event{Link: &contract.EventLink{StepID: "confirm", Occurrence: 1, Action: contract.ActionResume}}, &again)
	env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: mustFlow(t, waitFlow), Trigger: map[string]any{"body": map[string]any{"id": "A"}}})
	res, err := result(t, env)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"by": "ann", "url": "https://hooks.test/hooks/resume/confirm-1-resume"}, res.Output)
	require.Equal(t, contract.ErrorTypeEventNotWaiting, errType(wrongName.err), "%v", wrongName.err)
	require.Equal(t, contract.ErrorTypeEventNoMatch, errType(noMatch.err), "%v", noMatch.err)
	require.NoError(t, ok.err)
	require.Equal(t, &contract.EventAccepted{StepID: "confirm", Path: "steps[0]"}, ok.accepted)
	require.Equal(t, contract.ErrorTypeEventNotWaiting, errType(again.err), "a used wait takes nothing more: %v", again.err)
}

func TestWaitTimesOutToItsOnTimeout(t *testing.T) {
	env := compEnv(t, startTime, nil)
	env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: mustFlow(t, `
id: w
steps:
  - {id: w, type: wait, event: e, timeout: 10m, onTimeout: continue}
  - {id: after, type: output, values: {timedOut: "{{ steps.w.outputs.timedOut }}", status: "{{ steps.w.status }}"}}
`), Trigger: map[string]any{}})
	res, err := result(t, env)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"timedOut": true, "status": "skipped"}, res.Output)

	env = compEnv(t, startTime, nil)
	env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: mustFlow(t, "id: w\nsteps: [{id: w, type: wait, event: e, timeout: 10m}]\n"), Trigger: map[string]any{}})
	_, err = result(t, env)
	require.ErrorContains(t, err, `no event "e" arrived within 10m0s`)
}

const approvalFlow = `
id: review
steps:
  - id: review
    type: approval
    approvers: [ops@example.com]
    timeout: 1h
    notify: [{id: ask, type: set, values: {yes: "{{ steps.review.approveUrl }}", no: "{{ steps.review.rejectUrl }}"}}]
    then: [{id: ok, type: output, values: {decision: "{{ steps.review.outputs.decision }}", comment: "{{ steps.review.outputs.comment }}", by: "{{ steps.review.outputs.decidedBy }}", yes: "{{ vars.yes }}"}}]
    else: [{id: no, type: output, values: {decision: "{{ steps.review.outputs.decision }}", timedOut: "{{ steps.review.outputs.timedOut }}"}}]
  - {id: linger, type: delay, duration: 10m}
`

func TestApprovalByLinkAndByTimeout(t *testing.T) {
	env := compEnv(t, startTime, nil)
	var bad, approve, reject sent
	sendEvent(env, time.Minute, contract.Event{Name: "review", Body: map[string]any{"decision": "maybe"}}, &bad)
	sendEvent(env, 2*time.Minute, contract.Event{Link: &contract.EventLink{StepID: "review", Occurrence: 1, Action: contract.ActionApprove}, Body: map[string]any{"comment": "fine", "decidedBy": "ann"}}, &approve)
	sendEvent(env, 3*time.Minute, contract.Event{Link: &contract.EventLink{StepID: "review", Occurrence: 1, Action: contract.ActionReject}}, &reject)
	env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: mustFlow(t, approvalFlow), Trigger: map[string]any{}})
	res, err := result(t, env)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"decision": "approved", "comment": "fine", "by": "ann", "yes": "https://hooks.test/hooks/resume/review-1-approve"}, res.Output)
	require.Equal(t, contract.ErrorTypeEventInvalid, errType(bad.err), "%v", bad.err)
	require.NoError(t, approve.err)
	require.Error(t, reject.err, "the decision is made: the other link is spent")

	env = compEnv(t, startTime, nil)
	env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: mustFlow(t, approvalFlow), Trigger: map[string]any{}})
	res, err = result(t, env)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"decision": "rejected", "timedOut": true}, res.Output)
}

// handOverChain runs a chain of runs as Temporal would (each continuation
// from the previous run's ContinueAsNewError); perRun registers callbacks
// on each run's environment.
func handOverChain(t *testing.T, in contract.Input, perRun func(round int, env *testsuite.TestWorkflowEnvironment)) (*contract.RunResult, []contract.Input) {
	t.Helper()
	var inputs []contract.Input
	for round := 0; ; round++ {
		require.Less(t, round, 50)
		env := compEnv(t, startTime.Add(time.Duration(round)*time.Minute), nil)
		perRun(round, env)
		env.ExecuteWorkflow(contract.WorkflowName, in)
		require.True(t, env.IsWorkflowCompleted())
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			var next contract.Input
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			inputs = append(inputs, next)
			in = next
			continue
		}
		res, err := result(t, env)
		require.NoError(t, err)
		return res, inputs
	}
}

// A wait and an approval armed while another branch makes the run hand
// over: they resume in the continuation with the time left, under the same
// occurrence (their links keep working), and take their events there.
func TestWaitAndApprovalSurviveContinueAsNew(t *testing.T) {
	f := `
id: long
steps:
  - id: both
    type: parallel
    branches:
      - steps:
          - {id: w, type: wait, event: go, timeout: 1h, notify: [{id: link, type: set, values: {url: "{{ steps.w.resumeUrl }}"}}]}
          - id: a
            type: approval
            timeout: 1h
            then: [{id: t1, type: set, values: {t1: 1}}, {id: t2, type: set, values: {t2: "{{ steps.a.outputs.decidedBy }}"}}]
      - steps:
          - {id: each, type: loop, over: "1..6", steps: [{id: n, type: set, values: {n: "{{ item }}"}}]}
  - {id: out, type: output, values: {url: "{{ vars.url }}", got: "{{ steps.w.outputs.x }}", decision: "{{ steps.a.outputs.decision }}", by: "{{ vars.t2 }}"}}
`
	in := contract.Input{Flow: mustFlow(t, f), Trigger: map[string]any{}, ContinueAfterSteps: 3}
	var waits, approvals []*sent
	res, inputs := handOverChain(t, in, func(round int, env *testsuite.TestWorkflowEnvironment) {
		if round == 0 {
			return
		}
		// A run that hands over at once never reaches these; the one
		// left waiting takes them.
		w, a := &sent{}, &sent{}
		waits, approvals = append(waits, w), append(approvals, a)
		sendEvent(env, 30*time.Second, contract.Event{Link: &contract.EventLink{StepID: "w", Occurrence: 1, Action: contract.ActionResume}, Body: map[string]any{"x": "yes"}}, w)
		sendEvent(env, 40*time.Second, contract.Event{Name: "a", Body: map[string]any{"decision": "approved", "decidedBy": "bo"}}, a)
	})
	accepted := func(ss []*sent) (n int) {
		for _, x := range ss {
			if x.accepted != nil {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, accepted(waits))
	require.Equal(t, 1, accepted(approvals))
	require.GreaterOrEqual(t, len(inputs), 2)
	// The wait's deadline was fixed by the run that armed it.
	c := inputs[0].Carry.At.Inner.Lanes[0].Inner
	require.NotNil(t, c.Until)
	require.Equal(t, startTime.Add(time.Hour), *c.Until)
	require.Equal(t, 1, c.Occurrence)
	require.Equal(t, map[string]any{"url": "https://hooks.test/hooks/resume/w-1-resume", "got": "yes", "decision": "approved", "by": "bo"}, res.Output)
}

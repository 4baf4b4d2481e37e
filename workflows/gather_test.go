package workflows_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/worker"
	"github.com/hookflow/hookflow/workflows"
)

// started is a run the gather workflow started: its id and input.
type started struct {
	id string
	in contract.Input
	at time.Time
}

// gatherEnv is a test environment whose FlowWorkflow only records the runs
// it is started as.
func gatherEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]started) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	worker.Register(env)
	var runs []started
	env.OnWorkflow(contract.WorkflowName, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in contract.Input) (*contract.RunResult, error) {
			runs = append(runs, started{id: workflow.GetInfo(ctx).WorkflowExecution.ID, in: in, at: workflow.Now(ctx)})
			return &contract.RunResult{Status: "succeeded"}, nil
		})
	return env, &runs
}

// sendAt hands an event to the gather workflow after d, as the API does.
// The update id is the event id, unless updateID is given.
func sendAt(t *testing.T, env *testsuite.TestWorkflowEnvironment, d time.Duration, ev contract.GatherEvent, answers *[]contract.GatherAccepted, updateID ...string) {
	id := ev.EventID
	if len(updateID) > 0 {
		id = updateID[0]
	}
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(contract.UpdateGather, id, &testsuite.TestUpdateCallback{
			OnReject: func(err error) { t.Errorf("event %s rejected: %v", ev.EventID, err) },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				require.NoError(t, err)
				if answers != nil {
					*answers = append(*answers, v.(contract.GatherAccepted))
				}
			},
		}, ev)
	}, d)
}

func gatherFlow(t *testing.T, fc string) *flow.Flow {
	return mustFlow(t, "id: g\ntrigger: {flowControl: "+fc+"}\nsteps: [{id: s, type: set, values: {x: 1}}]\n")
}

func gev(f *flow.Flow, id string, n int) contract.GatherEvent {
	return contract.GatherEvent{EventID: id, Flow: f, FlowVersion: 1, Trigger: map[string]any{
		"body": map[string]any{"n": n}, "headers": map[string]any{}, "query": map[string]any{},
	}}
}

// A burst of 30 events, one every 60ms, with a 1s debounce: one run, with
// the last event, a second after it; the workflow then waits a minute for
// more and completes.
func TestGatherWorkflowDebouncesABurstIntoOneRun(t *testing.T) {
	env, runs := gatherEnv(t)
	f := gatherFlow(t, "{key: '{{ trigger.body.k }}', debounce: {period: 1s}}")
	var answers []contract.GatherAccepted
	for i := range 30 {
		sendAt(t, env, time.Duration(i)*60*time.Millisecond+time.Millisecond, gev(f, fmt.Sprintf("e%02d", i), i), &answers)
	}
	// A duplicate of an event of the window is one entry: the same
	// update again (a retried delivery) gets the first answer; another
	// update with the event's id (after a continue-as-new, where update
	// ids are forgotten) is answered as a duplicate.
	sendAt(t, env, 100*time.Millisecond, gev(f, "e00", 0), &answers)
	sendAt(t, env, 110*time.Millisecond, gev(f, "e00", 0), &answers, "other-update")
	var view contract.GatherView
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(contract.QueryGather)
		require.NoError(t, err)
		require.NoError(t, v.Get(&view))
	}, 2*time.Second)
	start := env.Now()
	env.ExecuteWorkflow(contract.GatherWorkflowName, contract.GatherStart{FlowID: "g", Key: "cus_1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	require.Len(t, answers, 32)
	dups := 0
	for _, a := range answers {
		if a.Duplicate {
			dups++
		}
	}
	require.Equal(t, 1, dups)
	require.Equal(t, 30, view.Pending, "%+v", view)
	require.Equal(t, "debounce", view.Kind)
	require.NotNil(t, view.NextFlush)

	require.Len(t, *runs, 1)
	r := (*runs)[0]
	require.Equal(t, "g:e29", r.id)
	require.Equal(t, map[string]any{"n": 29.0}, r.in.Trigger["body"])
	d := r.in.Trigger["debounced"].(map[string]any)
	require.Equal(t, "cus_1", d["key"])
	require.Equal(t, 30.0, d["events"])
	require.Equal(t, contract.CurrentEngine, r.in.Engine)
	// Quiet for the period after the last event (at 29*60ms).
	require.WithinDuration(t, start.Add(29*60*time.Millisecond+time.Millisecond+time.Second), r.at, 10*time.Millisecond)
}

// 25 events with maxSize 10: runs of 10, 10 (at once, full) and 5 (at the
// timeout), every event once, in arrival order.
func TestGatherWorkflowBatchesByMaxSizeAndTimeout(t *testing.T) {
	env, runs := gatherEnv(t)
	f := gatherFlow(t, "{batch: {maxSize: 10, timeout: 5s}}")
	for i := range 25 {
		sendAt(t, env, time.Duration(i+1)*10*time.Millisecond, gev(f, fmt.Sprintf("e%02d", i), i), nil)
	}
	env.ExecuteWorkflow(contract.GatherWorkflowName, contract.GatherStart{FlowID: "g"})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, *runs, 3)
	n := 0
	for i, want := range []int{10, 10, 5} {
		r := (*runs)[i]
		require.Equal(t, fmt.Sprintf("g:batch-e%02d", n), r.id)
		events := r.in.Trigger["events"].([]any)
		require.Len(t, events, want)
		for _, e := range events {
			require.Equal(t, map[string]any{"n": float64(n)}, e.(map[string]any)["body"])
			n++
		}
		require.Equal(t, float64(want), r.in.Trigger["batch"].(map[string]any)["size"])
	}
	// The full batches start at once, the last at its timeout.
	require.Less(t, (*runs)[1].at.Sub((*runs)[0].at), time.Second)
	require.GreaterOrEqual(t, (*runs)[2].at.Sub((*runs)[1].at), 4*time.Second)
}

// After gatherContinueAfter events the workflow continues as new, carrying
// its open window and the ids it has seen.
func TestGatherWorkflowContinuesAsNewWithItsState(t *testing.T) {
	env, runs := gatherEnv(t)
	f := gatherFlow(t, "{batch: {maxSize: 1000, timeout: 1h}}")
	for i := range 300 {
		sendAt(t, env, time.Duration(i+1)*time.Millisecond, gev(f, fmt.Sprintf("e%03d", i), i), nil)
	}
	env.ExecuteWorkflow(contract.GatherWorkflowName, contract.GatherStart{FlowID: "g", Key: "k"})
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	require.Equal(t, contract.GatherWorkflowName, can.WorkflowType.Name)
	var next workflows.GatherInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Equal(t, "g", next.FlowID)
	require.Equal(t, "k", next.Key)
	require.NotNil(t, next.State)
	require.Equal(t, 300, next.State.Pending())
	require.True(t, next.State.IsDuplicate("e000"))
	require.Empty(t, *runs)
}

// A malformed event is refused by the validator: it leaves no trace.
func TestGatherWorkflowRefusesAMalformedEvent(t *testing.T) {
	env, _ := gatherEnv(t)
	var rejected error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(contract.UpdateGather, "x", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { rejected = err },
			OnAccept:   func() { t.Error("accepted") },
			OnComplete: func(any, error) {},
		}, contract.GatherEvent{EventID: "x"})
	}, time.Millisecond)
	env.ExecuteWorkflow(contract.GatherWorkflowName, contract.GatherStart{FlowID: "g"})
	require.NoError(t, env.GetWorkflowError())
	require.ErrorContains(t, rejected, "no flow snapshot")
}

// An empty gather workflow completes after a quiet minute; an event, even
// a duplicate, starts that minute again.
func TestGatherWorkflowCompletesWhenIdle(t *testing.T) {
	env, runs := gatherEnv(t)
	f := gatherFlow(t, "{batch: {maxSize: 1, timeout: 1s}}")
	var answers []contract.GatherAccepted
	sendAt(t, env, time.Millisecond, gev(f, "a", 1), &answers)
	sendAt(t, env, 30*time.Second, gev(f, "a", 1), &answers, "again")
	start := env.Now()
	env.ExecuteWorkflow(contract.GatherWorkflowName, contract.GatherStart{FlowID: "g"})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, *runs, 1)
	require.Equal(t, []contract.GatherAccepted{{Pending: 0}, {Duplicate: true}}, answers)
	require.WithinDuration(t, start.Add(90*time.Second), env.Now(), time.Second)
}

package workflows_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/worker"
)

func notifyEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *[]contract.EmitRequest) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestWorkflowEnvironment()
	worker.Register(env)
	var emitted []contract.EmitRequest
	env.RegisterActivityWithOptions(func(_ context.Context, req contract.EmitRequest) (int, error) {
		emitted = append(emitted, req)
		return 1, nil
	}, activity.RegisterOptions{Name: contract.EmitNotificationName})
	return env, &emitted
}

// A failed run emits run.failed once, with the flow's notify setting and
// a stable event id; a delivery the receiver refused emits
// delivery.failed first.
func TestRunFailedAndDeliveryFailedAreEmitted(t *testing.T) {
	env, emitted := notifyEnv(t)
	env.RegisterActivityWithOptions(func(context.Context, flow.HTTPRequest) (*contract.Result, error) {
		return nil, temporal.NewNonRetryableApplicationError("receiver answered 404; not retried", contract.ErrHTTPClient, nil, contract.Failure{StatusCode: 404, Attempt: 1})
	}, activity.RegisterOptions{Name: contract.DeliverName})
	env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: mustFlow(t, `
id: nf
notify: {destination: ops}
steps:
  - {id: send, type: http, method: POST, url: "https://r.example.com/x?secretish=1", body: {mode: all}}
`), FlowVersion: 2, Trigger: map[string]any{"body": map[string]any{}}})
	require.True(t, env.IsWorkflowCompleted())
	require.Error(t, env.GetWorkflowError())
	require.Len(t, *emitted, 2)
	df, rf := (*emitted)[0], (*emitted)[1]
	require.Equal(t, flow.EventDeliveryFailed, df.Event.Type)
	require.Equal(t, "https://r.example.com/x", df.Event.Data["url"])
	require.EqualValues(t, 404, df.Event.Data["statusCode"])
	require.Equal(t, flow.EventRunFailed, rf.Event.Type)
	require.Equal(t, "ops", rf.Flow.Destination)
	require.Equal(t, "nf", rf.Event.Data["flowId"])
	require.EqualValues(t, 2, rf.Event.Data["flowVersion"])
	require.Equal(t, "send", rf.Event.Data["stepId"])
	require.True(t, strings.HasPrefix(rf.Event.ID, "evt_"))
	require.NotEqual(t, df.Event.ID, rf.Event.ID)
}

// An end step with failure fails the run: run.failed; a run that
// succeeds emits nothing.
func TestEndWithFailureEmitsRunFailed(t *testing.T) {
	env, emitted := notifyEnv(t)
	env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: mustFlow(t, "id: nf\nsteps:\n  - {id: stop, type: end, status: failure, message: out of stock}\n"), Trigger: map[string]any{}})
	require.Error(t, env.GetWorkflowError())
	require.Len(t, *emitted, 1)
	require.Contains(t, (*emitted)[0].Event.Data["error"], "out of stock")

	env, emitted = notifyEnv(t)
	env.ExecuteWorkflow(contract.WorkflowName, contract.Input{Flow: mustFlow(t, "id: nf\nsteps:\n  - {id: a, type: set, values: {a: 1}}\n"), Trigger: map[string]any{}})
	require.NoError(t, env.GetWorkflowError())
	require.Empty(t, *emitted)
}

// NotifyWorkflow is one delivery on the destination's queue, with the
// destination's policy, the event id as its delivery id and nothing of
// the response kept.
func TestNotifyWorkflowDeliversOnTheDestinationQueue(t *testing.T) {
	env, _ := notifyEnv(t)
	env.RegisterActivityWithOptions(func(context.Context, string) (*contract.DestinationPolicy, error) {
		return &contract.DestinationPolicy{Name: "ops", Version: 4, Retry: &flow.RetryPolicy{GiveUpAfter: field.Duration(time.Hour)}}, nil
	}, activity.RegisterOptions{Name: contract.ResolveDestinationName})
	var got flow.HTTPRequest
	var queue string
	var giveUp time.Duration
	env.RegisterActivityWithOptions(func(ctx context.Context, req flow.HTTPRequest) (*contract.Result, error) {
		got, queue = req, activity.GetInfo(ctx).TaskQueue
		giveUp = activity.GetInfo(ctx).ScheduleToCloseTimeout
		return &contract.Result{StatusCode: 204, Attempt: 1}, nil
	}, activity.RegisterOptions{Name: contract.DeliverName})
	body := json.RawMessage(`{"type":"run.failed","timestamp":"2026-11-25T20:00:00Z","data":{}}`)
	env.ExecuteWorkflow(contract.NotifyWorkflowName, contract.NotifyInput{Destination: "ops", EventID: "evt_1", Type: flow.EventRunFailed, Body: body})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, flow.DestinationTaskQueue("ops"), queue)
	require.Equal(t, "ops", got.Destination)
	require.EqualValues(t, 4, got.DestinationVersion)
	require.Equal(t, "evt_1", got.DeliveryID)
	require.Equal(t, "POST", got.Method)
	require.JSONEq(t, string(body), string(got.Body))
	require.NotNil(t, got.KeepBody)
	require.Zero(t, *got.KeepBody)
	require.Equal(t, time.Hour, giveUp, "the destination's give-up clock")
}

package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/workflows"
)

// TestABulkReplayRecordsRefusalsAsSkippedAndFinishes: of the executions a
// replay selects, one is resumed, one is refused for good (nothing to
// resume: not retried, recorded as skipped with its reason), one fails
// after its retries; the replay completes with done 1, skipped 1, failed 1.
func TestABulkReplayRecordsRefusalsAsSkippedAndFinishes(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(workflows.ReplayWorkflow, workflow.RegisterOptions{Name: contract.ReplayWorkflowName})
	env.RegisterActivityWithOptions(func(context.Context, contract.ReplayQuery, []byte) (*contract.ReplayPage, error) {
		return &contract.ReplayPage{IDs: []string{"ok", "done-already", "broken"}}, nil
	}, activity.RegisterOptions{Name: contract.ListForReplayName})
	attempts := map[string]int{}
	env.RegisterActivityWithOptions(func(_ context.Context, req contract.ResumeExecutionRequest) (*contract.Recovered, error) {
		attempts[req.ExecutionID]++
		switch req.ExecutionID {
		case "done-already":
			return nil, temporal.NewNonRetryableApplicationError("done-already completed: there is nothing to resume", contract.ErrNotResumable, nil)
		case "broken":
			return nil, errors.New("frontend unavailable")
		}
		return &contract.Recovered{ExecutionID: req.ExecutionID, RunID: "r2"}, nil
	}, activity.RegisterOptions{Name: contract.ResumeName})

	env.ExecuteWorkflow(contract.ReplayWorkflowName, contract.ReplayInput{
		Query: contract.ReplayQuery{FlowID: "f", From: time.Unix(0, 0), To: time.Unix(60, 0)}, Action: contract.ReplayResume, PerSecond: 100,
	})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var p contract.ReplayProgress
	require.NoError(t, env.GetWorkflowResult(&p))
	require.True(t, p.Finished)
	require.Equal(t, [3]int{1, 1, 1}, [3]int{p.Done, p.Skipped, p.Failed}, "done, skipped, failed")
	require.Equal(t, []contract.ReplayError{{Of: "done-already", Error: "done-already completed: there is nothing to resume", Type: contract.ErrNotResumable}}, p.Skips)
	require.Len(t, p.Errors, 1)
	require.Equal(t, "broken", p.Errors[0].Of)
	require.Equal(t, 1, attempts["done-already"], "a refusal is not retried")
	require.Equal(t, 10, attempts["broken"], "any other failure is retried by the replay's policy")
}

package flowcontrol

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/contract"
)

// CoordinatorInput is a key coordinator's input: what it starts from and,
// after a continue-as-new, its carried state.
type CoordinatorInput struct {
	contract.CoordinatorStart
	State *State `json:"state,omitempty"`
	// ContinueAfter makes the coordinator continue as new after this many
	// admissions, reports and releases (0: the default, 2,000), for tests
	// that want many hand-overs. A continuation keeps it.
	ContinueAfter int `json:"continueAfter,omitempty"`
}

// CoordinatorStartOptions are the options every starter of a key's
// coordinator uses (the API's admission, a run's signal-with-start): one
// coordinator per key, started again once it has closed.
func CoordinatorStartOptions(flowID, key string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       contract.CoordinatorID(flowID, key),
		TaskQueue:                contract.KeyTaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		StaticSummary:            fmt.Sprintf("flow control of %s, key %q", flowID, contract.KeyForm(key)),
	}
}

// Activities are the coordinator's and the runs' I/O: methods on a struct
// holding the client, registered by the worker.
type Activities struct {
	Client client.Client
}

// SignalCoordinator reaches a run's key coordinator. Ready starts the
// coordinator when none runs (the key's first run, a schedule's or a
// rerun's); release and withdraw never do: a coordinator that is gone
// holds nothing to give back.
func (a *Activities) SignalCoordinator(ctx context.Context, in contract.SignalCoordinatorInput) error {
	msg := contract.ReadyMsg{ID: in.RunID, Rules: in.Start.Rules}
	if in.Signal == contract.SignalReady {
		_, err := a.Client.SignalWithStartWorkflow(ctx, contract.CoordinatorID(in.Start.FlowID, in.Start.Key), in.Signal, msg,
			CoordinatorStartOptions(in.Start.FlowID, in.Start.Key), contract.CoordinatorWorkflowName, CoordinatorInput{CoordinatorStart: in.Start})
		return err
	}
	err := a.Client.SignalWorkflow(ctx, contract.CoordinatorID(in.Start.FlowID, in.Start.Key), "", in.Signal, msg)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}

// CheckRuns tells which of the given runs (workflow ids) are closed or do
// not exist: the coordinator frees their place.
func (a *Activities) CheckRuns(ctx context.Context, ids []string) (contract.CheckRunsResult, error) {
	var res contract.CheckRunsResult
	for _, id := range ids {
		d, err := a.Client.DescribeWorkflowExecution(ctx, id, "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			res.Gone = append(res.Gone, id)
		case err != nil:
			return res, err
		case d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
			res.Gone = append(res.Gone, id)
		}
	}
	return res, nil
}

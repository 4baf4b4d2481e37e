package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
)

// maxReplayListed bounds the started/errors lists a replay keeps (the
// counts go on); replayItemsPerRun bounds the executions one run of the
// replay handles before it continues as new.
const (
	maxReplayListed   = 200
	replayItemsPerRun = 500
)

// ReplayWorkflow recovers the executions a query selects, one at a time at
// a bounded rate, each by an activity (rerun or resume, as the admin API
// does it), idempotently (a retried activity starts one run). It pages
// through visibility, continues as new every few hundred executions with
// its place, reports progress through a query and the Web UI's details, and
// stops when cancelled.
func ReplayWorkflow(ctx workflow.Context, in contract.ReplayInput) (*contract.ReplayProgress, error) {
	p := in.Progress
	if err := workflow.SetQueryHandler(ctx, contract.QueryReplayProgress, func() (contract.ReplayProgress, error) { return p, nil }); err != nil {
		return nil, err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	gap := time.Duration(float64(time.Second) / max(in.PerSecond, 0.01))
	replayID := workflow.GetInfo(ctx).WorkflowExecution.ID
	token, handled := in.PageToken, 0
	for {
		var page contract.ReplayPage
		if err := workflow.ExecuteActivity(actx, contract.ListForReplayName, in.Query, token).Get(ctx, &page); err != nil {
			return &p, err
		}
		for _, id := range page.IDs {
			if err := ctx.Err(); err != nil {
				return &p, temporal.NewCanceledError()
			}
			var got contract.Recovered
			var err error
			key := replayID // one recovery per replay and execution
			switch in.Action {
			case contract.ReplayResume:
				err = workflow.ExecuteActivity(actx, contract.ResumeName, contract.ResumeExecutionRequest{ExecutionID: id, Reason: "bulk replay " + replayID, Key: key}).Get(ctx, &got)
			default:
				err = workflow.ExecuteActivity(actx, contract.RerunName, contract.RerunRequest{ExecutionID: id, Flow: in.Flow, Version: in.Version, Key: key + "-" + id}).Get(ctx, &got)
			}
			var ce *temporal.CanceledError
			var app *temporal.ApplicationError
			switch {
			case err == nil:
				p.Done++
				if len(p.Started) < maxReplayListed {
					p.Started = append(p.Started, contract.ReplayStarted{Of: id, ExecutionID: got.ExecutionID, RunID: got.RunID})
				}
			case errors.As(err, &ce):
				return &p, err
			case errors.As(err, &app) && slices.Contains(contract.RecoveryRefusals, app.Type()):
				// Refused for good (nothing to resume, running, gone): the
				// replay records why and goes on.
				p.Skipped++
				if len(p.Skips) < maxReplayListed {
					p.Skips = append(p.Skips, contract.ReplayError{Of: id, Error: app.Message(), Type: app.Type()})
				}
			default:
				p.Failed++
				if len(p.Errors) < maxReplayListed {
					p.Errors = append(p.Errors, contract.ReplayError{Of: id, Error: err.Error()})
				}
			}
			workflow.SetCurrentDetails(ctx, fmt.Sprintf("**replaying** (%s): %d done, %d skipped, %d failed", in.Action, p.Done, p.Skipped, p.Failed))
			if err := workflow.Sleep(ctx, gap); err != nil {
				return &p, err
			}
		}
		handled += len(page.IDs)
		token = page.NextPageToken
		if len(token) == 0 {
			break
		}
		if handled >= replayItemsPerRun {
			next := in
			next.Progress, next.PageToken = p, token
			return nil, workflow.NewContinueAsNewError(ctx, contract.ReplayWorkflowName, next)
		}
	}
	p.Finished = true
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**finished** (%s): %d done, %d skipped, %d failed", in.Action, p.Done, p.Skipped, p.Failed))
	return &p, nil
}

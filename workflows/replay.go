package workflows

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities/contract"
	"github.com/hookflow/hookflow/flow"
)

// ReplayWorkflowName is the bulk replay's registered workflow type.
const ReplayWorkflowName = "ReplayWorkflow"

// QueryReplayProgress returns a bulk replay's ReplayProgress.
const QueryReplayProgress = "hookflow.replay.progress"

// Replay actions: what a bulk replay does to each execution it selects.
const (
	ReplayRerun  = "rerun"
	ReplayResume = "resume"
)

// ReplayInput is a bulk replay: which executions (a visibility query over a
// bounded time range), what to do to each, and how fast.
type ReplayInput struct {
	Query  contract.ReplayQuery `json:"query"`
	Action string               `json:"action"`
	// Flow and Version: a rerun's definition (nil: each execution's own).
	Flow    *flow.Flow `json:"flow,omitempty"`
	Version int64      `json:"version,omitempty"`
	// PerSecond bounds the executions recovered per second.
	PerSecond float64 `json:"perSecond"`
	// Progress and PageToken carry a continued replay.
	Progress  ReplayProgress `json:"progress"`
	PageToken []byte         `json:"pageToken,omitempty"`
}

// ReplayProgress is what a bulk replay has done so far: each selected
// execution is done (recovered), skipped (refused for a reason no retry can
// change: nothing to resume, still running, gone) or failed (the recovery
// failed after its retries).
type ReplayProgress struct {
	Done     int             `json:"done"`
	Skipped  int             `json:"skipped"`
	Failed   int             `json:"failed"`
	Started  []ReplayStarted `json:"started,omitempty"`
	Skips    []ReplayError   `json:"skips,omitempty"`
	Errors   []ReplayError   `json:"errors,omitempty"`
	Finished bool            `json:"finished"`
}

// ReplayStarted pairs an execution with what recovered it.
type ReplayStarted struct {
	Of          string `json:"of"`
	ExecutionID string `json:"executionId"`
	RunID       string `json:"runId,omitempty"`
}

// ReplayError is an execution the replay did not recover, and why; Type is
// the refusal's error type (contract.ErrNotResumable, ...) for a skip.
type ReplayError struct {
	Of    string `json:"of"`
	Error string `json:"error"`
	Type  string `json:"type,omitempty"`
}

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
func ReplayWorkflow(ctx workflow.Context, in ReplayInput) (*ReplayProgress, error) {
	p := in.Progress
	if err := workflow.SetQueryHandler(ctx, QueryReplayProgress, func() (ReplayProgress, error) { return p, nil }); err != nil {
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
			case ReplayResume:
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
					p.Started = append(p.Started, ReplayStarted{Of: id, ExecutionID: got.ExecutionID, RunID: got.RunID})
				}
			case errors.As(err, &ce):
				return &p, err
			case errors.As(err, &app) && slices.Contains(contract.RecoveryRefusals, app.Type()):
				// Refused for good (nothing to resume, running, gone): the
				// replay records why and goes on.
				p.Skipped++
				if len(p.Skips) < maxReplayListed {
					p.Skips = append(p.Skips, ReplayError{Of: id, Error: app.Message(), Type: app.Type()})
				}
			default:
				p.Failed++
				if len(p.Errors) < maxReplayListed {
					p.Errors = append(p.Errors, ReplayError{Of: id, Error: err.Error()})
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
			return nil, workflow.NewContinueAsNewError(ctx, ReplayWorkflowName, next)
		}
	}
	p.Finished = true
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**finished** (%s): %d done, %d skipped, %d failed", in.Action, p.Done, p.Skipped, p.Failed))
	return &p, nil
}

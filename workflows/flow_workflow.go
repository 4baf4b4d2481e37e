package workflows

import (
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/contract"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// FlowWorkflow interprets one run of a flow.
//
// The update handler for the sync answer is registered before anything else,
// so an Update-With-Start delivered in the first workflow task always finds
// it. The handler waits until a response step has answered or the run has
// finished, and returns the answer; the run then goes on (a response step
// does not end the flow).
func FlowWorkflow(ctx workflow.Context, in contract.Input) (*contract.RunResult, error) {
	r := newRun(ctx, in)
	// The update carries the digest of the caller's payload (empty from an
	// older API, and in recorded updates: then nothing is checked). The
	// validator refuses another payload under this run's idempotency key,
	// before the update is admitted: a rejected update leaves no trace in
	// the run. Validators do not run on replay.
	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateResponse, func(ctx workflow.Context, _ string) (contract.Response, error) {
		return r.awaitResponse(ctx)
	}, workflow.UpdateHandlerOptions{
		Validator: func(_ workflow.Context, digest string) error {
			if digest != "" && in.Digest != "" && digest != in.Digest {
				return temporal.NewNonRetryableApplicationError("this run's idempotency key was reused with a different payload", contract.ErrorTypeIdempotencyKeyReused, nil)
			}
			return nil
		},
		Description: "Waits for the flow's response step (or its end) and returns the answer for a sync trigger. Its argument, the digest of the caller's payload, must match the run's.",
	}); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandlerWithOptions(ctx, contract.QuerySteps, func() (contract.StepLog, error) {
		return r.log.answer(), nil
	}, workflow.QueryHandlerOptions{Description: "The step log: each step's status, timing and error."}); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandlerWithOptions(ctx, contract.QueryInput, func() (contract.Input, error) {
		return contract.Input{Flow: in.Flow, FlowVersion: in.FlowVersion, Trigger: in.Trigger, PublicURL: in.PublicURL}, nil
	}, workflow.QueryHandlerOptions{Description: "The run's flow snapshot, version, trigger data and public URL (what a rerun starts from)."}); err != nil {
		return nil, err
	}
	if err := r.registerEvents(ctx); err != nil {
		return nil, err
	}
	if in.Flow == nil {
		return nil, temporal.NewNonRetryableApplicationError("input has no flow", contract.ErrorTypeStepFailed, nil)
	}

	// Flow control: wait for the key's permit before the first step
	// (permit.go). A continuation already holds it.
	skip, err := r.awaitPermit(ctx)
	if skip != nil {
		res := r.skipped(ctx, skip)
		r.finished = true
		_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
		return res, nil
	}
	if err == nil {
		var from *contract.Cursor
		if in.Carry != nil {
			from = in.Carry.At
		}
		err = r.runSteps(ctx, "steps", in.Flow.Steps, r.rootScope(), from)
	}
	var handOver *suspendList
	if errors.As(err, &handOver) {
		return nil, r.continueAsNew(ctx, handOver.at)
	}
	r.releasePermit(ctx)

	var end *endSignal
	switch {
	case errors.As(err, &end) && !end.failed:
		err = nil
	case err != nil:
		r.failed = true
	}
	r.finished = true
	// Let a waiting update handler return its answer before the run closes;
	// a disconnected context so that even a cancelled run answers.
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })

	if err != nil {
		workflow.SetCurrentDetails(ctx, "**failed**: "+err.Error())
		r.notifyRunFailed(ctx, err) // notify.go: run.failed
		return nil, r.failure(err)
	}
	res := &contract.RunResult{Status: "succeeded", Response: r.Response, StepsRun: r.Executed, Output: r.Output}
	if end != nil {
		res.Status, res.Message = "ended", end.message
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s** after %d step(s)", res.Status, r.Executed))
	return res, nil
}

// continueAsNew hands the run over to a continuation of itself: the same
// input (flow snapshot, trigger data, digest) plus the interpreter's state.
// Search attributes and memo carry over; the execution id stays.
func (r *run) continueAsNew(ctx workflow.Context, at *contract.Cursor) error {
	// Update handlers still running were answered or released
	// (shouldSuspend); let them return before the run closes.
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
	if r.in.Engine >= contract.EngineTaskBudget && r.taskBytes(ctx) > 0 {
		// Local first attempts completed in this task: their markers and
		// the continuation's input (up to MaxContinuationBytes) would go
		// to Temporal in one completion; the input goes in the next task.
		if err := r.awaitNextTask(ctx, false); err != nil {
			return err
		}
	}
	next := r.in
	next.Carry = r.carry(at)
	if err := fitCarry(&next); err != nil {
		workflow.SetCurrentDetails(ctx, "**failed**: "+err.Error())
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrorTypeStepFailed, nil)
	}
	workflow.GetLogger(ctx).Info("continuing as new", "continuation", next.Carry.Continuations,
		"historyLength", workflow.GetInfo(ctx).GetCurrentHistoryLength(), "stepsRun", r.Executed)
	return workflow.NewContinueAsNewError(ctx, contract.WorkflowName, next)
}

// awaitResponse is the UpdateResponse handler.
func (r *run) awaitResponse(ctx workflow.Context) (contract.Response, error) {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	if r.handover.suspending && r.Response == nil {
		// Arrived while the run hands over: the continuation has the
		// answer; a retry of the same delivery reaches it.
		return contract.Response{Status: 503, Headers: map[string]string{"Retry-After": "1"},
			Body: map[string]any{"error": "unavailable", "detail": "the run is moving to a fresh history; retry", "executionId": id}}, nil
	}
	if r.handover.waiting == 0 {
		r.handover.waitingSince = workflow.Now(ctx)
	}
	r.handover.waiting++
	err := workflow.Await(ctx, func() bool { return r.Response != nil || r.finished || r.handover.releaseWaiters })
	r.handover.waiting--
	if err != nil {
		return contract.Response{}, err
	}
	if r.Response != nil {
		return *r.Response, nil
	}
	if !r.finished {
		// Released past the caller's budget (the caller has had its
		// timeout answer) so that the run could continue as new.
		return contract.Response{Status: 504, Body: map[string]any{"error": "timeout", "executionId": id}}, nil
	}
	if r.failed {
		// No internals for the caller: the reason is in the run's history
		// and step log, found by the execution id.
		return contract.Response{Status: 500, Body: map[string]any{"error": "the flow failed", "executionId": id}}, nil
	}
	return contract.Response{Status: 200, Body: map[string]any{"status": "succeeded", "executionId": id}}, nil
}

// failure turns the error that ended a run into the workflow's failure.
func (r *run) failure(err error) error {
	var end *endSignal
	if errors.As(err, &end) {
		return temporal.NewNonRetryableApplicationError(end.message, contract.ErrorTypeEnded, nil)
	}
	var ce *temporal.CanceledError
	if errors.As(err, &ce) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrorTypeStepFailed, nil)
}

// endSignal unwinds the step tree when an end step runs.
type endSignal struct {
	failed  bool
	message string
}

func (e *endSignal) Error() string {
	if e.failed {
		return "ended with failure: " + e.message
	}
	return "ended: " + e.message
}

// stepError names the step and where it is, for operators.
type stepError struct {
	id, path string
	err      error
}

func (e *stepError) Error() string { return fmt.Sprintf("step %q (%s): %v", e.id, e.path, e.err) }
func (e *stepError) Unwrap() error { return e.err }

// now is workflow time as UTC, for the step log.
func now(ctx workflow.Context) time.Time { return workflow.Now(ctx).UTC() }

package workflows

import (
	"errors"
	"fmt"
	"time"

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
func FlowWorkflow(ctx workflow.Context, in Input) (*Result, error) {
	r := newRun(ctx, in)
	// The update carries the digest of the caller's payload (empty from an
	// older API, and in recorded updates: then nothing is checked). The
	// validator refuses another payload under this run's idempotency key,
	// before the update is admitted: a rejected update leaves no trace in
	// the run. Validators do not run on replay.
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResponse, func(ctx workflow.Context, _ string) (Response, error) {
		return r.awaitResponse(ctx)
	}, workflow.UpdateHandlerOptions{
		Validator: func(_ workflow.Context, digest string) error {
			if digest != "" && in.Digest != "" && digest != in.Digest {
				return temporal.NewNonRetryableApplicationError("this run's idempotency key was reused with a different payload", ErrorTypeIdempotencyKeyReused, nil)
			}
			return nil
		},
		Description: "Waits for the flow's response step (or its end) and returns the answer for a sync trigger. Its argument, the digest of the caller's payload, must match the run's.",
	}); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandlerWithOptions(ctx, QuerySteps, func() (StepLog, error) {
		return r.log.snapshot(), nil
	}, workflow.QueryHandlerOptions{Description: "The step log: each step's status, timing and error."}); err != nil {
		return nil, err
	}
	if in.Flow == nil {
		return nil, temporal.NewNonRetryableApplicationError("input has no flow", ErrorTypeStepFailed, nil)
	}

	err := r.runSteps(ctx, "steps", in.Flow.Steps, r.rootScope())

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
		return nil, r.failure(err)
	}
	res := &Result{Status: "succeeded", Response: r.response, StepsRun: r.executed}
	if end != nil {
		res.Status, res.Message = "ended", end.message
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s** after %d step(s)", res.Status, r.executed))
	return res, nil
}

// awaitResponse is the UpdateResponse handler.
func (r *run) awaitResponse(ctx workflow.Context) (Response, error) {
	if err := workflow.Await(ctx, func() bool { return r.response != nil || r.finished }); err != nil {
		return Response{}, err
	}
	if r.response != nil {
		return *r.response, nil
	}
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	if r.failed {
		// No internals for the caller: the reason is in the run's history
		// and step log, found by the execution id.
		return Response{Status: 500, Body: map[string]any{"error": "the flow failed", "executionId": id}}, nil
	}
	return Response{Status: 200, Body: map[string]any{"status": "succeeded", "executionId": id}}, nil
}

// failure turns the error that ended a run into the workflow's failure.
func (r *run) failure(err error) error {
	var end *endSignal
	if errors.As(err, &end) {
		return temporal.NewNonRetryableApplicationError(end.message, ErrorTypeEnded, nil)
	}
	var ce *temporal.CanceledError
	if errors.As(err, &ce) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrorTypeStepFailed, nil)
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

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hookflow/hookflow/contract"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The floors: bare Temporal doing, at least, what a hookflow run does.
// Each variant adds one thing hookflow's run does and the bare floor does
// not, so the attribution table shows where hookflow's own cost goes.

// registerFloor registers the floors' workflows (and the delivery floor's
// activity, for its eager variant, which runs it on the workflow's queue).
func registerFloor(w interface {
	RegisterWorkflowWithOptions(any, workflow.RegisterOptions)
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	w.RegisterWorkflowWithOptions(noopStart, workflow.RegisterOptions{Name: "bench.NoopStart"})
	w.RegisterWorkflowWithOptions(noopUpdate, workflow.RegisterOptions{Name: "bench.NoopUpdate"})
	w.RegisterWorkflowWithOptions(noopUpdateInput, workflow.RegisterOptions{Name: "bench.NoopUpdateInput"})
	w.RegisterWorkflowWithOptions(noopUpdateQuery, workflow.RegisterOptions{Name: "bench.NoopUpdateQuery"})
	w.RegisterWorkflowWithOptions(floorDeliver, workflow.RegisterOptions{Name: "bench.Deliver"})
	w.RegisterActivityWithOptions(floorPost, activity.RegisterOptions{Name: "bench.Post"})
}

// noopUpdateInput is the Update-With-Start floor taking hookflow's input
// (the flow definition and the trigger), decoded as the interpreter does.
func noopUpdateInput(ctx workflow.Context, in contract.Input) (string, error) {
	return noopUpdate(ctx)
}

// noopUpdateQuery adds what the interpreter registers besides its update:
// a query handler (the step log) and an update validator.
func noopUpdateQuery(ctx workflow.Context, in contract.Input) (string, error) {
	steps := []string{}
	if err := workflow.SetQueryHandler(ctx, contract.QuerySteps, func() ([]string, error) { return steps, nil }); err != nil {
		return "", err
	}
	done := false
	if err := workflow.SetUpdateHandlerWithOptions(ctx, "answer", func(ctx workflow.Context) (string, error) {
		done = true
		steps = append(steps, "answer")
		return "ok", nil
	}, workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context) error { return nil }}); err != nil {
		return "", err
	}
	return "ok", workflow.Await(ctx, func() bool { return done && workflow.AllHandlersFinished(ctx) })
}

// PostRequest is the delivery floor's one POST.
type PostRequest struct {
	URL  string          `json:"url"`
	Key  string          `json:"key"`
	Body json.RawMessage `json:"body"`
}

// How the delivery floor runs its POST.
const (
	DeliverActivity = "activity" // an activity on a queue of its own (FloorPostQueue), as hookflow's sends
	DeliverLocal    = "local"    // a local activity in the workflow's task
	DeliverEager    = "eager"    // an activity on the workflow's own queue: the SDK asks for eager dispatch
)

// floorDeliver is the delivery floor: one POST, nothing else.
func floorDeliver(ctx workflow.Context, how string, req PostRequest) error {
	rp := &temporal.RetryPolicy{InitialInterval: time.Minute, BackoffCoefficient: 2, MaximumInterval: 8 * time.Hour}
	switch how {
	case DeliverLocal:
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 15 * time.Second, RetryPolicy: rp})
		return workflow.ExecuteLocalActivity(lctx, floorPost, req).Get(ctx, nil)
	default:
		queue := FloorPostQueue
		if how == DeliverEager {
			queue = workflow.GetInfo(ctx).TaskQueueName
		}
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue: queue, StartToCloseTimeout: 15 * time.Second, ScheduleToCloseTimeout: 72 * time.Hour, RetryPolicy: rp,
		})
		return workflow.ExecuteActivity(actx, "bench.Post", req).Get(ctx, nil)
	}
}

var postClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}, Timeout: 10 * time.Second}

// floorPost sends the POST as hookflow's delivery does: JSON body,
// Idempotency-Key; a non-2xx answer is an error.
func floorPost(ctx context.Context, req PostRequest) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", req.Key)
	resp, err := postClient.Do(r)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

package workflows

import (
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flowcontrol"
)

// A run of a flow with concurrency, throttle or singleton asks its key's
// coordinator (coordinator.go) for a permit before its first step, and
// gives it back when the chain of runs ends.

// Flow-control metrics, per flow: how long runs waited for their key
// (hookflow_flow_control_wait_seconds, a histogram) and how many a
// singleton skipped (hookflow_flow_control_skipped_total).
// The coordinators count the events that joined a key's queue
// (hookflow_flow_control_queued_total) and that left it
// (hookflow_flow_control_left_total): their difference is what waits.
const (
	MetricFlowControlWait    = "hookflow_flow_control_wait"
	MetricFlowControlSkipped = "hookflow_flow_control_skipped"
	MetricFlowControlQueued  = "hookflow_flow_control_queued"
	MetricFlowControlLeft    = "hookflow_flow_control_left"
)

// permitStart is the run's key and its coordinator's start input.
func (r *run) permitStart(ctx workflow.Context) contract.CoordinatorStart {
	fc := r.in.Flow.Trigger.FlowControl
	key := r.in.FlowKey
	if key == "" && fc.Key != "" {
		// Started without the API (a schedule, a rerun): render it here,
		// on the same trigger data.
		k, err := fc.RenderKey(r.env["trigger"].(map[string]any))
		if err != nil {
			workflow.GetLogger(ctx).Info("flow-control key did not render; the flow's empty key", "error", err)
		}
		key = k
	}
	return contract.CoordinatorStart{FlowID: r.in.Flow.ID, Key: key, Rules: flowcontrol.RulesOf(fc)}
}

// signalCoordinator reaches the key's coordinator through a local
// activity: signal-with-start for ready (the key may have no coordinator
// yet), a plain signal for release.
func (r *run) signalCoordinator(ctx workflow.Context, signal string, start contract.CoordinatorStart) error {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 24 * time.Hour,
		StartToCloseTimeout:    10 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
	in := contract.SignalCoordinatorInput{Signal: signal, RunID: workflow.GetInfo(ctx).WorkflowExecution.ID, Start: start}
	return workflow.ExecuteLocalActivity(lctx, contract.SignalCoordinatorName, in).Get(lctx, nil)
}

// awaitPermit waits for the coordinator's decision. It returns a skip
// decision (singleton) or nil to run; a cancelled wait leaves the queue.
func (r *run) awaitPermit(ctx workflow.Context) (*contract.Decision, error) {
	fc := r.in.Flow.Trigger.FlowControl
	if !fc.Coordinated() || r.Permitted {
		return nil, nil
	}
	m := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"flow": r.in.Flow.ID})
	if r.in.KeyGranted && r.in.Carry == nil {
		// The key was free when the event was admitted: the run holds
		// its permit from the start.
		m.Timer(MetricFlowControlWait).Record(0)
		r.Permitted = true
		return nil, nil
	}
	start := r.permitStart(ctx)
	decisions := workflow.GetSignalChannel(ctx, contract.SignalDecision)
	if err := r.signalCoordinator(ctx, contract.SignalReady, start); err != nil {
		return nil, err
	}
	ahead := ""
	if r.in.KeyAhead > 0 {
		ahead = fmt.Sprintf(": %d ahead when it arrived", r.in.KeyAhead)
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**waiting** for key `%s` (%s)%s", start.Key, fc.FlowControlSummary(), ahead))
	waitFrom := workflow.Now(ctx)
	var d contract.Decision
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(decisions, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &d) })
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
	if ctx.Err() != nil {
		// Cancelled while waiting: give the place back.
		dctx, cancel := workflow.NewDisconnectedContext(ctx)
		defer cancel()
		_ = r.signalCoordinator(dctx, contract.SignalRelease, start)
		return nil, temporal.NewCanceledError()
	}
	// Metrics through the SDK's handler (the worker's /metrics), which
	// records nothing on replay.
	if d.Decision == contract.DecisionSkip {
		m.Counter(MetricFlowControlSkipped).Inc(1)
		return &d, nil
	}
	m.Timer(MetricFlowControlWait).Record(workflow.Now(ctx).Sub(waitFrom))
	r.Permitted = true
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("running, key `%s`", start.Key))
	return nil, nil
}

// releasePermit gives the permit back when the chain of runs ends, however
// it ends (a cancelled run too: the context is disconnected).
func (r *run) releasePermit(ctx workflow.Context) {
	fc := r.in.Flow.Trigger.FlowControl
	if !r.Permitted || (fc.Concurrency == 0 && fc.Singleton == "") {
		// A throttle alone holds nothing once started.
		r.Permitted = false
		return
	}
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	if err := r.signalCoordinator(dctx, contract.SignalRelease, r.permitStart(ctx)); err != nil {
		// The coordinator checks holders held long (flowcontrol.HolderCheck)
		// and frees a closed run's permit itself.
		workflow.GetLogger(ctx).Warn("flow-control permit not released; the coordinator will find the run closed", "error", err)
	}
	r.Permitted = false
}

// skipped ends a run its coordinator turned away (singleton): a sync
// caller gets 409 naming the run that holds the key.
func (r *run) skipped(ctx workflow.Context, d *contract.Decision) *contract.RunResult {
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	if r.Response == nil {
		r.Response = &contract.Response{Status: http.StatusConflict, Body: map[string]any{
			"error": "already_running", "detail": "this event's key is taken: " + d.Reason, "executionId": id, "runningExecutionId": d.By}}
	}
	workflow.SetCurrentDetails(ctx, "**skipped**: "+d.Reason)
	return &contract.RunResult{Status: "skipped", Message: d.Reason, Response: r.Response}
}

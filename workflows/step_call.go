package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runCall) }

// TriggerModeCall is the HookflowTriggerMode search attribute of a run
// started by a call step.
const TriggerModeCall = "call"

// runCall runs another flow as a child workflow. The callee's current
// version is read by an activity (the workflow never reads the store) and
// pinned in the child's input; the rendered input becomes the child's
// trigger.body, with the callee's body parse rules applied. The child's id
// is this run's id, the step id and the how-many-th call of the step:
// deterministic, unique across loops and continue-as-new.
//
// wait (the default): the step ends with the child, its outputs the child's
// output; the parent's cancellation asks the child to cancel. wait: false:
// the child is abandoned to run on its own once it has started. A call in
// progress finishes before the run hands over to a continuation, as a
// delivery in flight does.
func runCall(ctx workflow.Context, r *run, s *flow.Step, c *flow.Call, at position) (map[string]any, error) {
	depth := r.in.CallDepth + 1
	if depth >= flow.MaxCallDepth {
		return nil, fmt.Errorf("calling %q would run flows %d deep (at most %d): is there a cycle of calls?", c.Flow, depth+1, flow.MaxCallDepth)
	}
	input, err := r.eval.Render(c.Input, at.env)
	if err != nil {
		return nil, wrapField("input", err)
	}
	if input == nil {
		input = map[string]any{}
	}
	if r.Counts == nil {
		r.Counts = map[string]int{}
	}
	r.Counts[s.ID]++
	childID := fmt.Sprintf("%s.%s.%d", workflow.GetInfo(ctx).WorkflowExecution.ID, s.ID, r.Counts[s.ID])

	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              workflow.GetInfo(ctx).TaskQueueName,
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
		Summary:                "resolve flow " + c.Flow,
	})
	var callee contract.ResolvedFlow
	if err := workflow.ExecuteActivity(actx, contract.ResolveFlowName, contract.ResolveFlowRequest{FlowID: c.Flow}).Get(ctx, &callee); err != nil {
		return nil, activityMessage(err)
	}
	trigger, err := childTrigger(callee.Flow, input)
	if err != nil {
		return nil, err
	}
	at.record.Note = "child execution " + childID

	policy := enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL
	if !c.Waits() {
		policy = enumspb.PARENT_CLOSE_POLICY_ABANDON
	}
	name := callee.Flow.Name
	if name == "" {
		name = callee.Flow.ID
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: childID,
		// The caller's queue: a sync run's callee answers as promptly.
		TaskQueue:         workflow.GetInfo(ctx).TaskQueueName,
		ParentClosePolicy: policy,
		// No execution timeout, as a trigger's run (StartOptions).
		TypedSearchAttributes: temporal.NewSearchAttributes(
			contract.SearchAttrFlowID.ValueSet(callee.Flow.ID),
			contract.SearchAttrFlowVersion.ValueSet(callee.Version),
			contract.SearchAttrTriggerMode.ValueSet(TriggerModeCall),
		),
		StaticSummary: fmt.Sprintf("%s (v%d, called by %s)", name, callee.Version, s.ID),
		StaticDetails: fmt.Sprintf("hookflow flow `%s`, version %d, called by step `%s` of `%s`", callee.Flow.ID, callee.Version, s.ID, workflow.GetInfo(ctx).WorkflowExecution.ID),
	})
	fut := workflow.ExecuteChildWorkflow(cctx, contract.WorkflowName, contract.Input{
		Flow: callee.Flow, FlowVersion: callee.Version, Trigger: trigger,
		CallDepth: depth, PublicURL: r.in.PublicURL,
		// A new run: the engine of this code (replay does not compare a
		// child's input).
		Engine: contract.CurrentEngine,
	})
	if err := fut.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		return nil, fmt.Errorf("starting flow %q (%s): %w", c.Flow, childID, err)
	}
	if !c.Waits() {
		return map[string]any{"executionId": childID}, nil
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("waiting for flow `%s` called by step `%s` (%s)", c.Flow, s.ID, childID))
	var res contract.RunResult
	if err := fut.Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("flow %q (%s) failed: %s", c.Flow, childID, childMessage(err))
	}
	if res.Output == nil {
		return map[string]any{}, nil
	}
	return res.Output, nil
}

// childTrigger is what the child reads as trigger: the input as body (no
// headers or query), plus the callee's parse aliases.
func childTrigger(callee *flow.Flow, input any) (map[string]any, error) {
	trigger := map[string]any{"body": input, "headers": map[string]any{}, "query": map[string]any{}}
	if p := callee.Trigger.Parse; p != nil {
		raw, err := json.Marshal(input)
		if err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
		parsed, errs := p.Apply(raw, map[string]string{}, map[string]any{})
		if len(errs) > 0 {
			msgs := make([]string, len(errs))
			for i, e := range errs {
				msgs[i] = strings.Replace(e.Error(), "body.", "input.", 1)
			}
			return nil, fmt.Errorf("the input does not fit the parse rules of flow %q: %s", callee.ID, strings.Join(msgs, "; "))
		}
		for _, k := range flow.SortedKeys(parsed) {
			trigger[k] = parsed[k]
		}
	}
	return trigger, nil
}

// activityMessage is an activity failure's own message.
func activityMessage(err error) error {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return errors.New(ae.Message())
	}
	return err
}

// childMessage is the innermost message of a child's failure.
func childMessage(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	var ce *temporal.CanceledError
	if errors.As(err, &ce) {
		return "canceled"
	}
	var te *temporal.TerminatedError
	if errors.As(err, &te) {
		return "terminated"
	}
	var to *temporal.TimeoutError
	if errors.As(err, &to) {
		return "timed out"
	}
	return err.Error()
}

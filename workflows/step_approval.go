package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

func init() { registerExecutor(runApproval) }

// runApproval waits for a decision (a signed approve or reject link, or the
// event named after the step through the executions API), or its timeout's
// default decision, then runs then or else. A resumed approval goes on in
// the phase it stood in: notifying, waiting, or the branch it took (with
// the decision carried).
func runApproval(ctx workflow.Context, r *run, s *flow.Step, a *flow.Approval, at position) (map[string]any, error) {
	var out map[string]any
	if rs := at.resume; rs != nil && rs.Branch >= 2 {
		out = rs.Outputs
	} else {
		timeout := a.EffectiveTimeout()
		got, timedOut, err := r.awaitEvent(ctx, s, at, eventWait{
			what: fmt.Sprintf("approval `%s`", s.ID), event: s.ID, timeout: timeout, notify: a.Notify,
			links:  map[string]string{contract.ActionApprove: "approveUrl", contract.ActionReject: "rejectUrl"},
			accept: func(ev contract.Event) (map[string]any, error) { return decision(a, ev) },
		})
		switch {
		case err != nil:
			return nil, err
		case timedOut && a.TimeoutDecision() == "":
			return nil, fmt.Errorf("no decision within %s", field.Duration(timeout))
		case timedOut:
			got = map[string]any{"decision": a.TimeoutDecision(), "comment": "", "decidedBy": "", "timedOut": true, "approvers": approvers(a)}
		}
		out = got
	}
	// then and else read the decision as steps.<id>.outputs.
	running := map[string]any{"status": contract.StatusRunning, "outputs": out}
	if prev, ok := r.Steps[s.ID].(map[string]any); ok {
		for _, k := range []string{"approveUrl", "rejectUrl"} {
			if v, ok := prev[k]; ok {
				running[k] = v
			}
		}
	}
	r.setResult(at, s.ID, running)
	branch, path, steps := 2, at.path+".then", a.Then
	if out["decision"] != flow.DecisionApproved {
		branch, path, steps = 3, at.path+".else", a.Else
	}
	var from *contract.Cursor
	if at.resume != nil && at.resume.Branch == branch {
		from = at.resume.Body
	}
	err := r.runSteps(ctx, path, steps, at, from)
	var sl *suspendList
	if errors.As(err, &sl) {
		return nil, &suspendStep{at: &contract.StepCursor{Branch: branch, Body: sl.at, Outputs: out}}
	}
	return out, err
}

// decision reads an approval event: a signed link's action, or the body's
// decision (executions API); comment and decidedBy from the body.
func decision(a *flow.Approval, ev contract.Event) (map[string]any, error) {
	body, _ := ev.Body.(map[string]any)
	if ev.Body != nil && body == nil {
		return nil, fmt.Errorf("an approval's body is an object: {decision, comment, decidedBy}")
	}
	d, _ := body["decision"].(string)
	if ev.Link != nil {
		d = flow.DecisionRejected
		if ev.Link.Action == contract.ActionApprove {
			d = flow.DecisionApproved
		}
	}
	switch d {
	case flow.DecisionApproved, flow.DecisionRejected:
	case "approve":
		d = flow.DecisionApproved
	case "reject":
		d = flow.DecisionRejected
	default:
		return nil, fmt.Errorf("decision must be %q or %q", flow.DecisionApproved, flow.DecisionRejected)
	}
	text := func(k string, max int) (string, error) {
		v, ok := body[k]
		if !ok || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok || len(s) > max {
			return "", fmt.Errorf("%s must be text of at most %d bytes", k, max)
		}
		return s, nil
	}
	comment, err := text("comment", 4000)
	if err != nil {
		return nil, err
	}
	by, err := text("decidedBy", 200)
	if err != nil {
		return nil, err
	}
	return map[string]any{"decision": d, "comment": comment, "decidedBy": by, "timedOut": false, "approvers": approvers(a)}, nil
}

func approvers(a *flow.Approval) []any {
	out := make([]any, len(a.Approvers))
	for i, v := range a.Approvers {
		out[i] = v
	}
	return out
}

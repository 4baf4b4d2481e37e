package flow

import (
	"time"

	"github.com/hookflow/hookflow/flow/field"
)

// TypeApproval waits for a person's decision, then branches on it.
const TypeApproval = "approval"

// Approval decisions.
const (
	DecisionApproved = "approved"
	DecisionRejected = "rejected"
)

// Approval is a wait for a decision: steps.<id>.approveUrl and
// steps.<id>.rejectUrl are signed links (no API key; each works once, and
// only until the decision or the timeout), which the notify steps send to
// the approvers. The decision may also come through the executions API as
// the event named after the step id, with body {decision, comment,
// decidedBy}. Then then runs on approval, else on rejection; both, and
// later steps, read steps.<id>.outputs.decision, comment, decidedBy and
// timedOut.
//
//   - id: review
//     type: approval
//     approvers: [ops@example.com]                # data only: shown, not enforced
//     timeout: 3d
//     onTimeout: reject                           # approve, reject (default) or fail
//     notify: [{id: ask, type: http, ...}]        # reads steps.review.approveUrl, rejectUrl
//     then: [...]
//     else: [...]
type Approval struct {
	Approvers []string       `json:"approvers,omitempty" validate:"max=50,dive,min=1,max=200" doc:"Who decides: data only, shown, not enforced."`
	Timeout   field.Duration `json:"timeout,omitempty" validate:"omitempty,dmin=1s,dmax=366d" doc:"How long to wait for the decision."`
	// OnTimeout is the decision at the timeout: approve, reject (the
	// default) or fail (the step fails).
	OnTimeout string `json:"onTimeout,omitempty" validate:"omitempty,oneof=approve reject fail" doc:"The decision at the timeout: approve, reject, or fail (the step fails)."`
	Notify    []Step `json:"notify,omitempty" doc:"Runs once the approval is armed: they read steps.<id>.approveUrl and rejectUrl, signed links to send to the approvers."`
	Then      []Step `json:"then,omitempty" doc:"Runs on approval."`
	Else      []Step `json:"else,omitempty" doc:"Runs on rejection."`
}

func init() {
	Register[Approval](TypeApproval, "wait for an approve/reject decision (signed links), then branch on it")
}

var (
	_ Spec      = (*Approval)(nil)
	_ Container = (*Approval)(nil)
)

func (a *Approval) Branches() []Branch {
	return []Branch{
		{Path: "notify", Steps: a.Notify, SeesStep: true},
		{Path: "then", Steps: a.Then, SeesStep: true},
		{Path: "else", Steps: a.Else, SeesStep: true},
	}
}

func (a *Approval) Expressions() []ExprField { return nil }

// EffectiveTimeout is how long the step waits for a decision.
func (a *Approval) EffectiveTimeout() time.Duration { return effectiveWaitTimeout(a.Timeout) }

// TimeoutDecision is the decision a timeout makes, "" when it fails the step.
func (a *Approval) TimeoutDecision() string {
	switch a.OnTimeout {
	case "approve":
		return DecisionApproved
	case "fail":
		return ""
	}
	return DecisionRejected
}

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Approval) OutputsDoc() string {
	return "`decision` (approved or rejected), `comment`, `decidedBy`, `timedOut`, `approvers`"
}

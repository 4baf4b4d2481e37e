package flow

// TypeCall runs another flow as a child run.
const TypeCall = "call"

// Call runs another flow (by id) as a Temporal child workflow. The callee
// runs its current version at the time of the call (pinned in the child's
// input); input, a JSON value whose strings may be templates, becomes the
// child's trigger.body (the callee's body parse rules apply to it).
//
//	{id: price, type: call, flow: pricing, input: {sku: "{{ item.sku }}"}}
//
// With wait (the default) the step ends when the child does and its outputs
// are the child's output (its output steps); a failed child fails the step.
// With wait: false the child is started and left to run on its own (it
// outlives this run); the step's outputs are {executionId}.
type Call struct {
	Flow  string `json:"flow" validate:"required,flowid" doc:"The id of the flow to run as a child run."`
	Input any    `json:"input,omitempty" doc:"The child's trigger body: JSON values in which strings may be templates." expr:"template"`
	Wait  *bool  `json:"wait,omitempty" doc:"false starts the child and leaves it to run on its own (outputs {executionId}); by default the step waits for the child's output."`
	// OnError continue lets the flow go on after the child failed.
	OnError string `json:"onError,omitempty" validate:"omitempty,oneof=fail continue" doc:"continue lets the flow go on after the child failed."`
}

func init() {
	Register[Call](TypeCall, "run another flow as a child run (wait for its output, or fire and forget)")
}

var (
	_ Spec           = (*Call)(nil)
	_ ErrorContinuer = (*Call)(nil)
	_ Caller         = (*Call)(nil)
)

func (c *Call) Expressions() []ExprField { return ValueTemplates("input", c.Input) }

// ContinuesOnError reports whether the flow goes on after the call failed.
func (c *Call) ContinuesOnError() bool { return c.OnError == "continue" }

// CalledFlow is the callee's id.
func (c *Call) CalledFlow() string { return c.Flow }

// Waits reports whether the step waits for the child's end (the default).
func (c *Call) Waits() bool { return c.Wait == nil || *c.Wait }

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Call) OutputsDoc() string {
	return "the child's output (wait: true); `executionId` (wait: false)"
}

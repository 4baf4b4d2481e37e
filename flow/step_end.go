package flow

import "github.com/hookflow/hookflow/flow/expression"

// TypeEnd ends the whole run, as a success or a failure.
const TypeEnd = "end"

// End stops the run. With status failure, the run fails with the message
// (and a sync caller that has no answer yet gets 500).
//
//	{id: stop, type: end, status: failure, message: "unknown customer {{ trigger.body.id }}"}
type End struct {
	Status  string `json:"status,omitempty" validate:"omitempty,oneof=success failure" doc:"success or failure: a failure fails the run with the message (and a sync caller that has no answer yet gets 500)."`
	Message string `json:"message,omitempty" validate:"max=2000" doc:"Why the run ended." expr:"template"`
}

func init() {
	Register[End](TypeEnd, "end the run as success or failure")
}

var (
	_ Spec = (*End)(nil)
)

func (e *End) Expressions() []ExprField {
	if !expression.IsTemplate(e.Message) {
		return nil
	}
	return []ExprField{{Path: "message", Source: e.Message}}
}

// Failed reports whether the step ends the run as a failure.
func (e *End) Failed() bool { return e.Status == "failure" }

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*End) OutputsDoc() string {
	return "`status`, `message`"
}

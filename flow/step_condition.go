package flow

import "github.com/hookflow/hookflow/flow/field"

// TypeCondition runs then when if is true, else otherwise.
const TypeCondition = "condition"

// Condition is an if/then/else.
//
//	{id: big, type: condition, if: "trigger.body.total > 100", then: [...], else: [...]}
//
// Later steps read steps.<id>.outputs.result (true or false).
type Condition struct {
	// If is a bare expression that must yield true or false.
	If   string `json:"if" validate:"required" doc:"A bare expression that must yield true or false." expr:"expression"`
	Then []Step `json:"then,omitempty" doc:"Runs when if is true."`
	Else []Step `json:"else,omitempty" doc:"Runs when if is false."`
}

func init() {
	Register[Condition](TypeCondition, "if/then/else on an expression")
}

var (
	_ Spec      = (*Condition)(nil)
	_ Container = (*Condition)(nil)
	_ Checker   = (*Condition)(nil)
)

func (c *Condition) Branches() []Branch {
	return []Branch{{Path: "then", Steps: c.Then}, {Path: "else", Steps: c.Else}}
}

func (c *Condition) Expressions() []ExprField {
	return []ExprField{{Path: "if", Source: c.If, Bare: true}}
}

func (c *Condition) Check() []field.Error {
	if len(c.Then) == 0 && len(c.Else) == 0 {
		return []field.Error{{Path: "then", Message: "a condition needs steps in then or else"}}
	}
	return nil
}

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Condition) OutputsDoc() string {
	return "`result` (true or false)"
}

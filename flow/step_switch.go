package flow

import "github.com/hookflow/hookflow/flow/field"

// TypeSwitch runs the steps of the first case whose if is true, or default.
const TypeSwitch = "switch"

// Switch picks one of several branches.
//
//	{id: route, type: switch, cases: [{if: "trigger.body.kind == 'a'", steps: [...]}], default: [...]}
//
// Later steps read steps.<id>.outputs.case: the index of the case that ran,
// or -1 for default.
type Switch struct {
	Cases   []SwitchCase `json:"cases" validate:"required,min=1,max=100,dive" doc:"The cases, tried in order: the first whose if holds runs."`
	Default []Step       `json:"default,omitempty" doc:"Runs when no case matches."`
}

// SwitchCase is one branch of a Switch.
type SwitchCase struct {
	// Name labels the case in the step log.
	Name  string `json:"name,omitempty" validate:"max=200" doc:"Labels the case in the step log."`
	If    string `json:"if" validate:"required" doc:"A bare expression that must yield true or false." expr:"expression"`
	Steps []Step `json:"steps" validate:"required,min=1" doc:"The case's steps."`
}

func init() {
	Register[Switch](TypeSwitch, "first matching case of several")
}

var (
	_ Spec      = (*Switch)(nil)
	_ Container = (*Switch)(nil)
)

func (s *Switch) Branches() []Branch {
	out := make([]Branch, 0, len(s.Cases)+1)
	for i, c := range s.Cases {
		out = append(out, Branch{Path: field.IndexPath("cases", i) + ".steps", Steps: c.Steps})
	}
	return append(out, Branch{Path: "default", Steps: s.Default})
}

func (s *Switch) Expressions() []ExprField {
	out := make([]ExprField, len(s.Cases))
	for i, c := range s.Cases {
		out[i] = ExprField{Path: field.IndexPath("cases", i) + ".if", Source: c.If, Bare: true}
	}
	return out
}

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Switch) OutputsDoc() string {
	return "`case` (the index of the case that ran, -1 for default), `name`"
}

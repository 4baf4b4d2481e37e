package flow

import "github.com/hookflow/hookflow/flow/field"

// TypeSet writes variables that later steps read as vars.<name>.
const TypeSet = "set"

// Set assigns variables. Values are JSON values in which strings may be
// templates; a string that is exactly one {{ expression }} keeps the
// expression's type.
//
//	{id: init, type: set, values: {total: "{{ trigger.body.total * 1.2 }}", note: "hello"}}
//
// Every value is evaluated against the variables as they were before the
// step, so the order of keys does not matter.
type Set struct {
	Values map[string]any `json:"values" validate:"required,min=1,max=100" doc:"Variables to assign (vars.<name>): JSON values in which strings may be templates, evaluated against the variables as they were before the step." expr:"template"`
}

func init() {
	Register[Set](TypeSet, "assign variables (vars.<name>)")
}

var (
	_ Spec    = (*Set)(nil)
	_ Checker = (*Set)(nil)
)

func (s *Set) Expressions() []ExprField {
	var out []ExprField
	for _, k := range SortedKeys(s.Values) {
		out = append(out, ValueTemplates(field.JoinPath("values", k), s.Values[k])...)
	}
	return out
}

func (s *Set) Check() []field.Error {
	var out []field.Error
	for _, k := range SortedKeys(s.Values) {
		if !field.IsIdentifier(k) {
			out = append(out, field.Error{Path: field.JoinPath("values", k), Message: "a variable name must be an identifier: letters, digits and _, not starting with a digit"})
		}
	}
	return out
}

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Set) OutputsDoc() string {
	return "the values"
}

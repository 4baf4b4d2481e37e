package flow

import "github.com/hookflow/hookflow/flow/field"

// TypeOutput sets the run's output.
const TypeOutput = "output"

// Output sets the run's output: what a flow that calls this one receives as
// its call step's outputs, and what the executions API shows as the run's
// result. Values are JSON values in which strings may be templates, as in a
// set step. A later output step replaces the output as a whole.
//
//	{id: done, type: output, values: {orderId: "{{ trigger.body.id }}", total: "{{ vars.total }}"}}
type Output struct {
	Values map[string]any `json:"values" validate:"required,min=1,max=100" doc:"The run's output: JSON values in which strings may be templates. A later output step replaces it as a whole." expr:"template"`
}

func init() {
	Register[Output](TypeOutput, "set the run's output (what a calling flow receives)")
}

var (
	_ Spec    = (*Output)(nil)
	_ Checker = (*Output)(nil)
)

func (o *Output) Expressions() []ExprField {
	var out []ExprField
	for _, k := range SortedKeys(o.Values) {
		out = append(out, ValueTemplates(field.JoinPath("values", k), o.Values[k])...)
	}
	return out
}

func (o *Output) Check() []field.Error {
	var out []field.Error
	for _, k := range SortedKeys(o.Values) {
		if !field.IsIdentifier(k) {
			out = append(out, field.Error{Path: field.JoinPath("values", k), Message: "an output name must be an identifier: letters, digits and _, not starting with a digit"})
		}
	}
	return out
}

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Output) OutputsDoc() string {
	return "the values"
}

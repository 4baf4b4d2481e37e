package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runSet) }

// runSet evaluates every value against the variables as they were before the
// step, then assigns them all: the order of keys never matters.
func runSet(_ workflow.Context, r *run, s *flow.Step, set *flow.Set, at position) (map[string]any, error) {
	rendered := make(map[string]any, len(set.Values))
	for _, k := range flow.SortedKeys(set.Values) {
		v, err := r.eval.Render(set.Values[k], at.env)
		if err != nil {
			return nil, wrapField("values."+k, err)
		}
		rendered[k] = v
	}
	for _, k := range flow.SortedKeys(rendered) {
		r.Vars[k] = rendered[k]
	}
	return rendered, nil
}

func wrapField(field string, err error) error { return &fieldErr{field: field, err: err} }

type fieldErr struct {
	field string
	err   error
}

func (e *fieldErr) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldErr) Unwrap() error { return e.err }

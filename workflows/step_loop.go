package workflows

import (
	"fmt"
	"reflect"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runLoop) }

// runLoop runs the body once per element, in order. Over more elements than
// the loop's bound it fails before running any: silently dropping elements
// would be worse than a clear error.
func runLoop(ctx workflow.Context, r *run, s *flow.Step, l *flow.Loop, at position) (map[string]any, error) {
	v, err := r.eval.Eval(l.Over, at.env)
	if err != nil {
		return nil, evalErr("over", l.Over, err)
	}
	items, err := asList(v)
	if err != nil {
		return nil, fmt.Errorf("over: expression `%s`: %w", flow.StripBraces(l.Over), err)
	}
	if len(items) > l.Bound() {
		return nil, fmt.Errorf("over: %d elements exceed the loop's bound of %d (set max, at most %d)", len(items), l.Bound(), flow.MaxLoopMax)
	}
	for i, item := range items {
		// The scope is the root names plus item and index; built from
		// its fixed keys rather than by copying (iterating) a map.
		scope := map[string]any{
			flow.EnvTrigger:   at.env[flow.EnvTrigger],
			flow.EnvVars:      at.env[flow.EnvVars],
			flow.EnvSteps:     at.env[flow.EnvSteps],
			flow.EnvExecution: at.env[flow.EnvExecution],
			flow.EnvItem:      item,
			flow.EnvIndex:     i,
		}
		iteration := i
		inner := position{env: scope, iteration: &iteration}
		if err := r.runSteps(ctx, at.path+".steps", l.Steps, inner); err != nil {
			return map[string]any{"count": i}, err
		}
	}
	return map[string]any{"count": len(items)}, nil
}

func asList(v any) ([]any, error) {
	switch t := v.(type) {
	case []any:
		return t, nil
	case nil:
		return nil, fmt.Errorf("must yield an array, got null")
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out, nil
	}
	return nil, fmt.Errorf("must yield an array, got %T", v)
}

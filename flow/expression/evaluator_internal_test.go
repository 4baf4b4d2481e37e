package expression

import "testing"

// An expression compiles once per Evaluator (one per run), however often a
// loop evaluates it.
func TestEvaluatorCompilesOnce(t *testing.T) {
	e := NewEvaluator()
	env := map[string]any{EnvTrigger: map[string]any{}, EnvVars: map[string]any{}, EnvSteps: map[string]any{}, EnvExecution: map[string]any{}, EnvItem: 1, EnvIndex: 0}
	for i := range 1000 {
		env[EnvIndex] = i
		if _, err := e.Eval("item + index", env); err != nil {
			t.Fatal(err)
		}
		if _, err := e.RenderString("n={{ index * 2 }}", env); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.programs); n != 2 {
		t.Fatalf("compiled %d programs for 2 distinct expressions", n)
	}
}

package expression

import (
	"fmt"
	"testing"

	"github.com/expr-lang/expr/vm"
)

// An Evaluator (one per run) looks each expression up once, however often
// a loop evaluates it.
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

// Runs share compiled programs: a second run (a new Evaluator) of the same
// expressions compiles nothing, and a source that fails to compile is not
// kept.
func TestEvaluatorsShareCompiledPrograms(t *testing.T) {
	// A cache of the test's own, so the count holds however often the
	// test runs in one process.
	saved := sharedPrograms
	sharedPrograms = &programCache{m: map[string]*vm.Program{}}
	t.Cleanup(func() { sharedPrograms = saved })
	env := map[string]any{EnvTrigger: map[string]any{"body": map[string]any{"total": 250.0}}}
	src := "trigger.body.total > 100"
	before := sharedPrograms.compiles.Load()
	for range 3 {
		ok, err := NewEvaluator().EvalBool(src, env)
		if err != nil || !ok {
			t.Fatalf("EvalBool = %v, %v", ok, err)
		}
	}
	if n := sharedPrograms.compiles.Load() - before; n != 1 {
		t.Fatalf("three runs compiled %d times, want once", n)
	}
	bad := "trigger.body.total >"
	for range 2 {
		if _, err := NewEvaluator().Eval(bad, env); err == nil {
			t.Fatal("a malformed expression evaluated")
		}
	}
	if n := sharedPrograms.compiles.Load() - before; n != 3 {
		t.Fatalf("compiled %d times, want 3 (the failing source each time)", n)
	}
}

// The shared cache holds at most maxSharedPrograms programs.
func TestSharedProgramCacheIsBounded(t *testing.T) {
	c := &programCache{m: map[string]*vm.Program{}}
	for i := range maxSharedPrograms + 10 {
		if _, err := c.get(fmt.Sprintf("%d + 1", i)); err != nil {
			t.Fatal(err)
		}
		if len(c.m) > maxSharedPrograms {
			t.Fatalf("%d programs kept after %d sources, more than %d", len(c.m), i+1, maxSharedPrograms)
		}
	}
	if p, err := c.get("1 + 1"); err != nil || p == nil {
		t.Fatalf("get after the cache started over = %v, %v", p, err)
	}
}

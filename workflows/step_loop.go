package workflows

import (
	"errors"
	"fmt"
	"reflect"
	"sort"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
)

func init() { registerExecutor(runLoop) }

// runLoop runs the body once per element: in order, or up to concurrency
// elements side by side. Over more elements than the loop's bound it fails
// before running any: silently dropping elements would be worse than a clear
// error. The first element to fail cancels the others, as in a parallel
// step. When the run hands over to its continuation, no element starts, the
// ones under way stop at a step boundary, and the loop carries where each
// stood; the continuation resumes them first, then the rest.
func runLoop(ctx workflow.Context, r *run, s *flow.Step, l *flow.Loop, at position) (map[string]any, error) {
	var items []any
	var err error
	if rs := at.resume; rs != nil && rs.Items != nil {
		// Carried because evaluating over again would not give the list
		// (or would fail): the loop's own steps changed what it reads.
		items = rs.Items
	} else {
		v, err := r.eval.Eval(l.Over, at.env)
		if err != nil {
			return nil, evalErr("over", l.Over, err)
		}
		if items, err = asList(v); err != nil {
			return nil, fmt.Errorf("over: expression `%s`: %w", expression.StripBraces(l.Over), err)
		}
	}
	lp := &loopRun{r: r, s: s, l: l, at: at}
	if rs := at.resume; rs != nil {
		if items, err = resumeItems(items, rs); err != nil {
			return nil, err
		}
		lp.next, lp.done = rs.NextItem, rs.Done
		lp.resumed = rs.Active
	} else if len(items) > l.Bound() {
		return nil, fmt.Errorf("over: %d elements exceed the loop's bound of %d (set max, at most %d)", len(items), l.Bound(), flow.MaxLoopMax)
	}
	lp.items = items
	if l.EffectiveConcurrency() == 1 {
		err = lp.sequential(ctx)
	} else {
		err = lp.concurrent(ctx, l.EffectiveConcurrency())
	}
	if err != nil {
		return map[string]any{"count": lp.done}, err
	}
	return map[string]any{"count": lp.done}, nil
}

// loopRun is one loop step's progress.
type loopRun struct {
	r     *run
	s     *flow.Step
	l     *flow.Loop
	at    position
	items []any
	// next is the first element not started; done counts finished ones;
	// resumed are elements a previous run of the chain left under way.
	next, done int
	resumed    []contract.ActiveItem
	// stopped are the elements under way at a hand-over.
	stopped []contract.ActiveItem
}

// element runs the loop's steps for element i, from its start or from a
// carried cursor. steps is the element's own copy of the step results
// (concurrent loops), or nil (the run's).
func (lp *loopRun) element(ctx workflow.Context, i int, from *contract.Cursor, steps map[string]any) error {
	// The scope is the root names plus item and index; built from its
	// fixed keys rather than by copying (iterating) a map.
	scope := map[string]any{
		expression.EnvTrigger:   lp.at.env[expression.EnvTrigger],
		expression.EnvVars:      lp.at.env[expression.EnvVars],
		expression.EnvSteps:     lp.at.env[expression.EnvSteps],
		expression.EnvExecution: lp.at.env[expression.EnvExecution],
		expression.EnvItem:      lp.items[i],
		expression.EnvIndex:     i,
	}
	inner := position{env: scope, iteration: &i, steps: lp.at.steps}
	if steps != nil {
		scope[expression.EnvSteps], inner.steps = steps, steps
	}
	err := lp.r.runSteps(ctx, lp.at.path+".steps", lp.l.Steps, inner, from)
	var sl *suspendList
	if errors.As(err, &sl) {
		lp.stopped = append(lp.stopped, contract.ActiveItem{Index: i, At: sl.at, Steps: lp.own(steps)})
	}
	return err
}

func (lp *loopRun) sequential(ctx workflow.Context) error {
	for _, a := range lp.resumed {
		if err := lp.element(ctx, a.Index, a.At, nil); err != nil {
			return lp.handOver(err)
		}
		lp.done++
	}
	for ; lp.next < len(lp.items); lp.next++ {
		if lp.r.shouldSuspend(ctx) {
			return lp.handOver(&suspendList{})
		}
		if err := lp.element(ctx, lp.next, nil, nil); err != nil {
			lp.next++
			return lp.handOver(err)
		}
		lp.done++
	}
	return nil
}

func (lp *loopRun) concurrent(ctx workflow.Context, concurrency int) error {
	ectx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	var first error
	running := 0
	wg := workflow.NewWaitGroup(ctx)
	start := func(i int, from *contract.Cursor, carried map[string]any) {
		steps := lp.r.elementSteps(carried)
		running++
		wg.Add(1)
		workflow.Go(ectx, func(gctx workflow.Context) {
			defer wg.Done()
			err := lp.element(gctx, i, from, steps)
			running--
			var ce *temporal.CanceledError
			var sl *suspendList
			switch {
			case err == nil:
				lp.done++
			case errors.As(err, &sl):
			case first == nil && !errors.As(err, &ce):
				first = err
				cancel()
			}
		})
	}
	for _, a := range lp.resumed {
		start(a.Index, a.At, a.Steps)
	}
	for lp.next < len(lp.items) {
		if err := workflow.Await(ctx, func() bool {
			return running < concurrency || first != nil || lp.r.handover.suspending
		}); err != nil {
			break
		}
		if first != nil || lp.r.shouldSuspend(ctx) {
			break
		}
		start(lp.next, nil, nil)
		lp.next++
	}
	wg.Wait(ctx)
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return temporal.NewCanceledError()
	}
	if lp.next < len(lp.items) || len(lp.stopped) > 0 {
		return lp.handOver(&suspendList{})
	}
	return nil
}

// handOver turns a hand-over inside the loop into the loop's cursor; other
// errors pass.
func (lp *loopRun) handOver(err error) error {
	var sl *suspendList
	if !errors.As(err, &sl) {
		return err
	}
	sort.Slice(lp.stopped, func(i, j int) bool { return lp.stopped[i].Index < lp.stopped[j].Index })
	c := &contract.StepCursor{NextItem: lp.next, Active: lp.stopped, Done: lp.done, ItemsHash: itemsDigest(lp.items)}
	// The continuation evaluates over again; carry the list itself only
	// when that would give another one (the loop changed what over reads).
	if v, err := lp.r.eval.Eval(lp.l.Over, lp.at.env); err != nil || itemsDigestOf(v) != c.ItemsHash {
		c.Items = lp.items
	}
	return &suspendStep{at: c}
}

func itemsDigestOf(v any) string {
	items, err := asList(v)
	if err != nil {
		return ""
	}
	return itemsDigest(items)
}

// elementSteps is a concurrent element's own view of the step results: the
// run's as they are when it starts, plus what it carried from a previous
// run of the chain. Its steps write here and to the run's, so elements side
// by side each read their own outputs.
func (r *run) elementSteps(carried map[string]any) map[string]any {
	out := make(map[string]any, len(r.Steps)+len(carried))
	for _, k := range flow.SortedKeys(r.Steps) {
		out[k] = r.Steps[k]
	}
	for _, k := range flow.SortedKeys(carried) {
		out[k] = carried[k]
	}
	return out
}

// own is what an element under way carries of its own step results: those
// of the loop's steps.
func (lp *loopRun) own(steps map[string]any) map[string]any {
	if steps == nil {
		return nil
	}
	out := map[string]any{}
	flow.WalkSteps(lp.l.Steps, func(s *flow.Step) {
		if v, ok := steps[s.ID]; ok {
			out[s.ID] = v
		}
	})
	return out
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

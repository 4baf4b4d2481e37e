package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/flow"
)

// MaxStepsPerRun bounds step executions in one run. Loops are bounded one by
// one (flow.MaxLoopMax); this bounds their product when they nest, so that a
// run's history and memory stay well inside Temporal's limits.
const MaxStepsPerRun = 10_000

// stepExecutor runs one step of the type whose spec is S. It returns the step's
// outputs (readable by later steps as steps.<id>.outputs) or an error.
type stepExecutor[S flow.Spec] func(ctx workflow.Context, r *run, s *flow.Step, spec S, at position) (map[string]any, error)

// executor is a stepExecutor with its spec type erased, keyed by step type.
type executor func(ctx workflow.Context, r *run, s *flow.Step, at position) (map[string]any, error)

// executors is keyed by the same stable names as flow's registry; a test
// checks that every registered step type has one.
var executors = map[string]executor{}

// registerExecutor pairs the step type whose spec is S (registered in flow
// with flow.Register) with the function that runs it. The spec reaches the
// executor typed: the one conversion is here. It panics when S is not a
// registered step type or already has an executor: programming errors
// caught at init.
//
//	func init() { registerExecutor(runCondition) }
func registerExecutor[S flow.Spec](exec stepExecutor[S]) {
	kind, ok := flow.KindOf[S]()
	if !ok {
		panic(fmt.Sprintf("workflows: %T is not a registered step type", *new(S)))
	}
	if _, dup := executors[kind.Name]; dup {
		panic(fmt.Sprintf("workflows: executor for %q registered twice", kind.Name))
	}
	executors[kind.Name] = func(ctx workflow.Context, r *run, s *flow.Step, at position) (map[string]any, error) {
		return exec(ctx, r, s, s.Spec.(S), at)
	}
}

// run is the state of one interpretation.
type run struct {
	in       Input
	eval     *flow.Evaluator
	vars     map[string]any
	steps    map[string]any
	env      map[string]any
	log      stepLog
	response *Response
	executed int
	// deliveries numbers http steps in this run, for delivery ids.
	deliveries int
	finished   bool
	failed     bool
}

// position is where a step runs: its path, the expression environment of
// its scope (loops add item and index) and the innermost loop iteration.
type position struct {
	path      string
	env       map[string]any
	iteration *int
	// record is the step's own log record, for executors that add to it.
	record *StepRecord
}

func newRun(ctx workflow.Context, in Input) *run {
	info := workflow.GetInfo(ctx)
	r := &run{
		in:    in,
		eval:  flow.NewEvaluator(),
		vars:  map[string]any{},
		steps: map[string]any{},
	}
	trigger := in.Trigger
	if trigger == nil {
		trigger = map[string]any{}
	}
	flowID := ""
	if in.Flow != nil {
		flowID = in.Flow.ID
	}
	r.env = map[string]any{
		flow.EnvTrigger: trigger,
		flow.EnvVars:    r.vars,
		flow.EnvSteps:   r.steps,
		flow.EnvExecution: map[string]any{
			"id":          info.WorkflowExecution.ID,
			"runId":       info.WorkflowExecution.RunID,
			"flowId":      flowID,
			"flowVersion": in.FlowVersion,
			"startedAt":   info.WorkflowStartTime.UTC().Format(time.RFC3339Nano),
		},
	}
	return r
}

func (r *run) rootScope() position { return position{env: r.env} }

// runSteps runs a step list in order. It stops at the first error, and
// between steps when ctx is cancelled (a sibling parallel branch failed).
func (r *run) runSteps(ctx workflow.Context, prefix string, steps []flow.Step, at position) error {
	for i := range steps {
		if err := ctx.Err(); err != nil {
			return temporal.NewCanceledError()
		}
		p := at
		p.path = fmt.Sprintf("%s[%d]", prefix, i)
		if err := r.runStep(ctx, &steps[i], p); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) runStep(ctx workflow.Context, s *flow.Step, at position) error {
	r.executed++
	if r.executed > MaxStepsPerRun {
		return &stepError{id: s.ID, path: at.path, err: fmt.Errorf("the run exceeded %d step executions (nested loops multiply); split the work across runs", MaxStepsPerRun)}
	}
	rec := r.log.start(StepRecord{ID: s.ID, Type: s.Type, Path: at.path, Status: StatusRunning, StartedAt: now(ctx), Iteration: at.iteration})
	at.record = rec
	exec, ok := executors[s.Type]
	var (
		out map[string]any
		err error
	)
	switch {
	case !ok || s.Spec == nil:
		err = fmt.Errorf("unknown step type %q on this worker (a newer flow on an older worker?)", s.Type)
	default:
		out, err = exec(ctx, r, s, at)
	}
	end := now(ctx)
	rec.EndedAt = &end

	var sig *endSignal
	var ce *temporal.CanceledError
	var skip *skipped
	switch {
	case err == nil:
		rec.Status = StatusSucceeded
	case errors.As(err, &skip):
		rec.Status, rec.Note, err = StatusSkipped, skip.note, nil
	case errors.As(err, &sig):
		rec.Status = StatusSucceeded
	case errors.As(err, &ce):
		rec.Status = StatusCancelled
	default:
		rec.Status = StatusFailed
		// Errors of nested steps are already wrapped with their own id;
		// containers record that the failure came from inside.
		var se *stepError
		if !errors.As(err, &se) {
			err = &stepError{id: s.ID, path: at.path, err: err}
			rec.Error = err.(*stepError).err.Error()
		} else {
			rec.Error = "a nested step failed: " + se.id
		}
	}
	if out == nil {
		out = map[string]any{}
	}
	result := map[string]any{"status": rec.Status, "outputs": out}
	if rec.Status == StatusFailed {
		result["error"] = rec.Error
		if c, ok := s.Spec.(flow.ErrorContinuer); ok && c.ContinuesOnError() {
			// onError: continue — the failure is readable by later steps
			// (steps.<id>.status, steps.<id>.error) and the flow goes on.
			err = nil
		}
	}
	r.steps[s.ID] = result
	return err
}

// skipped is returned by an executor that chose not to act; the run goes on.
type skipped struct{ note string }

func (s *skipped) Error() string { return "skipped: " + s.note }

// evalErr wraps an expression error with the field it came from.
func evalErr(field, src string, err error) error {
	return fmt.Errorf("%s: expression `%s`: %w", field, flow.StripBraces(src), err)
}

// HasExecutor reports whether the interpreter can run a step type.
func HasExecutor(stepType string) bool {
	_, ok := executors[stepType]
	return ok
}

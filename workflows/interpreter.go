package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
)

// MaxStepsPerRun bounds step executions in one run, across its
// continuations. Loops are bounded one by one (flow.MaxLoopMax); this bounds
// their product when they nest. History stays bounded whatever the count:
// the run continues as new before Temporal's limits (continue.go).
const MaxStepsPerRun = 1_000_000

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
	in   contract.Input
	eval *expression.Evaluator
	// RunState is what the run carries to its continuation (variables,
	// step results, counters, the sync answer, outputs): defined once in
	// contract, restored whole by newRun and handed over whole by carry.
	contract.RunState
	env      map[string]any
	log      stepLog
	finished bool
	failed   bool
	// handover is the state of a hand-over to the continuation.
	handover handover
	// task is what the run counts per workflow task.
	task taskState
	// segmentSteps counts the steps this run of the chain began.
	segmentSteps int
	// canVersion and boundVersion cache the version markers that keep
	// runs recorded by older code on their old path (continue.go,
	// stepBound).
	canVersion, boundVersion *workflow.Version
	// readsBody caches, per http step id, whether a later expression may
	// read its response body or headers.
	readsBody map[string]bool
	// armed are the wait and approval steps waiting for an event, in the
	// order they began (events.go).
	armed []*armedWait
}

// handover is where a hand-over to the continuation stands (continue.go).
type handover struct {
	// suspending: the run hands over at the next step boundary of every
	// branch.
	suspending bool
	// inflight counts leaf steps running that a hand-over cannot
	// interrupt; waits are interrupted only once it is zero.
	inflight int
	// waiting counts update handlers waiting for the sync answer, since
	// waitingSince; releaseWaiters lets them go with a timeout answer.
	waiting        int
	waitingSince   time.Time
	releaseWaiters bool
}

// taskState is what the run counts per workflow task, each count keyed by
// the history length that names the task it was made in.
type taskState struct {
	// steps counts steps run in the task stepsAt (yieldIfBusy).
	steps, stepsAt int
	// localDoneAt is the task in which a local first attempt last
	// completed (firstattempt.go).
	localDoneAt int
	localDone   bool
	// budgetUsed is what the sends of the task budgetAt carry; nextTask is
	// the timer that brings the next task, started in the task nextTaskAt
	// (taskbudget.go).
	budgetUsed, budgetAt int
	nextTask             workflow.Future
	nextTaskAt           int
}

// position is where a step runs: its path, the expression environment of
// its scope (loops add item and index) and the innermost loop iteration.
type position struct {
	path      string
	env       map[string]any
	iteration *int
	// record is the step's own log record, for executors that add to it.
	record *contract.StepRecord
	// steps is where step results are written (and read through env):
	// the run's, or a concurrent loop element's own copy.
	steps map[string]any
	// resume is where a container stood when the previous run of the
	// chain handed over; nil when the step starts afresh.
	resume *contract.StepCursor
}

func newRun(ctx workflow.Context, in contract.Input) *run {
	info := workflow.GetInfo(ctx)
	r := &run{in: in, eval: expression.NewEvaluator()}
	if c := in.Carry; c != nil {
		r.RunState = c.RunState
		r.log.restore(c.Log)
	} else {
		r.StartedAt = info.WorkflowStartTime.UTC()
	}
	if r.Vars == nil {
		r.Vars = map[string]any{}
	}
	if r.Steps == nil {
		r.Steps = map[string]any{}
	}
	trigger := in.Trigger
	if trigger == nil {
		trigger = map[string]any{}
	}
	if trigger[contract.TriggerMode] == contract.TriggerModeSchedule {
		trigger = withScheduledAt(info, trigger)
	}
	flowID := ""
	if in.Flow != nil {
		flowID = in.Flow.ID
	}
	r.env = map[string]any{
		expression.EnvTrigger: trigger,
		expression.EnvVars:    r.Vars,
		expression.EnvSteps:   r.Steps,
		expression.EnvExecution: map[string]any{
			"id":          info.WorkflowExecution.ID,
			"runId":       info.WorkflowExecution.RunID,
			"flowId":      flowID,
			"flowVersion": in.FlowVersion,
			"startedAt":   r.StartedAt.Format(time.RFC3339Nano),
		},
	}
	return r
}

func (r *run) rootScope() position { return position{env: r.env, steps: r.Steps} }

// runSteps runs a step list in order, from the start or from where a
// previous run of the chain stood (from). It stops at the first error,
// between steps when ctx is cancelled (a sibling parallel branch failed),
// and at a step boundary when the run hands over to its continuation
// (*suspendList, with where it stopped).
func (r *run) runSteps(ctx workflow.Context, prefix string, steps []flow.Step, at position, from *contract.Cursor) error {
	start, inner := 0, (*contract.StepCursor)(nil)
	if from != nil {
		start, inner = from.Next, from.Inner
	}
	for i := start; i < len(steps); i++ {
		if err := ctx.Err(); err != nil {
			return temporal.NewCanceledError()
		}
		// A resumed container goes on first: each continuation makes
		// progress before it may hand over again.
		if inner == nil && r.shouldSuspend(ctx) {
			return &suspendList{at: &contract.Cursor{Next: i}}
		}
		p := at
		p.path = fmt.Sprintf("%s[%d]", prefix, i)
		p.resume, inner = inner, nil
		if err := r.runStep(ctx, &steps[i], p); err != nil {
			var ss *suspendStep
			if errors.As(err, &ss) {
				return &suspendList{at: &contract.Cursor{Next: i, Inner: ss.at}}
			}
			return err
		}
	}
	return nil
}

func (r *run) runStep(ctx workflow.Context, s *flow.Step, at position) error {
	// A resumed container was counted by the run that began it, and keeps
	// its record when the carried log tail still holds it.
	rec := (*contract.StepRecord)(nil)
	if err := r.yieldIfBusy(ctx); err != nil {
		return err
	}
	if at.resume != nil {
		rec = r.log.running(at.path, at.iteration)
	} else {
		r.Executed++
		r.segmentSteps++
		if bound := r.stepBound(ctx); r.Executed > bound {
			return &stepError{id: s.ID, path: at.path, err: fmt.Errorf("the run exceeded %d step executions (nested loops multiply); split the work across runs", bound)}
		}
	}
	if rec == nil {
		rec = r.log.start(contract.StepRecord{ID: s.ID, Type: s.Type, Path: at.path, Status: contract.StatusRunning, StartedAt: now(ctx), Iteration: at.iteration})
	}
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
		// A leaf step that cannot be interrupted (a delivery, a child
		// run) holds the hand-over back; waits go on meanwhile.
		_, interruptible := s.Spec.(flow.Interruptible)
		leaf := flow.Branches(s.Spec) == nil
		if leaf && !interruptible {
			r.handover.inflight++
		}
		out, err = exec(ctx, r, s, at)
		if leaf && !interruptible {
			r.handover.inflight--
		}
	}
	var suspended *suspendStep
	if errors.As(err, &suspended) {
		// Still running: the continuation finishes it.
		return err
	}
	end := now(ctx)
	rec.EndedAt = &end

	var sig *endSignal
	var ce *temporal.CanceledError
	var skip *skipped
	switch {
	case err == nil:
		rec.Status = contract.StatusSucceeded
	case errors.As(err, &skip):
		rec.Status, rec.Note, err = contract.StatusSkipped, skip.note, nil
	case errors.As(err, &sig):
		rec.Status = contract.StatusSucceeded
	case errors.As(err, &ce):
		rec.Status = contract.StatusCancelled
	default:
		rec.Status = contract.StatusFailed
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
	if rec.Status == contract.StatusFailed {
		result["error"] = rec.Error
		if c, ok := s.Spec.(flow.ErrorContinuer); ok && c.ContinuesOnError() {
			// onError: continue — the failure is readable by later steps
			// (steps.<id>.status, steps.<id>.error) and the flow goes on.
			err = nil
		}
	}
	r.setResult(at, s.ID, result)
	return err
}

// legacyMaxStepsPerRun was the bound before runs continued as new.
const legacyMaxStepsPerRun = 10_000

// stepBound is MaxStepsPerRun, except in runs recorded when the bound was
// 10,000: they failed at step 10,001, and replaying them must too.
func (r *run) stepBound(ctx workflow.Context) int {
	if r.Executed <= legacyMaxStepsPerRun || r.in.Carry != nil || r.in.ContinueAfterSteps > 0 {
		return MaxStepsPerRun
	}
	if r.boundVersion == nil {
		v := workflow.GetVersion(ctx, "step-bound-1m", workflow.DefaultVersion, 1)
		r.boundVersion = &v
	}
	if *r.boundVersion == workflow.DefaultVersion {
		return legacyMaxStepsPerRun
	}
	return MaxStepsPerRun
}

// MaxStepsPerTask bounds the steps one workflow task runs without waiting
// on anything (pure steps in a long loop): past it the run yields on a short
// timer, so that a task stays well inside the SDK's deadlock detection (1s)
// and the workflow task timeout.
const MaxStepsPerTask = 2000

// yieldIfBusy counts steps per workflow task (the history length changes
// when a new task starts) and yields when a task ran MaxStepsPerTask.
func (r *run) yieldIfBusy(ctx workflow.Context) error {
	if n := workflow.GetInfo(ctx).GetCurrentHistoryLength(); n != r.task.stepsAt {
		r.task.stepsAt, r.task.steps = n, 0
	}
	r.task.steps++
	if r.task.steps <= MaxStepsPerTask {
		return nil
	}
	// Runs recorded before yielding existed never reached this point:
	// the version marker keeps their replay unchanged.
	if workflow.GetVersion(ctx, "yield-busy-task", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	r.task.steps = 0
	t := workflow.NewTimerWithOptions(ctx, time.Millisecond, workflow.TimerOptions{Summary: fmt.Sprintf("yield after %d steps", MaxStepsPerTask)})
	return t.Get(ctx, nil)
}

// interruptWaits: the run hands over and nothing that must finish first is
// running, so durable waits (delays, events) may stop and be resumed by the
// continuation with the time left.
func (r *run) interruptWaits() bool { return r.handover.suspending && r.handover.inflight == 0 }

// setResult records a step's result where expressions read it: the run's
// steps, and a concurrent loop element's own copy when there is one.
func (r *run) setResult(at position, id string, result map[string]any) {
	r.Steps[id] = result
	if at.steps != nil {
		at.steps[id] = result
	}
}

// skipped is returned by an executor that chose not to act; the run goes on.
type skipped struct{ note string }

func (s *skipped) Error() string { return "skipped: " + s.note }

// evalErr wraps an expression error with the field it came from.
func evalErr(field, src string, err error) error {
	return fmt.Errorf("%s: expression `%s`: %w", field, expression.StripBraces(src), err)
}

// HasExecutor reports whether the interpreter can run a step type.
func HasExecutor(stepType string) bool {
	_, ok := executors[stepType]
	return ok
}

// withScheduledAt adds trigger.scheduledAt to a scheduled run's trigger
// data: the nominal time Temporal's scheduler set as the run's
// TemporalScheduledStartTime search attribute. The schedule's action (and so
// the input) is fixed when the schedule is written; the attribute is in the
// run's started event, so reading it is deterministic, and it carries over
// continue-as-new. Jitter and overlap delays leave it at the nominal time.
func withScheduledAt(info *workflow.Info, trigger map[string]any) map[string]any {
	p := info.SearchAttributes.GetIndexedFields()[contract.SearchAttrTemporalScheduledStartTime]
	if p == nil {
		return trigger
	}
	var at time.Time
	if converter.GetDefaultDataConverter().FromPayload(p, &at) != nil {
		return trigger
	}
	out := make(map[string]any, len(trigger)+1)
	for _, k := range flow.SortedKeys(trigger) {
		out[k] = trigger[k]
	}
	out[contract.TriggerScheduledAt] = at.UTC().Format(time.RFC3339Nano)
	return out
}

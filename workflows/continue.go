package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow/trigger"
)

// A run hands over to a continuation of itself (Temporal's continue-as-new)
// before its history nears Temporal's limits: same workflow id, a fresh
// history, and the interpreter's state carried in the input. It hands over
// only at step boundaries: every branch that is running (parallel lanes,
// concurrent loop elements) first finishes the step it is in (a delivery in
// flight completes; a delay is interrupted and resumed with the time left),
// then unwinds, each container adding where it stood to a Cursor. The
// continuation walks the same definition down that cursor and goes on.

// MaxCarriedLogBytes bounds the step-log tail a continuation carries (its
// input must stay well inside Temporal's payload limit).
const MaxCarriedLogBytes = 256 << 10

// suspendList unwinds a step list: the run is handing over, and the list
// stopped at At.
type suspendList struct{ at *contract.Cursor }

func (s *suspendList) Error() string { return "continuing as new" }

// suspendStep unwinds a container step (or a delay) with where it stood.
type suspendStep struct{ at *contract.StepCursor }

func (s *suspendStep) Error() string { return "continuing as new" }

// shouldSuspend is asked at every step boundary: is it time to hand over?
// Once it said yes, every branch stops at its next boundary. A sync caller
// still waiting within its budget is answered first (the continuation could
// not answer the update the caller waits on); past the budget the caller
// has had its timeout answer, and the waiting update is released.
func (r *run) shouldSuspend(ctx workflow.Context) bool {
	if r.handover.suspending {
		return true
	}
	if !r.historyFull(ctx) {
		return false
	}
	if r.handover.waiting > 0 && r.Response == nil {
		if workflow.Now(ctx).Before(r.handover.waitingSince.Add(r.budget())) {
			return false
		}
		r.handover.releaseWaiters = true
	}
	r.handover.suspending = true
	return true
}

// historyFull: Temporal suggests continuing (its limits are server settings;
// the suggestion comes at about a tenth of the hard limits by default: 4,096
// events or 4 MiB), or this run has run the steps its input allows.
func (r *run) historyFull(ctx workflow.Context) bool {
	if n := r.in.ContinueAfterSteps; n > 0 && r.segmentSteps >= n {
		return true
	}
	return workflow.GetInfo(ctx).GetContinueAsNewSuggested() && r.mayContinueAsNew(ctx)
}

// mayContinueAsNew: runs recorded before hookflow continued as new went on
// past Temporal's suggestion (the flag is in their recorded workflow
// tasks); replaying them must take the same path, so the first time the
// suggestion is seen a version marker decides. A continuation or a run
// with ContinueAfterSteps comes only from code that continues as new.
func (r *run) mayContinueAsNew(ctx workflow.Context) bool {
	if r.in.Carry != nil || r.in.ContinueAfterSteps > 0 {
		return true
	}
	if r.canVersion == nil {
		v := workflow.GetVersion(ctx, "continue-as-new", workflow.DefaultVersion, 1)
		r.canVersion = &v
	}
	return *r.canVersion != workflow.DefaultVersion
}

// budget is how long a sync caller waits (the trigger's timeout).
func (r *run) budget() time.Duration {
	if r.in.Flow == nil {
		return trigger.DefaultSyncTimeout.Std()
	}
	return r.in.Flow.Trigger.EffectiveTimeout().Std()
}

// carry builds the continuation's state.
func (r *run) carry(at *contract.Cursor) *contract.Carry {
	c := &contract.Carry{At: at, RunState: r.RunState, Log: r.log.tail(MaxCarriedLogBytes)}
	if r.in.Carry != nil {
		c.Continuations = r.in.Carry.Continuations
	}
	c.Continuations++
	return c
}

// MaxContinuationBytes bounds a continuation's input: Temporal refuses a
// payload over 2 MiB (its blob size limit) and would terminate the run.
const MaxContinuationBytes = 1536 << 10

// fitCarry keeps a continuation's input under MaxContinuationBytes: it drops
// the carried step log first (its records are counted as dropped), and
// refuses, naming the sizes, when the run's own state is too big (the
// trigger data, variables and kept step results).
func fitCarry(next *contract.Input) error {
	size := encodedSize(next)
	if size <= MaxContinuationBytes {
		return nil
	}
	next.Carry.Log.Dropped += len(next.Carry.Log.Steps)
	next.Carry.Log.Steps = nil
	if size = encodedSize(next); size <= MaxContinuationBytes {
		return nil
	}
	return fmt.Errorf("the run's state is %d KiB, over the %d KiB a continue-as-new can carry (trigger data %d KiB, variables %d KiB, step results %d KiB): keep less in variables, or set keepResponseBytes on http steps whose bodies are read",
		size>>10, MaxContinuationBytes>>10, encodedSize(next.Trigger)>>10, encodedSize(next.Carry.Vars)>>10, encodedSize(next.Carry.Steps)>>10)
}

func encodedSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}

// itemsDigest identifies a loop's list, to check on resume that evaluating
// over again gives the same list.
func itemsDigest(items []any) string {
	b, err := json.Marshal(items)
	if err != nil {
		return "unencodable: " + err.Error()
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// resumeItems is the list a resumed loop iterates: evaluated again when that
// gives the same list, else the one carried.
func resumeItems(evaluated []any, rs *contract.StepCursor) ([]any, error) {
	if rs.Items != nil {
		return rs.Items, nil
	}
	if itemsDigest(evaluated) != rs.ItemsHash {
		return nil, fmt.Errorf("over: the list changed while the run continued as new (its expression reads something the loop's own steps changed); carry it in a variable set before the loop")
	}
	return evaluated, nil
}

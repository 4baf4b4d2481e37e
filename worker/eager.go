package worker

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	sdkworker "go.temporal.io/sdk/worker"
)

// DefaultMaxEagerStarts (0) sets no limit of hookflow's own: every async
// start is eager while the flow worker has a free workflow-task slot (the
// SDK's rule). Measured on the embedded server (docs/performance.md,
// "Eager only while the worker keeps up"): a limit of 8 accepted a burst
// of 5,000 triggers 1.3-1.9x faster, but runs then went through matching
// and completed at about half the rate (70-76 against 129-150 per second;
// one-send runs 83-100 against 159-178), so a limit is an opt-in for
// deployments that value a burst's acceptance over its drain.
const DefaultMaxEagerStarts = 0

// eagerLimit is the flow worker's workflow-task slot supplier: inner's
// slots, of which at most limit are held by eager starts at once.
//
// In sdk-go (v1.50.0, internal_eager_workflow.go) a workflow start with
// EnableEagerStart asks each local worker of its task queue for a slot
// with TryReserveSlot and silently sends a plain start when none gives
// one; on a workflow supplier nothing else calls TryReserveSlot (pollers
// use ReserveSlot). The permit is released once the eager task is
// processed, or at once when the start brought no task back.
type eagerLimit struct {
	inner sdkworker.SlotSupplier
	limit int64
	// eager are the permits issued by TryReserveSlot and not yet released.
	eager    sync.Map // *sdkworker.SlotPermit -> struct{}
	inFlight atomic.Int64
	// granted and refused count eager starts' reservations, for the bench.
	granted, refused atomic.Int64
}

// EagerStarts counts the flow worker's answers to eager starts: Eager
// took a slot (the first task came back with the start), Plain were
// refused and went through matching.
type EagerStarts struct{ Eager, Plain int64 }

// newEagerLimit returns inner limited to limit eager tasks at once
// (limit < 0: none, every start goes plain).
func newEagerLimit(inner sdkworker.SlotSupplier, limit int) *eagerLimit {
	return &eagerLimit{inner: inner, limit: int64(max(limit, 0))}
}

// ReserveSlot is a poller's reservation: inner's rule alone.
func (e *eagerLimit) ReserveSlot(ctx context.Context, info sdkworker.SlotReservationInfo) (*sdkworker.SlotPermit, error) {
	return e.inner.ReserveSlot(ctx, info)
}

// TryReserveSlot is an eager start's reservation: refused once limit
// eager tasks are in flight, else inner's rule.
func (e *eagerLimit) TryReserveSlot(info sdkworker.SlotReservationInfo) *sdkworker.SlotPermit {
	if e.inFlight.Add(1) > e.limit {
		e.inFlight.Add(-1)
		e.refused.Add(1)
		return nil
	}
	p := e.inner.TryReserveSlot(info)
	if p == nil {
		e.inFlight.Add(-1)
		e.refused.Add(1)
		return nil
	}
	e.eager.Store(p, struct{}{})
	e.granted.Add(1)
	return p
}

func (e *eagerLimit) counts() EagerStarts {
	return EagerStarts{Eager: e.granted.Load(), Plain: e.refused.Load()}
}

func (e *eagerLimit) MarkSlotUsed(info sdkworker.SlotMarkUsedInfo) { e.inner.MarkSlotUsed(info) }

// ReleaseSlot frees the slot, and the eager count when the permit was an
// eager start's.
func (e *eagerLimit) ReleaseSlot(info sdkworker.SlotReleaseInfo) {
	if _, ok := e.eager.LoadAndDelete(info.Permit()); ok {
		e.inFlight.Add(-1)
	}
	e.inner.ReleaseSlot(info)
}

func (e *eagerLimit) MaxSlots() int { return e.inner.MaxSlots() }

// flowTuner is the slots a flow worker would get from maxWorkflowTasks and
// maxLocal (0: the SDK's defaults, as when they are set on
// sdkworker.Options, which a Tuner excludes), with eager starts limited to
// maxEager of the workflow-task slots, and that limit.
func flowTuner(maxWorkflowTasks, maxLocal, maxEager int) (sdkworker.WorkerTuner, *eagerLimit) {
	// Neither constructor fails here: the fixed tuner replaces counts
	// below 1 with the SDK's defaults (as setting the options does), and
	// the composite one returns no error at all.
	fixed, _ := sdkworker.NewFixedSizeTuner(sdkworker.FixedSizeTunerOptions{
		NumWorkflowSlots:      maxWorkflowTasks,
		NumLocalActivitySlots: maxLocal,
	})
	if maxEager == 0 {
		// No limit of ours: the slots bound eager starts, as the SDK does.
		maxEager = math.MaxInt32
	}
	eager := newEagerLimit(fixed.GetWorkflowTaskSlotSupplier(), maxEager)
	t, _ := sdkworker.NewCompositeTuner(sdkworker.CompositeTunerOptions{
		WorkflowSlotSupplier:        eager,
		ActivitySlotSupplier:        fixed.GetActivityTaskSlotSupplier(),
		LocalActivitySlotSupplier:   fixed.GetLocalActivitySlotSupplier(),
		NexusSlotSupplier:           fixed.GetNexusSlotSupplier(),
		SessionActivitySlotSupplier: fixed.GetSessionActivitySlotSupplier(),
	})
	return t, eager
}

package worker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	sdkworker "go.temporal.io/sdk/worker"
)

// released is what the SDK hands ReleaseSlot; the supplier reads only the
// permit (the SDK's fixed-size supplier, inside, reads nothing).
type released struct {
	sdkworker.SlotReleaseInfo
	permit *sdkworker.SlotPermit
}

func (r released) Permit() *sdkworker.SlotPermit { return r.permit }

func fixedSlots(t *testing.T, n int) sdkworker.SlotSupplier {
	t.Helper()
	s, err := sdkworker.NewFixedSizeSlotSupplier(n)
	require.NoError(t, err)
	return s
}

func TestEagerStartsAreRefusedPastTheLimitAndAllowedAgainOnceOneIsReleased(t *testing.T) {
	e := newEagerLimit(fixedSlots(t, 100), 2)
	a, b := e.TryReserveSlot(nil), e.TryReserveSlot(nil)
	require.NotNil(t, a)
	require.NotNil(t, b)
	require.Nil(t, e.TryReserveSlot(nil), "a third eager start while two are in flight")

	e.ReleaseSlot(released{permit: a})
	c := e.TryReserveSlot(nil)
	require.NotNil(t, c, "a slot freed by a processed eager task")
	require.Nil(t, e.TryReserveSlot(nil))

	e.ReleaseSlot(released{permit: b})
	e.ReleaseSlot(released{permit: c})
	require.NotNil(t, e.TryReserveSlot(nil))
	require.NotNil(t, e.TryReserveSlot(nil))
	require.Equal(t, EagerStarts{Eager: 5, Plain: 2}, e.counts())
}

func TestPollersReservationsNeitherCountAgainstNorAreBoundByTheEagerLimit(t *testing.T) {
	e := newEagerLimit(fixedSlots(t, 4), 1)
	require.NotNil(t, e.TryReserveSlot(nil))
	var polled []*sdkworker.SlotPermit
	for range 3 {
		p, err := e.ReserveSlot(context.Background(), nil)
		require.NoError(t, err)
		polled = append(polled, p)
	}
	require.Nil(t, e.TryReserveSlot(nil), "the eager start still in flight")
	// A poller's slot released does not lift the eager limit.
	e.ReleaseSlot(released{permit: polled[0]})
	require.Nil(t, e.TryReserveSlot(nil))
}

func TestEagerStartsAreRefusedWhenTheWorkerHasNoFreeSlotEvenUnderTheLimit(t *testing.T) {
	e := newEagerLimit(fixedSlots(t, 2), 10)
	ctx := context.Background()
	p1, err := e.ReserveSlot(ctx, nil)
	require.NoError(t, err)
	_, err = e.ReserveSlot(ctx, nil)
	require.NoError(t, err)
	require.Nil(t, e.TryReserveSlot(nil), "every slot taken by pollers")
	e.ReleaseSlot(released{permit: p1})
	require.NotNil(t, e.TryReserveSlot(nil))
	require.Equal(t, 2, e.MaxSlots())
}

func TestANegativeLimitRefusesEveryEagerStart(t *testing.T) {
	e := newEagerLimit(fixedSlots(t, 10), -1)
	require.Nil(t, e.TryReserveSlot(nil))
	p, err := e.ReserveSlot(context.Background(), nil)
	require.NoError(t, err)
	require.NotNil(t, p, "polling is unaffected")
}

func TestTheFlowTunerKeepsTheConfiguredSlotCountsAndSetsNoEagerLimitByDefault(t *testing.T) {
	tu, _ := flowTuner(0, 0, DefaultMaxEagerStarts)
	require.Equal(t, 1000, tu.GetWorkflowTaskSlotSupplier().MaxSlots(), "the SDK's default workflow-task slots")
	require.Equal(t, 1000, tu.GetLocalActivitySlotSupplier().MaxSlots(), "the SDK's default local-activity slots")
	// No limit of ours: every one of the 1,000 slots may go to an eager start.
	e := tu.GetWorkflowTaskSlotSupplier().(*eagerLimit)
	for i := range 1000 {
		require.NotNil(t, e.TryReserveSlot(nil), "eager start %d", i+1)
	}
	require.Nil(t, e.TryReserveSlot(nil), "only the slots bound it")

	tu, _ = flowTuner(7, 3, 5)
	require.Equal(t, 7, tu.GetWorkflowTaskSlotSupplier().MaxSlots())
	require.Equal(t, 3, tu.GetLocalActivitySlotSupplier().MaxSlots())
	require.Equal(t, int64(5), tu.GetWorkflowTaskSlotSupplier().(*eagerLimit).limit)
}

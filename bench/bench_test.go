//go:build !nodev

package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/bench"
)

// TestBenchSmoke keeps `make bench` working: every scenario runs briefly,
// without errors, and every triggered delivery arrives. No timing is
// asserted here (machines are shared and noisy); figures come from make bench.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded server")
	}
	res, err := bench.Run(context.Background(), bench.Config{Cell: 300 * time.Millisecond, Callers: []int{1, 4}, Deliveries: 20, Waiting: 20,
		IngestBurst: 40, IngestCallers: 8, DeliveryFloors: true, DeliveryKindRounds: 1})
	require.NoError(t, err)
	require.Len(t, res.Cells, 12) // 6 scenarios (2 floors, sync, async, 2 keyed) at 2 caller counts
	for _, c := range res.Cells {
		require.Zero(t, c.Errors, c.Scenario)
		require.Positive(t, c.Count, c.Scenario)
	}
	require.Len(t, res.Ingest, 2) // the floor's burst and the async triggers'
	for _, c := range res.Ingest {
		require.Zero(t, c.Errors, "%s: %s", c.Scenario, c.FirstError)
		require.Equal(t, 40, c.Accepted, c.Scenario)
		require.False(t, c.TimedOut, c.Scenario)
		require.Equal(t, 40, c.Started, "%s: one run per start, counted in visibility", c.Scenario)
		require.Equal(t, 40, c.Completed, "%s: every run completed", c.Scenario)
		require.Zero(t, c.Lost, c.Scenario)
		require.Positive(t, c.AcceptPerSecond, c.Scenario)
	}
	require.Equal(t, 20, res.DeliveriesSent)
	require.Equal(t, res.DeliveriesSent, res.DeliveriesReceived, "no delivery lost")
	// The floor's one-send workflows, and one round of every delivery kind
	// (to a URL, to destinations, the floors): each delivered once.
	require.Len(t, res.DeliveryFloors, 2)
	require.Len(t, res.DeliveryKinds, 5)
	for _, c := range append(res.DeliveryFloors, res.DeliveryKinds...) {
		require.Equal(t, 20, c.Sent, c.Kind)
		require.Equal(t, 20, c.Received, "%s: every delivery arrived (counted by key)", c.Kind)
		require.Positive(t, c.PerSecond, c.Kind)
	}
	require.Equal(t, 20, res.WaitingFlows)
	require.Positive(t, res.RSSBytesWaiting)
}

// The observed variant (metrics, tracing, encryption) stays runnable too.
func TestBenchObservedSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded server")
	}
	res, err := bench.Run(context.Background(), bench.Config{Cell: 300 * time.Millisecond, Callers: []int{2}, Deliveries: 10,
		Only: []string{bench.HookSync, bench.HookAsync}, Observed: true})
	require.NoError(t, err)
	require.Len(t, res.Cells, 2)
	for _, c := range res.Cells {
		require.Zero(t, c.Errors, c.Scenario)
		require.Positive(t, c.Count, c.Scenario)
	}
	require.Equal(t, res.DeliveriesSent, res.DeliveriesReceived, "no delivery lost")
}

// The attribution bench stays runnable: every variant measures without
// errors and no delivery is lost.
func TestAttributionSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded server")
	}
	res, err := bench.Attribute(context.Background(), bench.AttributionConfig{
		Config: bench.Config{Cell: 300 * time.Millisecond, Callers: []int{2}, Burst: 20}, Rounds: 2, DeliveryBatch: 10, TimelineRuns: 3,
	})
	require.NoError(t, err)
	require.Len(t, res.Sync, 8)
	require.Len(t, res.Deliveries, 4)
	require.Len(t, res.Latency, 2)
	require.Len(t, res.Burst, 4)
	for _, rows := range [][]bench.Ratio{res.Sync, res.Deliveries, res.Latency, res.Burst} {
		for _, r := range rows {
			require.Zero(t, r.Errors, r.Name)
			require.Positive(t, r.PerSecond, r.Name)
			require.Equal(t, 2, r.RoundsUsed, r.Name)
		}
	}
	require.Zero(t, res.Lost, "no delivery lost")
	// The timeline read each sync run's history: every variant but the
	// bare HTTP one carries more than the floor in its start event.
	require.Len(t, res.Timeline, 8)
	require.Equal(t, bench.VFloor, res.Timeline[0].Name)
	for _, tl := range res.Timeline {
		require.Equal(t, 3, tl.Runs, tl.Name)
		require.Positive(t, tl.WorkerMs, tl.Name)
		require.Positive(t, tl.DispatchMs, tl.Name)
		require.Positive(t, tl.OutsideMs, tl.Name)
		require.Equal(t, 7, tl.Events, tl.Name)
		if tl.Name != bench.VFloor && tl.Name != bench.VFloorHTTP {
			require.Greater(t, tl.StartBytes, res.Timeline[0].StartBytes, tl.Name)
		}
	}
}

// The growth bench stays runnable: the rates are measured before and after
// the load, in one data directory.
func TestGrowthSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded server")
	}
	res, err := bench.Growth(context.Background(), bench.Config{Cell: 300 * time.Millisecond, Callers: []int{2}, Deliveries: 10}, 60)
	require.NoError(t, err)
	require.Len(t, res.Rows, 2)
	require.Equal(t, 60, res.Loaded)
	require.Positive(t, res.DBBytes)
	for _, r := range res.Rows {
		require.Positive(t, r.FreshPerSecond, r.Scenario)
		require.Positive(t, r.AfterPerSecond, r.Scenario)
	}
	require.Positive(t, res.AfterDeliveries)
	require.NotEmpty(t, res.Tables, "what a run stores")
}

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
	res, err := bench.Run(context.Background(), bench.Config{Cell: 300 * time.Millisecond, Callers: []int{1, 4}, Deliveries: 20, Waiting: 20})
	require.NoError(t, err)
	require.Len(t, res.Cells, 8)
	for _, c := range res.Cells {
		require.Zero(t, c.Errors, c.Scenario)
		require.Positive(t, c.Count, c.Scenario)
	}
	require.Equal(t, 20, res.DeliveriesSent)
	require.Equal(t, res.DeliveriesSent, res.DeliveriesReceived, "no delivery lost")
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

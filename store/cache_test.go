package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
)

// The trigger cache's loop on a real SQLite store, its ticks driven by
// the test (no TTL waited for) and each refresh's outcome signalled.
func TestTheCacheServesItsSnapshotAndRefreshesOnEachTick(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "hookflow.db"))
	require.NoError(t, err)
	f, err := flow.DecodeYAML([]byte(`{id: orders, name: Orders, trigger: {}, steps: [{id: s, type: set, values: {v: 1}}]}`))
	require.NoError(t, err)
	rec, err := s.Flows().Create(ctx, f)
	require.NoError(t, err)

	c, err := NewCache(ctx, s, time.Hour, nil)
	require.NoError(t, err)
	ticks, refreshed := make(chan time.Time), make(chan error)
	c.ticks, c.refreshed = ticks, refreshed
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); c.Run(runCtx) }()
	defer func() { cancel(); <-done }()
	tick := func() error {
		ticks <- time.Now()
		return <-refreshed
	}

	e, ok := c.ByToken(rec.Token)
	require.True(t, ok, "NewCache loads the snapshot")
	require.Equal(t, int64(1), e.Version)

	// A change made by another replica shows at the next tick, not before.
	_, err = s.Flows().SetEnabled(ctx, "orders", false)
	require.NoError(t, err)
	_, ok = c.ByToken(rec.Token)
	require.True(t, ok, "until the tick, the old snapshot answers")
	require.NoError(t, tick())
	_, ok = c.ByToken(rec.Token)
	require.False(t, ok, "a disabled flow's trigger is gone")
	e, ok = c.ByID("orders")
	require.True(t, ok, "a disabled flow is still found by id")
	require.Equal(t, rec.Token, e.Token)

	// A capture armed until a time shows at the next tick, until then.
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	_, err = s.Handle().Exec(ctx, nil, `INSERT INTO capture_arms (flow_id, remaining, until_ms, armed_at) VALUES ($1, $2, $3, $4)`, "orders", 3, until.UnixMilli(), time.Now().UnixMilli())
	require.NoError(t, err) // as capture.Store.Arm writes it
	require.False(t, c.CaptureArmed("orders", time.Now()))
	require.NoError(t, tick())
	require.True(t, c.CaptureArmed("orders", until.Add(-time.Millisecond)))
	require.False(t, c.CaptureArmed("orders", until), "armed until, not at, its end")
	require.False(t, c.CaptureArmed("other", time.Now()))

	// The database goes away: the refresh fails and the last snapshot
	// keeps serving.
	require.NoError(t, s.Close())
	require.Error(t, tick())
	_, ok = c.ByID("orders")
	require.True(t, ok, "a failed refresh keeps the previous snapshot")
	require.True(t, c.CaptureArmed("orders", until.Add(-time.Millisecond)))
}

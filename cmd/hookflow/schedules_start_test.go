//go:build !nodev

package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/devserver"
	"github.com/hookflow/hookflow/schedules"
)

// Flows applied from --flows get their Temporal Schedules when the api
// starts, and a second start (a restart, another replica) changes nothing
// and makes no second schedule. The CLI works over them; and the loop on a
// timer re-creates one deleted directly in Temporal.
func TestFlowsFromTheFlowsDirectoryGetTheirSchedulesAtStartAndTheLoopRepairsOneDeletedInTemporal(t *testing.T) {
	srv, err := devserver.Start(devserver.Options{SearchAttributes: contract.SearchAttributeTypes()})
	require.NoError(t, err)
	defer srv.Stop()
	c, err := sdkclient.Dial(sdkclient.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace()})
	require.NoError(t, err)
	defer c.Close()

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nightly.yaml"), []byte(`id: nightly
schedules: [{id: at-two, cron: "0 2 * * *", timezone: Europe/Berlin}]
steps: [{id: s, type: set, values: {x: 1}}]
`), 0o644))
	ctx := context.Background()
	sf := &storeFlags{dsn: filepath.Join(t.TempDir(), "hookflow.db"), flowsDir: dir, cacheTTL: time.Hour}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	st, cache, err := sf.openStore(ctx, log)
	require.NoError(t, err)
	defer st.Close()

	reconcileSchedules(ctx, log, c, st, "", nil, 0)
	require.Contains(t, logs.String(), "change=create schedule=hookflow:nightly:at-two")
	require.Contains(t, logs.String(), "schedules reconciled at start\" changes=1")
	d, err := c.ScheduleClient().GetHandle(ctx, schedules.ID("nightly", "at-two")).Describe(ctx)
	require.NoError(t, err)
	var in contract.Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(d.Schedule.Action.(*sdkclient.ScheduleWorkflowAction).Args[0].(*commonpb.Payload), &in))
	require.Equal(t, int64(1), in.FlowVersion)
	require.Equal(t, "nightly", in.Flow.ID)

	logs.Reset()
	reconcileSchedules(ctx, log, c, st, "", nil, 0)
	require.Contains(t, logs.String(), "schedules reconciled at start\" changes=0")

	// The CLI over a real api on the same server.
	const key = "sk_cli_sched_0123456789"
	h := httptest.NewServer(api.New(c, cache, slog.New(slog.DiscardHandler), api.Config{
		Admin: &api.Admin{Store: st, Cache: cache}, APIKeys: []api.APIKey{{Name: "t", Key: key, Scopes: []string{api.ScopeRead, api.ScopeWrite}}},
	}).Handler())
	defer h.Close()
	out, err := run(t, h.URL, key, "schedules", "list", "nightly")
	require.NoError(t, err, out)
	require.Regexp(t, `at-two\s+0 2 \* \* \* Europe/Berlin\s+active\s+\d{4}-\d\d-\d\dT\d\d:00:00Z\s+-\s+0`, out)
	out, err = run(t, h.URL, key, "schedules", "pause", "nightly", "at-two", "--note", "held for the migration")
	require.NoError(t, err, out)
	require.Equal(t, "nightly at-two: paused\n", out)
	out, err = run(t, h.URL, key, "schedules", "list", "nightly")
	require.NoError(t, err, out)
	require.Contains(t, out, "paused: held for the migration")
	out, err = run(t, h.URL, key, "schedules", "unpause", "nightly", "at-two")
	require.NoError(t, err, out)
	require.Equal(t, "nightly at-two: unpaused\n", out)
	out, err = run(t, h.URL, key, "schedules", "reconcile")
	require.NoError(t, err, out)
	require.Equal(t, "schedules in step: nothing changed\n", out)
	_, err = run(t, h.URL, key, "schedules", "backfill", "nightly", "at-two", "--start", "2020-01-02T00:00:00Z", "--end", "2020-01-01T00:00:00Z")
	require.ErrorContains(t, err, "invalid_request (422): end must be after start")
	_, err = run(t, h.URL, key, "schedules", "trigger", "nightly", "nope")
	require.ErrorContains(t, err, `not_found (404): flow "nightly" has no schedule "nope"`)

	// On a timer: a schedule deleted directly in Temporal comes back
	// without an operator, and the loop logs what it repaired.
	var loopLogs lockedBuffer
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		reconcileSchedules(lctx, slog.New(slog.NewTextHandler(&loopLogs, nil)), c, st, "", nil, 300*time.Millisecond)
	}()
	defer func() { cancel(); <-done }()
	require.Eventually(t, func() bool { return strings.Contains(loopLogs.String(), "schedules reconciled at start") }, 20*time.Second, 50*time.Millisecond)
	sid := schedules.ID("nightly", "at-two")
	require.NoError(t, c.ScheduleClient().GetHandle(ctx, sid).Delete(ctx))
	require.Eventually(t, func() bool {
		_, err := c.ScheduleClient().GetHandle(ctx, sid).Describe(ctx)
		return err == nil
	}, 20*time.Second, 100*time.Millisecond, "the loop re-created the deleted schedule")
	require.Eventually(t, func() bool { return strings.Contains(loopLogs.String(), "schedules reconciled: drift repaired") }, 5*time.Second, 50*time.Millisecond)
	require.Contains(t, loopLogs.String(), "change=create schedule=hookflow:nightly:at-two reason=missing")
}

// lockedBuffer is a log the reconcile loop writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

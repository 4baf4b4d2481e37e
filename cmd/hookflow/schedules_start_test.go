//go:build !nodev

package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/devserver"
	"github.com/hookflow/hookflow/schedules"
)

// Flows applied from --flows get their Temporal Schedules when the api
// starts, and a second start (a restart, another replica) changes nothing
// and makes no second schedule.
func TestFlowsFromTheFlowsDirectoryGetTheirSchedulesAtStart(t *testing.T) {
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
	st, _, err := sf.openStore(ctx, log)
	require.NoError(t, err)
	defer st.Close()

	reconcileSchedulesAtStart(ctx, log, c, st, "", nil)
	require.Contains(t, logs.String(), "change=create schedule=hookflow:nightly:at-two")
	require.Contains(t, logs.String(), "schedules reconciled at start\" changes=1")
	d, err := c.ScheduleClient().GetHandle(ctx, schedules.ID("nightly", "at-two")).Describe(ctx)
	require.NoError(t, err)
	var in contract.Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(d.Schedule.Action.(*sdkclient.ScheduleWorkflowAction).Args[0].(*commonpb.Payload), &in))
	require.Equal(t, int64(1), in.FlowVersion)
	require.Equal(t, "nightly", in.Flow.ID)

	logs.Reset()
	reconcileSchedulesAtStart(ctx, log, c, st, "", nil)
	require.Contains(t, logs.String(), "schedules reconciled at start\" changes=0")
}

package main

import (
	"context"
	"log/slog"
	"time"

	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/schedules"
	"github.com/hookflow/hookflow/store"
)

// reconcileSchedules brings every flow's Temporal Schedules in step with
// the store when the api starts (flows applied from --flows, writes whose
// sync failed, changes made directly in Temporal), retrying while Temporal
// does not answer, then every `every` (0: at start only), so a schedule
// deleted or edited in Temporal is repaired without an operator; it logs
// what it changed (schedules.Loop).
func reconcileSchedules(ctx context.Context, log *slog.Logger, c sdkclient.Client, st *store.Store, publicURL string, dc converter.DataConverter, every time.Duration) {
	r := &schedules.Reconciler{T: &schedules.Client{C: c, DC: dc}, Settings: schedules.Settings{PublicURL: publicURL}, Log: log.With("component", "schedules")}
	if every <= 0 {
		every = -1 // schedules.LoopConfig: start only
	}
	schedules.Loop(ctx, schedules.LoopConfig{Interval: every, Log: log}, func(ctx context.Context) ([]schedules.Change, error) {
		return r.Reconcile(ctx, st.Flows())
	})
}

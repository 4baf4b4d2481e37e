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

// reconcileSchedulesAtStart brings every flow's Temporal Schedules in step
// with the store once the api starts (flows applied from --flows, writes
// whose sync failed, changes made directly in Temporal) and logs what it
// changed. It retries while Temporal does not answer, and never blocks
// serving: the schedules are Temporal's, triggers do not need them.
func reconcileSchedulesAtStart(ctx context.Context, log *slog.Logger, c sdkclient.Client, st *store.Store, publicURL string, dc converter.DataConverter) {
	r := &schedules.Reconciler{T: &schedules.Client{C: c, DC: dc}, Settings: schedules.Settings{PublicURL: publicURL}, Log: log.With("component", "schedules")}
	for wait := time.Second; ; wait = min(2*wait, time.Minute) {
		changes, err := r.Reconcile(ctx, st.Flows())
		if err == nil {
			log.Info("schedules reconciled at start", "changes", len(changes))
			return
		}
		log.Warn("schedules reconcile at start failed; retrying", "error", err, "changed", len(changes), "retryIn", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

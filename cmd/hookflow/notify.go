package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/notify"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/telemetry"
)

// notifyFlags are the global notify setting: where the api (paused,
// resumed) and the worker (circuit opened and closed, runs failed,
// deliveries given up) send their events. Give both the same.
type notifyFlags struct {
	destination string
	events      []string
}

func (f *notifyFlags) register(cmd *cobra.Command) {
	var events []string
	if v := os.Getenv("HOOKFLOW_NOTIFY_EVENTS"); v != "" {
		events = strings.Split(v, ",")
	}
	cmd.Flags().StringVar(&f.destination, "notify", os.Getenv("HOOKFLOW_NOTIFY"),
		"destination that receives notifications (Standard Webhooks, signed with its standardWebhooks secret) from every flow and destination (default $HOOKFLOW_NOTIFY; empty: only flows' own notify)")
	cmd.Flags().StringSliceVar(&f.events, "notify-events", events,
		"events --notify receives (default $HOOKFLOW_NOTIFY_EVENTS, else all): "+strings.Join(flow.NotifyEvents, ", "))
}

func (f *notifyFlags) setting() (flow.NotifySetting, error) {
	return flow.ParseNotifySetting(f.destination, f.events)
}

// notifier sends notifications with c; st (nil: none) is read to skip a
// notify destination that does not exist.
func notifier(c sdkclient.Client, setting flow.NotifySetting, st *store.Store, log *slog.Logger, tel *telemetry.Telemetry) *notify.Emitter {
	var dests notify.Destinations
	if st != nil {
		dests = destinations.NewStore(st)
	}
	return notify.New(notify.Config{Client: c, Global: setting, Destinations: dests, Log: log, Telemetry: tel})
}

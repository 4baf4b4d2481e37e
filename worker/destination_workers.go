package worker

import (
	"go.temporal.io/sdk/activity"
	sdkclient "go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
)

// newDestinations is the destination supervisor (destinations.Supervisor)
// of this process: it starts one SDK worker per destination on its own
// task queue, with the delivery activity behind the destination's gate.
func newDestinations(c sdkclient.Client, deliver *activities.Deliverer, opts Options) *destinations.Supervisor {
	cfg := destinations.Config{
		States: opts.DestinationStates, Client: c, Reload: opts.DestinationReload,
		MaxInFlight: opts.MaxConcurrentDeliveries, Log: opts.Logger, Telemetry: opts.Telemetry,
	}
	if opts.Notifier != nil {
		cfg.Notifier = opts.Notifier
	}
	delivery := &activities.DestinationDelivery{Deliverer: deliver}
	cfg.StartPoller = func(d *destinations.Destination, _ string, probe bool) (destinations.Poller, error) {
		w := sdkworker.New(c, flow.DestinationTaskQueue(d.Name), destinations.PollerOptions(d, probe, opts.MaxConcurrentDeliveries, opts.StopTimeout))
		w.RegisterActivityWithOptions(delivery.Deliver, activity.RegisterOptions{Name: contract.DeliverName})
		if err := w.Start(); err != nil {
			return nil, err
		}
		return w, nil
	}
	delivery.Gate = destinations.NewSupervisor(cfg)
	return delivery.Gate
}

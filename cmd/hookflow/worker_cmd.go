package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
	sdkclient "go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/secrets"
	"github.com/hookflow/hookflow/worker"
)

// workerFlags are the worker's settings, shared by `worker` and `dev`.
type workerFlags struct {
	opts        worker.Options
	allowHosts  []string
	secretsDir  string
	maxKeptBody int
}

func (f *workerFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.opts.MaxConcurrentWorkflowTasks, "max-workflow-tasks", 0, "workflow tasks processed at once (0: SDK default)")
	cmd.Flags().IntVar(&f.opts.WorkflowPollers, "workflow-pollers", 0, "workflow task pollers (0: SDK default)")
	cmd.Flags().IntVar(&f.opts.MaxConcurrentDeliveries, "max-concurrent-deliveries", 200, "webhook deliveries in flight on this worker")
	cmd.Flags().Float64Var(&f.opts.DeliveriesPerSecond, "deliveries-per-second", 0, "deliveries started per second across all workers (0: unlimited)")
	cmd.Flags().StringSliceVar(&f.allowHosts, "allow-host", nil, "host, IP or CIDR that deliveries may reach over http and at private/loopback addresses (repeatable)")
	cmd.Flags().StringVar(&f.secretsDir, "secrets-dir", "", "directory of secret files (one file per secret name), besides HOOKFLOW_SECRET_<NAME> variables")
	cmd.Flags().IntVar(&f.maxKeptBody, "max-kept-response-bytes", activities.DefaultMaxKeptBody, "response body bytes kept in history per delivery")
}

// deliverer builds the delivery activities from the flags.
func (f *workerFlags) deliverer(log *slog.Logger) (*activities.HTTP, error) {
	allow, err := activities.ParseAllowlist(f.allowHosts)
	if err != nil {
		return nil, fmt.Errorf("--allow-host: %w", err)
	}
	return activities.NewHTTP(activities.Config{
		Secrets:     secrets.Default(f.secretsDir),
		Allow:       allow,
		MaxKeptBody: f.maxKeptBody,
		Logger:      log.With("component", "deliveries"),
	}), nil
}

func workerCmd(g *globalFlags) *cobra.Command {
	wf := &workerFlags{}
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the Temporal workers (flows and webhook deliveries) against a cluster (configured by TEMPORAL_* variables)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("json")
			if err != nil {
				return err
			}
			deliver, err := wf.deliverer(log)
			if err != nil {
				return err
			}
			copts, err := temporalClientOptions(log)
			if err != nil {
				return err
			}
			c, err := sdkclient.Dial(copts)
			if err != nil {
				return fmt.Errorf("connect to Temporal at %q: %w", copts.HostPort, err)
			}
			defer c.Close()
			log.Info("worker starting", "temporal", copts.HostPort, "namespace", copts.Namespace)
			// Run returns on SIGINT/SIGTERM after stopping pollers and
			// letting running tasks finish.
			return worker.New(c, deliver, wf.opts).Run(sdkworker.InterruptCh())
		},
	}
	wf.register(cmd)
	return cmd
}

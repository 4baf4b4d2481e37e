package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/secrets"
	"github.com/hookflow/hookflow/telemetry"
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
	cmd.Flags().DurationVar(&f.opts.StopTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long running workflow tasks and deliveries may finish after polling stops")
}

// deliverer builds the delivery activities from the flags.
func (f *workerFlags) deliverer(log *slog.Logger, tel *telemetry.Telemetry) (*activities.Deliverer, error) {
	allow, err := activities.ParseAllowlist(f.allowHosts)
	if err != nil {
		return nil, fmt.Errorf("--allow-host: %w", err)
	}
	return activities.NewDeliverer(activities.Config{
		Secrets:     secrets.Default(f.secretsDir),
		Allow:       allow,
		MaxKeptBody: f.maxKeptBody,
		Logger:      log.With("component", "deliveries"),
		Telemetry:   tel,
	}), nil
}

func workerCmd(g *globalFlags) *cobra.Command {
	wf := &workerFlags{}
	var metricsAddr string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the Temporal workers (flows and webhook deliveries) against a cluster (configured by TEMPORAL_* variables)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("json")
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			obs, err := setupObservability(ctx, log, "hookflow-worker", secrets.Default(wf.secretsDir))
			if err != nil {
				return err
			}
			defer obs.close(log)
			deliver, err := wf.deliverer(log, obs.tel)
			if err != nil {
				return err
			}
			c, err := dialTemporal(log, obs, "", "")
			if err != nil {
				return err
			}
			defer c.Close()
			w := worker.New(c, deliver, wf.opts)
			if metricsAddr != "" {
				if err := serveAside(ctx, log, metricsAddr, w.Handler(obs.tel)); err != nil {
					return err
				}
			}
			log.Info("worker starting")
			if err := w.Start(); err != nil {
				return fmt.Errorf("start worker: %w", err)
			}
			<-ctx.Done()
			// Polling stops at once; running tasks get --shutdown-timeout.
			log.Info("worker stopping", "timeout", wf.opts.StopTimeout.String())
			w.Stop()
			return nil
		},
	}
	wf.register(cmd)
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", ":9090", "serve /metrics, /healthz and /readyz here (empty: off)")
	return cmd
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/secrets"
	"github.com/hookflow/hookflow/worker"
)

// workerFlags are the worker's settings, shared by `worker` and `dev`.
type workerFlags struct {
	opts        worker.Options
	allowHosts  []string
	secretsDir  string
	maxKeptBody int
	notify      notifyFlags

	// firstLocal is --first-attempt-local (worker.Options holds its
	// negation, so the zero Options keep it on); on by default in `dev`
	// and `worker` alike, the cluster suite's fault scenarios covering it.
	firstLocal bool
}

func (f *workerFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.opts.MaxConcurrentWorkflowTasks, "max-workflow-tasks", 0, "workflow tasks processed at once (0: SDK default)")
	cmd.Flags().IntVar(&f.opts.WorkflowPollers, "workflow-pollers", 0, "workflow task pollers (0: SDK default)")
	cmd.Flags().IntVar(&f.opts.MaxEagerStarts, "max-eager-starts", worker.DefaultMaxEagerStarts, "async runs whose first workflow task came back with their start (the API in this process) and awaits this worker; past it a start goes through matching, so a burst is accepted faster but drains slower (0: no limit but the workflow-task slots; below 0: no eager start)")
	cmd.Flags().IntVar(&f.opts.MaxConcurrentDeliveries, "max-concurrent-deliveries", 200, "webhook deliveries in flight on this worker")
	cmd.Flags().Float64Var(&f.opts.DeliveriesPerSecond, "deliveries-per-second", 0, "deliveries started per second across all workers (0: unlimited)")
	cmd.Flags().StringSliceVar(&f.allowHosts, "allow-host", nil, "host, IP or CIDR that deliveries may reach over http and at private/loopback addresses (repeatable)")
	cmd.Flags().StringVar(&f.secretsDir, "secrets-dir", "", "directory of secret files (one file per secret name), besides HOOKFLOW_SECRET_<NAME> variables")
	cmd.Flags().BoolVar(&f.firstLocal, "first-attempt-local", true, "make each delivery's first attempt in the flow worker (a local activity), handing it to its queue only when it fails; to a destination only when it sets no rate and its gate admits the attempt; never with --deliveries-per-second (false: every attempt from the queues)")
	cmd.Flags().DurationVar(&f.opts.FirstAttemptBudget, "first-attempt-budget", 5*time.Second, "how long a local first attempt may take before the delivery is handed to the webhook queue")
	cmd.Flags().IntVar(&f.maxKeptBody, "max-kept-response-bytes", activities.DefaultMaxKeptBody, "response body bytes kept in history per delivery")
	cmd.Flags().DurationVar(&f.opts.StopTimeout, "shutdown-timeout", 30*time.Second, "on SIGTERM, how long running workflow tasks and deliveries may finish after polling stops")
	f.notify.register(cmd)
}

// services are what api, worker and dev set up alike from the worker
// flags: the secrets (--secrets-dir), observability (metrics, tracing and
// payload encryption) and the delivery activities (--allow-host).
type services struct {
	sec     secrets.Provider
	obs     *observability
	deliver *activities.Deliverer
	// notify is the global notify setting (--notify, --notify-events).
	notify flow.NotifySetting
}

// setUp sets up the services of the named process (the service name in
// traces). The caller closes s.obs.
func (f *workerFlags) setUp(ctx context.Context, log *slog.Logger, name string) (*services, error) {
	f.opts.DisableLocalFirstAttempt = !f.firstLocal
	notify, err := f.notify.setting()
	if err != nil {
		return nil, fmt.Errorf("--notify: %w", err)
	}
	sec := secrets.Default(f.secretsDir)
	obs, err := setupObservability(ctx, log, name, sec)
	if err != nil {
		return nil, err
	}
	allow, err := activities.ParseAllowlist(f.allowHosts)
	if err != nil {
		obs.close(log)
		return nil, fmt.Errorf("--allow-host: %w", err)
	}
	deliver := activities.NewDeliverer(activities.Config{
		Secrets:     sec,
		Allow:       allow,
		MaxKeptBody: f.maxKeptBody,
		Logger:      log.With("component", "deliveries"),
		Telemetry:   obs.tel,
	})
	return &services{sec: sec, obs: obs, deliver: deliver, notify: notify}, nil
}

func workerCmd(g *globalFlags) *cobra.Command {
	wf := &workerFlags{}
	var metricsAddr string
	var setup bool
	var setupWait time.Duration
	var rs recordStoreFlag
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
			s, err := wf.setUp(ctx, log, "hookflow-worker")
			if err != nil {
				return err
			}
			defer s.obs.close(log)
			c, err := dialTemporal(log, s.obs, "", "")
			if err != nil {
				return err
			}
			defer c.Close()
			if setup {
				if err := setupAtStart(ctx, log, s.obs, c, setupWait); err != nil {
					return fmt.Errorf("--setup: %w", err)
				}
			}
			records, st, err := rs.open(ctx, cmd, log)
			if err != nil {
				return err
			}
			if st != nil {
				defer st.Close()
			}
			wf.opts.Records = records
			wf.opts.Composition = activities.NewComposition(flowGetter(st), s.sec)
			wf.opts.Logger, wf.opts.Telemetry = log, s.obs.tel
			wf.opts.DataConverter = s.obs.dataConverter()
			wf.opts.Notifier = notifier(c, s.notify, st, log, s.obs.tel)
			if st != nil {
				// Destinations: one poller per destination's task queue,
				// with its limits, pause and circuit breaker.
				ds := destinations.NewStore(st)
				wf.opts.Destinations, wf.opts.DestinationStates = activities.NewDestinations(ds), ds
			}
			w := worker.New(c, s.deliver, wf.opts)
			if metricsAddr != "" {
				if err := serveAside(ctx, log, metricsAddr, w.Handler(s.obs.tel)); err != nil {
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
	rs.register(cmd)
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", ":9090", "serve /metrics, /healthz and /readyz here (empty: off)")
	cmd.Flags().BoolVar(&setup, "setup", false, "before starting, do what `hookflow setup` does: register the namespace when missing and add hookflow's search attributes")
	cmd.Flags().DurationVar(&setupWait, "setup-wait", 2*time.Minute, "with --setup, how long to retry while Temporal is starting")
	return cmd
}

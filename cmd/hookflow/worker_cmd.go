package main

import (
	"fmt"

	"github.com/spf13/cobra"
	sdkclient "go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/hookflow/hookflow/worker"
)

func workerCmd(g *globalFlags) *cobra.Command {
	var opts worker.Options
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the Temporal worker against a cluster (configured by TEMPORAL_* variables)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("json")
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
			return worker.New(c, opts).Run(sdkworker.InterruptCh())
		},
	}
	cmd.Flags().IntVar(&opts.MaxConcurrentWorkflowTasks, "max-workflow-tasks", 0, "workflow tasks processed at once (0: SDK default)")
	cmd.Flags().IntVar(&opts.WorkflowPollers, "workflow-pollers", 0, "workflow task pollers (0: SDK default)")
	return cmd
}

package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/secrets"
)

func apiCmd(g *globalFlags) *cobra.Command {
	wf := &workerFlags{}
	var (
		flowsDir string
		addr     string
		maxBody  int64
		drain    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API against a Temporal cluster (configured by TEMPORAL_* variables)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("json")
			if err != nil {
				return err
			}
			deliver, err := wf.deliverer(log)
			if err != nil {
				return err
			}
			cat, err := loadFlows(log, flowsDir)
			if err != nil {
				return err
			}
			opts, err := temporalClientOptions(log)
			if err != nil {
				return err
			}
			c, err := sdkclient.Dial(opts)
			if err != nil {
				return fmt.Errorf("connect to Temporal at %q: %w", opts.HostPort, err)
			}
			defer c.Close()
			ctx, stop := signalContext()
			defer stop()
			log.Info("api listening", "addr", addr, "temporal", opts.HostPort, "namespace", opts.Namespace)
			printTriggers(os.Stderr, "http://"+addr, cat)
			return serveAPI(ctx, log, addr, api.New(c, cat, log, api.Config{MaxBodyBytes: maxBody, Secrets: secrets.Default(wf.secretsDir), Deliver: deliver}).Handler(), drain)
		},
	}
	cmd.Flags().StringVar(&flowsDir, "flows", "examples", "directory of flow files (.yaml, .yml, .json)")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().Int64Var(&maxBody, "max-body-bytes", api.DefaultMaxBodyBytes, "largest trigger body accepted")
	cmd.Flags().StringSliceVar(&wf.allowHosts, "allow-host", nil, "host, IP or CIDR that test actions may reach over http and at private/loopback addresses (repeatable)")
	cmd.Flags().StringVar(&wf.secretsDir, "secrets-dir", "", "directory of secret files (one file per secret name), besides HOOKFLOW_SECRET_<NAME> variables")
	cmd.Flags().DurationVar(&drain, "drain-timeout", 10*time.Second, "how long to let in-flight requests finish on shutdown")
	return cmd
}

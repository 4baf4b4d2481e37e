package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/api"
)

func apiCmd(g *globalFlags) *cobra.Command {
	wf := &workerFlags{}
	sf := &storeFlags{}
	cf := &codecFlags{}
	var (
		addr    string
		maxBody int64
		drain   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API against a Temporal cluster (configured by TEMPORAL_* variables)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("json")
			if err != nil {
				return err
			}
			// The DSN may hold a password: HOOKFLOW_STORE keeps it out of
			// the command line (and the pod spec) when --store is not given.
			if v := os.Getenv("HOOKFLOW_STORE"); v != "" && !cmd.Flags().Changed("store") {
				sf.dsn = v
			}
			ctx, stop := signalContext()
			defer stop()
			s, err := wf.setUp(ctx, log, "hookflow-api")
			if err != nil {
				return err
			}
			defer s.obs.close(log)
			keys, _, err := apiKeys("")
			if err != nil {
				return fmt.Errorf("HOOKFLOW_API_KEYS: %w", err)
			}
			if len(keys) == 0 {
				log.Warn("HOOKFLOW_API_KEYS is not set: the management API refuses every request")
			}
			c, err := dialTemporal(log, s.obs, "", "")
			if err != nil {
				return err
			}
			defer c.Close()
			st, cache, err := sf.openStore(ctx, log)
			if err != nil {
				return err
			}
			defer st.Close()
			go cache.Run(ctx)
			log.Info("api listening", "addr", addr)
			h := api.New(c, cache, log, api.Config{
				MaxBodyBytes: maxBody, Secrets: s.sec, Deliver: s.deliver,
				Admin: &api.Admin{Store: st, Cache: cache}, APIKeys: keys,
				Telemetry: s.obs.tel, Codec: cf.endpoint(s.obs.codec),
			}).Handler()
			return serveAPI(ctx, log, addr, h, drain)
		},
	}
	cmd.Flags().StringVar(&sf.flowsDir, "flows", "", "directory of flow files applied to the store at start (optional; or use `hookflow flows apply`)")
	cmd.Flags().StringVar(&sf.dsn, "store", "hookflow.db", "flow store: a SQLite file, or a postgres:// URL for several replicas (default $HOOKFLOW_STORE, else hookflow.db)")
	cmd.Flags().DurationVar(&sf.cacheTTL, "cache-ttl", 2*time.Second, "how often the trigger cache reloads flows changed by other replicas")
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().Int64Var(&maxBody, "max-body-bytes", api.DefaultMaxBodyBytes, "largest trigger body accepted")
	cmd.Flags().StringSliceVar(&wf.allowHosts, "allow-host", nil, "host, IP or CIDR that test actions may reach over http and at private/loopback addresses (repeatable)")
	cmd.Flags().StringVar(&wf.secretsDir, "secrets-dir", "", "directory of secret files (one file per secret name), besides HOOKFLOW_SECRET_<NAME> variables")
	cmd.Flags().DurationVar(&drain, "drain-timeout", 10*time.Second, "how long to let in-flight requests finish on shutdown")
	cf.register(cmd)
	return cmd
}

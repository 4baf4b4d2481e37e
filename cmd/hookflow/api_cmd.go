package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/schedules"
	"github.com/hookflow/hookflow/store"
)

// apiFlags are the API's settings, shared by `api` and `dev`.
type apiFlags struct {
	storeFlags
	addr    string
	maxBody int64
	drain   time.Duration
	// publicURL starts wait and approval steps' signed links.
	publicURL string
	// reconcileEvery is how often every schedule is brought in step
	// with the store (0: at start only).
	reconcileEvery time.Duration
}

// register adds the flags `api` and `dev` share to the letter. --flows,
// --store, --addr and --drain-timeout differ in default or help, so each
// command adds its own.
func (f *apiFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.cacheTTL, "cache-ttl", 2*time.Second, "how often the trigger cache reloads flows changed by other replicas")
	cmd.Flags().Int64Var(&f.maxBody, "max-body-bytes", api.DefaultMaxBodyBytes, "largest trigger body accepted")
	cmd.Flags().DurationVar(&f.reconcileEvery, "reconcile-every", schedules.DefaultInterval, "how often every flow's Temporal Schedules are brought in step with the store, repairing schedules deleted or edited in Temporal (0: at start only)")
	cmd.Flags().StringVar(&f.publicURL, "public-url", os.Getenv("HOOKFLOW_PUBLIC_URL"), "the API's public base URL (https://hooks.example.com), where wait and approval links point (default $HOOKFLOW_PUBLIC_URL; dev: the API's address)")
}

// handler is the API of `api` and `dev` on the Temporal client c: the
// triggers of the flows in cache, the management API over st for keys,
// and /codec when codec is not nil.
func (f *apiFlags) handler(log *slog.Logger, c sdkclient.Client, s *services, st *store.Store, cache *store.Cache, keys []api.APIKey, codec *api.CodecEndpoint) http.Handler {
	// The test action sends to destinations as the worker does.
	s.deliver.UseDestinations(activities.NewDestinations(destinations.NewStore(st)))
	return api.New(c, cache, log, api.Config{
		MaxBodyBytes: f.maxBody, Secrets: s.sec, Deliver: s.deliver,
		Admin: &api.Admin{Store: st, Cache: cache}, APIKeys: keys,
		Telemetry: s.obs.tel, Codec: codec, PublicURL: f.publicURL,
		DataConverter: s.obs.dataConverter(),
		Notify:        notifier(c, s.notify, st, log, s.obs.tel),
	}).Handler()
}

// dataConverter is the Temporal client's data converter: what the API
// decodes history with (a redelivery reads its request there).
func (o *observability) dataConverter() converter.DataConverter {
	if o.codec == nil {
		return converter.GetDefaultDataConverter()
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), o.codec)
}

func apiCmd(g *globalFlags) *cobra.Command {
	wf := &workerFlags{}
	af := &apiFlags{}
	cf := &codecFlags{}
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
				af.dsn = v
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
			st, cache, err := af.openStore(ctx, log)
			if err != nil {
				return err
			}
			defer st.Close()
			go cache.Run(ctx)
			log.Info("api listening", "addr", af.addr)
			h := af.handler(log, c, s, st, cache, keys, cf.endpoint(s.obs.codec))
			go reconcileSchedules(ctx, log, c, st, af.publicURL, s.obs.dataConverter(), af.reconcileEvery)
			return serveAPI(ctx, log, af.addr, h, af.drain)
		},
	}
	af.register(cmd)
	cmd.Flags().StringVar(&af.flowsDir, "flows", "", "directory of flow files applied to the store at start (optional; or use `hookflow flows apply`)")
	cmd.Flags().StringVar(&af.dsn, "store", "hookflow.db", "flow store: a SQLite file, or a postgres:// URL for several replicas (default $HOOKFLOW_STORE, else hookflow.db)")
	cmd.Flags().StringVar(&af.addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().DurationVar(&af.drain, "drain-timeout", 10*time.Second, "how long to let in-flight requests finish on shutdown")
	cmd.Flags().StringSliceVar(&wf.allowHosts, "allow-host", nil, "host, IP or CIDR that test actions may reach over http and at private/loopback addresses (repeatable)")
	cmd.Flags().StringVar(&wf.secretsDir, "secrets-dir", "", "directory of secret files (one file per secret name), besides HOOKFLOW_SECRET_<NAME> variables")
	wf.notify.register(cmd)
	cf.register(cmd)
	return cmd
}

//go:build !nodev

package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/devserver"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/worker"
)

func devCmd(g *globalFlags) *cobra.Command {
	af := &apiFlags{}
	wf := &workerFlags{}
	var (
		dataDir      string
		retention    time.Duration
		ip           string
		temporalPort int
		uiPort       int
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything in one process: Temporal dev server, Web UI, worker and API",
		Long: `dev runs an embedded Temporal server on a SQLite file in the data directory
(runs survive a restart), the Temporal Web UI, the hookflow worker and the API,
serving the flows of --flows. Ctrl-C stops everything cleanly.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger("text")
			if err != nil {
				return err
			}
			if af.dsn == "" {
				af.dsn = filepath.Join(dataDir, "hookflow.db")
			}
			ctx, stop := signalContext()
			defer stop()
			// First: an invalid flow file refuses the start with every
			// error, before anything runs or is written.
			st, cache, err := af.openStore(ctx, log)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := os.MkdirAll(dataDir, 0o755); err != nil {
				return fmt.Errorf("data directory: %w", err)
			}
			keys, devKey, err := apiKeys(dataDir)
			if err != nil {
				return fmt.Errorf("API keys: %w", err)
			}
			if err := devResumeKey(dataDir, wf.secretsDir); err != nil {
				return err
			}
			s, err := wf.setUp(ctx, log, "hookflow-dev")
			if err != nil {
				return err
			}
			defer s.obs.close(log)
			base, loopback := apiBase(af.addr)
			if af.publicURL == "" {
				af.publicURL = base
			}
			var codecEndpoint *api.CodecEndpoint
			uiCodec := ""
			if s.obs.codec != nil {
				// The Web UI decodes through the API's /codec from the
				// browser. Without a key only on loopback: the UI cannot
				// send hookflow API keys.
				codecEndpoint = &api.CodecEndpoint{Codec: s.obs.codec, Anonymous: loopback}
				for _, h := range []string{ip, "localhost", "127.0.0.1"} {
					codecEndpoint.AllowOrigins = append(codecEndpoint.AllowOrigins, "http://"+net.JoinHostPort(h, strconv.Itoa(uiPort)))
				}
				if loopback {
					uiCodec = base + "/codec"
				} else {
					log.Warn("the Web UI shows encrypted payloads: /codec needs an API key when the API is not on loopback")
				}
			}
			srv, err := devserver.Start(devserver.Options{
				IP:               ip,
				FrontendPort:     temporalPort,
				UIPort:           uiPort,
				UICodecEndpoint:  uiCodec,
				DatabaseFile:     filepath.Join(dataDir, "temporal.db"),
				SearchAttributes: contract.SearchAttributeTypes(),
				Logger:           log,
				Retention:        retention,
			})
			if err != nil {
				return err
			}
			defer srv.Stop()

			c, err := dialTemporal(log, s.obs, srv.FrontendAddress(), srv.Namespace())
			if err != nil {
				return err
			}
			defer c.Close()

			wf.opts.Records = activities.NewRecords(records.Of(st), log.With("component", "records"))
			wf.opts.Composition = activities.NewComposition(st.Flows(), s.sec)
			ds := destinations.NewStore(st)
			wf.opts.Destinations, wf.opts.DestinationStates = activities.NewDestinations(ds), ds
			wf.opts.Logger, wf.opts.Telemetry = log, s.obs.tel
			wf.opts.DataConverter = s.obs.dataConverter()
			wf.opts.Notifier = notifier(c, s.notify, st, log, s.obs.tel)
			w := worker.New(c, s.deliver, wf.opts)
			if err := w.Start(); err != nil {
				return fmt.Errorf("start worker: %w", err)
			}
			defer w.Stop()

			go cache.Run(ctx)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "\nhookflow dev is running (Ctrl-C to stop)\n")
			fmt.Fprintf(out, "  API:              %s\n", base)
			if srv.UIAddress() != "" {
				fmt.Fprintf(out, "  Temporal Web UI:  http://%s/namespaces/%s/workflows\n", srv.UIAddress(), srv.Namespace())
			}
			fmt.Fprintf(out, "  Temporal server:  %s (namespace %s)\n", srv.FrontendAddress(), srv.Namespace())
			fmt.Fprintf(out, "  Data:             %s\n", dataDir)
			fmt.Fprintf(out, "  Flow store:       %s\n", af.dsn)
			fmt.Fprintf(out, "  Metrics:          %s/metrics\n", base)
			if s.obs.codec != nil {
				fmt.Fprintf(out, "  Payloads:         encrypted (key %s); codec at %s/codec\n", s.obs.codec.ActiveKeyID(), base)
			}
			if devKey != "" {
				fmt.Fprintf(out, "  Admin API key:    export HOOKFLOW_API_KEY=%s\n", devKey)
			}
			fmt.Fprintf(out, "Trigger URLs:\n")
			if err := printStoreTriggers(ctx, out, base, st); err != nil {
				return err
			}
			fmt.Fprintln(out)

			h := af.handler(log, c, s, st, cache, keys, codecEndpoint)
			go reconcileSchedules(ctx, log, c, st, af.publicURL, s.obs.dataConverter(), af.reconcileEvery)
			err = serveAPI(ctx, log, af.addr, h, af.drain)
			log.Info("stopping")
			return err
		},
	}
	cmd.Flags().StringVar(&af.flowsDir, "flows", "examples", "directory of flow files applied to the store at start (.yaml, .yml, .json)")
	cmd.Flags().StringVar(&af.destinationsDir, "destinations", "", "directory of destination files applied to the store at start, before the flows (.yaml, .yml, .json)")
	cmd.Flags().StringVar(&af.dsn, "store", "", "flow store: a SQLite file (default <data>/hookflow.db) or a postgres:// URL")
	cmd.Flags().StringVar(&dataDir, "data", ".hookflow", "data directory (Temporal's SQLite file)")
	cmd.Flags().DurationVar(&retention, "retention", devserver.DefaultRetention, "how long closed runs are kept (at least 1h; applied to an existing data directory too)")
	cmd.Flags().StringVar(&af.addr, "addr", "127.0.0.1:8080", "API listen address")
	cmd.Flags().StringVar(&ip, "ip", "127.0.0.1", "IP the Temporal server and Web UI bind to")
	cmd.Flags().IntVar(&temporalPort, "temporal-port", 7233, "Temporal frontend gRPC port")
	cmd.Flags().IntVar(&uiPort, "ui-port", 8233, "Temporal Web UI port (0 disables the UI)")
	cmd.Flags().DurationVar(&af.drain, "drain-timeout", 10*time.Second, "how long to let in-flight API requests finish on shutdown")
	af.register(cmd)
	wf.register(cmd)
	return cmd
}

// apiBase is the URL the API is reached at, and whether it listens on
// loopback only.
func apiBase(addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr, false
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		return "http://127.0.0.1:" + port, false
	}
	ip := net.ParseIP(host)
	return "http://" + addr, host == "localhost" || (ip != nil && ip.IsLoopback())
}

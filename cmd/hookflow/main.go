// Command hookflow is the single hookflow binary:
//
//	hookflow dev      embedded Temporal dev server + Web UI + worker + API, one process
//	hookflow api      the HTTP API against a Temporal cluster
//	hookflow worker   the Temporal worker against a Temporal cluster
//	hookflow setup    register the namespace and search attributes on a cluster
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hookflow/hookflow/store"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// runMain runs the CLI and returns its exit code: 0, or 1 after printing
// the error (for validate: the summary of the problems it printed).
func runMain(args []string, stdout, stderr io.Writer) int {
	cmd := rootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	if err := cmd.Execute(); err != nil {
		if !errors.Is(err, errReported) {
			fmt.Fprintln(stderr, "hookflow:", err)
		}
		return 1
	}
	return 0
}

type globalFlags struct {
	logFormat string
	logLevel  string
}

func rootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "hookflow",
		Short:         "Webhook-driven workflow automation on Temporal",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "", "log format: text or json (default: text for dev, json otherwise)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(devCmd(g), apiCmd(g), workerCmd(g), setupCmd(g), flowsCmd(), collectionsCmd(), destinationsCmd(), schedulesCmd(), executionsCmd(), probeCmd(), explainCmd(), docsCmd())
	return root
}

func (g *globalFlags) logger(defaultFormat string) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	format := g.logFormat
	if format == "" {
		format = defaultFormat
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// signalContext is cancelled on Ctrl-C or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// serveAPI serves the API until ctx is done, then drains in-flight requests
// for up to drain.
func serveAPI(ctx context.Context, log *slog.Logger, addr string, h http.Handler, drain time.Duration) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("api draining", "timeout", drain.String())
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("api shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func printStoreTriggers(ctx context.Context, w io.Writer, base string, st *store.Store) error {
	flows, err := st.Flows().List(ctx)
	if err != nil {
		return err
	}
	for _, f := range flows {
		state := ""
		if !f.Enabled {
			state = " (disabled)"
		}
		fmt.Fprintf(w, "  %-24s %-5s POST %s/hooks/%s%s\n", f.ID, f.Def.Trigger.EffectiveMode(), base, f.Token, state)
	}
	return nil
}

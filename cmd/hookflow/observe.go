package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	sdklog "go.temporal.io/sdk/log"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/codec"
	"github.com/hookflow/hookflow/secrets"
	"github.com/hookflow/hookflow/telemetry"
)

// observability is what every command that talks to Temporal shares:
// metrics, tracing (when an OTLP endpoint is configured) and payload
// encryption (when the codec_keys secret exists).
type observability struct {
	tel   *telemetry.Telemetry
	codec *codec.Codec // nil: payloads are not encrypted
}

func setupObservability(ctx context.Context, log *slog.Logger, service string, sec secrets.Provider) (*observability, error) {
	var provider trace.TracerProvider
	tp, err := telemetry.TracerProviderFromEnv(ctx, service)
	if err != nil {
		return nil, err
	}
	if tp != nil {
		provider = tp
		log.Info("tracing on: spans export over OTLP")
	}
	o := &observability{tel: telemetry.New(telemetry.Options{TracerProvider: provider, Logger: log})}
	keys, err := sec.Secret(ctx, codec.SecretName)
	switch {
	case errors.Is(err, secrets.ErrNotFound) || (err == nil && strings.TrimSpace(string(keys)) == ""):
		// An empty value counts as unset: compose files pass
		// HOOKFLOW_SECRET_CODEC_KEYS through whether or not it is set.
		log.Info("payload encryption off (no codec_keys secret)")
	case err != nil:
		return nil, fmt.Errorf("payload encryption: %w", err)
	default:
		if o.codec, err = codec.Parse(string(keys)); err != nil {
			return nil, err
		}
		log.Info("payload encryption on", "activeKeyId", o.codec.ActiveKeyID())
	}
	return o, nil
}

// clientOptions are Temporal's own client settings (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, TEMPORAL_PROFILE and
// the temporal.toml file, through the SDK's envconfig package), with
// hookflow's logger, metrics, tracing and codec.
func (o *observability) clientOptions(log *slog.Logger) (sdkclient.Options, error) {
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return opts, fmt.Errorf("temporal client config: %w", err)
	}
	opts.Logger = sdklog.NewStructuredLogger(log.With("component", "temporal-sdk"))
	if err := o.tel.Instrument(&opts); err != nil {
		return opts, err
	}
	if o.codec != nil {
		o.codec.Apply(&opts)
	}
	return opts, nil
}

// dialTemporal connects to Temporal with clientOptions and logs where.
// hostPort and namespace, when not empty, replace the configured ones: dev
// points the client at its embedded server.
func dialTemporal(log *slog.Logger, obs *observability, hostPort, namespace string) (sdkclient.Client, error) {
	opts, err := obs.clientOptions(log)
	if err != nil {
		return nil, err
	}
	if hostPort != "" {
		opts.HostPort = hostPort
	}
	if namespace != "" {
		opts.Namespace = namespace
	}
	c, err := sdkclient.Dial(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %q: %w", opts.HostPort, err)
	}
	log.Info("connected to Temporal", "temporal", opts.HostPort, "namespace", namespaceOf(opts))
	return c, nil
}

// close flushes buffered metrics and spans.
func (o *observability) close(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.tel.Close(ctx); err != nil {
		log.Warn("flush telemetry", "error", err)
	}
}

// serveAside serves h on addr in the background until ctx is done (the
// worker's metrics and health port).
func serveAside(ctx context.Context, log *slog.Logger, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("metrics and health listening", "addr", ln.Addr().String())
	return nil
}

// codecFlags configure the /codec endpoint the Temporal Web UI decodes
// payloads with, served when payload encryption is on.
type codecFlags struct {
	origins   []string
	anonymous bool
}

func (f *codecFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.origins, "codec-cors-origin", nil, "Temporal Web UI origin allowed to call /codec from a browser, such as https://temporal.example.com (repeatable)")
	cmd.Flags().BoolVar(&f.anonymous, "codec-anonymous", false, "serve /codec without an API key: only behind a proxy that authenticates, since whoever reaches it can decrypt")
}

func (f *codecFlags) endpoint(c *codec.Codec) *api.CodecEndpoint {
	if c == nil {
		return nil
	}
	return &api.CodecEndpoint{Codec: c, AllowOrigins: f.origins, Anonymous: f.anonymous}
}

// namespaceOf is the namespace the client uses (the SDK's default when
// none is configured).
func namespaceOf(o sdkclient.Options) string {
	if o.Namespace == "" {
		return sdkclient.DefaultNamespace
	}
	return o.Namespace
}

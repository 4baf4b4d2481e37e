// Package telemetry is hookflow's metrics and tracing: one Prometheus
// registry per process holding hookflow's own metrics and the Temporal SDK's
// (through the SDK's tally handler), and OpenTelemetry tracing that is off
// unless an OTLP endpoint is configured.
//
// A nil *Telemetry is valid everywhere and records nothing, so packages take
// one without checking whether observability is on.
package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	sdkclient "go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// Options configures New.
type Options struct {
	// TracerProvider turns tracing on (nil: off). TracerProviderFromEnv
	// builds one from the OTEL_* variables.
	TracerProvider trace.TracerProvider
	// Logger receives metric registration errors.
	Logger *slog.Logger
}

// Telemetry holds the process's metrics registry and tracer.
type Telemetry struct {
	registry *prometheus.Registry
	sdkScope io.Closer
	sdk      sdkclient.MetricsHandler
	m        *metrics

	tracer     trace.Tracer // nil: tracing off
	propagator propagation.TextMapPropagator
	provider   trace.TracerProvider
}

// New builds the registry (Go runtime and process collectors, hookflow's
// metrics, and a tally scope the Temporal SDK reports into).
func New(opts Options) *Telemetry {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	t := &Telemetry{registry: reg, m: newMetrics(reg)}

	// The SDK's metrics (temporal_request, temporal_workflow_task_*,
	// temporal_activity_*, ...) go through its tally handler into the same
	// registry, named the Prometheus way, with histograms for timers.
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       reg,
		Gatherer:         reg,
		DefaultTimerType: tallyprom.HistogramTimerType,
		OnRegisterError:  func(err error) { log.Warn("temporal sdk metric not registered", "error", err) },
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
	}, time.Second)
	t.sdkScope = closer
	t.sdk = sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope))

	if opts.TracerProvider != nil {
		t.provider = opts.TracerProvider
		t.tracer = opts.TracerProvider.Tracer("github.com/hookflow/hookflow")
		t.propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return t
}

// MetricsHandler serves the registry in the Prometheus text format.
func (t *Telemetry) MetricsHandler() http.Handler {
	if t == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{Registry: t.registry})
}

// Close flushes the SDK's metrics and the tracer (spans still buffered are
// exported within ctx).
func (t *Telemetry) Close(ctx context.Context) error {
	if t == nil {
		return nil
	}
	err := t.sdkScope.Close()
	if sp, ok := t.provider.(interface{ Shutdown(context.Context) error }); ok {
		if e := sp.Shutdown(ctx); e != nil && err == nil {
			err = e
		}
	}
	return err
}

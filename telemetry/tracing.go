package telemetry

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	sdkclient "go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// TracerProviderFromEnv returns an OpenTelemetry tracer provider exporting
// over OTLP/gRPC when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, and nil (tracing off)
// otherwise. The exporter reads the other OTEL_EXPORTER_OTLP_* variables
// itself (headers, TLS, timeout); OTEL_SERVICE_NAME overrides service.
func TracerProviderFromEnv(ctx context.Context, service string) (*sdktrace.TracerProvider, error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, nil
	}
	for _, k := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := os.Getenv(k); p != "" && p != "grpc" {
			return nil, fmt.Errorf("%s=%q: hookflow exports traces over OTLP/gRPC only; set it to grpc or unset it", k, p)
		}
	}
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	if v := os.Getenv("OTEL_SERVICE_NAME"); v != "" {
		service = v
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(service)))
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// Tracing reports whether spans are recorded.
func (t *Telemetry) Tracing() bool { return t != nil && t.tracer != nil }

// Instrument adds the SDK's metrics handler and, with tracing on, the SDK's
// OpenTelemetry interceptor to Temporal client options. Workers built from
// the client inherit both, so a trace runs from the trigger through the
// workflow into its activities.
func (t *Telemetry) Instrument(opts *sdkclient.Options) error {
	if t == nil {
		return nil
	}
	opts.MetricsHandler = t.sdk
	if t.tracer == nil {
		return nil
	}
	i, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            t.provider.Tracer("temporal-sdk-go"),
		TextMapPropagator: t.propagator,
	})
	if err != nil {
		return fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	opts.Interceptors = append([]interceptor.ClientInterceptor{i}, opts.Interceptors...)
	return nil
}

// StartServerSpan continues the caller's trace (W3C traceparent) for an
// incoming request. name must not hold request data: routes are patterns,
// so a trigger token never becomes a span name or attribute.
func (t *Telemetry) StartServerSpan(ctx context.Context, h http.Header, name string) (context.Context, trace.Span) {
	if !t.Tracing() {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx = t.propagator.Extract(ctx, propagation.HeaderCarrier(h))
	return t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
}

// StartClientSpan starts the span of an outgoing request and writes its
// context into the request's headers (traceparent), so the receiver can
// join the trace. Only the method and host are recorded: paths and query
// strings may carry credentials (API keys in the query).
func (t *Telemetry) StartClientSpan(ctx context.Context, r *http.Request) (context.Context, trace.Span) {
	if !t.Tracing() {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx, span := t.tracer.Start(ctx, "HTTP "+r.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Hostname())))
	t.propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	return ctx, span
}

// EndSpan ends a span with the answer's status, marking it failed on err
// or a 5xx. err's text must be safe to export (no URLs, no payloads).
func EndSpan(span trace.Span, status int, err error) {
	if !span.IsRecording() {
		return
	}
	if status > 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	switch {
	case err != nil:
		span.SetStatus(codes.Error, err.Error())
	case status >= 500:
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

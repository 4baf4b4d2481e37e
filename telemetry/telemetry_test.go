package telemetry_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/telemetry"
)

func scrape(t *testing.T, tel *telemetry.Telemetry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	b, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	return string(b)
}

// Attempt numbers are bucketed so a delivery retried for three days does
// not mint a label value per attempt.
func TestDeliveryAttemptLabelsAreBounded(t *testing.T) {
	tel := telemetry.New(telemetry.Options{})
	for _, a := range []int32{1, 5, 6, 40, 0} {
		tel.DeliveryAttempt("HTTPServerError", a, time.Millisecond)
	}
	body := scrape(t, tel)
	require.Contains(t, body, `hookflow_delivery_attempts_total{attempt="1",outcome="HTTPServerError"} 1`)
	require.Contains(t, body, `hookflow_delivery_attempts_total{attempt="5",outcome="HTTPServerError"} 1`)
	require.Contains(t, body, `hookflow_delivery_attempts_total{attempt="6+",outcome="HTTPServerError"} 3`)
	require.NotContains(t, body, `attempt="40"`)
}

// A nil Telemetry (observability not wired) records nothing and never
// panics, so packages need no nil checks.
func TestNilTelemetryIsANoOp(t *testing.T) {
	var tel *telemetry.Telemetry
	tel.ObserveRequest("GET", "/x", 200, time.Millisecond)
	tel.Trigger("f", "sync", telemetry.TriggerAccepted)
	tel.DeliveryAttempt("delivered", 1, time.Millisecond)
	require.False(t, tel.Tracing())
	r := httptest.NewRequest(http.MethodPost, "https://example.com/", nil)
	_, span := tel.StartClientSpan(context.Background(), r)
	telemetry.EndSpan(span, 200, nil)
	require.Empty(t, r.Header.Get("traceparent"), "tracing off sends no traceparent")
	require.NoError(t, tel.Close(context.Background()))
}

func TestTracingIsOffWithoutAnOTLPEndpoint(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tp, err := telemetry.TracerProviderFromEnv(context.Background(), "hookflow-test")
	require.NoError(t, err)
	require.Nil(t, tp)

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	_, err = telemetry.TracerProviderFromEnv(context.Background(), "hookflow-test")
	require.ErrorContains(t, err, "OTEL_EXPORTER_OTLP_PROTOCOL")

	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	tp, err = telemetry.TracerProviderFromEnv(context.Background(), "hookflow-test")
	require.NoError(t, err)
	require.NotNil(t, tp, "an endpoint turns tracing on")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = tp.Shutdown(ctx) // nothing listens there; only the exporter's flush fails
}

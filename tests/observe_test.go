//go:build !nodev

package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/codec"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/devserver"
	"github.com/hookflow/hookflow/telemetry"
	"github.com/hookflow/hookflow/worker"
)

// observedStack is a production-like stack on its own embedded server:
// metrics, tracing (spans kept in memory) and payload encryption all on,
// in the client, the worker and the API, wired as `hookflow api` and
// `hookflow worker` wire them.
type observedStack struct {
	*stack
	spans   *tracetest.InMemoryExporter
	codec   *codec.Codec
	workers *worker.Workers
	tel     *telemetry.Telemetry
}

const webUIOrigin = "http://127.0.0.1:8233"

func setupObserved(t *testing.T, flowYAMLs ...string) *observedStack {
	t.Helper()
	srv, err := devserver.Start(devserver.Options{
		SearchAttributes: contract.SearchAttributeTypes(),
		Logger:           slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)

	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	tel := telemetry.New(telemetry.Options{TracerProvider: tp, Logger: testLog})
	t.Cleanup(func() { _ = tel.Close(context.Background()) })
	key := make([]byte, 32)
	_, err = rand.Read(key)
	require.NoError(t, err)
	cdc, err := codec.Parse("test-key-1:" + base64.StdEncoding.EncodeToString(key))
	require.NoError(t, err)

	opts := sdkclient.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(), Logger: sdklog.NewStructuredLogger(testLog)}
	require.NoError(t, tel.Instrument(&opts))
	cdc.Apply(&opts)
	c, err := sdkclient.Dial(opts)
	require.NoError(t, err)
	t.Cleanup(c.Close)

	allow, err := activities.ParseAllowlist([]string{"127.0.0.1"})
	require.NoError(t, err)
	deliver := activities.NewDeliverer(activities.Config{Secrets: testSecrets, Allow: allow, Logger: testLog, Telemetry: tel})
	w := worker.New(c, deliver, worker.Options{StopTimeout: 10 * time.Second})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	cat := catalog(t, flowYAMLs...)
	cfg := testAPIConfig(nil)
	cfg.Deliver, cfg.Telemetry = deliver, tel
	cfg.Codec = &api.CodecEndpoint{Codec: cdc, AllowOrigins: []string{webUIOrigin}}
	hs := httptest.NewServer(api.New(c, cat, testLog, cfg).Handler())
	t.Cleanup(hs.Close)
	return &observedStack{stack: &stack{t: t, client: c, url: hs.URL, cat: cat}, spans: spans, codec: cdc, workers: w, tel: tel}
}

func (s *observedStack) get(path string) (int, string) {
	s.t.Helper()
	resp, err := http.Get(s.url + path)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp.StatusCode, string(b)
}

func TestObservability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own embedded server")
	}
	var traceparents []string
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) { okJSON(`{"ok":true}`)(n, w) })
	refusing := newReceiver(t, func(_ int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"reason":"fail-canary-91"}`))
	})
	slow := newReceiver(t, func(n int, w http.ResponseWriter) {
		time.Sleep(1500 * time.Millisecond)
		okJSON(`{"ok":true}`)(n, w)
	})
	s := setupObserved(t, `
id: it-obs-sync
trigger: {mode: sync, timeout: 20s}
steps:
  - {id: notify, type: http, method: POST, url: "`+rcv.URL+`/sync", body: {mode: keyValue, fields: {email: "{{ trigger.body.email }}"}}}
  - {id: reply, type: response, status: 201, body: {seen: "{{ trigger.body.email }}"}}
`, `
id: it-obs-async
trigger: {mode: async}
steps:
  - {id: notify, type: http, method: POST, url: "`+rcv.URL+`/async", body: {mode: keyValue, fields: {email: "{{ trigger.body.email }}"}}}
`, `
id: it-obs-fail
trigger: {mode: sync, timeout: 20s}
steps:
  - {id: notify, type: http, method: POST, url: "`+refusing.URL+`/x", body: {mode: all}, onError: continue}
  - {id: reply, type: response, status: 200, body: {notify: "{{ steps.notify.status }}"}}
`, `
id: it-obs-slow
trigger: {mode: async}
steps:
  - {id: notify, type: http, method: POST, url: "`+slow.URL+`/slow", body: {mode: all}}
`, `
id: it-obs-keyed
trigger: {mode: async, flowControl: {key: "{{ trigger.body.email }}", concurrency: 1}}
steps:
  - {id: done, type: output, values: {ok: true}}
`)
	const canary = "canary-7f3a@example.com"
	syncTrace := "4bf92f3577b34da6a3ce929d0e0e4736"
	asyncTrace := "0af7651916cd43dd8448eb211c80319c"

	sync := post(t, s.hookURL("it-obs-sync"), "application/json", `{"email":"`+canary+`"}`,
		"traceparent", "00-"+syncTrace+"-00f067aa0ba902b7-01")
	require.Equal(t, http.StatusCreated, sync.status, sync.body)
	require.JSONEq(t, `{"seen":"`+canary+`"}`, sync.body, "the API decrypts the answer")
	async := post(t, s.hookURL("it-obs-async"), "application/json", `{"email":"`+canary+`"}`,
		"traceparent", "00-"+asyncTrace+"-b7ad6b7169203331-01")
	require.Equal(t, http.StatusOK, async.status, async.body)
	_, err := s.result(async.header.Get(api.HeaderExecutionID))
	require.NoError(t, err)
	// A keyed run, through its coordinator, with encrypted payloads.
	keyed := post(t, s.hookURL("it-obs-keyed"), "application/json", `{"email":"`+canary+`"}`)
	require.Equal(t, http.StatusOK, keyed.status, keyed.body)
	_, err = s.result(keyed.header.Get(api.HeaderExecutionID))
	require.NoError(t, err)
	rejected := post(t, s.url+"/hooks/not-a-token-000000000000", "application/json", `{}`)
	require.Equal(t, http.StatusNotFound, rejected.status)

	t.Run("traceparent reaches the receiver", func(t *testing.T) {
		for _, h := range rcv.all() {
			traceparents = append(traceparents, h.header.Get("traceparent"))
		}
		require.Len(t, traceparents, 2)
		require.Contains(t, traceparents[0], "00-"+syncTrace+"-", "sync: through Update-With-Start, the workflow and the activity")
		require.Contains(t, traceparents[1], "00-"+asyncTrace+"-", "async: through the start, the workflow and the activity")

		// The trace holds the trigger, the workflow, the activity and the
		// send; no span carries the trigger's token.
		names := map[string]bool{}
		for _, sp := range s.spans.GetSpans() {
			if sp.SpanContext.TraceID().String() != asyncTrace {
				continue
			}
			names[sp.Name] = true
			require.NotContains(t, sp.Name, "/hooks/"+strings.TrimPrefix(s.hookURL("it-obs-async"), s.url+"/hooks/"))
			for _, a := range sp.Attributes {
				require.NotContains(t, a.Value.Emit(), strings.TrimPrefix(s.hookURL("it-obs-async"), s.url+"/hooks/"), "span %s attribute %s", sp.Name, a.Key)
			}
		}
		// Log lines carry the trace id: the API's request line and the
		// delivery's.
		require.Regexp(t, `msg=request [^\n]*route=/hooks/:token [^\n]*traceId=`+asyncTrace, logs.String())
		require.Regexp(t, `msg=delivery [^\n]*traceId=`+asyncTrace, logs.String())
		for _, want := range []string{"POST /hooks/:token", "StartWorkflow:" + contract.WorkflowName, "RunWorkflow:" + contract.WorkflowName,
			"StartActivity:" + contract.DeliverName, "RunActivity:" + contract.DeliverName, "HTTP POST"} {
			// The send's first attempt is a local activity of the flow
			// worker (DeliverFirst), traced the same way.
			local := strings.ReplaceAll(want, contract.DeliverName, contract.DeliverFirstName)
			require.True(t, names[want] || names[local], "span %q missing from %v", want, names)
		}
	})

	t.Run("metrics after a trigger", func(t *testing.T) {
		// The SDK's tally scope reports every second.
		var body string
		require.Eventually(t, func() bool {
			_, body = s.get("/metrics")
			return strings.Contains(body, "temporal_workflow_completed")
		}, 10*time.Second, 200*time.Millisecond, "the SDK's metrics never appeared")
		for _, want := range []string{
			`hookflow_http_requests_total{method="POST",route="/hooks/:token",status="201"} 1`,
			`hookflow_http_requests_total{method="POST",route="/hooks/:token",status="404"} 1`,
			`hookflow_http_request_duration_seconds_bucket{method="POST",route="/hooks/:token",le="+Inf"} 4`,
			`hookflow_triggers_total{flow="it-obs-sync",mode="sync",outcome="accepted"} 1`,
			`hookflow_triggers_total{flow="it-obs-async",mode="async",outcome="accepted"} 1`,
			`hookflow_triggers_total{flow="unknown",mode="unknown",outcome="rejected_404"} 1`,
			`hookflow_delivery_attempts_total{attempt="1",outcome="delivered"} 2`,
			`hookflow_delivery_attempt_duration_seconds_count{outcome="delivered"} 2`,
			"temporal_request_total", "temporal_workflow_task_execution_latency_seconds_bucket",
			"temporal_activity_execution_latency_seconds_bucket", "go_goroutines", "process_resident_memory_bytes",
			// The keyed run's wait for its permit (workflows/permit.go).
			"hookflow_flow_control_wait_seconds_bucket{",
			// Its coordinator's counts: one event queued, and left.
			"hookflow_flow_control_queued_total{", "hookflow_flow_control_left_total{",
		} {
			// Sends that succeed at their first attempt are local
			// activities: the SDK reports them as such.
			if want == "temporal_activity_execution_latency_seconds_bucket" && strings.Contains(body, "temporal_local_activity_execution_latency_seconds_bucket") {
				continue
			}
			if !strings.Contains(body, want) {
				t.Fatalf("/metrics lacks %s; hookflow's lines:\n%s", want, hookflowLines(body))
			}
		}
		require.NotContains(t, body, strings.TrimPrefix(s.hookURL("it-obs-sync"), s.url+"/hooks/"), "no token in a label")
	})

	t.Run("history holds ciphertext; the codec endpoint decodes it", func(t *testing.T) {
		id := sync.header.Get(api.HeaderExecutionID)
		h := history(t, s.stack, id)
		raw, err := proto.Marshal(h)
		require.NoError(t, err)
		require.False(t, bytes.Contains(raw, []byte(canary)), "a trigger field is plaintext in history")
		require.False(t, bytes.Contains(raw, []byte(`"steps"`)), "the flow snapshot is plaintext in history")
		// Search attributes stay plain, so runs are still found by flow.
		require.EqualValues(t, 1, s.awaitCount("it-obs-sync", 1))

		started := h.Events[0].GetWorkflowExecutionStartedEventAttributes()
		require.Equal(t, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, h.Events[0].EventType)
		in := started.GetInput()
		require.Equal(t, "binary/encrypted", string(in.Payloads[0].Metadata["encoding"]))
		require.Equal(t, "test-key-1", string(in.Payloads[0].Metadata["encryption-key-id"]))
		req, err := protojson.Marshal(in)
		require.NoError(t, err)

		call := func(method, path, key, origin string, body []byte) *http.Response {
			r, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
			require.NoError(t, err)
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-Namespace", "default")
			if key != "" {
				r.Header.Set("Authorization", "Bearer "+key)
			}
			if origin != "" {
				r.Header.Set("Origin", origin)
			}
			resp, err := http.DefaultClient.Do(r)
			require.NoError(t, err)
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}
		resp := call("POST", "/codec/decode", readKey, webUIOrigin, req)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, webUIOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var out commonpb.Payloads
		require.NoError(t, protojson.Unmarshal(b, &out))
		require.Equal(t, "json/plain", string(out.Payloads[0].Metadata["encoding"]))
		require.Contains(t, string(out.Payloads[0].Data), canary)

		// Encode answers ciphertext that decode turns back.
		resp = call("POST", "/codec/encode", readKey, "", b)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		enc, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NotContains(t, string(enc), base64.StdEncoding.EncodeToString([]byte(canary))[:12])

		// The Web UI's preflight gets CORS headers, other origins none.
		resp = call("OPTIONS", "/codec/decode", "", webUIOrigin, nil)
		require.Equal(t, http.StatusNoContent, resp.StatusCode)
		require.Equal(t, webUIOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "X-Namespace")
		resp = call("OPTIONS", "/codec/decode", "", "https://evil.example", nil)
		require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))

		// Without a key: 401, with CORS headers so the UI can show why.
		resp = call("POST", "/codec/decode", "", webUIOrigin, req)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, webUIOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
		// Bad input: a clear error, never a 500.
		resp = call("POST", "/codec/decode", readKey, "", []byte(`{"payloads":"nope"}`))
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		resp = call("POST", "/codec/decode", readKey, "", []byte(`{"payloads":[{"metadata":{"encoding":"YmluYXJ5L2VuY3J5cHRlZA==","encryption-key-id":"b2xk"},"data":"AAAA"}]}`))
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		b, _ = io.ReadAll(resp.Body)
		require.Contains(t, string(b), `unknown encryption key`)
	})

	t.Run("failure messages and details are encrypted too", func(t *testing.T) {
		a := post(t, s.hookURL("it-obs-fail"), "application/json", `{}`)
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.JSONEq(t, `{"notify":"failed"}`, a.body)
		id := a.header.Get(api.HeaderExecutionID)
		raw, err := proto.Marshal(history(t, s.stack, id))
		require.NoError(t, err)
		require.False(t, bytes.Contains(raw, []byte("receiver answered 400")), "a failure message is plaintext in history")
		require.False(t, bytes.Contains(raw, []byte("fail-canary-91")), "the receiver's answer is plaintext in history")
		// The send failed at its first attempt, a local activity: the SDK
		// writes a local activity's failure message in plaintext (it
		// decodes the encoded failure in place), so that attempt's failure
		// carries a generic message and the real one in its (encrypted)
		// details.
		require.True(t, bytes.Contains(raw, []byte("Encoded failure")) || bytes.Contains(raw, []byte("first attempt failed (HTTPClientError)")),
			"the failure converter moved the message into a payload")
		// Read through the codec, the step log still says what happened.
		step := s.stepLog(id).Steps[0]
		require.Equal(t, "failed", string(step.Status))
		require.Contains(t, step.Error, "receiver answered 400")
		require.Equal(t, http.StatusBadRequest, step.Delivery.StatusCode)
	})

	// Last: it stops the workers.
	t.Run("worker health and graceful shutdown", func(t *testing.T) {
		hs := httptest.NewServer(s.workers.Handler(s.tel))
		defer hs.Close()
		probe := func(path string) (int, string) {
			resp, err := http.Get(hs.URL + path)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		code, body := probe("/readyz")
		require.Equal(t, http.StatusOK, code, body)
		code, body = probe("/metrics")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "hookflow_delivery_attempts_total")
		require.Contains(t, body, "temporal_worker_start_total")

		// A delivery in flight when the worker is told to stop is
		// finished and reported, not abandoned.
		a := post(t, s.hookURL("it-obs-slow"), "application/json", `{"n":1}`)
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Eventually(t, func() bool { return len(slow.all()) == 1 }, 10*time.Second, 20*time.Millisecond)
		start := time.Now()
		s.workers.Stop()
		require.Greater(t, time.Since(start), 500*time.Millisecond, "Stop waited for the delivery in flight")
		var completed bool
		for _, e := range history(t, s.stack, a.header.Get(api.HeaderExecutionID)).Events {
			completed = completed || e.EventType == enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
			// Or its first attempt, made by the flow worker, recorded.
			if _, failed, ok := contract.FirstAttemptOf(converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), s.codec), e.GetMarkerRecordedEventAttributes()); ok && !failed {
				completed = true
			}
		}
		require.True(t, completed, "the delivery's result reached Temporal before the worker stopped")

		code, body = probe("/readyz")
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.JSONEq(t, `{"status":"not ready","reason":"workers are not running"}`, body)
		code, _ = probe("/healthz")
		require.Equal(t, http.StatusOK, code)
	})
}

func hookflowLines(metrics string) string {
	var b strings.Builder
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "hookflow_") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

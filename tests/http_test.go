//go:build !nodev

package tests

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
)

// hit is one request a receiver got.
type hit struct {
	at     time.Time
	header http.Header
	body   string
	query  string
}

type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	hits []hit
}

// newReceiver answers the n-th request (0-based) with answer(n, w).
func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter)) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.hits)
		r.hits = append(r.hits, hit{at: time.Now(), header: req.Header.Clone(), body: string(b), query: req.URL.RawQuery})
		r.mu.Unlock()
		answer(n, w)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) all() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

func okJSON(body string) func(int, http.ResponseWriter) {
	return func(_ int, w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

// historyText is a run's whole history as text with every payload decoded:
// protojson writes payload data as base64, where a grep finds nothing.
func historyText(t *testing.T, s *stack, id string) string {
	t.Helper()
	raw, err := protojson.Marshal(history(t, s, id))
	require.NoError(t, err)
	var b strings.Builder
	b.Write(raw)
	for _, m := range regexp.MustCompile(`"data":"([A-Za-z0-9+/=]+)"`).FindAllSubmatch(raw, -1) {
		dec, err := base64.StdEncoding.DecodeString(string(m[1]))
		require.NoError(t, err)
		b.WriteString("\n")
		b.Write(dec)
	}
	return b.String()
}

func (s *stack) stepLog(id string) contract.StepLog {
	s.t.Helper()
	v, err := s.client.QueryWorkflow(context.Background(), id, "", contract.QuerySteps)
	require.NoError(s.t, err)
	var log contract.StepLog
	require.NoError(s.t, v.Get(&log))
	return log
}

func TestDeliveryRecoversAfterServerErrors(t *testing.T) {
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n < 2 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		okJSON(`{"tracking":{"id":"TRK-9"}}`)(n, w)
	})
	s := setup(t, `
id: it-http-recover
trigger: {mode: sync, timeout: 20s}
steps:
  - id: ship
    type: http
    method: POST
    url: "`+rcv.URL+`/orders"
    body: {mode: keyValue, fields: {orderId: "{{ trigger.body.id }}"}}
    retry: {initialInterval: 200ms, maximumInterval: 1s}
    outputs: {trackingId: tracking.id}
  - {id: reply, type: response, status: 201, body: {tracking: "{{ steps.ship.outputs.trackingId }}", code: "{{ steps.ship.outputs.statusCode }}"}}
`)
	a := post(t, s.hookURL("it-http-recover"), "application/json", `{"id":"A-7"}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	require.JSONEq(t, `{"tracking":"TRK-9","code":200}`, a.body)

	hits := rcv.all()
	require.Len(t, hits, 3, "delivered on the third attempt")
	key := hits[0].header.Get("Idempotency-Key")
	require.NotEmpty(t, key)
	for _, h := range hits {
		require.Equal(t, key, h.header.Get("Idempotency-Key"), "one delivery id across all retries")
		require.JSONEq(t, `{"orderId":"A-7"}`, h.body)
	}
	id := a.header.Get(api.HeaderExecutionID)
	_, err := s.result(id)
	require.NoError(t, err)
	d := s.stepLog(id).Steps[0].Delivery
	require.NotNil(t, d)
	require.Equal(t, "POST", d.Method)
	require.Equal(t, rcv.URL+"/orders", d.URL)
	require.JSONEq(t, `{"orderId":"A-7"}`, string(d.Body))
	require.Equal(t, 200, d.StatusCode)
	require.Equal(t, int32(3), d.Attempts)
	require.Equal(t, key, d.DeliveryID)
}

func TestClientErrorIsAttemptedOnce(t *testing.T) {
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"bad order"}`))
	})
	s := setup(t, `
id: it-http-400
trigger: {}
steps:
  - {id: send, type: http, method: POST, url: "`+rcv.URL+`", retry: {initialInterval: 100ms}}
`, `
id: it-http-continue
trigger: {mode: sync}
steps:
  - {id: send, type: http, method: POST, url: "`+rcv.URL+`", onError: continue, retry: {initialInterval: 100ms}}
  - {id: reply, type: response, body: {status: "{{ steps.send.status }}", error: "{{ steps.send.error }}"}}
`)
	a := post(t, s.hookURL("it-http-400"), "application/json", `{}`)
	_, err := s.result(a.header.Get(api.HeaderExecutionID))
	require.ErrorContains(t, err, "receiver answered 400; not retried")
	require.Len(t, rcv.all(), 1)
	d := s.stepLog(a.header.Get(api.HeaderExecutionID)).Steps[0].Delivery
	require.Equal(t, 400, d.StatusCode)
	require.Equal(t, int32(1), d.Attempts)
	require.Contains(t, d.LastError, "400")

	a = post(t, s.hookURL("it-http-continue"), "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	m := a.json(t)
	require.Equal(t, "failed", m["status"])
	require.Contains(t, m["error"], "receiver answered 400")
}

func TestTooManyRequestsWaitsForRetryAfter(t *testing.T) {
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s := setup(t, `
id: it-http-429
trigger: {}
steps:
  - {id: send, type: http, method: POST, url: "`+rcv.URL+`", retry: {initialInterval: 15s}}
`)
	a := post(t, s.hookURL("it-http-429"), "application/json", `{}`)
	_, err := s.result(a.header.Get(api.HeaderExecutionID))
	require.NoError(t, err)
	hits := rcv.all()
	require.Len(t, hits, 2)
	gap := hits[1].at.Sub(hits[0].at)
	require.GreaterOrEqual(t, gap, 2*time.Second, "waited at least Retry-After")
	require.Less(t, gap, 15*time.Second, "and not the policy's backoff")
}

func TestReadTimeoutRetries(t *testing.T) {
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			time.Sleep(1500 * time.Millisecond)
		}
		w.WriteHeader(http.StatusOK)
	})
	s := setup(t, `
id: it-http-timeout
trigger: {}
steps:
  - {id: send, type: http, method: POST, url: "`+rcv.URL+`", timeouts: {response: 500ms}, retry: {initialInterval: 100ms}}
`)
	a := post(t, s.hookURL("it-http-timeout"), "application/json", `{}`)
	_, err := s.result(a.header.Get(api.HeaderExecutionID))
	require.NoError(t, err)
	require.Len(t, rcv.all(), 2)
	require.Equal(t, int32(2), s.stepLog(a.header.Get(api.HeaderExecutionID)).Steps[0].Delivery.Attempts)
}

// The default delivery policy is read back from the activity's scheduled
// event in the run's history: what Temporal actually enforces.
func TestDefaultRetryPolicyIsWhatTheActivityIsScheduledWith(t *testing.T) {
	rcv := newReceiver(t, okJSON(`{}`))
	s := setup(t, `
id: it-http-defaults
trigger: {}
steps:
  - {id: send, type: http, method: POST, url: "`+rcv.URL+`"}
`)
	a := post(t, s.hookURL("it-http-defaults"), "application/json", `{}`)
	id := a.header.Get(api.HeaderExecutionID)
	_, err := s.result(id)
	require.NoError(t, err)
	var found bool
	for _, e := range history(t, s, id).Events {
		// The first attempt ran locally in the flow worker: its marker
		// records the schedule the webhook queue would have used.
		if fa, _, ok := contract.FirstAttemptOf(converter.GetDefaultDataConverter(), e.GetMarkerRecordedEventAttributes()); ok {
			found = true
			require.NotNil(t, fa)
			sc := fa.Schedule
			require.Equal(t, time.Minute, sc.InitialInterval)
			require.Equal(t, 2.0, sc.BackoffCoefficient)
			require.Equal(t, 8*time.Hour, sc.MaximumInterval)
			require.Equal(t, 72*time.Hour, sc.ScheduleToClose)
			require.Equal(t, 38*time.Second, sc.StartToClose, "3s connect + 30s response + 5s margin")
			continue
		}
		if e.GetEventType() != enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED {
			continue
		}
		found = true
		attrs := e.GetActivityTaskScheduledEventAttributes()
		require.Equal(t, contract.WebhookTaskQueue, attrs.GetTaskQueue().GetName())
		rp := attrs.GetRetryPolicy()
		require.Equal(t, time.Minute, rp.GetInitialInterval().AsDuration())
		require.Equal(t, 2.0, rp.GetBackoffCoefficient())
		require.Equal(t, 8*time.Hour, rp.GetMaximumInterval().AsDuration())
		require.Equal(t, 72*time.Hour, attrs.GetScheduleToCloseTimeout().AsDuration())
		require.Equal(t, 38*time.Second, attrs.GetStartToCloseTimeout().AsDuration(), "3s connect + 30s response + 5s margin")
	}
	require.True(t, found)
}

func TestSecretsNeverReachHistoryLogsOrAnswers(t *testing.T) {
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		okJSON(`{"ok":true}`)(n, w)
	})
	s := setup(t, `
id: it-http-secrets
trigger: {mode: sync, auth: {basic: {username: shop, passwordSecret: shop_pw}}}
steps:
  - {id: a, type: http, method: POST, url: "`+rcv.URL+`/a", auth: {type: bearer, tokenSecret: gh_key}, retry: {initialInterval: 100ms}}
  - {id: b, type: http, method: GET, url: "`+rcv.URL+`/b", auth: {type: apiKey, name: key, in: query, valueSecret: hmac_key}}
  - {id: c, type: http, method: POST, url: "`+rcv.URL+`/c", auth: {type: signature, version: standardWebhooks, secret: sw_key}, body: {mode: all}}
  - {id: reply, type: response, body: {a: "{{ steps.a.outputs.statusCode }}", b: "{{ steps.b.outputs.statusCode }}"}}
`)
	a := post(t, s.hookURL("it-http-secrets"), "application/json", `{"n":1}`, "Authorization", basicAuthHeader("shop", "hunter2-shop"))
	require.Equal(t, http.StatusOK, a.status, a.body)
	hits := rcv.all()
	require.Len(t, hits, 4)
	require.Equal(t, "Bearer gh-webhook-secret", hits[1].header.Get("Authorization"), "the receiver got the secret")
	require.Equal(t, "key=generic-hmac-secret", hits[2].query)
	require.NotEmpty(t, hits[3].header.Get("webhook-signature"))

	id := a.header.Get(api.HeaderExecutionID)
	_, err := s.result(id)
	require.NoError(t, err)
	hist := historyText(t, s, id)
	everything := hist + logs.String() + a.body + toJSON(t, s.stepLog(id))
	for _, secret := range []string{
		"hunter2-shop", base64.StdEncoding.EncodeToString([]byte("shop:hunter2-shop")),
		"gh-webhook-secret", "generic-hmac-secret", swKeyB64, "standard-webhooks-test-key",
	} {
		require.NotContains(t, everything, secret)
	}
	// The grep looked at real, decoded data: the run's input, the delivery
	// ids and the log lines are there.
	require.Contains(t, hist, `"trigger":{"body":{"n":1}`)
	require.Contains(t, hist, `"deliveryId":"dlv_`)
	require.Contains(t, logs.String(), "deliveryId=dlv_")
}

func TestStepTestAction(t *testing.T) {
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		okJSON(`{"tracking":{"id":"T-5"}}`)(n, w)
	})
	s := setup(t, `
id: it-test-action
trigger: {}
steps:
  - {id: prep, type: set, values: {x: 1}}
  - id: ship
    type: http
    method: POST
    url: "`+rcv.URL+`/orders"
    auth: {type: apiKey, name: key, in: query, valueSecret: hmac_key}
    body: {mode: keyValue, fields: {orderId: "{{ trigger.body.id }}", x: "{{ vars.x }}"}}
    outputs: {trackingId: tracking.id}
`)
	url := s.url + "/api/v1/flows/it-test-action/steps/ship/test"
	a := post(t, url, "application/json", `{"trigger": {"body": {"id": "S-1"}}, "vars": {"x": 5}}`, "Authorization", "Bearer "+writeKey)
	require.Equal(t, http.StatusOK, a.status, a.body)
	m := a.json(t)
	req := m["request"].(map[string]any)
	require.Equal(t, "POST", req["method"])
	require.Contains(t, req["url"], "key=%3Credacted%3E")
	require.Equal(t, map[string]any{"orderId": "S-1", "x": 5.0}, req["body"])
	resp := m["response"].(map[string]any)
	require.Equal(t, 200.0, resp["statusCode"])
	require.Equal(t, "T-5", resp["outputs"].(map[string]any)["trackingId"])
	require.NotContains(t, a.body, "generic-hmac-secret")
	require.Equal(t, "key=generic-hmac-secret", rcv.all()[0].query, "the receiver got the real key")

	// A receiver error is the result of the test, attempted once.
	a = post(t, url, "application/json", `{"trigger": {"body": {"id": "S-2"}}}`, "Authorization", "Bearer "+writeKey)
	require.Equal(t, http.StatusOK, a.status, a.body)
	e := a.json(t)["error"].(map[string]any)
	require.Equal(t, "HTTPServerError", e["type"])
	require.Equal(t, true, e["retryable"])
	require.Len(t, rcv.all(), 2, "no retries in a test action")
	require.NotEqual(t, rcv.all()[0].header.Get("Idempotency-Key"), rcv.all()[1].header.Get("Idempotency-Key"), "each test is its own delivery")

	for _, tc := range []struct {
		url, body string
		status    int
		code      string
	}{
		{s.url + "/api/v1/flows/nope/steps/ship/test", `{}`, 404, "not_found"},
		{s.url + "/api/v1/flows/it-test-action/steps/nope/test", `{}`, 404, "not_found"},
		{s.url + "/api/v1/flows/it-test-action/steps/prep/test", `{}`, 422, "not_testable"},
		{url, `{"trigger": {"body": {"id": "S-3"}}, "extra": 1}`, 400, "malformed_json"},
		{url, `{"vars": {"x": 1}}`, 422, "render_failed"},
	} {
		a := post(t, tc.url, "application/json", tc.body, "Authorization", "Bearer "+writeKey)
		require.Equal(t, tc.status, a.status, a.body)
		if tc.code != "" {
			require.Equal(t, tc.code, a.json(t)["error"])
		}
	}
	require.Equal(t, int64(0), s.settledCount("it-test-action", 0), "a test action records no run")
}

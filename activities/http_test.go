package activities_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/secrets"
)

var testSecrets = secrets.Env{Lookup: func(k string) (string, bool) {
	v, ok := map[string]string{
		"HOOKFLOW_SECRET_PW":     "basic-pw-value",
		"HOOKFLOW_SECRET_TOKEN":  "bearer-token-value",
		"HOOKFLOW_SECRET_APIKEY": "api-key-value",
		"HOOKFLOW_SECRET_HS":     "hubspot-app-secret",
		"HOOKFLOW_SECRET_SW":     "whsec_c2VjcmV0LWtleS1mb3Itc3RhbmRhcmQtd2ViaG9va3M=",
	}[k]
	return v, ok
}}

// captured is what a receiver saw.
type captured struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
	URI                    string
}

type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	seen []captured
	// answer writes the n-th (0-based) response.
	answer func(n int, w http.ResponseWriter)
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter)) *receiver {
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.seen)
		r.seen = append(r.seen, captured{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), b, "http://" + req.Host + req.URL.RequestURI()})
		r.mu.Unlock()
		if r.answer == nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true,"tracking":{"id":"T-1"}}`))
			return
		}
		r.answer(n, w)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) last(t *testing.T) captured {
	r.mu.Lock()
	defer r.mu.Unlock()
	require.NotEmpty(t, r.seen)
	return r.seen[len(r.seen)-1]
}

func deliverer(t *testing.T) *activities.Deliverer {
	allow, err := activities.ParseAllowlist([]string{"127.0.0.1"})
	require.NoError(t, err)
	return activities.NewDeliverer(activities.Config{Secrets: testSecrets, Allow: allow, MaxKeptBody: 1024,
		Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
}

// render builds a request the way the workflow does, from a step in YAML.
func render(t *testing.T, stepYAML string, env map[string]any) flow.HTTPRequest {
	t.Helper()
	f, err := flow.DecodeYAML([]byte("id: a\ntrigger: {}\nsteps:\n  - " + stepYAML + "\n"))
	require.NoError(t, err)
	if env == nil {
		env = map[string]any{expression.EnvTrigger: map[string]any{"body": map[string]any{"id": "A-1", "n": 2.0}}, expression.EnvVars: map[string]any{}, expression.EnvSteps: map[string]any{}, expression.EnvExecution: map[string]any{}}
	}
	req, err := f.Steps[0].Spec.(*flow.HTTP).Render(expression.NewEvaluator(), env)
	require.NoError(t, err)
	req.DeliveryID = "dlv_test_1"
	return *req
}

func appError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "want an ApplicationError, got %T %v", err, err)
	return ae
}

func TestMethodsAndBodyModes(t *testing.T) {
	rcv := newReceiver(t, nil)
	d := deliverer(t)
	ctx := context.Background()
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		_, err := send(d, ctx, render(t, `{id: s, type: http, method: `+m+`, url: "`+rcv.URL+`/orders", body: {mode: keyValue, fields: {orderId: "{{ trigger.body.id }}", fixed: 1}}}`, nil))
		require.NoError(t, err, m)
		got := rcv.last(t)
		require.Equal(t, m, got.Method)
		require.JSONEq(t, `{"orderId":"A-1","fixed":1}`, string(got.Body))
		require.Equal(t, "application/json", got.Header.Get("Content-Type"))
		require.Equal(t, "dlv_test_1", got.Header.Get("Idempotency-Key"))
	}

	// GET carries its data as query parameters.
	_, err := send(d, ctx, render(t, `{id: s, type: http, method: GET, baseUrl: "`+rcv.URL+`/api/", path: "/v1/deals", query: {status: open}, body: {mode: all}}`, nil))
	require.NoError(t, err)
	got := rcv.last(t)
	require.Equal(t, "/api/v1/deals", got.Path, "base URL and path join with one slash")
	require.Equal(t, "id=A-1&n=2&status=open", got.RawQuery)
	require.Empty(t, got.Body)

	// all: every property of the trigger body; raw: a JSON template.
	_, err = send(d, ctx, render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", body: {mode: all}, headers: {X-Custom: "v-{{ trigger.body.n }}"}}`, nil))
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"A-1","n":2}`, string(rcv.last(t).Body))
	require.Equal(t, "v-2", rcv.last(t).Header.Get("X-Custom"))
	_, err = send(d, ctx, render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", body: {mode: raw, raw: '{"order": "{{ trigger.body.id }}", "n": {{ trigger.body.n }}}'}}`, nil))
	require.NoError(t, err)
	require.JSONEq(t, `{"order":"A-1","n":2}`, string(rcv.last(t).Body))
}

func TestRawBodyMustRenderToJSON(t *testing.T) {
	f, err := flow.DecodeYAML([]byte(`{id: a, trigger: {}, steps: [{id: s, type: http, method: POST, url: "https://x.test", body: {mode: raw, raw: '{"a": {{ trigger.body.v }}}'}}]}`))
	require.NoError(t, err)
	env := map[string]any{expression.EnvTrigger: map[string]any{"body": map[string]any{"v": "not json"}}}
	_, err = f.Steps[0].Spec.(*flow.HTTP).Render(expression.NewEvaluator(), env)
	require.ErrorContains(t, err, "body.raw: the template rendered to invalid JSON")
}

func TestAuth(t *testing.T) {
	rcv := newReceiver(t, nil)
	d := deliverer(t)
	ctx := context.Background()
	send := func(auth string) captured {
		t.Helper()
		_, err := send(d, ctx, render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`/orders?x=1", auth: `+auth+`, body: {mode: keyValue, fields: {orderId: "A-1"}}}`, nil))
		require.NoError(t, err)
		return rcv.last(t)
	}
	got := send(`{type: basic, username: shop, passwordSecret: pw}`)
	u, p, ok := (&http.Request{Header: got.Header}).BasicAuth()
	require.True(t, ok)
	require.Equal(t, "shop", u)
	require.Equal(t, "basic-pw-value", p)

	got = send(`{type: bearer, tokenSecret: token}`)
	require.Equal(t, "Bearer bearer-token-value", got.Header.Get("Authorization"))

	got = send(`{type: apiKey, name: X-Api-Key, in: header, valueSecret: apikey}`)
	require.Equal(t, "api-key-value", got.Header.Get("X-Api-Key"))
	got = send(`{type: apiKey, name: api_key, in: query, valueSecret: apikey}`)
	require.Equal(t, "api_key=api-key-value&x=1", got.RawQuery)

	// Signatures: the receiver verifies each the way a receiver would,
	// from what it received.
	body := []byte(`{"orderId":"A-1"}`)
	got = send(`{type: signature, version: v1, secret: hs}`)
	require.Equal(t, "498f7c919f8dd12cfbee487cb8169f251232a4c57412337dba9ebe2173febbff", got.Header.Get("X-HubSpot-Signature"))
	require.Equal(t, "v1", got.Header.Get("X-HubSpot-Signature-Version"))

	got = send(`{type: signature, version: v2, secret: hs}`)
	sum := sha256.Sum256([]byte("hubspot-app-secret" + "POST" + got.URI + string(body)))
	require.Equal(t, hex.EncodeToString(sum[:]), got.Header.Get("X-HubSpot-Signature"))

	got = send(`{type: signature, version: v3, secret: hs}`)
	require.Equal(t, "1767225600000", got.Header.Get("X-HubSpot-Request-Timestamp"))
	m := hmac.New(sha256.New, []byte("hubspot-app-secret"))
	m.Write([]byte("POST" + got.URI + string(body) + "1767225600000"))
	require.Equal(t, base64.StdEncoding.EncodeToString(m.Sum(nil)), got.Header.Get("X-HubSpot-Signature-v3"))

	got = send(`{type: signature, version: standardWebhooks, secret: sw}`)
	require.Equal(t, "dlv_test_1", got.Header.Get("webhook-id"))
	require.Equal(t, "1767225600", got.Header.Get("webhook-timestamp"))
	require.Equal(t, "v1,w+kRMFesGnPCPc5FWuc9J1b59HQsS6yTafvnFpu7WE0=", got.Header.Get("webhook-signature"))
}

func TestStatusClassification(t *testing.T) {
	d := deliverer(t)
	ctx := context.Background()
	cases := []struct {
		status       int
		header       string
		errType      string
		nonRetryable bool
		delay        time.Duration
	}{
		{400, "", contract.ErrHTTPClient, true, 0},
		{404, "", contract.ErrHTTPClient, true, 0},
		{429, "2", contract.ErrTooManyRequests, false, 2 * time.Second},
		{429, "", contract.ErrTooManyRequests, false, 0},
		{500, "", contract.ErrHTTPServer, false, 0},
		{503, "", contract.ErrHTTPServer, false, 0},
		{302, "", contract.ErrHTTPRedirect, true, 0},
	}
	for _, tc := range cases {
		rcv := newReceiver(t, func(_ int, w http.ResponseWriter) {
			if tc.header != "" {
				w.Header().Set("Retry-After", tc.header)
			}
			w.Header().Set("Location", "/elsewhere")
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(`{"error":"x"}`))
		})
		_, err := send(d, ctx, render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`"}`, nil))
		ae := appError(t, err)
		require.Equal(t, tc.errType, ae.Type(), tc.status)
		require.Equal(t, tc.nonRetryable, ae.NonRetryable(), tc.status)
		require.Equal(t, tc.delay, ae.NextRetryDelay(), tc.status)
		var f contract.Failure
		require.NoError(t, ae.Details(&f))
		require.Equal(t, tc.status, f.StatusCode)
	}
}

func TestTimeoutsAndNetworkErrorsRetry(t *testing.T) {
	d := deliverer(t)
	slow := newReceiver(t, func(_ int, w http.ResponseWriter) { time.Sleep(500 * time.Millisecond) })
	_, err := send(d, context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+slow.URL+`", timeouts: {response: 100ms}}`, nil))
	ae := appError(t, err)
	require.Equal(t, contract.ErrNetwork, ae.Type())
	require.False(t, ae.NonRetryable())
	require.Contains(t, ae.Error(), "timed out")

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	_, err = send(d, context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+url+`"}`, nil))
	ae = appError(t, err)
	require.Equal(t, contract.ErrNetwork, ae.Type())
	require.False(t, ae.NonRetryable())
}

func TestDestinationGuard(t *testing.T) {
	rcv := newReceiver(t, nil)
	strict := activities.NewDeliverer(activities.Config{Secrets: testSecrets})
	_, err := send(strict, context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`"}`, nil))
	ae := appError(t, err)
	require.Equal(t, contract.ErrDestinationRefused, ae.Type())
	require.True(t, ae.NonRetryable())
	require.Contains(t, ae.Error(), "only https is allowed")

	https := httptest.NewTLSServer(http.NotFoundHandler())
	defer https.Close()
	_, err = send(strict, context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+https.URL+`"}`, nil))
	ae = appError(t, err)
	require.Equal(t, contract.ErrDestinationRefused, ae.Type())
	require.Contains(t, ae.Error(), "is a loopback address")
	require.Empty(t, rcv.seen, "nothing reached the receiver")

	// A host allowlisted by name may resolve to an internal address (a
	// container on a private network): "localhost" resolves to loopback.
	byName, err := activities.ParseAllowlist([]string{"localhost"})
	require.NoError(t, err)
	named := activities.NewDeliverer(activities.Config{Secrets: testSecrets, Allow: byName})
	local := strings.Replace(rcv.URL, "127.0.0.1", "localhost", 1)
	res, err := send(named, context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+local+`"}`, nil))
	require.NoError(t, err)
	require.Equal(t, 200, res.StatusCode)
	// The name's allowance is the name's: the same address by IP is refused.
	_, err = send(named, context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`"}`, nil))
	require.Equal(t, contract.ErrDestinationRefused, appError(t, err).Type())
}

func TestOutputs(t *testing.T) {
	rcv := newReceiver(t, nil)
	d := deliverer(t)
	res, err := send(d, context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", outputs: {trackingId: tracking.id, ok: ok}}`, nil))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"trackingId": "T-1", "ok": true}, res.Outputs)
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "application/json", res.Headers["content-type"])

	_, err = send(d, context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", outputs: {nope: tracking.missing}}`, nil))
	ae := appError(t, err)
	require.Equal(t, contract.ErrOutputMissing, ae.Type())
	require.True(t, ae.NonRetryable())
	require.Contains(t, ae.Error(), `output "nope": path "tracking.missing" is not in the response`)
}

func TestLargeResponsesAreCutInHistoryButOutputsReadTheWhole(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("x", 5000) + `","id":"end"}`
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) { _, _ = w.Write([]byte(big)) })
	res, err := send(deliverer(t), context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", outputs: {id: id}}`, nil))
	require.NoError(t, err)
	require.True(t, res.BodyTruncated)
	require.Len(t, res.Body.(string), 1024)
	require.Equal(t, "end", res.Outputs["id"])
}

func TestKeepBodyBoundsWhatReturnsIntoHistory(t *testing.T) {
	rcv := newReceiver(t, nil)
	d := deliverer(t)
	req := render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", outputs: {trackingId: tracking.id}}`, nil)

	none := 0
	req.KeepBody = &none
	res, err := send(d, context.Background(), req)
	require.NoError(t, err)
	require.Nil(t, res.Body, "no later step reads it: nothing of the body in history")
	require.Nil(t, res.Headers)
	require.Equal(t, "T-1", res.Outputs["trackingId"], "outputs still read the whole body")
	require.Equal(t, 200, res.StatusCode)

	some := 5
	req.KeepBody = &some
	res, err = send(d, context.Background(), req)
	require.NoError(t, err)
	require.True(t, res.BodyTruncated)
	require.Len(t, res.Body.(string), 5)

	lots := 1 << 20
	req.KeepBody = &lots
	res, err = send(d, context.Background(), req)
	require.NoError(t, err)
	require.IsType(t, map[string]any{}, res.Body, "within the worker's limit (1 KiB here) the body is kept whole")
}

func TestSecretsNeverInErrors(t *testing.T) {
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(401) })
	_, err := send(deliverer(t), context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", auth: {type: apiKey, name: key, in: query, valueSecret: apikey}}`, nil))
	require.Error(t, err)
	b, _ := json.Marshal(err)
	require.NotContains(t, err.Error()+string(b), "api-key-value")

	// A transport error quotes the URL in Go; the query holds the key.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	_, err = send(deliverer(t), context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+closedURL+`", auth: {type: apiKey, name: key, in: query, valueSecret: apikey}}`, nil))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "api-key-value")

	_, err = send(deliverer(t), context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", auth: {type: bearer, tokenSecret: unknown_secret}}`, nil))
	ae := appError(t, err)
	require.Equal(t, contract.ErrSecretUnavailable, ae.Type())
	require.False(t, ae.NonRetryable(), "an operator may add the secret; pending deliveries then go through")
}

func send(d *activities.Deliverer, ctx context.Context, req flow.HTTPRequest) (*contract.Result, error) {
	res, _, err := d.Send(ctx, req)
	return res, err
}

func TestSentIsRedacted(t *testing.T) {
	rcv := newReceiver(t, nil)
	d := deliverer(t)
	_, sent, err := d.Send(context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", auth: {type: apiKey, name: key, in: query, valueSecret: apikey}}`, nil))
	require.NoError(t, err)
	require.Contains(t, sent.URL, "key=%3Credacted%3E")
	require.Equal(t, "key=api-key-value", rcv.last(t).RawQuery, "the receiver got the real key")
	_, sent, err = d.Send(context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", auth: {type: bearer, tokenSecret: token}}`, nil))
	require.NoError(t, err)
	require.Equal(t, activities.Redacted, sent.Headers["Authorization"])
	_, sent, err = d.Send(context.Background(), render(t, `{id: s, type: http, method: POST, url: "`+rcv.URL+`", auth: {type: apiKey, name: X-Key, in: header, valueSecret: apikey}}`, nil))
	require.NoError(t, err)
	require.Equal(t, activities.Redacted, sent.Headers["X-Key"])
	require.NotContains(t, toJSON(sent), "api-key-value")
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A delivery's log line names its destination without the query string,
// where templates put trigger data and apiKey auth puts the key.
func TestDeliveryLogLeavesTheQueryOut(t *testing.T) {
	rcv := newReceiver(t, nil)
	var logs strings.Builder
	allow, err := activities.ParseAllowlist([]string{"127.0.0.1"})
	require.NoError(t, err)
	h := activities.NewDeliverer(activities.Config{Secrets: testSecrets, Allow: allow,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	req := render(t, `{id: s, type: http, method: GET, url: "`+rcv.URL+`/customers", query: {email: "jane@example.com"}, auth: {type: apiKey, name: key, in: query, valueSecret: apikey}}`, nil)
	_, err = h.Deliver(context.Background(), req)
	require.NoError(t, err)
	require.Contains(t, rcv.last(t).RawQuery, "email=jane%40example.com", "the receiver got the query")
	require.Contains(t, logs.String(), "destination="+rcv.URL+"/customers ")
	require.NotContains(t, logs.String(), "jane")
	require.NotContains(t, logs.String(), "api-key-value")
}

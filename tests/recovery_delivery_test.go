//go:build !nodev

package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
)

const resultFlows = `
id: it-result
trigger: {mode: sync, timeout: 1s, onTimeout: accepted, auth: {basic: {username: shop, passwordSecret: shop_pw}}}
steps:
  - id: slow
    type: condition
    if: trigger.body.slow == true
    then: [{id: wait, type: delay, duration: 3s}]
  - {id: reply, type: response, status: 201, headers: {X-Order: "{{ trigger.body.id }}"}, body: {accepted: true, order: "{{ trigger.body.id }}"}}
---
id: it-result-fail
trigger: {mode: sync, timeout: 1s, onTimeout: accepted, auth: {github: {secret: gh_key}}}
steps:
  - {id: wait, type: delay, duration: 2s}
  - {id: bad, type: end, status: failure, message: "internal reason 7"}
---
id: it-result-504
trigger: {mode: sync, timeout: 1s}
steps:
  - {id: wait, type: delay, duration: 2s}
  - {id: reply, type: response, body: late}
`

// A sync call past its budget on a trigger with onTimeout: accepted gets
// 202 and a result URL; the URL answers 202 while the run has not
// answered, then exactly what the sync caller would have received.
func TestSyncResultURL(t *testing.T) {
	s := setup(t, strings.Split(resultFlows, "---")...)
	auth := []string{"Authorization", basicAuthHeader("shop", "hunter2-shop")}

	// The answer a caller within the budget gets, to compare with.
	fast := post(t, s.hookURL("it-result"), "application/json", `{"id":"A-1","slow":false}`, auth...)
	require.Equal(t, http.StatusCreated, fast.status, fast.body)

	// An idempotency key with a '/' makes an execution id with one: the
	// result URL escapes it.
	a := post(t, s.hookURL("it-result"), "application/json", `{"id":"A-1","slow":true}`, append(auth, "Idempotency-Key", "evt/1")...)
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	require.Equal(t, "it-result:evt/1", id)
	m := a.json(t)
	require.Equal(t, id, m["executionId"])
	resultURL := m["resultUrl"].(string)
	require.Equal(t, resultURL, a.header.Get("Location"))
	require.Equal(t, s.hookURL("it-result")+"/results/"+url.PathEscape(id), resultURL)

	// Protected like the trigger: its token and its basic auth.
	r := send(t, "GET", resultURL, "")
	require.Equal(t, http.StatusUnauthorized, r.status, r.body)
	require.NotEmpty(t, r.header.Get("WWW-Authenticate"))
	r = send(t, "GET", resultURL, "", "Authorization", basicAuthHeader("shop", "wrong"))
	require.Equal(t, http.StatusUnauthorized, r.status, r.body)
	r = send(t, "GET", s.url+"/hooks/no-such-token-000000000000000/results/"+url.PathEscape(id), "", auth...)
	require.Equal(t, http.StatusNotFound, r.status, r.body)
	// Another flow's token does not open this flow's executions.
	r = send(t, "GET", s.hookURL("it-result-fail")+"/results/"+url.PathEscape(id), "")
	require.Equal(t, http.StatusNotFound, r.status, r.body)
	r = send(t, "GET", s.hookURL("it-result")+"/results/it-result:nope", "", auth...)
	require.Equal(t, http.StatusNotFound, r.status, r.body)
	r = send(t, "GET", resultURL+"?wait=2m", "", auth...)
	require.Equal(t, http.StatusBadRequest, r.status, r.body)
	require.Equal(t, "query.wait", r.json(t)["path"])
	r = send(t, "GET", resultURL+"?timeout=5s", "", auth...)
	require.Equal(t, http.StatusBadRequest, r.status, r.body)
	require.Equal(t, "query.timeout", r.json(t)["path"])

	// Not answered yet: 202, at once without wait.
	start := time.Now()
	r = send(t, "GET", resultURL, "", auth...)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Less(t, time.Since(start), 1900*time.Millisecond)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.Equal(t, id, r.header.Get(api.HeaderExecutionID))
	require.Equal(t, "running", r.json(t)["status"])

	// A long poll gets the response step's answer, as the sync caller
	// would have: status, headers, body.
	r = send(t, "GET", resultURL+"?wait=10s", "", auth...)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	require.Equal(t, "A-1", r.header.Get("X-Order"))
	require.Equal(t, fast.header.Get("Content-Type"), r.header.Get("Content-Type"))
	require.Equal(t, fast.body, r.body)
	require.Equal(t, id, r.header.Get(api.HeaderExecutionID))

	// And again once the run has closed.
	_, err := s.result(id)
	require.NoError(t, err)
	r = send(t, "GET", resultURL, "", auth...)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	require.Equal(t, fast.body, r.body)
	require.Equal(t, "A-1", r.header.Get("X-Order"))

	// A signature-only trigger: the token is the result URL's credential.
	// A run that fails answers 500 as the sync path does, no internals.
	body := `{"n":1}`
	a = post(t, s.hookURL("it-result-fail"), "application/json", body, "X-Hub-Signature-256", "sha256="+hexHMAC("gh-webhook-secret", body))
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	failURL := a.json(t)["resultUrl"].(string)
	r = send(t, "GET", failURL+"?wait=10s", "")
	require.Equal(t, http.StatusInternalServerError, r.status, r.body)
	require.Equal(t, map[string]any{"error": "the flow failed", "executionId": a.header.Get(api.HeaderExecutionID)}, r.json(t))
	require.NotContains(t, r.body, "internal reason 7")

	// Without onTimeout the caller still gets 504.
	a = post(t, s.hookURL("it-result-504"), "application/json", `{}`)
	require.Equal(t, http.StatusGatewayTimeout, a.status, a.body)
	require.Empty(t, a.header.Get("Location"))
}

// countRedeliveries is how many redeliveries of an execution visibility
// knows.
func (s *stack) countRedeliveries(id string) int64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: "default",
		Query:     fmt.Sprintf("%s = %q", contract.SearchAttrRedeliveryOf.GetName(), id),
	})
	require.NoError(s.t, err)
	return resp.GetCount()
}

// Redeliver one send of a closed run with the same and with a new
// idempotency key; each redelivery is listed on the execution; bad input
// is refused, naming what is wrong, and starts nothing.
func TestRedeliverASend(t *testing.T) {
	rcv := newReceiver(t, okJSON(`{"ok":true}`))
	s := setup(t, `
id: it-redeliver
trigger: {}
steps:
  - {id: first, type: http, method: POST, url: "`+rcv.URL+`/first", body: {mode: keyValue, fields: {n: 1}}}
  - id: ship
    type: http
    method: POST
    url: "`+rcv.URL+`/orders"
    auth: {type: bearer, tokenSecret: gh_key}
    body: {mode: keyValue, fields: {orderId: "{{ trigger.body.id }}"}}
    retry: {initialInterval: 100ms, maximumAttempts: 3}
    outputs: {ok: ok}
`)
	a := post(t, s.hookURL("it-redeliver"), "application/json", `{"id":"R-1"}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	_, err := s.result(id)
	require.NoError(t, err)
	require.Len(t, rcv.all(), 2)
	orig := rcv.all()[1]
	dlv := s.stepLog(id).Steps[1].Delivery.DeliveryID
	require.Equal(t, dlv, orig.header.Get("Idempotency-Key"))
	base := s.url + "/api/v1/executions/" + url.PathEscape(id)
	path := base + "/deliveries/" + dlv + "/redeliver"
	write := []string{"Authorization", "Bearer " + writeKey}

	// Bad input: clear errors, nothing started.
	for _, tc := range []struct {
		target, body, key string
		status            int
		code, path, says  string
	}{
		{path, "", readKey, 403, "", "", ""},
		{s.url + "/api/v1/executions/it-redeliver:nope/deliveries/" + dlv + "/redeliver", "", writeKey, 404, "not_found", "", "no such execution"},
		{base + "/deliveries/dlv_nope/redeliver", "", writeKey, 404, "not_found", "deliveryId", `"dlv_nope"`},
		{path, `{"idempotencyKey":"maybe"}`, writeKey, 422, "invalid_request", "body.idempotencyKey", `"same"`},
		{path, `{"idempotencyKey":true}`, writeKey, 422, "invalid_request", "body.idempotencyKey", ""},
		{path, `{"idempotencyKey":"new","force":1}`, writeKey, 422, "invalid_request", "body.force", "unknown field"},
		{path, `{"idempotencyKey":`, writeKey, 400, "malformed_json", "", ""},
		{path + "?key=new", "", writeKey, 400, "unknown_parameter", "query.key", ""},
	} {
		r := send(t, "POST", tc.target, tc.body, "Authorization", "Bearer "+tc.key)
		require.Equal(t, tc.status, r.status, "%s %s: %s", tc.target, tc.body, r.body)
		if tc.code != "" {
			e := r.json(t)
			require.Equal(t, tc.code, e["error"], r.body)
			require.Contains(t, e["detail"], tc.says)
			if tc.path != "" {
				require.Equal(t, tc.path, e["path"], r.body)
			}
		}
	}

	// Same key: the receiver sees the original Idempotency-Key again, and
	// the same request (the worker resolves the secret again).
	r := send(t, "POST", path, "", write...)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	m := r.json(t)
	first := id + "/redeliver/" + dlv + "/1"
	require.Equal(t, first, m["executionId"])
	require.Equal(t, dlv, m["idempotencyKey"])
	require.Eventually(t, func() bool { return len(rcv.all()) == 3 }, 15*time.Second, 20*time.Millisecond)
	again := rcv.all()[2]
	require.Equal(t, dlv, again.header.Get("Idempotency-Key"))
	require.Equal(t, orig.body, again.body)
	require.Equal(t, "Bearer gh-webhook-secret", again.header.Get("Authorization"))

	// A new key: <deliveryId>-r<n>.
	r = send(t, "POST", path, `{"idempotencyKey":"new"}`, write...)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	m = r.json(t)
	second := id + "/redeliver/" + dlv + "/2"
	require.Equal(t, second, m["executionId"])
	require.Equal(t, dlv+"-r2", m["idempotencyKey"])
	require.Eventually(t, func() bool { return len(rcv.all()) == 4 }, 15*time.Second, 20*time.Millisecond)
	require.Equal(t, dlv+"-r2", rcv.all()[3].header.Get("Idempotency-Key"))
	require.Equal(t, orig.body, rcv.all()[3].body)

	// Each is listed on the (closed) execution, with its outcome.
	var reds []any
	require.Eventually(t, func() bool {
		r := send(t, "GET", base, "", "Authorization", "Bearer "+readKey)
		require.Equal(t, http.StatusOK, r.status, r.body)
		reds, _ = r.json(t)["redeliveries"].([]any)
		if len(reds) != 2 {
			return false
		}
		for _, x := range reds {
			if x.(map[string]any)["status"] != "completed" {
				return false
			}
		}
		return true
	}, 15*time.Second, 100*time.Millisecond, "redeliveries never listed as completed")
	for i, want := range []struct{ id, key string }{{first, dlv}, {second, dlv + "-r2"}} {
		x := reds[i].(map[string]any)
		require.Equal(t, want.id, x["executionId"])
		require.Equal(t, dlv, x["deliveryId"])
		require.Equal(t, want.key, x["idempotencyKey"])
		require.Equal(t, 200.0, x["statusCode"])
		require.Equal(t, 1.0, x["attempts"])
	}

	// The errors above started nothing; no secret in a redelivery's
	// history or the answers.
	require.Equal(t, int64(2), s.countRedeliveries(id))
	require.Len(t, rcv.all(), 4)
	hist := historyText(t, s, first)
	require.Contains(t, hist, `"tokenSecret":"gh_key"`, "the request names its secret")
	require.NotContains(t, hist+r.body, "gh-webhook-secret")
}

// With payload encryption on, the delivery's request in history is
// ciphertext: an API given the client's data converter decodes it.
// apiWithCodec is an API over s's encrypted stack that decodes what it
// reads from history with s's codec, as `hookflow api` with codec keys.
func (s *observedStack) apiWithCodec(t *testing.T) *httptest.Server {
	cfg := testAPIConfig(nil)
	cfg.DataConverter = converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), s.codec)
	hs := httptest.NewServer(api.New(s.client, s.cat, testLog, cfg).Handler())
	t.Cleanup(hs.Close)
	return hs
}

func TestRedeliverWithEncryptedPayloads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own embedded server")
	}
	rcv := newReceiver(t, okJSON(`{}`))
	s := setupObserved(t, `
id: it-redeliver-enc
trigger: {}
steps:
  - {id: ship, type: http, method: POST, url: "`+rcv.URL+`/orders", body: {mode: keyValue, fields: {orderId: "{{ trigger.body.id }}"}}}
`)
	hs := s.apiWithCodec(t)

	a := post(t, s.hookURL("it-redeliver-enc"), "application/json", `{"id":"E-1"}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	_, err := s.result(id)
	require.NoError(t, err)
	dlv := s.stepLog(id).Steps[0].Delivery.DeliveryID
	require.NotContains(t, historyText(t, s.stack, id), dlv, "history holds the request encrypted")

	path := "/api/v1/executions/" + url.PathEscape(id) + "/deliveries/" + dlv + "/redeliver"
	// Without the codec the API cannot read the request: it says so and
	// starts nothing.
	r := send(t, "POST", s.url+path, "", "Authorization", "Bearer "+writeKey)
	require.Equal(t, http.StatusInternalServerError, r.status, r.body)
	require.Equal(t, "misconfigured", r.json(t)["error"])

	r = send(t, "POST", hs.URL+path, `{"idempotencyKey":"new"}`, "Authorization", "Bearer "+writeKey)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Eventually(t, func() bool { return len(rcv.all()) == 2 }, 15*time.Second, 20*time.Millisecond)
	require.Equal(t, dlv+"-r1", rcv.all()[1].header.Get("Idempotency-Key"))
	require.JSONEq(t, `{"orderId":"E-1"}`, rcv.all()[1].body)
	require.Eventually(t, func() bool {
		r := send(t, "GET", hs.URL+"/api/v1/executions/"+url.PathEscape(id), "", "Authorization", "Bearer "+readKey)
		reds, _ := r.json(t)["redeliveries"].([]any)
		return len(reds) == 1 && reds[0].(map[string]any)["idempotencyKey"] == dlv+"-r1" && reds[0].(map[string]any)["status"] == "completed"
	}, 15*time.Second, 100*time.Millisecond)
}

// A send refused for good on its local first attempt ends the run there;
// with encrypted payloads, resume still finds that attempt (it reads the
// marker with the codec) and sends it again with the same key.
func TestResumeWithEncryptedPayloads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own embedded server")
	}
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		okJSON(`{}`)(n, w)
	})
	s := setupObserved(t, `
id: it-resume-enc
trigger: {}
steps:
  - {id: ship, type: http, method: POST, url: "`+rcv.URL+`/orders", body: {mode: keyValue, fields: {orderId: "{{ trigger.body.id }}"}}}
`)
	hs := s.apiWithCodec(t)

	a := post(t, s.hookURL("it-resume-enc"), "application/json", `{"id":"E-2"}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	_, err := s.result(id)
	require.Error(t, err, "the first attempt's 400 fails the run")
	require.Len(t, rcv.all(), 1)

	r := send(t, "POST", hs.URL+"/api/v1/executions/"+url.PathEscape(id)+"/resume", `{"reason":"receiver fixed"}`, "Authorization", "Bearer "+writeKey)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Eventually(t, func() bool { return len(rcv.all()) == 2 }, 15*time.Second, 20*time.Millisecond)
	hits := rcv.all()
	require.Equal(t, hits[0].header.Get("Idempotency-Key"), hits[1].header.Get("Idempotency-Key"), "the resumed send keeps its key")
	require.JSONEq(t, `{"orderId":"E-2"}`, hits[1].body)
	require.Eventually(t, func() bool {
		res, err := s.result(id)
		return err == nil && res.Status == "succeeded"
	}, 15*time.Second, 100*time.Millisecond)
}

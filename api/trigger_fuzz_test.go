package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/secrets"
)

// fakeTemporal stands in for the Temporal client at the API's seam, so the
// fuzzer can send thousands of requests a second. The real path (embedded
// server, real worker) is covered by tests/. Methods not overridden panic
// through the nil embedded interface, which the fuzzer would report.
type fakeTemporal struct {
	sdkclient.Client
	starts atomic.Int64
}

func (f *fakeTemporal) ExecuteWorkflow(context.Context, sdkclient.StartWorkflowOptions, any, ...any) (sdkclient.WorkflowRun, error) {
	f.starts.Add(1)
	return nil, nil
}

func (f *fakeTemporal) NewWithStartWorkflowOperation(sdkclient.StartWorkflowOptions, any, ...any) sdkclient.WithStartWorkflowOperation {
	return nil
}

func (f *fakeTemporal) UpdateWithStartWorkflow(context.Context, sdkclient.UpdateWithStartWorkflowOptions) (sdkclient.WorkflowUpdateHandle, error) {
	f.starts.Add(1)
	return fakeHandle{}, nil
}

type fakeHandle struct{}

func (fakeHandle) WorkflowID() string { return "w" }
func (fakeHandle) RunID() string      { return "r" }
func (fakeHandle) UpdateID() string   { return "u" }
func (fakeHandle) Get(_ context.Context, v any) error {
	*v.(*contract.Response) = contract.Response{Status: 201, Headers: map[string]string{"X-A": "b"}, Body: map[string]any{"ok": true}}
	return nil
}

var fuzzFlows = []string{
	`{id: f-plain, trigger: {token: tok-plain-aaaaaaaaaaaaaaaaaa}, steps: [{id: s, type: set, values: {x: 1}}]}`,
	`{id: f-sync, trigger: {mode: sync, token: tok-sync-aaaaaaaaaaaaaaaaaaa}, steps: [{id: r, type: response}]}`,
	`{id: f-basic, trigger: {token: tok-basic-aaaaaaaaaaaaaaaaaa, auth: {basic: {username: u, passwordSecret: pw}}}, steps: [{id: s, type: set, values: {x: 1}}]}`,
	`{id: f-sw, trigger: {token: tok-sw-aaaaaaaaaaaaaaaaaaaaa, auth: {standardWebhooks: {secret: key}}, idempotencyKey: {header: webhook-id}}, steps: [{id: s, type: set, values: {x: 1}}]}`,
	`{id: f-gh, trigger: {token: tok-gh-aaaaaaaaaaaaaaaaaaaaa, auth: {github: {secret: key}}}, steps: [{id: s, type: set, values: {x: 1}}]}`,
	`{id: f-hmac, trigger: {token: tok-hmac-aaaaaaaaaaaaaaaaaaa, auth: {hmac: {secret: key, header: X-Sig, encoding: base64, timestampHeader: X-Ts}}}, steps: [{id: s, type: set, values: {x: 1}}]}`,
	`{id: f-parse, trigger: {token: tok-parse-aaaaaaaaaaaaaaaaaa, idempotencyKey: {body: id}, enroll: {if: "trigger.n > 1"}, parse: {headers: [{name: X-N, alias: hn, type: number}], query: [{path: a.0.b, alias: qb, type: boolean}], body: [{path: n, type: number}, {path: s, type: enum, options: [x, y], required: true}]}}, steps: [{id: s, type: set, values: {x: 1}}]}`,
}

var fuzzTokens = []string{"tok-plain-aaaaaaaaaaaaaaaaaa", "tok-sync-aaaaaaaaaaaaaaaaaaa", "tok-basic-aaaaaaaaaaaaaaaaaa",
	"tok-sw-aaaaaaaaaaaaaaaaaaaaa", "tok-gh-aaaaaaaaaaaaaaaaaaaaa", "tok-hmac-aaaaaaaaaaaaaaaaaaa", "tok-parse-aaaaaaaaaaaaaaaaaa", "unknown"}

func fuzzHandler(t testing.TB) (http.Handler, *fakeTemporal) {
	var entries []*flow.Entry
	for _, y := range fuzzFlows {
		f, err := flow.DecodeYAML([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, &flow.Entry{Flow: f, Version: 1, Token: f.Trigger.Token, Source: f.ID})
	}
	cat, err := flow.NewCatalog(entries...)
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeTemporal{}
	sec := secrets.Env{Lookup: func(k string) (string, bool) {
		return map[string]string{"HOOKFLOW_SECRET_PW": "pw", "HOOKFLOW_SECRET_KEY": "whsec_c2VjcmV0"}[k], true
	}}
	return api.New(fake, cat, slog.New(slog.DiscardHandler), api.Config{MaxBodyBytes: 4096, Secrets: sec}).Handler(), fake
}

// FuzzTrigger sends arbitrary requests to every kind of trigger. Whatever
// the input, the API must not panic and must not answer 500 (every bad input
// is the caller's, and gets a 4xx). Run longer with:
//
//	go test ./api -run '^$' -fuzz FuzzTrigger -fuzztime 5m
func FuzzTrigger(f *testing.F) {
	h, _ := fuzzHandler(f)
	f.Add(uint8(0), "POST", "application/json", "", "", []byte(`{"a":1}`))
	f.Add(uint8(1), "POST", "application/json; charset=utf-8", "", "", []byte(`[1,2]`))
	f.Add(uint8(2), "POST", "application/json", "Authorization: Basic dTpwdw==", "", []byte(`{}`))
	f.Add(uint8(3), "POST", "application/json", "webhook-id: m1\nwebhook-timestamp: 1\nwebhook-signature: v1,AAAA v2,x", "", []byte(`{}`))
	f.Add(uint8(4), "POST", "application/json", "X-Hub-Signature-256: sha256=zz", "", []byte(`{}`))
	f.Add(uint8(5), "POST", "application/json", "X-Sig: !!!\nX-Ts: -5", "", []byte(`{}`))
	f.Add(uint8(6), "POST", "application/json", "X-N: 3", "a[0].b=true&a[1000]=1", []byte(`{"id":"e1","n":2,"s":"x"}`))
	f.Add(uint8(6), "POST", "application/json", "X-N: nan", "a[0][0]=1&a.b=2&%zz", []byte(`{"id":{"x":1},"n":"2"}`))
	f.Add(uint8(0), "GET", "text/plain", "Content-Type: application/json", "", []byte(`{`))
	f.Add(uint8(7), "PUT", "", "", "", []byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, which uint8, method, contentType, headers, query string, body []byte) {
		token := fuzzTokens[int(which)%len(fuzzTokens)]
		if method == "" || strings.ContainsAny(method, " \t\r\n/()<>@,;:\\\"[]?={}") {
			method = http.MethodPost
		}
		req, err := http.NewRequest(method, "/hooks/"+token, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", contentType)
		for _, line := range strings.Split(headers, "\n") {
			k, v, ok := strings.Cut(line, ":")
			if ok && k != "" && !strings.ContainsAny(k, " \t\r:") {
				req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s?%s (%q, headers %q): %d %s", method, token, query, contentType, headers, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("error without the JSON error shape: %d %q", rec.Code, rec.Body.String())
		}
	})
}

// TestRejectionsStartNothing checks, at the seam, that no rejected request
// reaches Temporal (tests/ proves the same with a visibility count).
func TestRejectionsStartNothing(t *testing.T) {
	h, fake := fuzzHandler(t)
	for _, tc := range []struct {
		token, ct, body string
		status          int
	}{
		{"unknown", "application/json", `{}`, 404},
		{"tok-plain-aaaaaaaaaaaaaaaaaa", "text/plain", `{}`, 415},
		{"tok-plain-aaaaaaaaaaaaaaaaaa", "application/json", `{`, 400},
		{"tok-plain-aaaaaaaaaaaaaaaaaa", "application/json", `{"x":"` + strings.Repeat("a", 5000) + `"}`, 413},
		{"tok-basic-aaaaaaaaaaaaaaaaaa", "application/json", `{}`, 401},
		{"tok-parse-aaaaaaaaaaaaaaaaaa", "application/json", `{"id":"e","n":5}`, 422},
	} {
		req := httptest.NewRequest(http.MethodPost, "/hooks/"+tc.token, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ct)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Fatalf("%s: got %d %s, want %d", tc.token, rec.Code, rec.Body.String(), tc.status)
		}
	}
	if n := fake.starts.Load(); n != 0 {
		t.Fatalf("rejected requests started %d runs", n)
	}
}

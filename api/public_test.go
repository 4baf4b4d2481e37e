package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/secrets"
)

// Handler tests of the public surface's refusals: the triggers of
// fuzzFlows, result URLs and resume links on api.Public alone, with the
// fake Temporal client of the fuzz test at the seam (tests/ runs the same
// refusals end to end). No refusal reaches Temporal.
func TestThePublicSurfaceRefusesBadRequestsNamingWhatIsWrong(t *testing.T) {
	var entries []*flow.Entry
	for _, y := range fuzzFlows {
		f, err := flow.DecodeYAML([]byte(y))
		require.NoError(t, err)
		entries = append(entries, &flow.Entry{Flow: f, Version: 1, Token: f.Trigger.Token, Source: f.ID})
	}
	cat, err := flow.NewCatalog(entries...)
	require.NoError(t, err)
	resumeKey := "resume-key-0123456789abcdef"
	sec := secrets.Env{Lookup: func(k string) (string, bool) {
		v, ok := map[string]string{"HOOKFLOW_SECRET_PW": "pw", "HOOKFLOW_SECRET_KEY": "whsec_c2VjcmV0", "HOOKFLOW_SECRET_RESUME_KEY": resumeKey}[k]
		return v, ok
	}}
	fake := &fakeTemporal{}
	h := api.NewPublic(fake, cat, slog.New(slog.DiscardHandler), api.PublicConfig{MaxBodyBytes: 4096, Secrets: sec}).Handler()
	expired := activities.SignResumeToken([]byte(resumeKey), activities.ResumeClaim{ExecutionID: "f-plain:e1", StepID: "w", Action: contract.ActionResume, Expires: time.Now().Add(-time.Minute).Unix()})
	forged := activities.SignResumeToken([]byte("another-key-0123456789abcdef"), activities.ResumeClaim{ExecutionID: "f-plain:e1", StepID: "w", Action: contract.ActionResume, Expires: time.Now().Add(time.Hour).Unix()})

	const plain, sync, basic, sw, parse = "/hooks/tok-plain-aaaaaaaaaaaaaaaaaa", "/hooks/tok-sync-aaaaaaaaaaaaaaaaaaa",
		"/hooks/tok-basic-aaaaaaaaaaaaaaaaaa", "/hooks/tok-sw-aaaaaaaaaaaaaaaaaaaaa", "/hooks/tok-parse-aaaaaaaaaaaaaaaaaa"
	cases := []struct {
		name           string
		method, target string
		ct, body       string
		headers        map[string]string
		status         int
		code, path     string
		header         [2]string // one header the answer must carry
	}{
		{name: "an unknown trigger token is 404", method: "POST", target: "/hooks/tok-unknown-aaaaaaaaaaaaaaa", ct: "application/json", body: `{}`, status: 404, code: "not_found"},
		{name: "a GET of a trigger URL is 405 allowing POST", method: "GET", target: plain, status: 405, code: "method_not_allowed", header: [2]string{"Allow", "POST"}},
		{name: "a trigger without its basic credentials is 401 naming Authorization", method: "POST", target: basic, ct: "application/json", body: `{}`, status: 401, code: "unauthorized", path: "headers.Authorization", header: [2]string{"WWW-Authenticate", `Basic realm="hookflow", charset="UTF-8"`}},
		{name: "a trigger body sent as text/plain is 415 naming the content type", method: "POST", target: plain, ct: "text/plain", body: `{}`, status: 415, code: "unsupported_media_type", path: "headers.Content-Type"},
		{name: "a trigger body past the limit is 413", method: "POST", target: plain, ct: "application/json", body: `{"x":"` + strings.Repeat("a", 5000) + `"}`, status: 413, code: "payload_too_large"},
		{name: "an unsigned request to a signed trigger is 401 naming the missing header", method: "POST", target: sw, ct: "application/json", body: `{}`, status: 401, code: "missing_signature", path: "headers.webhook-id"},
		{name: "a stale signature timestamp is 401 naming its header", method: "POST", target: sw, ct: "application/json", body: `{}`, headers: map[string]string{"webhook-id": "m1", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"}, status: 401, code: "stale_timestamp", path: "headers.webhook-timestamp"},
		{name: "a trigger body that is not JSON is 400", method: "POST", target: plain, ct: "application/json", body: `{"a":`, status: 400, code: "malformed_json"},
		{name: "an empty trigger body is 400", method: "POST", target: plain, ct: "application/json", body: ``, status: 400, code: "malformed_json"},
		{name: "a parsed value of the wrong type is 422 naming its path", method: "POST", target: parse, ct: "application/json", body: `{"id":"e1","n":"two","s":"x"}`, status: 422, code: "invalid_trigger_data", path: "body.n"},
		{name: "a request without the event id the trigger takes is 422 naming where", method: "POST", target: parse, ct: "application/json", body: `{"n":2,"s":"x"}`, status: 422, code: "missing_idempotency_key", path: "body.id"},
		{name: "an idempotency key of control characters is 400 naming the header", method: "POST", target: plain, ct: "application/json", body: `{}`, headers: map[string]string{"Idempotency-Key": "a\x01b"}, status: 400, code: "invalid_idempotency_key", path: "headers.Idempotency-Key"},
		{name: "the result URL of an unknown token is 404", method: "GET", target: "/hooks/tok-unknown-aaaaaaaaaaaaaaa/results/x:1", status: 404, code: "not_found"},
		{name: "the result URL of an async trigger is 404", method: "GET", target: plain + "/results/f-plain:1", status: 404, code: "not_found"},
		{name: "a result wait past a minute is 400 naming wait", method: "GET", target: sync + "/results/f-sync:1?wait=5m", status: 400, code: "bad_request", path: "query.wait"},
		{name: "a result URL with an unknown query parameter is 400 naming it", method: "GET", target: sync + "/results/f-sync:1?timeout=5", status: 400, code: "unknown_parameter", path: "query.timeout"},
		{name: "the result URL of another flow's execution is 404", method: "GET", target: sync + "/results/f-plain:1", status: 404, code: "not_found"},
		{name: "a resume link not signed by this deployment is 404", method: "GET", target: "/hooks/resume/" + forged, status: 404, code: "not_found"},
		{name: "a resume link that is not a token is 404", method: "POST", target: "/hooks/resume/nope", ct: "application/json", body: `{}`, status: 404, code: "not_found"},
		{name: "an expired resume link is 410", method: "POST", target: "/hooks/resume/" + expired, ct: "application/json", body: `{}`, status: 410, code: "expired"},
		{name: "an admin route is not on the public surface", method: "GET", target: "/api/v1/flows", status: 404, code: "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			if tc.ct != "" {
				req.Header.Set("Content-Type", tc.ct)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			var e api.Error
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), rec.Body.String())
			require.Equal(t, tc.code, e.Code, rec.Body.String())
			require.Equal(t, tc.path, e.Path, rec.Body.String())
			require.NotEmpty(t, e.Detail)
			if tc.header[0] != "" {
				require.Equal(t, tc.header[1], rec.Header().Get(tc.header[0]))
			}
		})
	}
	require.Zero(t, fake.starts.Load(), "no refused request started a run")
}

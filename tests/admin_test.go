//go:build !nodev

package tests

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
)

// adminStack is an API backed by a flow store (SQLite in a temp dir).
type adminStack struct {
	*stack
	store *store.Store
	cache *store.Cache
}

func setupAdmin(t *testing.T) *adminStack {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "hookflow.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cache, err := store.NewCache(ctx, st, time.Hour, testLog)
	require.NoError(t, err)
	srv := httptest.NewServer(api.New(shared.client, cache, testLog, testAPIConfig(&api.Admin{Store: st, Cache: cache})).Handler())
	t.Cleanup(srv.Close)
	return &adminStack{stack: &stack{t: t, client: shared.client, url: srv.URL}, store: st, cache: cache}
}

// call sends a request to the admin API with a key.
func (s *adminStack) call(method, path, key, contentType, body string, headers ...string) answer {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	require.NoError(s.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (s *adminStack) token(id string) string {
	s.t.Helper()
	a := s.call("GET", "/api/v1/flows/"+id, readKey, "", "")
	require.Equal(s.t, http.StatusOK, a.status, a.body)
	return a.json(s.t)["token"].(string)
}

const pinnedV1 = `
id: it-pinned
trigger: {mode: sync, timeout: 20s}
steps:
  - {id: wait, type: delay, duration: 2s}
  - {id: reply, type: response, body: {version: one}}
`

const pinnedV2 = `
id: it-pinned
trigger: {mode: sync, timeout: 20s}
steps:
  - {id: reply, type: response, body: {version: two}}
`

func TestManageFlowsAndPinnedVersions(t *testing.T) {
	s := setupAdmin(t)
	a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", pinnedV1)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	require.Equal(t, `"v1"`, a.header.Get("ETag"))
	require.Equal(t, "/api/v1/flows/it-pinned", a.header.Get("Location"))
	token := a.json(t)["token"].(string)
	require.GreaterOrEqual(t, len(token), 43)

	// A run starts on v1 and waits in its delay...
	first := make(chan answer, 1)
	go func() { first <- post(t, s.url+"/hooks/"+token, "application/json", `{}`) }()
	require.Eventually(t, func() bool { return s.count("it-pinned") >= 1 }, 10*time.Second, 50*time.Millisecond)

	// ...while the flow is edited: v2.
	a = s.call("PUT", "/api/v1/flows/it-pinned", writeKey, "application/yaml", pinnedV2, "If-Match", `"v1"`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, `"v2"`, a.header.Get("ETag"))
	require.Equal(t, true, a.json(t)["changed"])

	// A new trigger runs v2 at once; the waiting run finishes on v1.
	b := post(t, s.url+"/hooks/"+token, "application/json", `{}`)
	require.JSONEq(t, `{"version":"two"}`, b.body)
	require.JSONEq(t, `{"version":"one"}`, (<-first).body)

	// Applying the same definition again makes no version.
	a = s.call("PUT", "/api/v1/flows/it-pinned", writeKey, "application/yaml", pinnedV2)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, false, a.json(t)["changed"])
	require.Equal(t, 2.0, a.json(t)["version"])

	// Stale If-Match: 412.
	a = s.call("PUT", "/api/v1/flows/it-pinned", writeKey, "application/yaml", pinnedV1, "If-Match", `"v1"`)
	require.Equal(t, http.StatusPreconditionFailed, a.status, a.body)
	require.Equal(t, "precondition_failed", a.json(t)["error"])

	// Versions.
	a = s.call("GET", "/api/v1/flows/it-pinned/versions", readKey, "", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Len(t, a.json(t)["versions"], 2)
	a = s.call("GET", "/api/v1/flows/it-pinned/versions/1", readKey, "", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Contains(t, a.body, `"duration":"2s"`)
	require.Equal(t, http.StatusNotFound, s.call("GET", "/api/v1/flows/it-pinned/versions/7", readKey, "", "").status)

	// Executions from visibility, and one execution with its step log.
	require.Eventually(t, func() bool {
		a = s.call("GET", "/api/v1/flows/it-pinned/executions?status=completed", readKey, "", "")
		return a.status == http.StatusOK && len(a.json(t)["executions"].([]any)) == 2
	}, 10*time.Second, 100*time.Millisecond, a.body)
	execID := a.json(t)["executions"].([]any)[0].(map[string]any)["id"].(string)

	// Paging: one per page, the token leads to the other run.
	a = s.call("GET", "/api/v1/flows/it-pinned/executions?pageSize=1", readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	page1 := a.json(t)
	require.Len(t, page1["executions"], 1)
	next := page1["nextPageToken"].(string)
	require.NotEmpty(t, next)
	a = s.call("GET", "/api/v1/flows/it-pinned/executions?pageSize=1&pageToken="+next, readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	page2 := a.json(t)["executions"].([]any)
	require.Len(t, page2, 1)
	require.NotEqual(t, page1["executions"].([]any)[0].(map[string]any)["id"], page2[0].(map[string]any)["id"])
	require.Equal(t, http.StatusBadRequest, s.call("GET", "/api/v1/flows/it-pinned/executions?pageToken=%25%25", readKey, "", "").status)
	a = s.call("GET", "/api/v1/executions/"+execID, readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	m := a.json(t)
	require.Equal(t, "completed", m["status"])
	require.Equal(t, "it-pinned", m["flowId"])
	require.NotEmpty(t, m["steps"].(map[string]any)["steps"])
	require.Equal(t, http.StatusNotFound, s.call("GET", "/api/v1/executions/nope", readKey, "", "").status)
	require.Equal(t, http.StatusBadRequest, s.call("GET", "/api/v1/flows/it-pinned/executions?status=sleepy", readKey, "", "").status)
}

func TestDisableRotateDeleteAndCancel(t *testing.T) {
	s := setupAdmin(t)
	a := s.call("POST", "/api/v1/flows", writeKey, "application/json", `{"id":"it-admin-life","trigger":{},"steps":[{"id":"w","type":"delay","duration":"1h"}]}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	token := a.json(t)["token"].(string)

	// A running execution can be cancelled.
	a = post(t, s.url+"/hooks/"+token, "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status)
	id := a.header.Get(api.HeaderExecutionID)
	a = s.call("POST", "/api/v1/executions/"+id+"/cancel", writeKey, "", "")
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	_, err := s.result(id)
	require.ErrorContains(t, err, "canceled")

	a = s.call("POST", "/api/v1/flows/it-admin-life/disable", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, false, a.json(t)["enabled"])
	require.Equal(t, http.StatusNotFound, post(t, s.url+"/hooks/"+token, "application/json", `{}`).status, "a disabled flow's trigger answers 404")
	a = s.call("POST", "/api/v1/flows/it-admin-life/enable", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, http.StatusOK, post(t, s.url+"/hooks/"+token, "application/json", `{}`).status)

	a = s.call("POST", "/api/v1/flows/it-admin-life/rotate-token", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status)
	newToken := a.json(t)["token"].(string)
	require.NotEqual(t, token, newToken)
	require.Equal(t, http.StatusNotFound, post(t, s.url+"/hooks/"+token, "application/json", `{}`).status, "the old URL stops working")
	require.Equal(t, http.StatusOK, post(t, s.url+"/hooks/"+newToken, "application/json", `{}`).status)

	require.Equal(t, http.StatusNoContent, s.call("DELETE", "/api/v1/flows/it-admin-life", writeKey, "", "").status)
	require.Equal(t, http.StatusNotFound, s.call("GET", "/api/v1/flows/it-admin-life", readKey, "", "").status)
	require.Equal(t, http.StatusNotFound, post(t, s.url+"/hooks/"+newToken, "application/json", `{}`).status)
}

func TestAdminErrors(t *testing.T) {
	s := setupAdmin(t)
	valid := `{"id":"it-admin-err","trigger":{},"steps":[{"id":"s","type":"set","values":{"x":1}}]}`
	cases := []struct {
		name, method, path, key, ct, body string
		status                            int
		code                              string
	}{
		{"no key", "GET", "/api/v1/flows", "", "", "", 401, "unauthorized"},
		{"wrong key", "GET", "/api/v1/flows", "sk_wrong_000000000000", "", "", 401, "unauthorized"},
		{"read key writes", "POST", "/api/v1/flows", readKey, "application/json", valid, 403, "forbidden"},
		{"read key tests a step", "POST", "/api/v1/flows/x/steps/y/test", readKey, "application/json", `{}`, 403, "forbidden"},
		{"invalid flow", "POST", "/api/v1/flows", writeKey, "application/json", `{"id":"Bad Id","trigger":{},"steps":[{"id":"s","type":"nope"}]}`, 422, "invalid_flow"},
		{"wrong content type", "POST", "/api/v1/flows", writeKey, "text/plain", valid, 415, "unsupported_media_type"},
		{"unknown flow", "GET", "/api/v1/flows/nope", readKey, "", "", 404, "not_found"},
		{"update unknown", "PUT", "/api/v1/flows/it-admin-err", writeKey, "application/json", valid, 404, "not_found"},
		{"bad If-Match", "PUT", "/api/v1/flows/it-admin-err", writeKey, "application/json", valid, 400, "bad_if_match"},
		{"id mismatch", "PUT", "/api/v1/flows/other", writeKey, "application/json", valid, 422, "invalid_flow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.code == "bad_if_match" {
				headers = []string{"If-Match", "yesterday"}
			}
			a := s.call(tc.method, tc.path, tc.key, tc.ct, tc.body, headers...)
			require.Equal(t, tc.status, a.status, a.body)
			require.Equal(t, tc.code, a.json(t)["error"])
		})
	}
	// The invalid flow's errors come with their paths, and nothing was saved.
	a := s.call("POST", "/api/v1/flows", writeKey, "application/json", `{"id":"Bad Id","trigger":{},"steps":[{"id":"s","type":"nope"}]}`)
	var body struct {
		Errors []struct{ Path, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(a.body), &body))
	var paths []string
	for _, e := range body.Errors {
		paths = append(paths, e.Path)
	}
	require.ElementsMatch(t, []string{"id", "steps[0].type"}, paths)
	list, err := s.store.Flows().List(context.Background())
	require.NoError(t, err)
	require.Empty(t, list, "an invalid flow is not saved")
	a = s.call("POST", "/api/v1/flows", writeKey, "application/json", valid)
	require.Equal(t, http.StatusCreated, a.status)
	require.Equal(t, http.StatusConflict, s.call("POST", "/api/v1/flows", writeKey, "application/json", valid).status)
}

// Two replicas on one store: a change made through one reaches the other's
// trigger cache within its TTL, and warm lookups send no query.
func TestReplicasSeeChangesWithinTheCacheTTL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hookflow.db")
	var replicas []*adminStack
	for range 2 {
		st, err := store.Open(ctx, path)
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		cache, err := store.NewCache(ctx, st, 200*time.Millisecond, testLog)
		require.NoError(t, err)
		cctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); cache.Run(cctx) }()
		t.Cleanup(func() { cancel(); wg.Wait() })
		srv := httptest.NewServer(api.New(shared.client, cache, testLog, testAPIConfig(&api.Admin{Store: st, Cache: cache})).Handler())
		t.Cleanup(srv.Close)
		replicas = append(replicas, &adminStack{stack: &stack{t: t, client: shared.client, url: srv.URL}, store: st, cache: cache})
	}
	a, b := replicas[0], replicas[1]
	created := a.call("POST", "/api/v1/flows", writeKey, "application/json", `{"id":"it-replicas","trigger":{},"steps":[{"id":"s","type":"set","values":{"x":1}}]}`)
	require.Equal(t, http.StatusCreated, created.status)
	token := created.json(t)["token"].(string)
	require.Eventually(t, func() bool {
		return post(t, b.url+"/hooks/"+token, "application/json", `{}`).status == http.StatusOK
	}, 2*time.Second, 50*time.Millisecond, "replica b learns the new flow within the TTL")

	// Warm: the trigger path reads memory only.
	before := b.store.Queries()
	for range 20 {
		_, ok := b.cache.ByToken(token)
		require.True(t, ok)
	}
	require.Equal(t, before, b.store.Queries())

	require.Equal(t, http.StatusOK, a.call("POST", "/api/v1/flows/it-replicas/disable", writeKey, "", "").status)
	require.Eventually(t, func() bool {
		return post(t, b.url+"/hooks/"+token, "application/json", `{}`).status == http.StatusNotFound
	}, 2*time.Second, 50*time.Millisecond, "replica b stops serving the disabled flow within the TTL")
}

func TestReadinessAndRequestIDs(t *testing.T) {
	s := setupAdmin(t)
	resp, err := http.Get(s.url + "/readyz")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	require.JSONEq(t, `{"status":"ready","checks":{"temporal":"ok","store":"ok"}}`, string(b))
	require.NotEmpty(t, resp.Header.Get(api.HeaderRequestID))

	// The store goes away: degraded, naming it, but still ready: triggers
	// are served from the replica's snapshot, so a load balancer must keep
	// sending them.
	require.NoError(t, s.store.Close())
	resp, err = http.Get(s.url + "/readyz")
	require.NoError(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"status":"degraded","checks":{"temporal":"ok","store":"unreachable"}}`, string(b))

	// A caller's request id is kept; trigger tokens never reach the log.
	a := post(t, s.url+"/hooks/secret-token-value-000000000", "application/json", `{}`, api.HeaderRequestID, "req-abc")
	require.Equal(t, "req-abc", a.header.Get(api.HeaderRequestID))
	require.Contains(t, logs.String(), "requestId=req-abc")
	require.NotContains(t, logs.String(), "secret-token-value")
}

// Readiness fails when Temporal cannot be reached.
func TestReadinessWithoutTemporal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops an embedded server")
	}
	srv, c, err := startStack("")
	require.NoError(t, err)
	defer c.Close()
	s := setupWith(t, c, `{id: it-ready, trigger: {}, steps: [{id: s, type: set, values: {x: 1}}]}`)
	srv.Stop()
	resp, err := http.Get(s.url + "/readyz")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(b))
	require.Contains(t, string(b), `"temporal":"unreachable"`)
}

// The trigger token is a credential: it opens the flow's URL. It is shown
// as the flow's token to admin keys, but never stored in the definition,
// so it reaches neither a run's input (Temporal history) nor the definition
// the API shows.
func TestTriggerTokenStaysOutOfHistory(t *testing.T) {
	s := setupAdmin(t)
	const tok = "fixed-token-for-history-test-0001"
	a := s.call("POST", "/api/v1/flows", writeKey, "application/json",
		`{"id":"it-token-hist","trigger":{"mode":"sync","token":"`+tok+`"},"steps":[{"id":"r","type":"response","body":"ok"}]}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	require.Equal(t, tok, a.json(t)["token"])
	require.NotContains(t, toJSON(t, a.json(t)["definition"]), tok)

	a = post(t, s.url+"/hooks/"+tok, "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	_, err := s.result(id)
	require.NoError(t, err)
	hist := historyText(t, s.stack, id)
	require.Contains(t, hist, `"id":"it-token-hist"`, "the grep reads the decoded input")
	require.NotContains(t, hist, tok)
}

// TestStoreDownAnswers503: an admin write whose store does not answer is
// the store's failure, not the caller's: 503 with Retry-After naming the
// store, never 500. (The cluster suite stops a real PostgreSQL too.)
func TestStoreDownAnswers503(t *testing.T) {
	s := setupAdmin(t)
	require.NoError(t, s.store.Close())
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/flows", "id: it-down\ntrigger: {}\nsteps: [{id: s, type: set, values: {x: 1}}]\n"},
		{"GET", "/api/v1/flows", ""},
		{"GET", "/api/v1/flows/it-down/versions", ""},
	} {
		a := s.call(tc.method, tc.path, writeKey, "application/yaml", tc.body)
		require.Equal(t, http.StatusServiceUnavailable, a.status, a.body)
		require.Equal(t, "store_unavailable", a.json(t)["error"], a.body)
		require.NotEmpty(t, a.header.Get("Retry-After"))
	}
}

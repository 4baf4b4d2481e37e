package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// The recovery commands send what the API takes: checked against a fake API
// (rerun, resume and replay themselves are tested end to end in tests/).
func TestRecoveryCLI(t *testing.T) {
	var mu sync.Mutex
	bodies := map[string]map[string]any{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		bodies[r.URL.Path] = m
		mu.Unlock()
		switch r.URL.Path {
		case "/api/v1/executions/f:1/rerun":
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"executionId":"f:rerun-1","version":2}`))
		case "/api/v1/executions/f:1/resume":
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"runId":"r2","note":"continues from the step whose delivery failed"}`))
		case "/api/v1/flows/f/replay":
			if m["dryRun"] == true {
				_, _ = w.Write([]byte(`{"count":2,"sample":["f:1","f:2"]}`))
				return
			}
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"replayId":"replay:f:9"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	out, err := run(t, srv.URL, "k", "executions", "rerun", "f:1", "--version", "current")
	require.NoError(t, err, out)
	require.Equal(t, "rerun of f:1 started as f:rerun-1 (v2)\n", out)
	require.Equal(t, "current", bodies["/api/v1/executions/f:1/rerun"]["version"])
	out, err = run(t, srv.URL, "k", "executions", "rerun", "f:1", "--version", "3")
	require.NoError(t, err, out)
	require.EqualValues(t, 3, bodies["/api/v1/executions/f:1/rerun"]["version"])
	_, err = run(t, srv.URL, "k", "executions", "rerun", "f:1", "--version", "latest")
	require.ErrorContains(t, err, "--version must be original, current or a version number")

	out, err = run(t, srv.URL, "k", "executions", "resume", "f:1", "--reason", "crm back")
	require.NoError(t, err, out)
	require.Contains(t, out, "f:1 resumed (run r2)")
	require.Equal(t, "crm back", bodies["/api/v1/executions/f:1/resume"]["reason"])

	out, err = run(t, srv.URL, "k", "executions", "replay", "f", "--from", "2h", "--action", "resume", "--dry-run")
	require.NoError(t, err, out)
	require.Equal(t, "2 execution(s) would be replayed (resume)\n  f:1\n  f:2\n", out)
	sent := bodies["/api/v1/flows/f/replay"]
	require.Equal(t, "resume", sent["action"])
	filter := sent["filter"].(map[string]any)
	require.Equal(t, []any{"failed"}, filter["status"])
	require.NotEmpty(t, filter["from"])
	require.NotEmpty(t, filter["to"])
	out, err = run(t, srv.URL, "k", "executions", "replay", "f", "--from", "2026-11-25T14:00:00Z", "--to", "2026-11-25T15:00:00Z")
	require.NoError(t, err, out)
	require.Contains(t, out, "replay replay:f:9 started")

	_, err = run(t, srv.URL, "k", "executions", "replay", "f")
	require.ErrorContains(t, err, "--from is required")
	_, err = run(t, srv.URL, "k", "executions", "replay", "f", "--from", "yesterday")
	require.ErrorContains(t, err, "--from: use RFC 3339")
}

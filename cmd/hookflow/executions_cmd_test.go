package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// The executions commands send what the API takes: checked against a fake
// API (the API itself is tested end to end in tests/).
func TestExecutionsCLI(t *testing.T) {
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == "POST" && r.URL.EscapedPath() == "/api/v1/executions/f:e%2F1/deliveries/dlv_1/redeliver":
			require.Equal(t, "Bearer k", r.Header.Get("Authorization"))
			b, _ := io.ReadAll(r.Body)
			key := "dlv_1"
			if string(b) == `{"idempotencyKey":"new"}` {
				key = "dlv_1-r2"
			} else {
				require.Equal(t, `{"idempotencyKey":"same"}`, string(b))
			}
			w.WriteHeader(http.StatusAccepted)
			_, _ = w.Write([]byte(`{"executionId":"f:e/1/redeliver/dlv_1/1","idempotencyKey":"` + key + `"}`))
		case r.Method == "POST":
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not_found","detail":"execution f:e/1 has no delivery \"dlv_2\"","path":"deliveryId"}`))
		case r.URL.Path == "/api/v1/flows/f":
			_, _ = w.Write([]byte(`{"id":"f","triggerUrl":"/hooks/tok"}`))
		case r.URL.EscapedPath() == "/hooks/tok/results/f:e%2F1":
			user, pass, _ := r.BasicAuth()
			require.Equal(t, "shop:pw", user+":"+pass)
			require.NotEqual(t, "Bearer k", r.Header.Get("Authorization"), "the API key stays with the API")
			w.Header().Set("Hookflow-Execution-Id", "f:e/1")
			if polls.Add(1) == 1 {
				require.Equal(t, "5s", r.URL.Query().Get("wait"))
				w.WriteHeader(http.StatusAccepted)
				return
			}
			w.Header().Set("X-Order", "A-1")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"ok":true}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	out, err := run(t, srv.URL, "k", "executions", "redeliver", "f:e/1", "dlv_1")
	require.NoError(t, err, out)
	require.Equal(t, "redelivery f:e/1/redeliver/dlv_1/1 started: delivery dlv_1 with Idempotency-Key dlv_1\n", out)
	out, err = run(t, srv.URL, "k", "executions", "redeliver", "f:e/1", "dlv_1", "--new-key")
	require.NoError(t, err, out)
	require.Contains(t, out, "with Idempotency-Key dlv_1-r2")
	out, err = run(t, srv.URL, "k", "executions", "redeliver", "f:e/1", "dlv_2")
	require.Error(t, err)
	require.Contains(t, err.Error(), `not_found (404): execution f:e/1 has no delivery "dlv_2"`)

	out, err = run(t, srv.URL, "k", "executions", "result", "f", "f:e/1", "-u", "shop:pw", "--wait", "5s", "-i")
	require.NoError(t, err, out)
	require.Contains(t, out, "201 Created\n")
	require.Contains(t, out, "X-Order: A-1\n")
	require.Contains(t, out, "\n\n{\"ok\":true}\n")
	require.Equal(t, int32(2), polls.Load(), "polled again after a 202")

	out, err = run(t, srv.URL, "", "executions", "result", srv.URL+"/hooks/nope/results/x", "--wait", "0")
	require.Error(t, err, "no API key is needed, and a refusal is an error")
	require.Contains(t, err.Error(), "404")
}

//go:build !nodev

package tests

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/devserver"
	"github.com/hookflow/hookflow/namespace"
	"github.com/hookflow/hookflow/telemetry"
	"github.com/hookflow/hookflow/worker"
)

// `hookflow setup` against a fresh server: while the namespace or the
// search attributes are missing, the api's and the worker's /readyz say
// 503 and name what is missing, and triggers answer 503; setup registers
// the namespace and adds the attributes (waiting for a server that is not
// up yet), is idempotent, and afterwards both are ready and runs start.
func TestSetupNamespace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the hookflow binary and starts an embedded server")
	}
	bin := setupBinary(t)
	port, err := devserver.FreePort("127.0.0.1")
	require.NoError(t, err)
	addr := "127.0.0.1:" + strconv.Itoa(port)

	// Nothing listens: setup gives up after --wait, saying where it tried.
	out, err := runSetup(t, bin, "127.0.0.1:1", "default", "--wait", "2s")
	require.Error(t, err, out)
	require.Contains(t, out, "connect to Temporal at 127.0.0.1:1: gave up after --wait 2s")

	// Setup started before the server: it waits for it.
	type result struct {
		out string
		err error
	}
	early := make(chan result, 1)
	go func() {
		out, err := runSetup(t, bin, addr, "it-setup-early", "--wait", "90s")
		early <- result{out, err}
	}()
	time.Sleep(1500 * time.Millisecond)

	// A fresh server: the namespace "default" without hookflow's search
	// attributes.
	srv, err := devserver.Start(devserver.Options{
		FrontendPort: port,
		Logger:       slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	require.NoError(t, err)
	t.Cleanup(srv.Stop)

	dial := func(ns string) sdkclient.Client {
		c, err := sdkclient.Dial(sdkclient.Options{HostPort: addr, Namespace: ns, Logger: sdklog.NewStructuredLogger(testLog)})
		require.NoError(t, err)
		t.Cleanup(c.Close)
		return c
	}
	const flowYAML = `{id: it-setup-sync, trigger: {mode: sync, token: it-setup-sync-token-0123456789}, steps: [{id: r, type: response, status: 201, body: {ok: true}}]}`
	apiOn := func(c sdkclient.Client) string {
		s := httptest.NewServer(api.New(c, catalog(t, flowYAML), testLog, api.Config{}).Handler())
		t.Cleanup(s.Close)
		return s.URL
	}
	cDefault, cNew := dial("default"), dial("it-setup")
	apiDefault, apiNew := apiOn(cDefault), apiOn(cNew)
	w := worker.New(cDefault, testDeliverer(), worker.Options{})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	health := httptest.NewServer(w.Handler(telemetry.New(telemetry.Options{})))
	t.Cleanup(health.Close)

	// Every attribute hookflow registers (more come with features): the
	// list, and how setup reports adding them.
	names := namespace.SearchAttributeNames()
	all := strings.Join(names, ", ")
	typed := make([]string, len(names))
	for i, n := range names {
		typed[i] = n + " (" + namespace.TypeName(contract.SearchAttributeTypes()[n]) + ")"
	}
	added := "search attributes: added " + strings.Join(typed, ", ") + "\n"
	require.Contains(t, added, "HookflowFlowId (Keyword), HookflowFlowKey (Keyword), HookflowFlowVersion (Int)")
	status, body := readyz(t, apiNew)
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.JSONEq(t, `{"status":"not ready","checks":{"temporal":"ok","namespace":"missing: it-setup","searchAttributes":"missing: `+all+`"}}`, body)
	status, body = readyz(t, apiDefault)
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.JSONEq(t, `{"status":"not ready","checks":{"temporal":"ok","searchAttributes":"missing: `+all+`"}}`, body)
	status, body = readyz(t, health.URL)
	require.Equal(t, http.StatusServiceUnavailable, status, body)
	require.JSONEq(t, `{"status":"not ready","checks":{"temporal":"ok","searchAttributes":"missing: `+all+`"}}`, body)

	// Meanwhile a trigger cannot start its run: 503, never 500.
	a := post(t, apiDefault+"/hooks/it-setup-sync-token-0123456789", "application/json", `{}`)
	require.Equal(t, http.StatusServiceUnavailable, a.status, a.body)

	// The setup that waited for the server.
	select {
	case r := <-early:
		require.NoError(t, r.err, r.out)
		require.Contains(t, r.out, "namespace it-setup-early: registered (retention 168h)")
		require.Contains(t, r.out, "ready: runs can start in namespace it-setup-early")
	case <-time.After(2 * time.Minute):
		t.Fatal("setup started before the server did not finish")
	}

	// A missing namespace: registered, attributes added.
	out, err = runSetup(t, bin, addr, "it-setup", "--retention", "72h")
	require.NoError(t, err, out)
	require.Equal(t, "namespace it-setup: registered (retention 72h)\n"+
		added+
		"ready: runs can start in namespace it-setup\n", stdoutOf(out))
	// Again: nothing to do.
	out, err = runSetup(t, bin, addr, "it-setup")
	require.NoError(t, err, out)
	require.Equal(t, "namespace it-setup: exists (retention 72h)\n"+
		"search attributes: "+all+" present\n"+
		"ready: runs can start in namespace it-setup\n", stdoutOf(out))
	// An existing namespace without the attributes.
	out, err = runSetup(t, bin, addr, "default")
	require.NoError(t, err, out)
	require.Contains(t, stdoutOf(out), "namespace default: exists")
	require.Contains(t, stdoutOf(out), added)

	// Ready now, and runs start.
	for _, u := range []string{apiNew, apiDefault, health.URL} {
		status, body = readyz(t, u)
		require.Equal(t, http.StatusOK, status, u+": "+body)
		require.NotContains(t, body, "missing")
	}
	a = post(t, apiDefault+"/hooks/it-setup-sync-token-0123456789", "application/json", `{}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	wNew := worker.New(cNew, testDeliverer(), worker.Options{})
	require.NoError(t, wNew.Start())
	t.Cleanup(wNew.Stop)
	a = post(t, apiNew+"/hooks/it-setup-sync-token-0123456789", "application/json", `{}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
}

func readyz(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// runSetup runs `hookflow setup` against addr for namespace ns and
// returns its stdout, then "--- stderr ---" and its stderr.
func runSetup(t *testing.T, bin, addr, ns string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"setup", "--log-level", "warn"}, args...)...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEMPORAL_") && !strings.HasPrefix(kv, "HOOKFLOW_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "TEMPORAL_ADDRESS="+addr, "TEMPORAL_NAMESPACE="+ns)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String() + "--- stderr ---\n" + stderr.String(), err
}

func stdoutOf(out string) string {
	s, _, _ := strings.Cut(out, "--- stderr ---\n")
	return s
}

// setupBinary builds hookflow without the embedded server (quicker to
// link) into the test's temporary directory.
func setupBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookflow")
	out, err := exec.Command("go", "build", "-tags", "nodev", "-o", bin, "../cmd/hookflow").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

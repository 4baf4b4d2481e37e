//go:build !nodev

// Package tests holds hookflow's end-to-end tests: the embedded Temporal
// server in-process, the real worker, and the API over real HTTP on
// 127.0.0.1. One server is shared by the package (starting one takes a few
// seconds); each test uses its own flow ids so counts do not mix.
//
// Every file here needs that server, so every file carries the build
// constraint !nodev: under -tags nodev (the build without the embedded
// server; `make test-short` uses it) the package has no tests and is not
// linked with the Temporal server. `make test` builds without the tag and
// runs all of them.
package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/devserver"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/notify"
	"github.com/hookflow/hookflow/secrets"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/worker"
)

// testSecrets are the secrets test flows name; see auth_test.go.
var testSecrets = secrets.Env{Lookup: func(k string) (string, bool) {
	v, ok := map[string]string{
		"HOOKFLOW_SECRET_SHOP_PW":   "hunter2-shop",
		"HOOKFLOW_SECRET_SW_KEY":    "whsec_" + swKeyB64,
		"HOOKFLOW_SECRET_SW_OLDKEY": "whsec_" + swOldKeyB64,
		"HOOKFLOW_SECRET_GH_KEY":    "gh-webhook-secret",
		"HOOKFLOW_SECRET_HMAC_KEY":  "generic-hmac-secret",
		// Signs wait and approval links; see composition_test.go.
		"HOOKFLOW_SECRET_RESUME_KEY": testResumeKey,
	}[k]
	return v, ok
}}

var shared struct {
	server *devserver.Server
	client sdkclient.Client
	// flows is the store the worker resolves call steps' callees in;
	// tests that call flows apply them here (setupSharedAdmin).
	flows *store.Store
	// notify sends the worker's and the API's notifications.
	notify *notify.Emitter
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	srv, c, err := startStack("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests: start embedded Temporal:", err)
		return 1
	}
	shared.server, shared.client = srv, c
	dir, err := os.MkdirTemp("", "hookflow-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if shared.flows, err = store.Open(context.Background(), filepath.Join(dir, "hookflow.db")); err != nil {
		fmt.Fprintln(os.Stderr, "tests: open the shared flow store:", err)
		return 1
	}
	defer shared.flows.Close()
	// The global notify destination takes destination events (see
	// notify_test.go), so failing runs elsewhere notify nothing.
	shared.notify = notify.New(notify.Config{Client: c, Global: notifyGlobal, Destinations: destinations.NewStore(shared.flows), Log: testLog})
	w := worker.New(c, testDeliverer(), worker.Options{
		Notifier:    shared.notify,
		Composition: activities.NewComposition(shared.flows.Flows(), testSecrets),
		// Destinations live in the shared store; see destinations_test.go.
		Destinations: activities.NewDestinations(destinations.NewStore(shared.flows)), DestinationStates: destinations.NewStore(shared.flows),
		DestinationReload: destinationReload, Logger: testLog,
	})
	if err := w.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "tests: start worker:", err)
		return 1
	}
	code := m.Run()
	w.Stop()
	c.Close()
	srv.Stop()
	return code
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// logs captures what hookflow, the Temporal SDK and the server log during
// the tests, so a test can prove that no secret reaches a log line.
var logs syncBuffer

// testLog writes into logs at every level.
var testLog = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startStack starts an embedded server (in memory, or on dbFile) and a
// client connected to it.
func startStack(dbFile string) (*devserver.Server, sdkclient.Client, error) {
	srv, err := devserver.Start(devserver.Options{
		DatabaseFile:     dbFile,
		SearchAttributes: contract.SearchAttributeTypes(),
		Logger:           slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, nil, err
	}
	c, err := sdkclient.Dial(sdkclient.Options{
		HostPort:  srv.FrontendAddress(),
		Namespace: srv.Namespace(),
		Logger:    sdklog.NewStructuredLogger(testLog),
	})
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	return srv, c, nil
}

// testDeliverer delivers to receivers on 127.0.0.1 (httptest), which the
// SSRF guard refuses unless allowlisted, as an operator would for tests.
func testDeliverer() *activities.Deliverer {
	allow, err := activities.ParseAllowlist([]string{"127.0.0.1"})
	if err != nil {
		panic(err)
	}
	return activities.NewDeliverer(activities.Config{Secrets: testSecrets, Allow: allow, Logger: testLog})
}

// stack is what one test uses: the shared client and an API serving the
// test's own flows on a free 127.0.0.1 port.
type stack struct {
	t      *testing.T
	client sdkclient.Client
	url    string
	cat    *flow.Catalog
}

func setup(t *testing.T, flowYAMLs ...string) *stack {
	t.Helper()
	return setupWith(t, shared.client, flowYAMLs...)
}

func setupWith(t *testing.T, c sdkclient.Client, flowYAMLs ...string) *stack {
	t.Helper()
	cat := catalog(t, flowYAMLs...)
	srv := httptest.NewServer(api.New(c, cat, testLog, testAPIConfig(nil)).Handler())
	t.Cleanup(srv.Close)
	return &stack{t: t, client: c, url: srv.URL, cat: cat}
}

// catalog holds the given flows (YAML), each at version 1.
func catalog(t *testing.T, flowYAMLs ...string) *flow.Catalog {
	t.Helper()
	var entries []*flow.Entry
	for _, y := range flowYAMLs {
		f, err := flow.DecodeYAML([]byte(y))
		require.NoError(t, err)
		entries = append(entries, &flow.Entry{Flow: f, Version: 1, Token: f.Trigger.Token, Source: f.ID})
	}
	cat, err := flow.NewCatalog(entries...)
	require.NoError(t, err)
	return cat
}

// API keys of the test API: one per scope set.
const (
	writeKey = "sk_test_writer_0123456789"
	readKey  = "sk_test_reader_0123456789"
)

func testAPIConfig(admin *api.Admin) api.Config {
	keys, err := api.ParseAPIKeys("writer:read,write:" + writeKey + ";reader:read:" + readKey)
	if err != nil {
		panic(err)
	}
	return api.Config{MaxBodyBytes: 64 << 10, Secrets: testSecrets, Deliver: testDeliverer(), Admin: admin, APIKeys: keys, Notify: shared.notify}
}

func (s *stack) hookURL(flowID string) string {
	e, ok := s.cat.ByID(flowID)
	require.True(s.t, ok, flowID)
	return s.url + "/hooks/" + e.Token
}

// count returns how many runs of a flow visibility knows.
func (s *stack) count(flowID string) int64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := s.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Namespace: "default",
		Query:     fmt.Sprintf("HookflowFlowId = %q", flowID),
	})
	require.NoError(s.t, err)
	return resp.GetCount()
}

// awaitCount waits until visibility shows at least n runs of a flow and
// returns the count it saw (visibility is written asynchronously).
func (s *stack) awaitCount(flowID string, n int64) int64 {
	s.t.Helper()
	var got int64
	require.Eventually(s.t, func() bool {
		got = s.count(flowID)
		return got >= n
	}, 15*time.Second, 50*time.Millisecond, "visibility never showed %d run(s) of %s", n, flowID)
	return got
}

// result waits for a run to close and decodes its result.
func (s *stack) result(id string) (*contract.RunResult, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res contract.RunResult
	err := s.client.GetWorkflow(ctx, id, "").Get(ctx, &res)
	if err != nil {
		return nil, err
	}
	return &res, nil
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// send is a request with any method, body and headers (name, value pairs);
// a body is sent as JSON unless the headers set Content-Type.
func send(t *testing.T, method, target, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

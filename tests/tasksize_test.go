package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkclient "go.temporal.io/sdk/client"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/flow"
)

// keyReceiver counts what it receives by Idempotency-Key and by the item
// the body names, without keeping the (large) bodies.
type keyReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	byKey  map[string]int
	byItem map[string]int
	bytes  int
}

func newKeyReceiver(t *testing.T) *keyReceiver {
	r := &keyReceiver{byKey: map[string]int{}, byItem: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			I json.RawMessage `json:"i"`
		}
		b, _ := io.ReadAll(req.Body)
		_ = json.Unmarshal(b, &body)
		r.mu.Lock()
		r.byKey[req.Header.Get("Idempotency-Key")]++
		r.byItem[string(body.I)]++
		r.bytes += len(b)
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *keyReceiver) counts() (byKey, byItem map[string]int, bytes int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	byKey, byItem = map[string]int{}, map[string]int{}
	for k, v := range r.byKey {
		byKey[k] = v
	}
	for k, v := range r.byItem {
		byItem[k] = v
	}
	return byKey, byItem, r.bytes
}

// setupLargeBodies is setup with the API's default trigger body limit
// (1 MiB, the largest a trigger may carry) instead of the tests' 64 KiB.
func setupLargeBodies(t *testing.T, c sdkclient.Client, flowYAMLs ...string) *stack {
	t.Helper()
	cat := catalog(t, flowYAMLs...)
	cfg := testAPIConfig(nil)
	cfg.MaxBodyBytes = api.DefaultMaxBodyBytes
	srv := httptest.NewServer(api.New(c, cat, testLog, cfg).Handler())
	t.Cleanup(srv.Close)
	return &stack{t: t, client: c, url: srv.URL, cat: cat}
}

// bigLoopFlow is issue 22's flow: a loop of sends side by side, each
// carrying the trigger's big string.
func bigLoopFlow(id, url string, concurrency int) string {
	return fmt.Sprintf(`
id: %s
trigger: {mode: async}
steps:
  - id: each
    type: loop
    over: trigger.body.items
    concurrency: %d
    steps:
      - {id: send, type: http, method: POST, url: "%s/ok", body: {mode: keyValue, fields: {i: "{{ item }}", blob: "{{ trigger.body.big }}"}}}
`, id, concurrency, url)
}

// bigBody is a trigger body of n items and a string that fills it to
// about size bytes.
func bigBody(t *testing.T, n, size int) string {
	items := make([]int, n)
	for i := range items {
		items[i] = i
	}
	b, err := json.Marshal(map[string]any{"items": items, "big": ""})
	require.NoError(t, err)
	fill := size - len(b)
	require.Positive(t, fill)
	b, err = json.Marshal(map[string]any{"items": items, "big": strings.Repeat("x", fill)})
	require.NoError(t, err)
	return string(b)
}

// runBigLoop triggers the flow with a body of about size bytes and waits
// for the run to close; it returns the execution id and the run's error.
func runBigLoop(t *testing.T, s *stack, flowID string, items, size int) (string, error) {
	t.Helper()
	body := bigBody(t, items, size)
	a := post(t, s.hookURL(flowID), "application/json", body)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return id, s.client.GetWorkflow(ctx, id, "").Get(ctx, nil)
}

// terminationOf is the reason and identity of a run Temporal terminated
// ("" when it was not).
func terminationOf(t *testing.T, s *stack, id string) string {
	for _, e := range history(t, s, id).Events {
		if a := e.GetWorkflowExecutionTerminatedEventAttributes(); a != nil {
			return fmt.Sprintf("terminated by %q: %s", a.GetIdentity(), a.GetReason())
		}
	}
	return ""
}

// assertEachItemOnce: the receiver got every item exactly once, each
// under its own key.
func assertEachItemOnce(t *testing.T, rcv *keyReceiver, items int) {
	t.Helper()
	byKey, byItem, _ := rcv.counts()
	require.Len(t, byItem, items, "items received")
	for i := 0; i < items; i++ {
		require.Equal(t, 1, byItem[fmt.Sprint(i)], "item %d", i)
	}
	require.Len(t, byKey, items, "distinct idempotency keys")
	for k, n := range byKey {
		require.Equal(t, 1, n, "key %s", k)
	}
}

// Issue 22: a loop of 100 sends side by side, each carrying ~200 KB, was
// terminated by Temporal (GrpcMessageTooLarge): their first attempts' markers
// landed in one workflow task completion of ~20 MB. It completes now, each
// item sent once.
func TestLoopOfLargeSendsSideBySideCompletes(t *testing.T) {
	rcv := newKeyReceiver(t)
	s := setupLargeBodies(t, shared.client, bigLoopFlow("it-big-200k", rcv.URL, flow.MaxLoopConcurrency))
	id, err := runBigLoop(t, s, "it-big-200k", flow.MaxLoopConcurrency, 200_000)
	require.NoError(t, err, terminationOf(t, s, id))
	assertEachItemOnce(t, rcv, flow.MaxLoopConcurrency)
	_ = enumspb.EVENT_TYPE_UNSPECIFIED
}

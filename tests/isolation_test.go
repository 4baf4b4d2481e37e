//go:build !nodev

package tests

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/worker"
)

// Deliveries run on their own task queue and worker limits: with the only
// delivery slot held by a slow receiver, flows without sends still answer
// at once.
func TestSlowReceiversDoNotStarveFlows(t *testing.T) {
	if testing.Short() {
		t.Skip("starts another embedded server")
	}
	srv, c, err := startStack("")
	require.NoError(t, err)
	defer srv.Stop()
	defer c.Close()
	w := worker.New(c, testDeliverer(), worker.Options{MaxConcurrentDeliveries: 1})
	require.NoError(t, w.Start())
	defer w.Stop()

	release := make(chan struct{})
	slow := newReceiver(t, func(_ int, w http.ResponseWriter) {
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
		w.WriteHeader(http.StatusOK)
	})
	defer close(release)
	s := setupWith(t, c, `
id: it-iso-send
trigger: {}
steps: [{id: send, type: http, method: POST, url: "`+slow.URL+`", timeouts: {response: 30s}}]
`, `
id: it-iso-pure
trigger: {mode: sync}
steps: [{id: r, type: response, body: fast}]
`)
	for range 3 {
		a := post(t, s.hookURL("it-iso-send"), "application/json", `{}`)
		require.Equal(t, http.StatusOK, a.status)
	}
	require.Eventually(t, func() bool { return len(slow.all()) == 1 }, 10*time.Second, 20*time.Millisecond, "the one delivery slot is taken")
	start := time.Now()
	a := post(t, s.hookURL("it-iso-pure"), "application/json", `{}`)
	require.Equal(t, "fast", a.body)
	require.NotEmpty(t, a.header.Get(api.HeaderExecutionID))
	require.Less(t, time.Since(start), 2*time.Second)
	require.Len(t, slow.all(), 1, "the limit held: one delivery in flight")
}

//go:build !nodev

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/hookflow/hookflow/api"
)

// sendRecorder is a webhook receiver that counts successful deliveries by
// path and keeps each path's Idempotency-Keys; paths in broken answer 400
// (not retried: the run fails at once) and are not counted as received.
type sendRecorder struct {
	*httptest.Server
	mu     sync.Mutex
	ok     map[string]int
	keys   map[string][]string
	broken map[string]bool
}

func newSendRecorder(t *testing.T, broken ...string) *sendRecorder {
	r := &sendRecorder{ok: map[string]int{}, keys: map[string][]string{}, broken: map[string]bool{}}
	for _, b := range broken {
		r.broken[b] = true
	}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.keys[req.URL.Path] = append(r.keys[req.URL.Path], req.Header.Get("Idempotency-Key"))
		if r.broken[req.URL.Path] {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.ok[req.URL.Path]++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *sendRecorder) fix(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.broken, path)
}

func (r *sendRecorder) received() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.ok {
		out[k] = v
	}
	return out
}

func (r *sendRecorder) keysOf(path string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.keys[path]...)
}

// createFlow creates a flow through the admin API and returns its trigger URL.
func (s *adminStack) createFlow(yaml string) string {
	s.t.Helper()
	a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", yaml)
	require.Equal(s.t, http.StatusCreated, a.status, a.body)
	var f struct {
		ID string `json:"id"`
	}
	require.NoError(s.t, json.Unmarshal([]byte(a.body), &f))
	return s.url + "/hooks/" + s.token(f.ID)
}

func (s *adminStack) awaitClosed(id string) enumspb.WorkflowExecutionStatus {
	s.t.Helper()
	var st enumspb.WorkflowExecutionStatus
	require.Eventually(s.t, func() bool {
		d, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
		require.NoError(s.t, err)
		st = d.GetWorkflowExecutionInfo().GetStatus()
		return st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	}, 30*time.Second, 100*time.Millisecond)
	return st
}

func fourSends(id, mode, url string) string {
	return fmt.Sprintf(`
id: %s
trigger: {mode: %s, timeout: 20s}
steps:
  - {id: reply, type: response, status: 202, body: {accepted: true}}
  - {id: s1, type: http, method: POST, url: "%s/1", body: {mode: keyValue, fields: {n: 1}}}
  - {id: s2, type: http, method: POST, url: "%s/2", body: {mode: keyValue, fields: {n: 2}}}
  - {id: s3, type: http, method: POST, url: "%s/3", body: {mode: keyValue, fields: {n: 3}}}
  - {id: s4, type: http, method: POST, url: "%s/4", body: {mode: keyValue, fields: {n: 4}}}
`, id, mode, url, url, url, url)
}

// TestResumeFromTheFailedSend: a run fails at its 3rd of 4 sends; after
// the receiver is fixed, a resume sends 3 and 4, never 1 and 2 again, with
// the failed send's own Idempotency-Key, and the sync caller's update is
// not applied again.
func TestResumeFromTheFailedSend(t *testing.T) {
	s := setupAdmin(t)
	rcv := newSendRecorder(t, "/3")
	hook := s.createFlow(fourSends("it-resume", "sync", rcv.URL))

	a := post(t, hook, "application/json", `{}`)
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, s.awaitClosed(id))
	require.Equal(t, map[string]int{"/1": 1, "/2": 1}, rcv.received())

	// A failed run that is resumed while broken fails again the same way;
	// fix the receiver first, as an operator would.
	rcv.fix("/3")
	r := s.call("POST", "/api/v1/executions/"+id+"/resume", writeKey, "application/json", `{"reason": "receiver fixed"}`)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, s.awaitClosed(id))

	require.Equal(t, map[string]int{"/1": 1, "/2": 1, "/3": 1, "/4": 1}, rcv.received(), "sends 1-2 once, 3-4 once")
	keys := rcv.keysOf("/3")
	require.Len(t, keys, 2, "the failed attempt and the resumed one")
	require.Equal(t, keys[0], keys[1], "the resumed send keeps its Idempotency-Key")

	// The sync caller's update was accepted and completed once, before the
	// failure; the resumed run holds it once, and applies no other.
	counts := map[enumspb.EventType]int{}
	for _, e := range history(t, s.stack, id).Events {
		counts[e.GetEventType()]++
	}
	require.Equal(t, 1, counts[enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED])
	require.Equal(t, 1, counts[enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED])

	// Nothing left to resume now; unknown and running executions are refused.
	r = s.call("POST", "/api/v1/executions/"+id+"/resume", writeKey, "", "")
	require.Equal(t, http.StatusConflict, r.status, r.body)
	r = s.call("POST", "/api/v1/executions/it-resume:nope/resume", writeKey, "", "")
	require.Equal(t, http.StatusNotFound, r.status, r.body)

	// A running execution is neither resumed nor rerun, and nothing starts.
	slow := s.createFlow("id: it-resume-running\ntrigger: {}\nsteps: [{id: wait, type: delay, duration: 1h}]\n")
	a = post(t, slow, "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	running := a.header.Get(api.HeaderExecutionID)
	for _, action := range []string{"resume", "rerun"} {
		r = s.call("POST", "/api/v1/executions/"+running+"/"+action, writeKey, "", "")
		require.Equal(t, http.StatusConflict, r.status, r.body)
		require.Equal(t, "execution_running", r.json(t)["error"], r.body)
	}
	require.Equal(t, int64(1), s.count("it-resume-running"))
	require.NoError(t, s.client.CancelWorkflow(context.Background(), running, ""))
}

// TestRerunOnTheCurrentVersion: a rerun takes the original trigger data and
// runs the version asked for, as a new execution linked to the original.
func TestRerunOnTheCurrentVersion(t *testing.T) {
	s := setupAdmin(t)
	const v1 = `
id: it-rerun
trigger: {mode: sync, timeout: 20s}
steps:
  - {id: reply, type: response, body: {version: one, n: "{{ trigger.body.n }}"}}
`
	hook := s.createFlow(v1)
	a := post(t, hook, "application/json", `{"n": 7}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.JSONEq(t, `{"version":"one","n":7}`, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	s.awaitClosed(id)

	u := s.call("PUT", "/api/v1/flows/it-rerun", writeKey, "application/yaml", strings.Replace(v1, "version: one", "version: two", 1), "If-Match", `"v1"`)
	require.Equal(t, http.StatusOK, u.status, u.body)

	for _, tc := range []struct {
		body, want string
		version    int64
	}{
		{`{"version": "current"}`, `{"version":"two","n":7}`, 2},
		{`{"version": "original"}`, `{"version":"one","n":7}`, 1},
		{``, `{"version":"one","n":7}`, 1},
		{`{"version": 2}`, `{"version":"two","n":7}`, 2},
	} {
		r := s.call("POST", "/api/v1/executions/"+id+"/rerun", writeKey, "application/json", tc.body)
		require.Equal(t, http.StatusAccepted, r.status, r.body)
		var got struct {
			ExecutionID string `json:"executionId"`
			Version     int64  `json:"version"`
			RerunOf     string `json:"rerunOf"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.body), &got))
		require.NotEqual(t, id, got.ExecutionID)
		require.Equal(t, id, got.RerunOf)
		require.Equal(t, tc.version, got.Version)
		res, err := s.result(got.ExecutionID)
		require.NoError(t, err)
		b, _ := json.Marshal(res.Response.Body)
		require.JSONEq(t, tc.want, string(b), tc.body)
	}

	for _, tc := range []struct {
		path, body string
		status     int
		field      string
	}{
		{"/api/v1/executions/it-rerun:nope/rerun", ``, 404, ""},
		{"/api/v1/executions/" + id + "/rerun", `{"version": 9}`, 404, "version"},
		{"/api/v1/executions/" + id + "/rerun", `{"version": "latest"}`, 422, "version"},
		{"/api/v1/executions/" + id + "/rerun", `{"colour": 1}`, 422, "colour"},
	} {
		r := s.call("POST", tc.path, writeKey, "application/json", tc.body)
		require.Equal(t, tc.status, r.status, r.body)
		if tc.field != "" {
			require.Equal(t, tc.field, r.json(t)["path"], r.body)
		}
	}
}

// TestBulkReplay: a dry run counts exactly the failed runs in the window;
// the replay then reruns each of them once, server-side.
func TestBulkReplay(t *testing.T) {
	s := setupAdmin(t)
	var fail atomic.Bool
	fail.Store(true)
	var got sync.Map // n -> successful receipts
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var b struct {
			N int `json:"n"`
		}
		_ = json.NewDecoder(req.Body).Decode(&b)
		if fail.Load() && b.N%2 == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		c, _ := got.LoadOrStore(b.N, new(atomic.Int32))
		c.(*atomic.Int32).Add(1)
	}))
	t.Cleanup(rcv.Close)
	hook := s.createFlow(fmt.Sprintf(`
id: it-replay
trigger: {}
steps:
  - {id: send, type: http, method: POST, url: "%s/x", body: {mode: keyValue, fields: {n: "{{ trigger.body.n }}"}}}
`, rcv.URL))

	from := time.Now().Add(-time.Second)
	var ids []string
	for n := 1; n <= 6; n++ {
		a := post(t, hook, "application/json", fmt.Sprintf(`{"n": %d}`, n))
		require.Equal(t, http.StatusOK, a.status, a.body)
		ids = append(ids, a.header.Get(api.HeaderExecutionID))
	}
	for _, id := range ids {
		s.awaitClosed(id)
	}
	to := time.Now().Add(time.Second)
	window := fmt.Sprintf(`"from": %q, "to": %q`, from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))

	// Visibility is written asynchronously: wait until it shows all six.
	require.Eventually(t, func() bool { return s.count("it-replay") >= 6 }, 15*time.Second, 100*time.Millisecond)
	var dry struct {
		Count  int64    `json:"count"`
		Sample []string `json:"sample"`
	}
	require.Eventually(t, func() bool {
		r := s.call("POST", "/api/v1/flows/it-replay/replay", writeKey, "application/json", `{"dryRun": true, "filter": {"status": ["failed"], `+window+`}}`)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.NoError(t, json.Unmarshal([]byte(r.body), &dry))
		return dry.Count == 3
	}, 15*time.Second, 200*time.Millisecond, "the dry run counts the three failed runs")
	require.Len(t, dry.Sample, 3)
	require.Equal(t, int64(6), s.count("it-replay"), "a dry run starts nothing")

	fail.Store(false)
	r := s.call("POST", "/api/v1/flows/it-replay/replay", writeKey, "application/json", `{"perSecond": 50, "filter": {"status": ["failed"], `+window+`}}`)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	replayID := r.json(t)["replayId"].(string)
	var prog struct {
		Status   string `json:"status"`
		Progress struct {
			Done     int  `json:"done"`
			Failed   int  `json:"failed"`
			Finished bool `json:"finished"`
		} `json:"progress"`
	}
	require.Eventually(t, func() bool {
		r := s.call("GET", "/api/v1/replays/"+replayID, readKey, "", "")
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.NoError(t, json.Unmarshal([]byte(r.body), &prog))
		return prog.Status == "completed"
	}, 30*time.Second, 200*time.Millisecond)
	require.True(t, prog.Progress.Finished)
	require.Equal(t, 3, prog.Progress.Done)
	require.Equal(t, 0, prog.Progress.Failed)
	// Every failed one delivered exactly once by its rerun; the others were
	// not replayed.
	require.Eventually(t, func() bool {
		n := 0
		got.Range(func(_, v any) bool { n++; return true })
		return n == 6
	}, 15*time.Second, 100*time.Millisecond)
	got.Range(func(k, v any) bool {
		require.Equal(t, int32(1), v.(*atomic.Int32).Load(), "n=%v", k)
		return true
	})

	// A filter without bounds starts nothing.
	for _, tc := range []struct{ body, path string }{
		{`{"filter": {"status": ["failed"]}}`, "filter.from"},
		{`{"filter": {"from": "2026-01-01T00:00:00Z"}}`, "filter.to"},
		{`{"filter": {` + window + `, "status": ["running"]}}`, "filter.status[0]"},
		{`{"action": "explode", "filter": {` + window + `}}`, "action"},
	} {
		r := s.call("POST", "/api/v1/flows/it-replay/replay", writeKey, "application/json", tc.body)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
		require.Equal(t, tc.path, r.json(t)["path"], r.body)
	}
}

// TestResumeRefusesToResendSideBySideSends: a send that succeeded beside
// the failed one (a parallel branch scheduled in the same workflow task)
// would run again after the reset: refused unless allowResend, and then
// sent again with its own Idempotency-Key.
func TestResumeRefusesToResendSideBySideSends(t *testing.T) {
	s := setupAdmin(t)
	rcv := newSendRecorder(t, "/b")
	hook := s.createFlow(fmt.Sprintf(`
id: it-resume-par
trigger: {}
steps:
  - id: both
    type: parallel
    branches:
      - steps: [{id: a, type: http, method: POST, url: "%s/a"}]
      - steps: [{id: b, type: http, method: POST, url: "%s/b"}]
`, rcv.URL, rcv.URL))
	a := post(t, hook, "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, s.awaitClosed(id))
	require.Equal(t, map[string]int{"/a": 1}, rcv.received())
	rcv.fix("/b")

	r := s.call("POST", "/api/v1/executions/"+id+"/resume", writeKey, "application/json", `{}`)
	require.Equal(t, http.StatusConflict, r.status, r.body)
	require.Contains(t, r.json(t)["detail"], "would send again 1 delivery(s)")
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, s.awaitClosed(id), "nothing was reset")

	r = s.call("POST", "/api/v1/executions/"+id+"/resume", writeKey, "application/json", `{"allowResend": true}`)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, s.awaitClosed(id))
	require.Equal(t, map[string]int{"/a": 2, "/b": 1}, rcv.received())
	keys := rcv.keysOf("/a")
	require.Equal(t, keys[0], keys[1], "sent again with its own Idempotency-Key")
}

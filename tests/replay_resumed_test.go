//go:build !nodev

package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/hookflow/hookflow/api"
)

// TestBulkReplayAfterAResumeSelectsExecutionsByTheirCurrentRun is the
// scenario of issue 22: an execution resumed by hand (its failed run left
// behind in visibility) is neither counted, listed as failed, nor resumed
// again by a bulk replay over the same window; a refusal no retry can change
// is recorded as skipped with its reason, and the replay completes.
func TestBulkReplayAfterAResumeSelectsExecutionsByTheirCurrentRun(t *testing.T) {
	s := setupAdmin(t)
	rcv := newSendRecorder(t, "/3")
	hook := s.createFlow(fmt.Sprintf(`
id: it-replay-resumed
trigger: {}
steps:
  - id: gate
    type: condition
    if: trigger.body.logic == true
    then:
      - {id: stop, type: end, status: failure, message: "refused by the flow's own logic"}
  - {id: s1, type: http, method: POST, url: "%[1]s/1", body: {mode: keyValue, fields: {n: 1}}}
  - {id: s2, type: http, method: POST, url: "%[1]s/2", body: {mode: keyValue, fields: {n: 2}}}
  - {id: s3, type: http, method: POST, url: "%[1]s/3", body: {mode: keyValue, fields: {n: 3}}}
  - {id: s4, type: http, method: POST, url: "%[1]s/4", body: {mode: keyValue, fields: {n: 4}}}
`, rcv.URL))
	trigger := func(key, body string) string {
		a := post(t, hook, "application/json", body, api.HeaderIdempotencyKey, key)
		require.Equal(t, http.StatusOK, a.status, a.body)
		return a.header.Get(api.HeaderExecutionID)
	}
	from := time.Now().Add(-time.Second)

	// 1. rs1 fails at send 3; the receiver is fixed; a resume completes it.
	rs1 := trigger("rs1", `{}`)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, s.awaitClosed(rs1))
	rcv.fix("/3")
	r := s.call("POST", "/api/v1/executions/"+rs1+"/resume", writeKey, "application/json", `{}`)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, s.awaitClosed(rs1))
	require.Equal(t, map[string]int{"/1": 1, "/2": 1, "/3": 1, "/4": 1}, rcv.received())

	// 2. The receiver breaks again: bk1..bk3 fail at send 3, lg1 fails in
	// the flow's own logic (a resume would fail the same way).
	rcv.mu.Lock()
	rcv.broken["/3"] = true
	rcv.mu.Unlock()
	var broken []string
	for _, k := range []string{"bk1", "bk2", "bk3"} {
		broken = append(broken, trigger(k, `{}`))
	}
	lg1 := trigger("lg1", `{"logic": true}`)
	for _, id := range append(slices.Clone(broken), lg1) {
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, s.awaitClosed(id))
	}
	to := time.Now().Add(time.Second)
	window := fmt.Sprintf(`"from": %q, "to": %q`, from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))
	failedNow := append(slices.Clone(broken), lg1)
	slices.Sort(failedNow)

	// The executions API lists each execution once, by its current run:
	// rs1 is completed, not failed, and its reset run is in its detail.
	listed := func(query string) []string {
		a := s.call("GET", "/api/v1/flows/it-replay-resumed/executions"+query, readKey, "", "")
		require.Equal(t, http.StatusOK, a.status, a.body)
		var out struct {
			Executions []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"executions"`
		}
		require.NoError(t, json.Unmarshal([]byte(a.body), &out))
		var ids []string
		for _, e := range out.Executions {
			ids = append(ids, e.ID+"="+e.Status)
		}
		slices.Sort(ids)
		return ids
	}
	var wantFailed []string
	for _, id := range failedNow {
		wantFailed = append(wantFailed, id+"=failed")
	}
	// Visibility is written asynchronously: wait until it shows them all.
	require.Eventually(t, func() bool { return slices.Equal(listed("?status=failed"), wantFailed) }, 15*time.Second, 200*time.Millisecond,
		"failed: %v", listed("?status=failed"))
	all := append(slices.Clone(wantFailed), rs1+"=completed")
	slices.Sort(all)
	require.Equal(t, all, listed(""), "every execution once, no replay or redelivery among them")

	var detail struct {
		Status string `json:"status"`
		Runs   []struct {
			RunID   string `json:"runId"`
			Status  string `json:"status"`
			Current bool   `json:"current"`
		} `json:"runs"`
	}
	a := s.call("GET", "/api/v1/executions/"+rs1, readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.NoError(t, json.Unmarshal([]byte(a.body), &detail))
	require.Equal(t, "completed", detail.Status)
	require.Len(t, detail.Runs, 2, a.body)
	require.Equal(t, []string{"completed", "failed"}, []string{detail.Runs[0].Status, detail.Runs[1].Status}, "newest first: the resumed run, then the one it reset")
	require.True(t, detail.Runs[0].Current)
	require.False(t, detail.Runs[1].Current)

	// 3. The dry run counts executions, not runs: rs1 is not among them.
	var dry struct {
		Count  int      `json:"count"`
		Exact  bool     `json:"exact"`
		Sample []string `json:"sample"`
	}
	r = s.call("POST", "/api/v1/flows/it-replay-resumed/replay", writeKey, "application/json", `{"action": "resume", "dryRun": true, "filter": {"status": ["failed"], `+window+`}}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.NoError(t, json.Unmarshal([]byte(r.body), &dry))
	slices.Sort(dry.Sample)
	require.Equal(t, 4, dry.Count, r.body)
	require.True(t, dry.Exact)
	require.Equal(t, failedNow, dry.Sample)

	// 4. The real replay resumes bk1..bk3, skips lg1 with its reason, and
	// completes.
	rcv.fix("/3")
	r = s.call("POST", "/api/v1/flows/it-replay-resumed/replay", writeKey, "application/json", `{"action": "resume", "perSecond": 50, "filter": {"status": ["failed"], `+window+`}}`)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	replayID := r.json(t)["replayId"].(string)
	var prog struct {
		Status   string `json:"status"`
		Progress struct {
			Done    int `json:"done"`
			Skipped int `json:"skipped"`
			Failed  int `json:"failed"`
			Skips   []struct {
				Of    string `json:"of"`
				Error string `json:"error"`
				Type  string `json:"type"`
			} `json:"skips"`
			Finished bool `json:"finished"`
		} `json:"progress"`
	}
	require.Eventually(t, func() bool {
		r := s.call("GET", "/api/v1/replays/"+replayID, readKey, "", "")
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.NoError(t, json.Unmarshal([]byte(r.body), &prog))
		return prog.Status != "running"
	}, 60*time.Second, 200*time.Millisecond, "the replay ends")
	require.Equal(t, "completed", prog.Status)
	require.True(t, prog.Progress.Finished)
	require.Equal(t, 3, prog.Progress.Done)
	require.Equal(t, 1, prog.Progress.Skipped)
	require.Equal(t, 0, prog.Progress.Failed)
	require.Len(t, prog.Progress.Skips, 1)
	require.Equal(t, lg1, prog.Progress.Skips[0].Of)
	require.Equal(t, "NotResumable", prog.Progress.Skips[0].Type)
	require.Contains(t, prog.Progress.Skips[0].Error, "failed in its own logic")

	// What the receiver saw: sends 1 and 2 once per execution that got
	// past the gate (never again by a resume); send 3 delivered once per
	// execution, after a refusal with the same key; send 4 once each.
	for _, id := range broken {
		require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, s.awaitClosed(id))
	}
	require.Equal(t, map[string]int{"/1": 4, "/2": 4, "/3": 4, "/4": 4}, rcv.received())
	keys := map[string]int{}
	for _, k := range rcv.keysOf("/3") {
		keys[k]++
	}
	require.Len(t, keys, 4, "rs1 and bk1..bk3 each with one key of their own: %v", keys)
	for k, n := range keys {
		require.Equal(t, 2, n, "key %s: refused once, delivered once", k)
	}
}

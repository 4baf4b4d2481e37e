//go:build !nodev

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
)

type answer struct {
	status int
	header http.Header
	body   string
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(a.body), &m), a.body)
	return m
}

func post(t *testing.T, url, contentType, body string, headers ...string) answer {
	t.Helper()
	// An empty contentType sends an empty Content-Type: what a caller
	// that sets none looks like to the API.
	return send(t, http.MethodPost, url, body, append([]string{"Content-Type", contentType}, headers...)...)
}

const syncOrderFlow = `
id: it-order
name: Integration order
trigger: {mode: sync, timeout: 10s}
steps:
  - {id: totals, type: set, values: {withTax: "{{ trigger.body.total * 1.2 }}"}}
  - id: big
    type: condition
    if: trigger.body.total > 100
    then:
      - {id: accept, type: response, status: 201, headers: {X-Order: "{{ trigger.body.id }}"}, body: {id: "{{ trigger.body.id }}", withTax: "{{ vars.withTax }}", q: "{{ trigger.query.source }}", h: "{{ trigger.headers['x-shop'] }}"}}
    else:
      - {id: reject, type: response, status: 422, body: "too small"}
`

func TestSyncTriggerAnswersWithTheResponseStep(t *testing.T) {
	s := setup(t, syncOrderFlow)
	a := post(t, s.hookURL("it-order")+"?source=shop", "application/json; charset=utf-8", `{"id":"A-1","total":250}`, "X-Shop", "berlin")
	require.Equal(t, http.StatusCreated, a.status, a.body)
	require.Equal(t, "A-1", a.header.Get("X-Order"))
	require.Equal(t, map[string]any{"id": "A-1", "withTax": 300.0, "q": "shop", "h": "berlin"}, a.json(t))
	id := a.header.Get(api.HeaderExecutionID)
	require.True(t, strings.HasPrefix(id, "it-order:"), id)

	a = post(t, s.hookURL("it-order"), "application/json", `{"id":"A-2","total":5}`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Equal(t, "too small", a.body)
	require.Equal(t, "text/plain; charset=utf-8", a.header.Get("Content-Type"))

	// The run is findable by its search attributes, with a readable summary.
	res, err := s.result(id)
	require.NoError(t, err)
	require.Equal(t, "succeeded", res.Status)
	desc, err := s.client.DescribeWorkflow(context.Background(), id, "")
	require.NoError(t, err)
	summary, err := desc.GetStaticSummary()
	require.NoError(t, err)
	require.Equal(t, "Integration order (v1, sync trigger)", summary)
	mode, ok := desc.TypedSearchAttributes.GetKeyword(contract.SearchAttrTriggerMode)
	require.True(t, ok)
	require.Equal(t, "sync", mode)
	require.Equal(t, int64(2), s.awaitCount("it-order", 2))
	// Sync runs poll a queue of their own, ahead of any async backlog.
	ex, err := s.client.DescribeWorkflowExecution(context.Background(), id, "")
	require.NoError(t, err)
	require.Equal(t, contract.SyncTaskQueue, ex.GetExecutionConfig().GetTaskQueue().GetName())

	// The step log is readable by query.
	v, err := s.client.QueryWorkflow(context.Background(), id, "", contract.QuerySteps)
	require.NoError(t, err)
	var log contract.StepLog
	require.NoError(t, v.Get(&log))
	var ids []string
	for _, r := range log.Steps {
		ids = append(ids, r.ID+":"+r.Status)
	}
	require.Equal(t, []string{"totals:succeeded", "big:succeeded", "accept:succeeded"}, ids)
}

// A token written in a flow file served from a catalog (not the store,
// which never keeps it in the definition; TestTriggerTokenStaysOutOfHistory)
// is the secret part of its URL too: the run carries the flow without it.
func TestTriggerTokenOfACatalogFlowStaysOutOfHistory(t *testing.T) {
	const token = "it-token-canary-5b1e0c9a7d3f"
	s := setup(t, "id: it-token\ntrigger: {mode: sync, token: "+token+"}\nsteps: [{id: r, type: response, status: 200, body: {ok: true}}]\n")
	require.True(t, strings.HasSuffix(s.hookURL("it-token"), "/"+token))
	a := post(t, s.hookURL("it-token"), "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	_, err := s.result(id)
	require.NoError(t, err)
	require.NotContains(t, historyText(t, s, id), token)
}

func TestSyncTriggerWithoutResponseStep(t *testing.T) {
	s := setup(t, `
id: it-noresp
trigger: {mode: sync}
steps:
  - id: c
    type: condition
    if: trigger.body.ok
    then: [{id: fine, type: set, values: {x: 1}}]
    else: [{id: bad, type: end, status: failure, message: "internal reason 42"}]
`)
	a := post(t, s.hookURL("it-noresp"), "application/json", `{"ok": true}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "succeeded", a.json(t)["status"])

	a = post(t, s.hookURL("it-noresp"), "application/json", `{"ok": false}`)
	require.Equal(t, http.StatusInternalServerError, a.status, a.body)
	require.NotContains(t, a.body, "internal reason 42", "no internals for the caller")
	id := a.header.Get(api.HeaderExecutionID)
	require.Equal(t, id, a.json(t)["executionId"])
	_, err := s.result(id)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	require.Equal(t, contract.ErrorTypeEnded, appErr.Type())
}

func TestSyncTriggerPastItsBudgetAnswers504AndTheFlowGoesOn(t *testing.T) {
	s := setup(t, `
id: it-slow
trigger: {mode: sync, timeout: 1s}
steps:
  - {id: wait, type: delay, duration: 3s}
  - {id: reply, type: response, body: late}
`)
	start := time.Now()
	a := post(t, s.hookURL("it-slow"), "application/json", `{}`)
	require.Equal(t, http.StatusGatewayTimeout, a.status, a.body)
	require.Less(t, time.Since(start), 3*time.Second)
	id := a.header.Get(api.HeaderExecutionID)
	require.Equal(t, id, a.json(t)["executionId"])
	res, err := s.result(id)
	require.NoError(t, err, "the flow goes on after the caller's budget")
	require.Equal(t, "late", res.Response.Body)
}

func TestAsyncTriggerAnswersAtOnceAndRunsInTheBackground(t *testing.T) {
	s := setup(t, `
id: it-async
trigger: {response: {status: 202, headers: {X-Queued: "yes"}, body: {queued: true}}}
steps:
  - {id: wait, type: delay, duration: 1s}
  - id: each
    type: loop
    over: trigger.body.items
    steps: [{id: add, type: set, values: {last: "{{ upper(item) }}"}}]
`, `
id: it-async-default
trigger: {}
steps: [{id: s, type: set, values: {x: 1}}]
`)
	start := time.Now()
	a := post(t, s.hookURL("it-async"), "application/json", `{"items":["a","b"]}`)
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	require.Less(t, time.Since(start), time.Second, "async does not wait for the flow's delay")
	require.Equal(t, "yes", a.header.Get("X-Queued"))
	require.JSONEq(t, `{"queued": true}`, a.body)
	res, err := s.result(a.header.Get(api.HeaderExecutionID))
	require.NoError(t, err)
	require.Equal(t, 4, res.StepsRun)
	ex, err := s.client.DescribeWorkflowExecution(context.Background(), a.header.Get(api.HeaderExecutionID), "")
	require.NoError(t, err)
	require.Equal(t, contract.TaskQueue, ex.GetExecutionConfig().GetTaskQueue().GetName())

	a = post(t, s.hookURL("it-async-default"), "application/json", `[1,2]`)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "ok", a.body)
}

func TestDuplicateIdempotencyKeyStartsOneRun(t *testing.T) {
	s := setup(t, `
id: it-idem
trigger: {}
steps: [{id: wait, type: delay, duration: 1s}]
`, `
id: it-idem-sync
trigger: {mode: sync}
steps: [{id: reply, type: response, body: {n: "{{ trigger.body.n }}"}}]
`)
	a1 := post(t, s.hookURL("it-idem"), "application/json", `{"n":1}`, "Idempotency-Key", "evt-1")
	a2 := post(t, s.hookURL("it-idem"), "application/json", `{"n":1}`, "Idempotency-Key", "evt-1")
	require.Equal(t, http.StatusOK, a1.status)
	require.Equal(t, http.StatusOK, a2.status)
	require.Equal(t, "it-idem:evt-1", a1.header.Get(api.HeaderExecutionID))
	require.Equal(t, a1.header.Get(api.HeaderExecutionID), a2.header.Get(api.HeaderExecutionID))
	_, err := s.result("it-idem:evt-1")
	require.NoError(t, err)
	require.Equal(t, int64(1), s.awaitCount("it-idem", 1))

	// A sync duplicate gets the first run's answer again.
	b1 := post(t, s.hookURL("it-idem-sync"), "application/json", `{"n":1}`, "Idempotency-Key", "evt-9")
	b2 := post(t, s.hookURL("it-idem-sync"), "application/json", `{"n":1}`, "Idempotency-Key", "evt-9")
	require.Equal(t, http.StatusOK, b1.status, b1.body)
	require.JSONEq(t, `{"n":1}`, b1.body)
	require.JSONEq(t, `{"n":1}`, b2.body, "the duplicate is answered from the first run")
}

func TestRejectedRequestsStartNothing(t *testing.T) {
	s := setup(t, `
id: it-reject
trigger: {}
steps: [{id: s, type: set, values: {x: 1}}]
`)
	url := s.hookURL("it-reject")
	cases := []struct {
		name   string
		do     func() answer
		status int
		code   string
	}{
		{"unknown token", func() answer { return post(t, s.url+"/hooks/not-a-token", "application/json", `{}`) }, 404, "not_found"},
		{"wrong method", func() answer {
			resp, err := http.Get(url)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			require.Equal(t, "POST", resp.Header.Get("Allow"))
			return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
		}, 405, "method_not_allowed"},
		{"not JSON", func() answer { return post(t, url, "text/plain", `{}`) }, 415, "unsupported_media_type"},
		{"no content type", func() answer { return post(t, url, "", `{}`) }, 415, "unsupported_media_type"},
		{"malformed JSON", func() answer { return post(t, url, "application/json", `{"a":`) }, 400, "malformed_json"},
		{"empty body", func() answer { return post(t, url, "application/json", ``) }, 400, "malformed_json"},
		{"too large", func() answer {
			return post(t, url, "application/json", `{"pad":"`+strings.Repeat("x", 70<<10)+`"}`)
		}, 413, "payload_too_large"},
		{"bad idempotency key", func() answer {
			return post(t, url, "application/json", `{}`, "Idempotency-Key", strings.Repeat("k", 201))
		}, 400, "invalid_idempotency_key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.do()
			require.Equal(t, tc.status, a.status, a.body)
			require.Equal(t, tc.code, a.json(t)["error"])
			require.NotEmpty(t, a.json(t)["detail"])
			require.Empty(t, a.header.Get(api.HeaderExecutionID))
		})
	}
	// One accepted request as a marker: once visibility shows it, it shows
	// everything started before it, and nothing else was started.
	a := post(t, url, "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status)
	_, err := s.result(a.header.Get(api.HeaderExecutionID))
	require.NoError(t, err)
	require.Equal(t, int64(1), s.awaitCount("it-reject", 1))
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, int64(1), s.count("it-reject"), "rejected requests must start no run")
}

func TestCallerDisconnectDoesNotCancelTheFlow(t *testing.T) {
	s := setup(t, `
id: it-disconnect
trigger: {mode: sync, timeout: 10s}
steps:
  - {id: wait, type: delay, duration: 2s}
  - {id: reply, type: response, body: done}
`)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.hookURL("it-disconnect"), bytes.NewReader([]byte(`{}`)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "disc-1")
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err, "the caller gave up")
	res, err := s.result("it-disconnect:disc-1")
	require.NoError(t, err, "the flow still ran to the end")
	require.Equal(t, "done", res.Response.Body)
}

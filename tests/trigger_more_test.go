//go:build !nodev

package tests

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
)

func TestParsedTriggerData(t *testing.T) {
	s := setup(t, `
id: it-parse
trigger:
  mode: sync
  parse:
    headers: [{name: X-Request-Id, alias: requestId, required: true}]
    query:
      - {path: source}
      - {path: filter.0.limit, alias: limit, type: number}
    body:
      - {path: order.id, alias: orderId, type: string, required: true}
      - {path: order.total, type: number}
      - {path: order.status, type: enum, options: [new, paid]}
      - {path: order.rush, type: boolean}
steps:
  - id: reply
    type: response
    body:
      requestId: "{{ trigger.requestId }}"
      source: "{{ trigger.source }}"
      limit: "{{ trigger.limit }}"
      orderId: "{{ trigger.orderId }}"
      total: "{{ trigger.total }}"
      status: "{{ trigger.status }}"
      rush: "{{ trigger.rush }}"
      raw: "{{ trigger.body.order.extra }}"
      nested: "{{ trigger.query.filter[0].limit }}"
`)
	a := post(t, s.hookURL("it-parse")+"?source=web&filter[0].limit=5", "application/json",
		`{"order":{"id":"A-1","total":12.5,"status":"paid","rush":true,"extra":"kept"}}`, "X-Request-Id", "req-7")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.JSONEq(t, `{"requestId":"req-7","source":"web","limit":5,"orderId":"A-1","total":12.5,"status":"paid","rush":true,"raw":"kept","nested":"5"}`, a.body)

	a = post(t, s.hookURL("it-parse")+"?filter[0].limit=lots", "application/json",
		`{"order":{"total":"12.5","status":"lost","rush":"yes"}}`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	m := a.json(t)
	require.Equal(t, "invalid_trigger_data", m["error"])
	require.Equal(t, "headers.X-Request-Id", m["path"])
	var paths []string
	for _, e := range m["errors"].([]any) {
		paths = append(paths, e.(map[string]any)["path"].(string))
	}
	require.ElementsMatch(t, []string{"headers.X-Request-Id", "query.filter.0.limit", "body.order.id", "body.order.total", "body.order.status", "body.order.rush"}, paths)

	a = post(t, s.hookURL("it-parse")+"?a=1&a.b=2", "application/json", `{}`, "X-Request-Id", "r")
	require.Equal(t, http.StatusBadRequest, a.status, a.body)
	require.Equal(t, "malformed_query", a.json(t)["error"])

	require.Equal(t, int64(1), s.settledCount("it-parse", 1), "only the valid request started a run")
}

func TestEnrollmentFilter(t *testing.T) {
	s := setup(t, `
id: it-enroll
trigger:
  response: {status: 202, body: {queued: true}}
  enroll: {if: 'trigger.body.status == "paid" && trigger.total > 10'}
  parse: {body: [{path: total, type: number}]}
steps: [{id: s, type: set, values: {x: 1}}]
`, `
id: it-enroll-sync
trigger:
  mode: sync
  enroll: {if: "trigger.body.vip", response: {status: 200, body: {skipped: true}}}
steps: [{id: r, type: response, body: {vip: true}}]
`)
	a := post(t, s.hookURL("it-enroll"), "application/json", `{"status":"new","total":50}`)
	require.Equal(t, http.StatusAccepted, a.status)
	require.JSONEq(t, `{"queued":true}`, a.body, "a request not enrolled gets the configured answer")
	require.Equal(t, "false", a.header.Get(api.HeaderEnrolled))
	require.Empty(t, a.header.Get(api.HeaderExecutionID))

	a = post(t, s.hookURL("it-enroll"), "application/json", `{"status":"paid","total":50}`)
	require.Equal(t, http.StatusAccepted, a.status)
	require.NotEmpty(t, a.header.Get(api.HeaderExecutionID))
	require.Equal(t, int64(1), s.settledCount("it-enroll", 1))

	a = post(t, s.hookURL("it-enroll-sync"), "application/json", `{"vip": false}`)
	require.JSONEq(t, `{"skipped":true}`, a.body)
	a = post(t, s.hookURL("it-enroll-sync"), "application/json", `{"vip": "not a bool"}`)
	require.JSONEq(t, `{"skipped":true}`, a.body, "a filter that cannot be evaluated does not enroll")
	a = post(t, s.hookURL("it-enroll-sync"), "application/json", `{"vip": true}`)
	require.JSONEq(t, `{"vip":true}`, a.body)
	require.Equal(t, int64(1), s.settledCount("it-enroll-sync", 1))
}

func TestHundredConcurrentDuplicatesStartOneRun(t *testing.T) {
	s := setup(t, `
id: it-dup100
trigger: {idempotencyKey: {body: event.id}}
steps: [{id: wait, type: delay, duration: 1s}]
`)
	var wg sync.WaitGroup
	ids := make([]string, 100)
	statuses := make([]int, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := post(t, s.hookURL("it-dup100"), "application/json", `{"event":{"id":"evt-42"},"n":1}`)
			ids[i], statuses[i] = a.header.Get(api.HeaderExecutionID), a.status
		}()
	}
	wg.Wait()
	for i := range 100 {
		require.Equal(t, http.StatusOK, statuses[i])
		require.Equal(t, "it-dup100:evt-42", ids[i])
	}
	_, err := s.result("it-dup100:evt-42")
	require.NoError(t, err)
	// And once the run has closed, a late duplicate still starts nothing.
	a := post(t, s.hookURL("it-dup100"), "application/json", `{"event":{"id":"evt-42"},"n":1}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, int64(1), s.settledCount("it-dup100", 1))

	a = post(t, s.hookURL("it-dup100"), "application/json", `{"event":{}}`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	require.Equal(t, "body.event.id", a.json(t)["path"])
}

func TestSyncDuplicateAfterTheRunClosedGetsTheSameAnswer(t *testing.T) {
	s := setup(t, `
id: it-dup-closed
trigger: {mode: sync}
steps: [{id: r, type: response, status: 201, body: {n: "{{ trigger.body.n }}"}}]
`)
	a := post(t, s.hookURL("it-dup-closed"), "application/json", `{"n":1}`, "Idempotency-Key", "k-1")
	require.Equal(t, http.StatusCreated, a.status, a.body)
	_, err := s.result("it-dup-closed:k-1")
	require.NoError(t, err)
	a = post(t, s.hookURL("it-dup-closed"), "application/json", `{"n":1}`, "Idempotency-Key", "k-1")
	require.Equal(t, http.StatusCreated, a.status, a.body)
	require.JSONEq(t, `{"n":1}`, a.body)
	require.Equal(t, int64(1), s.settledCount("it-dup-closed", 1))
}

func TestDerivePathsEndpoint(t *testing.T) {
	s := setup(t, `{id: it-paths, trigger: {}, steps: [{id: s, type: set, values: {x: 1}}]}`)
	a := post(t, s.url+"/api/v1/parse", "application/json", `{"body": {"a":1,"b":{"c":2}}}`, "Authorization", "Bearer "+readKey)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.JSONEq(t, `{"source":"body","paths":["a","b","b.c"]}`, a.body)
	a = post(t, s.url+"/api/v1/parse", "application/json", `{"url": "https://example.com/hook?query=1&f[0].x=2"}`, "Authorization", "Bearer "+readKey)
	require.JSONEq(t, `{"source":"query","paths":["f","f.0","f.0.x","query"]}`, a.body)
	a = post(t, s.url+"/api/v1/parse", "application/json", `{}`, "Authorization", "Bearer "+readKey)
	require.Equal(t, http.StatusUnprocessableEntity, a.status)
	a = post(t, s.url+"/api/v1/parse", "application/json", `{"bdy": 1}`, "Authorization", "Bearer "+readKey)
	require.Equal(t, http.StatusBadRequest, a.status)
}

//go:build !nodev

package tests

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
)

// An idempotency key names one event. The same payload under a key already
// used gets the first run's answer; another payload is refused (422
// idempotency_key_reused, as the IETF Idempotency-Key draft and Stripe do),
// starts nothing and leaves the first run as it was: while the run is open
// and after it has closed, for async and sync flows, whether the key comes
// from the Idempotency-Key header, a configured header or a body path.
func TestIdempotencyKeyReusedWithAnotherPayload(t *testing.T) {
	type keyCase struct {
		name    string
		trigger string // the trigger's idempotencyKey, if any
		// body is the payload n under the key; reordered is payload 1
		// written differently (key order, whitespace).
		body      func(n int) string
		reordered string
		headers   []string
		path      string
	}
	keys := []keyCase{
		{
			name: "idempotency-key-header", body: func(n int) string { return fmt.Sprintf(`{"n":%d,"items":[1,2]}`, n) },
			reordered: ` { "items": [1, 2], "n": 1 }` + "\n",
			headers:   []string{"Idempotency-Key", "evt-1"}, path: "headers.Idempotency-Key",
		},
		{
			name: "configured-header", trigger: ", idempotencyKey: {header: X-Event-Id}",
			body:      func(n int) string { return fmt.Sprintf(`{"n":%d,"items":[1,2]}`, n) },
			reordered: ` { "items": [1, 2], "n": 1 }` + "\n",
			headers:   []string{"X-Event-Id", "evt-1"}, path: "headers.X-Event-Id",
		},
		{
			name: "body-path", trigger: ", idempotencyKey: {body: event.id}",
			body:      func(n int) string { return fmt.Sprintf(`{"event":{"id":"evt-1"},"n":%d,"items":[1,2]}`, n) },
			reordered: `{"items": [1,2], "n": 1, "event": {"id": "evt-1"}}`,
			path:      "body.event.id",
		},
	}
	for _, mode := range []string{"async", "sync"} {
		for _, k := range keys {
			t.Run(mode+"/"+k.name, func(t *testing.T) {
				t.Parallel()
				flowID := "it-idem-reuse-" + mode + "-" + k.name
				var y string
				if mode == "async" {
					y = fmt.Sprintf(`
id: %s
trigger: {mode: async, response: {status: 202, body: {queued: true}}%s}
steps: [{id: wait, type: delay, duration: 3s}]
`, flowID, k.trigger)
				} else {
					y = fmt.Sprintf(`
id: %s
trigger: {mode: sync%s}
steps:
  - {id: reply, type: response, status: 201, body: {n: "{{ trigger.body.n }}", src: "{{ trigger.query.src }}"}}
  - {id: wait, type: delay, duration: 3s}
`, flowID, k.trigger)
				}
				s := setup(t, y)
				hook := s.hookURL(flowID)
				send := func(query, body string, extra ...string) answer {
					return post(t, hook+query, "application/json", body, append(append([]string{}, k.headers...), extra...)...)
				}
				wantFirst := func(a answer) {
					t.Helper()
					if mode == "async" {
						require.Equal(t, http.StatusAccepted, a.status, a.body)
						require.JSONEq(t, `{"queued":true}`, a.body)
					} else {
						require.Equal(t, http.StatusCreated, a.status, a.body)
						require.JSONEq(t, `{"n":1,"src":"shop"}`, a.body)
					}
				}
				wantReused := func(a answer, id string) {
					t.Helper()
					require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
					m := a.json(t)
					require.Equal(t, "idempotency_key_reused", m["error"], a.body)
					require.Equal(t, id, m["executionId"], a.body)
					require.Equal(t, k.path, m["path"], a.body)
					require.Contains(t, m["detail"], id)
					require.Equal(t, id, a.header.Get(api.HeaderExecutionID))
				}

				first := send("?src=shop", k.body(1), "X-Delivery-Attempt", "1")
				wantFirst(first)
				id := first.header.Get(api.HeaderExecutionID)
				require.Equal(t, flowID+":evt-1", id)
				startedWith := startInput(t, s, id)

				// While the run is open. The same payload, with its keys in
				// another order, other whitespace and other non-key headers,
				// is the same event.
				again := send("?src=shop", k.reordered, "X-Delivery-Attempt", "2")
				wantFirst(again)
				require.Equal(t, id, again.header.Get(api.HeaderExecutionID))
				// Another body, or the same body with another query.
				wantReused(send("?src=shop", k.body(2)), id)
				wantReused(send("?src=other", k.body(1)), id)
				require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, runStatus(t, s, id), "the duplicates above must have met an open run")

				_, err := s.result(id)
				require.NoError(t, err)
				// After the run has closed.
				wantFirst(send("?src=shop", k.body(1), "X-Delivery-Attempt", "3"))
				wantReused(send("?src=shop", k.body(2)), id)

				require.Equal(t, int64(1), s.settledCount(flowID, 1), "one run")
				require.Equal(t, startedWith, startInput(t, s, id), "the run's input is the first request's")
				// Nothing reached the run but the first request (and, sync,
				// its one answer update): rejected updates leave no trace.
				wantUpdates := 0
				if mode == "sync" {
					wantUpdates = 1
				}
				require.Equal(t, wantUpdates, countEvents(t, s, id, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED))
				require.Equal(t, 0, countEvents(t, s, id, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED))
				res, err := s.result(id)
				require.NoError(t, err)
				if mode == "sync" {
					require.NotNil(t, res.Response)
					require.JSONEq(t, `{"n":1,"src":"shop"}`, toJSON(t, res.Response.Body))
				}
			})
		}
	}
}

// Concurrent deliveries under one key after the first: each copy of the
// first payload gets its answer, each other payload a 422, and one run
// starts.
func TestConcurrentKeyReuseStartsOneRun(t *testing.T) {
	for _, mode := range []string{"async", "sync"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			flowID := "it-idem-race-" + mode
			steps := "[{id: wait, type: delay, duration: 2s}]"
			if mode == "sync" {
				steps = `[{id: reply, type: response, body: {n: "{{ trigger.body.n }}"}}, {id: wait, type: delay, duration: 2s}]`
			}
			s := setup(t, fmt.Sprintf(`
id: %s
trigger: {mode: %s, idempotencyKey: {body: event.id}}
steps: %s
`, flowID, mode, steps))
			body := func(n int) string { return fmt.Sprintf(`{"event":{"id":"evt-7"},"n":%d}`, n) }
			first := post(t, s.hookURL(flowID), "application/json", body(1))
			require.Equal(t, http.StatusOK, first.status, first.body)

			const n = 20
			answers := make([]answer, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					answers[i] = post(t, s.hookURL(flowID), "application/json", body(1+i%2))
				}()
			}
			wg.Wait()
			for i, a := range answers {
				require.Equal(t, flowID+":evt-7", a.header.Get(api.HeaderExecutionID))
				if i%2 == 0 {
					require.Equal(t, http.StatusOK, a.status, a.body)
					require.Equal(t, first.body, a.body)
				} else {
					require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
					require.Equal(t, "idempotency_key_reused", a.json(t)["error"])
				}
			}
			require.Equal(t, int64(1), s.settledCount(flowID, 1))
		})
	}
}

// With payload encryption on, the digest in the run's memo is encrypted
// like every payload, and the API still compares it (decoded through the
// client's data converter): for async flows and for closed sync runs.
func TestKeyReuseWithEncryptedPayloads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own embedded server")
	}
	s := setupObserved(t, `
id: it-idem-enc-async
trigger: {mode: async}
steps: [{id: wait, type: delay, duration: 1s}]
`, `
id: it-idem-enc-sync
trigger: {mode: sync}
steps: [{id: reply, type: response, body: {n: "{{ trigger.body.n }}"}}]
`)
	for _, tc := range []struct{ flow, first string }{
		{"it-idem-enc-async", "ok"},
		{"it-idem-enc-sync", `{"n":1}`},
	} {
		hook := s.hookURL(tc.flow)
		id := tc.flow + ":enc-1"
		a := post(t, hook, "application/json", `{"n":1}`, "Idempotency-Key", "enc-1")
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, tc.first, a.body)
		if tc.flow == "it-idem-enc-async" {
			// Open run: the async comparison reads the memo.
			a = post(t, hook, "application/json", `{"n":2}`, "Idempotency-Key", "enc-1")
			require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
			require.Equal(t, id, a.json(t)["executionId"])
		}
		_, err := s.result(id)
		require.NoError(t, err)

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		d, err := s.client.DescribeWorkflowExecution(ctx, id, "")
		cancel()
		require.NoError(t, err)
		memo := d.GetWorkflowExecutionInfo().GetMemo().GetFields()[contract.MemoTriggerDigest]
		require.NotNil(t, memo, "the run's memo holds the payload's digest")
		require.Equal(t, "binary/encrypted", string(memo.GetMetadata()["encoding"]))

		a = post(t, hook, "application/json", `{"n":1}`, "Idempotency-Key", "enc-1")
		require.Equal(t, http.StatusOK, a.status, a.body)
		require.Equal(t, tc.first, a.body)
		a = post(t, hook, "application/json", `{"n":2}`, "Idempotency-Key", "enc-1")
		require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
		require.Equal(t, "idempotency_key_reused", a.json(t)["error"])
		require.Equal(t, id, a.json(t)["executionId"])
		require.Equal(t, int64(1), s.settledCount(tc.flow, 1))
	}
}

// startInput is the input a run was started with, as recorded in its
// history.
func startInput(t *testing.T, s *stack, id string) contract.Input {
	t.Helper()
	ev := history(t, s, id).Events[0]
	var in contract.Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(ev.GetWorkflowExecutionStartedEventAttributes().GetInput(), &in))
	require.NotEmpty(t, in.Digest, "a run started under an idempotency key records its payload's digest")
	return in
}

func countEvents(t *testing.T, s *stack, id string, typ enumspb.EventType) int {
	t.Helper()
	n := 0
	for _, ev := range history(t, s, id).Events {
		if ev.GetEventType() == typ {
			n++
		}
	}
	return n
}

func runStatus(t *testing.T, s *stack, id string) enumspb.WorkflowExecutionStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := s.client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	return d.GetWorkflowExecutionInfo().GetStatus()
}

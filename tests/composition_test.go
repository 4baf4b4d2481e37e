//go:build !nodev

package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
)

// testResumeKey signs the links of wait and approval steps in these tests.
const testResumeKey = "test-resume-key-0123456789abcdef"

// setupSharedAdmin is an admin API on the store the shared worker resolves
// call steps in, with a public URL for resume links (its own address).
func setupSharedAdmin(t *testing.T) *adminStack {
	t.Helper()
	cache, err := store.NewCache(context.Background(), shared.flows, time.Hour, testLog)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(nil)
	cfg := testAPIConfig(&api.Admin{Store: shared.flows, Cache: cache})
	cfg.PublicURL = "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = api.New(shared.client, cache, testLog, cfg).Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return &adminStack{stack: &stack{t: t, client: shared.client, url: srv.URL}, store: shared.flows, cache: cache}
}

func (s *adminStack) apply(y string) answer {
	s.t.Helper()
	a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", y)
	if a.status == http.StatusConflict {
		id := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(strings.TrimSpace(y), "\n", 2)[0], "id:"))
		a = s.call("PUT", "/api/v1/flows/"+id, writeKey, "application/yaml", y)
	}
	return a
}

func (s *adminStack) hook(id string) string { return s.url + "/hooks/" + s.token(id) }

const calleeYAML = `
id: it-callee
trigger:
  parse:
    body: [{path: order.id, alias: orderId, type: string, required: true}]
steps:
  - {id: price, type: set, values: {total: "{{ trigger.body.order.qty * 2.5 }}"}}
  - {id: out, type: output, values: {orderId: "{{ trigger.orderId }}", total: "{{ vars.total }}"}}
`

const callerYAML = `
id: it-caller
trigger: {mode: sync, timeout: 20s}
steps:
  - {id: quote, type: call, flow: it-callee, input: {order: "{{ trigger.body.order }}"}}
  - {id: later, type: call, flow: it-callee, input: {order: {id: bg, qty: 1}}, wait: false}
  - {id: out, type: output, values: {quoted: "{{ steps.quote.outputs.total }}"}}
  - {id: reply, type: response, status: 201, body: {orderId: "{{ steps.quote.outputs.orderId }}", total: "{{ steps.quote.outputs.total }}", background: "{{ steps.later.outputs.executionId }}"}}
`

func TestCallAnotherFlowAndRefuseCycles(t *testing.T) {
	s := setupSharedAdmin(t)
	// Unknown callee: refused with the path of the call.
	a := s.apply(callerYAML)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "steps[0].flow", a.json(t)["path"])
	require.Contains(t, a.json(t)["detail"], `no flow has the id "it-callee"`)

	require.Equal(t, http.StatusCreated, s.apply(calleeYAML).status)
	require.Equal(t, http.StatusCreated, s.apply(callerYAML).status)

	a = post(t, s.hook("it-caller"), "application/json", `{"order":{"id":"A-7","qty":4}}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	got := a.json(t)
	require.Equal(t, "A-7", got["orderId"])
	require.Equal(t, 10.0, got["total"])
	parentID := a.header.Get(api.HeaderExecutionID)
	require.Equal(t, parentID+".later.1", got["background"])

	// The parent's output is its result in the executions API; the child
	// is an execution of its own flow, pinned at its version then.
	res, err := s.result(parentID)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"quoted": 10.0}, res.Output)
	e := s.call("GET", "/api/v1/executions/"+parentID, readKey, "", "")
	require.Equal(t, http.StatusOK, e.status, e.body)
	require.Equal(t, map[string]any{"quoted": 10.0}, e.json(t)["result"].(map[string]any)["output"])
	child := s.call("GET", "/api/v1/executions/"+parentID+".quote.1", readKey, "", "")
	require.Equal(t, http.StatusOK, child.status, child.body)
	require.Equal(t, "it-callee", child.json(t)["flowId"])
	require.Equal(t, "call", child.json(t)["mode"])
	require.Equal(t, map[string]any{"orderId": "A-7", "total": 10.0}, child.json(t)["result"].(map[string]any)["output"])
	bg, err := s.result(parentID + ".later.1")
	require.NoError(t, err, "the fire-and-forget child ran on its own")
	require.Equal(t, "bg", bg.Output["orderId"])

	// A cycle (it-callee calling it-caller back) is refused at apply,
	// naming the path and the chain; nothing is saved.
	cyclic := strings.Replace(calleeYAML, "  - {id: out,", "  - {id: back, type: call, flow: it-caller}\n  - {id: out,", 1)
	a = s.apply(cyclic)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "steps[1].flow", a.json(t)["path"])
	require.Equal(t, `steps[1].flow: calling "it-caller" makes a cycle: it-callee → it-caller → it-callee`, a.json(t)["detail"])
	v := s.call("GET", "/api/v1/flows/it-callee", readKey, "", "")
	require.Equal(t, 1.0, v.json(t)["version"])
}

const waitYAML = `
id: it-wait
steps:
  - id: confirm
    type: wait
    event: confirmed
    match: event.orderId == trigger.body.orderId
    timeout: 1h
    notify:
      - {id: mail, type: http, method: POST, url: "RECEIVER/mail", body: {mode: keyValue, fields: {link: "{{ steps.confirm.resumeUrl }}"}}}
  - {id: out, type: output, values: {by: "{{ steps.confirm.outputs.by }}"}}
`

func TestWaitResumesThroughItsSignedLinkOnce(t *testing.T) {
	rcv := newReceiver(t, okJSON(`{}`))
	s := setupSharedAdmin(t)
	require.Equal(t, http.StatusCreated, s.apply(strings.ReplaceAll(waitYAML, "RECEIVER", rcv.URL)).status)
	a := post(t, s.hook("it-wait"), "application/json", `{"orderId":"W-1"}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)

	require.Eventually(t, func() bool { return len(rcv.all()) == 1 }, 15*time.Second, 20*time.Millisecond)
	var mail struct{ Link string }
	require.NoError(t, json.Unmarshal([]byte(rcv.all()[0].body), &mail))
	require.True(t, strings.HasPrefix(mail.Link, s.url+"/hooks/resume/"), mail.Link)

	// The events API: an unknown execution, an event nobody waits for, a
	// body the match refuses.
	ev := func(execID, name, body string) answer {
		return s.call("POST", "/api/v1/executions/"+execID+"/events/"+name, writeKey, "application/json", body)
	}
	require.Equal(t, http.StatusNotFound, ev("it-wait:nope", "confirmed", `{}`).status)
	nobody := ev(id, "shipped", `{}`)
	require.Equal(t, http.StatusConflict, nobody.status, nobody.body)
	require.Equal(t, "not_waiting", nobody.json(t)["error"])
	wrong := ev(id, "confirmed", `{"orderId":"other"}`)
	require.Equal(t, http.StatusConflict, wrong.status, wrong.body)
	require.Equal(t, "no_match", wrong.json(t)["error"])
	require.Equal(t, http.StatusUnauthorized, s.call("POST", "/api/v1/executions/"+id+"/events/confirmed", "", "application/json", `{}`).status)
	require.Equal(t, http.StatusForbidden, s.call("POST", "/api/v1/executions/"+id+"/events/confirmed", readKey, "application/json", `{}`).status)

	// A forged or altered link is unknown; the real one says what it does
	// (GET changes nothing), then resumes the wait exactly once.
	require.Equal(t, http.StatusNotFound, post(t, s.url+"/hooks/resume/x.y", "application/json", `{}`).status)
	require.Equal(t, http.StatusNotFound, post(t, mail.Link+"A", "application/json", `{}`).status)
	info, err := http.Get(mail.Link)
	require.NoError(t, err)
	info.Body.Close()
	require.Equal(t, http.StatusOK, info.StatusCode)
	used := post(t, mail.Link, "application/json", `{"orderId":"W-1","by":"ann"}`)
	require.Equal(t, http.StatusOK, used.status, used.body)
	require.Equal(t, "confirm", used.json(t)["stepId"])
	again := post(t, mail.Link, "application/json", `{"orderId":"W-1","by":"eve"}`)
	require.Equal(t, http.StatusGone, again.status, again.body)

	res, err := s.result(id)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"by": "ann"}, res.Output)
	require.Equal(t, http.StatusGone, post(t, mail.Link, "application/json", `{}`).status, "after the run ended too")
	ended := ev(id, "confirmed", `{"orderId":"W-1"}`)
	require.Equal(t, http.StatusConflict, ended.status, ended.body)

	// The resume key is in no history, log or answer.
	require.NotContains(t, historyText(t, s.stack, id), testResumeKey)
	require.NotContains(t, logs.String(), testResumeKey)
	require.NotContains(t, used.body+again.body+a.body, testResumeKey)
}

func TestWaitTimesOutToItsOnTimeout(t *testing.T) {
	s := setupSharedAdmin(t)
	require.Equal(t, http.StatusCreated, s.apply(`
id: it-wait-timeout
steps:
  - {id: w, type: wait, event: never, timeout: 1s, onTimeout: continue}
  - {id: out, type: output, values: {timedOut: "{{ steps.w.outputs.timedOut }}", status: "{{ steps.w.status }}"}}
  - {id: strict, type: wait, event: never, timeout: 1s}
`).status)
	a := post(t, s.hook("it-wait-timeout"), "application/json", `{}`)
	id := a.header.Get(api.HeaderExecutionID)
	_, err := s.result(id)
	require.ErrorContains(t, err, `no event "never" arrived within 1s`)
	e := s.call("GET", "/api/v1/executions/"+id, readKey, "", "")
	require.Equal(t, "skipped", stepByID(t, e.json(t), "w")["status"])
	require.Equal(t, "failed", stepByID(t, e.json(t), "strict")["status"])
}

const approvalYAML = `
id: it-approval
steps:
  - id: review
    type: approval
    approvers: [ops@example.com]
    timeout: 1h
    notify:
      - {id: ask, type: http, method: POST, url: "RECEIVER/ask", body: {mode: keyValue, fields: {approve: "{{ steps.review.approveUrl }}", reject: "{{ steps.review.rejectUrl }}"}}}
    then: [{id: yes, type: output, values: {decision: "{{ steps.review.outputs.decision }}", by: "{{ steps.review.outputs.decidedBy }}", comment: "{{ steps.review.outputs.comment }}"}}]
    else: [{id: no, type: end, status: failure, message: rejected}]
`

func TestApprovalLinkFollowedFromTheReceiversRecord(t *testing.T) {
	rcv := newReceiver(t, okJSON(`{}`))
	s := setupSharedAdmin(t)
	require.Equal(t, http.StatusCreated, s.apply(strings.ReplaceAll(approvalYAML, "RECEIVER", rcv.URL)).status)
	a := post(t, s.hook("it-approval"), "application/json", `{}`)
	id := a.header.Get(api.HeaderExecutionID)
	require.Eventually(t, func() bool { return len(rcv.all()) == 1 }, 15*time.Second, 20*time.Millisecond)
	var ask struct{ Approve, Reject string }
	require.NoError(t, json.Unmarshal([]byte(rcv.all()[0].body), &ask))

	// Following the link shows a page; its form posts the decision.
	page, err := http.Get(ask.Approve)
	require.NoError(t, err)
	b := make([]byte, 4096)
	n, _ := page.Body.Read(b)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, string(b[:n]), `<form method="post">`)
	form := url.Values{"decidedBy": {"ann"}, "comment": {"ship it"}}
	done := post(t, ask.Approve, "application/x-www-form-urlencoded", form.Encode())
	require.Equal(t, http.StatusOK, done.status, done.body)
	require.Contains(t, done.body, "Recorded: approved")
	require.Equal(t, http.StatusGone, post(t, ask.Reject, "application/json", `{}`).status, "decided: the other link is spent")

	res, err := s.result(id)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"decision": "approved", "by": "ann", "comment": "ship it"}, res.Output)
}

func TestCaptureRecordsTestEventsAndRunsNothing(t *testing.T) {
	s := setupSharedAdmin(t)
	require.Equal(t, http.StatusCreated, s.apply(`
id: it-capture
trigger: {auth: {github: {secret: gh_key}}}
steps: [{id: a, type: set, values: {x: 1}}]
`).status)
	bad := s.call("POST", "/api/v1/flows/it-capture/capture", writeKey, "application/json", `{"count":0}`)
	require.Equal(t, http.StatusUnprocessableEntity, bad.status)
	require.Equal(t, "count", bad.json(t)["path"])
	require.Equal(t, http.StatusNotFound, s.call("POST", "/api/v1/flows/nope/capture", writeKey, "application/json", `{}`).status)
	arm := s.call("POST", "/api/v1/flows/it-capture/capture", writeKey, "application/json", `{"count":1,"for":"5m"}`)
	require.Equal(t, http.StatusOK, arm.status, arm.body)
	require.Equal(t, 1.0, arm.json(t)["remaining"])

	hook := s.hook("it-capture") + "?source=shop&page=2"
	c := post(t, hook, "application/json", `{"order":{"id":"C-1","total":12.5,"paid":true,"lines":[{"sku":"x"}]}}`,
		"X-Hub-Signature-256", "sha256=deadbeef", "Authorization", "Bearer s3cret", "X-Shop", "acme")
	require.Equal(t, http.StatusAccepted, c.status, c.body)
	captureID := c.header.Get(api.HeaderCaptureID)
	require.NotEmpty(t, captureID)

	list := s.call("GET", "/api/v1/flows/it-capture/captures", readKey, "", "")
	require.Equal(t, http.StatusOK, list.status, list.body)
	caps := list.json(t)["captures"].([]any)
	require.Len(t, caps, 1)
	req := caps[0].(map[string]any)["request"].(map[string]any)
	headers := req["headers"].(map[string]any)
	require.Equal(t, "<redacted>", headers["authorization"])
	require.Equal(t, "<redacted>", headers["x-hub-signature-256"])
	require.Equal(t, "acme", headers["x-shop"])
	require.Equal(t, map[string]any{"source": "shop", "page": "2"}, req["query"])
	require.NotContains(t, list.body, "s3cret")
	require.Nil(t, list.json(t)["armed"], "spent")

	p := s.call("POST", "/api/v1/parse", readKey, "application/json", `{"capture":"`+captureID+`"}`)
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Equal(t, []any{"order", "order.id", "order.lines", "order.lines.0", "order.lines.0.sku", "order.paid", "order.total"}, p.json(t)["paths"])
	sug := p.json(t)["suggestedParse"].(map[string]any)
	require.Contains(t, sug["body"], map[string]any{"path": "order.total", "type": "number"})
	require.Contains(t, sug["body"], map[string]any{"path": "order.paid", "type": "boolean"})
	require.Contains(t, sug["headers"], map[string]any{"name": "x-shop"})
	require.NotContains(t, p.body, "x-hub-signature-256\"}")
	require.Equal(t, http.StatusNotFound, s.call("POST", "/api/v1/parse", readKey, "application/json", `{"capture":"nope"}`).status)

	// Nothing ran; once the arm is spent the URL runs the flow again (and
	// checks the signature: this request has none).
	require.Equal(t, int64(0), s.settledCount("it-capture", 0))
	require.Equal(t, http.StatusUnauthorized, post(t, hook, "application/json", `{}`).status)
}

// TestCallChainsAreCheckedFromBothEnds: a change to a flow that others call
// is checked against their chains too (depth, cycles), and a flow that
// others call cannot be deleted.
func TestCallChainsAreCheckedFromBothEnds(t *testing.T) {
	s := setupSharedAdmin(t)
	leaf := "id: it-chain-6\nsteps: [{id: o, type: output, values: {x: 1}}]\n"
	require.Equal(t, http.StatusCreated, s.apply(leaf).status)
	require.Equal(t, http.StatusCreated, s.apply("id: it-chain-5\nsteps: [{id: o, type: output, values: {x: 1}}]\n").status)
	for i := 4; i >= 1; i-- {
		a := s.apply(fmt.Sprintf("id: it-chain-%d\nsteps: [{id: c, type: call, flow: it-chain-%d}]\n", i, i+1))
		require.Equal(t, http.StatusCreated, a.status, a.body)
	}
	// it-chain-1 → ... → it-chain-5 is 5 flows deep, the most allowed.
	// it-chain-5 calling it-chain-6 has a short chain of its own, but makes
	// it-chain-1's 6 deep: refused, naming the caller.
	a := s.apply("id: it-chain-5\nsteps: [{id: c, type: call, flow: it-chain-6}]\n")
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Contains(t, a.json(t)["detail"], `flow "it-chain-1" calls this flow`)
	require.Contains(t, a.json(t)["detail"], "6 flows deep")

	// A called flow cannot be deleted; the caller first.
	d := s.call("DELETE", "/api/v1/flows/it-chain-5", writeKey, "", "")
	require.Equal(t, http.StatusConflict, d.status, d.body)
	require.Contains(t, d.json(t)["detail"], "it-chain-4 (steps[0].flow)")
	require.Equal(t, http.StatusNoContent, s.call("DELETE", "/api/v1/flows/it-chain-1", writeKey, "", "").status)
}

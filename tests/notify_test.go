//go:build !nodev

package tests

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/notify"
)

// notifyGlobal is the shared worker's and API's global notify setting:
// destination events only, so failing runs of other tests notify nothing.
var notifyGlobal = flow.NotifySetting{Destination: "it-notify-ops", Events: []string{
	flow.EventDestinationPaused, flow.EventDestinationResumed,
	flow.EventDestinationCircuitOpened, flow.EventDestinationCircuitClosed,
}}

// notice is one notification as a receiver got it.
type notice struct {
	header http.Header
	body   []byte
	Type   string         `json:"type"`
	Time   string         `json:"timestamp"`
	Data   map[string]any `json:"data"`
}

// notices is a receiver of notifications.
type notices struct {
	mu  sync.Mutex
	got []notice
	url string
}

func notifyReceiver(t *testing.T) *notices {
	n := &notices{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		x := notice{header: r.Header.Clone(), body: b}
		if err := json.Unmarshal(b, &x); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n.mu.Lock()
		n.got = append(n.got, x)
		n.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	n.url = srv.URL
	return n
}

// matching is what arrived of one type (any: "") whose data[key] is value.
func (n *notices) matching(typ, key string, value any) []notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []notice
	for _, x := range n.got {
		if (typ == "" || x.Type == typ) && x.Data[key] == value {
			out = append(out, x)
		}
	}
	return out
}

// await waits until count notifications of typ about data[key] = value
// have arrived, then a little longer, and checks no more came.
func (n *notices) await(t *testing.T, typ, key string, value any, count int) []notice {
	t.Helper()
	require.Eventually(t, func() bool { return len(n.matching(typ, key, value)) >= count },
		30*time.Second, 50*time.Millisecond, "%d %s notification(s) about %s=%v", count, typ, key, value)
	time.Sleep(1500 * time.Millisecond)
	got := n.matching(typ, key, value)
	require.Len(t, got, count, "exactly %d %s notification(s) about %s=%v", count, typ, key, value)
	return got
}

// verifyStandardWebhooks checks a notification as a receiver would, with
// its own HMAC (not hookflow's signer): the signature over
// id.timestamp.body with the secret's base64-decoded key, a recent
// timestamp, and the payload's shape.
func verifyStandardWebhooks(t *testing.T, x notice) {
	t.Helper()
	id, ts, sigs := x.header.Get("webhook-id"), x.header.Get("webhook-timestamp"), x.header.Get("webhook-signature")
	require.True(t, strings.HasPrefix(id, "evt_"), "webhook-id %q", id)
	require.Equal(t, id, x.header.Get("Idempotency-Key"), "the delivery's idempotency key is the event id")
	sec, err := strconv.ParseInt(ts, 10, 64)
	require.NoError(t, err, "webhook-timestamp is unix seconds")
	require.InDelta(t, time.Now().Unix(), sec, 300, "timestamp within Standard Webhooks' tolerance")
	mac := hmac.New(sha256.New, swKey)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(x.body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	require.Contains(t, strings.Fields(sigs), want, "webhook-signature verifies")
	require.Equal(t, "application/json", x.header.Get("Content-Type"))
	_, err = time.Parse(time.RFC3339, x.Time)
	require.NoError(t, err, "timestamp is RFC 3339: %s", x.body)
	require.NotNil(t, x.Data)
}

// notifyDestination creates (or updates) a destination that signs with
// Standard Webhooks (the sw_key secret) and sends to n, and resumes it.
func (s *adminStack) notifyDestination(name string, n *notices) {
	s.t.Helper()
	s.putDestination("name: " + name + "\nbaseUrl: " + n.url + "/ops/\n" +
		"auth: {type: signature, version: standardWebhooks, secret: sw_key}\nretry: {initialInterval: 500ms, maximumInterval: 1s}\n")
	a := s.call("POST", "/api/v1/destinations/"+name+"/resume", writeKey, "", "")
	require.Equal(s.t, http.StatusOK, a.status, a.body)
}

// noSecret checks that the signing secret, in any spelling, is nowhere in
// a workflow's history.
func noSecret(t *testing.T, s *stack, id string) {
	t.Helper()
	h := historyText(t, s, id)
	for _, v := range []string{"whsec_" + swKeyB64, swKeyB64, string(swKey)} {
		require.NotContains(t, h, v, "the signing secret is not in %s's history", id)
	}
}

func TestNotifyRefusedAtApplyWithPaths(t *testing.T) {
	s := setupSharedAdmin(t)
	n := notifyReceiver(t)
	s.notifyDestination("it-notify-run", n)
	s.putDestination("name: it-notify-unsigned\nbaseUrl: " + n.url + "/\nauth: {type: bearer, tokenSecret: shop_pw}\n")
	for _, c := range []struct{ notify, path, detail string }{
		{`{destination: it-no-such-ops}`, "notify.destination", `no destination is named "it-no-such-ops"`},
		{`{destination: it-notify-run, events: [run.failed, run.exploded]}`, "notify.events[1]", "must be one of: run.failed, delivery.gave_up, delivery.failed"},
		{`{destination: it-notify-run, events: [destination.paused]}`, "notify.events[0]", "must be one of"},
		{`{destination: it-notify-unsigned}`, "notify.destination", "does not sign with Standard Webhooks"},
	} {
		a := s.apply("id: it-notify-bad\nnotify: " + c.notify + "\nsteps:\n  - {id: a, type: set, values: {a: 1}}\n")
		require.Equal(t, http.StatusUnprocessableEntity, a.status, "%s: %s", c.notify, a.body)
		e := a.json(t)
		require.Equal(t, c.path, e["path"], a.body)
		require.Contains(t, e["detail"], c.detail, a.body)
	}
	// A destination a flow notifies cannot be deleted.
	a := s.apply("id: it-notify-uses\nnotify: {destination: it-notify-run}\nsteps:\n  - {id: a, type: set, values: {a: 1}}\n")
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, a.status, a.body)
	d := s.call("DELETE", "/api/v1/destinations/it-notify-run", writeKey, "", "")
	require.Equal(t, http.StatusConflict, d.status, d.body)
	require.Contains(t, d.body, "notify.destination")
}

// A run that fails sends exactly one signed run.failed (and, picked too,
// one delivery.failed for the 4xx that failed it) to the flow's notify
// destination; the signing secret is in no history.
func TestNotifyRunFailedSignedOnce(t *testing.T) {
	s := setupSharedAdmin(t)
	n := notifyReceiver(t)
	s.notifyDestination("it-notify-run", n)
	refuse := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) })
	a := s.apply(`
id: it-notify-fail
notify: {destination: it-notify-run, events: [run.failed, delivery.failed]}
steps:
  - {id: send, type: http, method: POST, url: "` + refuse.URL + `/orders?token=abc", body: {mode: all}}
`)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, a.status, a.body)
	id := s.trigger("it-notify-fail", 1, func(int) string { return `{"n":1}` })[0]
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, s.awaitClosed(id))

	rf := n.await(t, flow.EventRunFailed, "executionId", id, 1)[0]
	verifyStandardWebhooks(t, rf)
	require.Equal(t, "it-notify-fail", rf.Data["flowId"])
	require.Equal(t, "send", rf.Data["stepId"])
	require.Contains(t, rf.Data["error"], "400")

	df := n.await(t, flow.EventDeliveryFailed, "executionId", id, 1)[0]
	verifyStandardWebhooks(t, df)
	require.EqualValues(t, 400, df.Data["statusCode"])
	require.EqualValues(t, 1, df.Data["attempts"])
	require.Equal(t, refuse.URL+"/orders", df.Data["url"], "no query: it may hold trigger data")
	require.NotEqual(t, rf.header.Get("webhook-id"), df.header.Get("webhook-id"))
	require.Empty(t, n.matching(flow.EventDeliveryGaveUp, "executionId", id), "not picked")

	noSecret(t, s.stack, id)
	noSecret(t, s.stack, notify.WorkflowID("it-notify-run", rf.header.Get("webhook-id")))
	require.NotContains(t, logs.String(), swKeyB64)
}

// A delivery that runs out of time (a short giveUpAfter), and one that
// runs out of attempts, each send delivery.gave_up; with onError:
// continue the run itself succeeds.
func TestNotifyDeliveryGaveUp(t *testing.T) {
	s := setupSharedAdmin(t)
	n := notifyReceiver(t)
	s.notifyDestination("it-notify-gaveup", n)
	failing := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusServiceUnavailable) })
	a := s.apply(`
id: it-notify-gaveup
notify: {destination: it-notify-gaveup}
steps:
  - id: send
    type: http
    method: POST
    url: "` + failing.URL + `/x"
    body: {mode: all}
    retry: {initialInterval: 500ms, maximumInterval: 500ms, giveUpAfter: 2s}
    onError: continue
  - id: again
    type: http
    method: POST
    url: "` + failing.URL + `/y"
    body: {mode: all}
    retry: {initialInterval: 200ms, maximumAttempts: 2}
    onError: continue
`)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, a.status, a.body)
	id := s.trigger("it-notify-gaveup", 1, func(int) string { return `{"n":1}` })[0]
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, s.awaitClosed(id))
	// One for the give-up clock, one for maximumAttempts.
	gs := n.await(t, flow.EventDeliveryGaveUp, "executionId", id, 2)
	byStep := map[string]notice{}
	for _, g := range gs {
		verifyStandardWebhooks(t, g)
		require.True(t, strings.HasPrefix(g.Data["deliveryId"].(string), "dlv_"))
		byStep[g.Data["stepId"].(string)] = g
	}
	require.Contains(t, byStep, "send")
	require.EqualValues(t, 2, byStep["again"].Data["attempts"])
	require.EqualValues(t, 503, byStep["again"].Data["statusCode"])
	require.Empty(t, n.matching(flow.EventRunFailed, "executionId", id), "the run did not fail")
}

// Pause and resume send destination.paused and destination.resumed to
// the global notify destination, once each; pausing a paused destination
// tells no one; the notify destination's own pause is not sent to itself.
func TestNotifyPauseResume(t *testing.T) {
	s := setupSharedAdmin(t)
	n := notifyReceiver(t)
	s.notifyDestination(notifyGlobal.Destination, n)
	t.Cleanup(func() { s.call("POST", "/api/v1/destinations/"+notifyGlobal.Destination+"/pause", writeKey, "", "") })
	s.putDestination("name: it-notify-subject\nbaseUrl: https://subject.example.com/\n")
	s.call("POST", "/api/v1/destinations/it-notify-subject/resume", writeKey, "", "")

	for range 2 {
		p := s.call("POST", "/api/v1/destinations/it-notify-subject/pause", writeKey, "application/json", `{"reason":"CRM maintenance"}`)
		require.Equal(t, http.StatusOK, p.status, p.body)
	}
	pz := n.await(t, flow.EventDestinationPaused, "destination", "it-notify-subject", 1)[0]
	verifyStandardWebhooks(t, pz)
	require.Equal(t, "CRM maintenance", pz.Data["reason"])
	r := s.call("POST", "/api/v1/destinations/it-notify-subject/resume", writeKey, "", "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	verifyStandardWebhooks(t, n.await(t, flow.EventDestinationResumed, "destination", "it-notify-subject", 1)[0])
	n.await(t, flow.EventDestinationPaused, "destination", "it-notify-subject", 1)

	// The loop guard: the notify destination's own pause and resume.
	for _, op := range []string{"pause", "resume"} {
		a := s.call("POST", "/api/v1/destinations/"+notifyGlobal.Destination+"/"+op, writeKey, "", "")
		require.Equal(t, http.StatusOK, a.status, a.body)
	}
	time.Sleep(2 * time.Second)
	require.Empty(t, n.matching("", "destination", notifyGlobal.Destination), "no event about itself")
}

// A circuit that opens and closes sends destination.circuit_opened, then
// destination.circuit_closed, once each: opened by consecutive failures,
// or by the failure-rate window.
func TestNotifyCircuitOpenedThenClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for real circuits to open and close; under -short the events between reloads, their data and ids run as unit tests (destinations/, activities/)")
	}
	for _, c := range []struct{ name, breaker, key string }{
		{"consecutive", "{failures: 2, probeInterval: 1s}", "consecutiveFailures"},
		{"rate", "{failures: 50, failureRate: 0.5, window: 1m, minRequests: 2, probeInterval: 1s}", "failureRate"},
	} {
		t.Run(c.name, func(t *testing.T) { notifyCircuit(t, "it-notify-brk-"+c.name, c.breaker, c.key) })
	}
}

func notifyCircuit(t *testing.T, name, breaker, key string) {
	s := setupSharedAdmin(t)
	n := notifyReceiver(t)
	s.notifyDestination(notifyGlobal.Destination, n)
	t.Cleanup(func() { s.call("POST", "/api/v1/destinations/"+notifyGlobal.Destination+"/pause", writeKey, "", "") })
	var failing atomic.Bool
	failing.Store(true)
	_, url := destReceiver(t, func() int {
		if failing.Load() {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	s.putDestination(`
name: ` + name + `
baseUrl: ` + url + `/
maxInFlight: 1
retry: {initialInterval: 300ms, maximumInterval: 500ms}
circuitBreaker: ` + breaker + `
`)
	s.call("POST", "/api/v1/destinations/"+name+"/reset-circuit", writeKey, "", "")
	a := s.apply(`
id: ` + name + `
steps:
  - {id: send, type: http, method: POST, destination: ` + name + `, path: "e/{{ trigger.body.n }}", body: {mode: all}}
`)
	require.Contains(t, []int{http.StatusCreated, http.StatusOK}, a.status, a.body)
	id := s.trigger(name, 1, func(int) string { return `{"n":1}` })[0]
	require.Eventually(t, func() bool {
		return destState(s.destination(name))["circuit"] == "open"
	}, 20*time.Second, 50*time.Millisecond, "the circuit opens")
	opened := n.await(t, flow.EventDestinationCircuitOpened, "destination", name, 1)[0]
	verifyStandardWebhooks(t, opened)
	require.Contains(t, opened.Data, key, "%s", opened.body)
	require.Contains(t, opened.Data["lastError"], "500")

	failing.Store(false)
	_, err := s.result(id)
	require.NoError(t, err, "the parked delivery goes out once the probe closes the circuit")
	closed := n.await(t, flow.EventDestinationCircuitClosed, "destination", name, 1)[0]
	verifyStandardWebhooks(t, closed)
	to, _ := time.Parse(time.RFC3339, opened.Time)
	tc, _ := time.Parse(time.RFC3339, closed.Time)
	require.True(t, to.Before(tc), "opened (%s), then closed (%s)", opened.Time, closed.Time)
	n.await(t, flow.EventDestinationCircuitOpened, "destination", name, 1)
}

// A pause whose process dies right after its store write (here: written
// to the store directly, as no api notified) still notifies: the workers
// see the change at their next reload and emit the same event the api
// would have, once; a resume through the api then notifies once too
// (the api and the workers emit one event id).
func TestNotifyPauseWrittenByAProcessThatDied(t *testing.T) {
	s := setupSharedAdmin(t)
	n := notifyReceiver(t)
	s.notifyDestination(notifyGlobal.Destination, n)
	t.Cleanup(func() { s.call("POST", "/api/v1/destinations/"+notifyGlobal.Destination+"/pause", writeKey, "", "") })
	s.putDestination("name: it-notify-orphan\nbaseUrl: https://orphan.example.com/\n")
	time.Sleep(2 * destinationReload) // the workers have read it once

	d, err := destinations.NewStore(s.store).Pause(context.Background(), "it-notify-orphan", true, "died after writing")
	require.NoError(t, err)
	pz := n.await(t, flow.EventDestinationPaused, "destination", "it-notify-orphan", 1)[0]
	verifyStandardWebhooks(t, pz)
	require.Equal(t, "died after writing", pz.Data["reason"])
	require.Equal(t, notify.DestinationEventID("it-notify-orphan", flow.EventDestinationPaused, *d.State.PausedAt), pz.header.Get("webhook-id"))

	r := s.call("POST", "/api/v1/destinations/it-notify-orphan/resume", writeKey, "", "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	n.await(t, flow.EventDestinationResumed, "destination", "it-notify-orphan", 1)
	time.Sleep(3 * destinationReload)
	require.Len(t, n.matching(flow.EventDestinationResumed, "destination", "it-notify-orphan"), 1, "the api's and the workers' event is one")
	require.Len(t, n.matching(flow.EventDestinationPaused, "destination", "it-notify-orphan"), 1)
}

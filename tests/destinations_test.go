//go:build !nodev

package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/telemetry"
	"github.com/hookflow/hookflow/worker"
)

// destinationReload is how often the test workers read destinations: the
// longest a pause or a circuit opened elsewhere takes to reach them.
const destinationReload = 200 * time.Millisecond

// putDestination creates or updates a destination through the shared
// admin API (the shared worker reads its store).
func (s *adminStack) putDestination(y string) {
	s.t.Helper()
	a := s.call("POST", "/api/v1/destinations", writeKey, "application/yaml", y)
	if a.status == http.StatusConflict {
		name := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(strings.TrimSpace(y), "\n", 2)[0], "name:"))
		a = s.call("PUT", "/api/v1/destinations/"+name, writeKey, "application/yaml", y)
	}
	require.Contains(s.t, []int{http.StatusCreated, http.StatusOK}, a.status, a.body)
}

func (s *adminStack) destination(name string) map[string]any {
	s.t.Helper()
	a := s.call("GET", "/api/v1/destinations/"+name, readKey, "", "")
	require.Equal(s.t, http.StatusOK, a.status, a.body)
	return a.json(s.t)
}

func destState(d map[string]any) map[string]any { return d["state"].(map[string]any) }

// trigger starts n async runs of a flow and returns their execution ids.
func (s *adminStack) trigger(id string, n int, body func(i int) string) []string {
	s.t.Helper()
	url := s.hook(id)
	var ids []string
	for i := range n {
		a := post(s.t, url, "application/json", body(i))
		require.Equal(s.t, http.StatusOK, a.status, a.body)
		ids = append(ids, a.header.Get("Hookflow-Execution-Id"))
	}
	return ids
}

// hitLog is a receiver that records each request's time, idempotency key
// and the status it answered.
type hitLog struct {
	mu   sync.Mutex
	hits []destHit
}

type destHit struct {
	at     time.Time
	key    string
	path   string
	header http.Header
	status int
}

func (h *hitLog) add(x destHit) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hits = append(h.hits, x)
}

func (h *hitLog) all() []destHit {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]destHit(nil), h.hits...)
}

func destReceiver(t *testing.T, status func() int) (*hitLog, string) {
	log := &hitLog{}
	r := newReceiver(t, func(int, http.ResponseWriter) {})
	r.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		code := status()
		log.add(destHit{at: time.Now(), key: req.Header.Get("Idempotency-Key"), path: req.URL.RequestURI(), header: req.Header.Clone(), status: code})
		w.WriteHeader(code)
	})
	return log, r.URL
}

func TestUnknownDestinationIsRefusedAtApply(t *testing.T) {
	s := setupSharedAdmin(t)
	a := s.apply(`
id: it-dest-unknown
steps:
  - {id: ok, type: set, values: {a: 1}}
  - {id: send, type: http, method: POST, destination: it-no-such-destination, path: "x/{{ trigger.body.id }}"}
`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	e := a.json(t)
	require.Equal(t, "steps[1].destination", e["path"], a.body)
	require.Contains(t, e["detail"], `no destination is named "it-no-such-destination"`)

	// A destination's rules, each with its path.
	a = s.call("POST", "/api/v1/destinations", writeKey, "application/yaml", "name: it-bad\nbaseUrl: https://x.example.com/v1\nauth: {type: bearer}\nretries: 3\n")
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "retries", a.json(t)["path"], a.body)
	a = s.call("POST", "/api/v1/destinations", writeKey, "application/yaml", "name: it-bad\nbaseUrl: https://x.example.com/v1\nauth: {type: bearer}\n")
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Contains(t, a.body, `"path":"baseUrl"`)
	require.Contains(t, a.body, `"path":"auth.tokenSecret"`)
}

// A change to a destination reaches the next delivery without a new flow
// version; the step log names the version that sent. Auth is the
// destination's, its secret never in history.
func TestDestinationChangeAppliesWithoutNewFlowVersion(t *testing.T) {
	hits, url := destReceiver(t, func() int { return http.StatusOK })
	s := setupSharedAdmin(t)
	s.putDestination(`
name: it-dest-change
baseUrl: ` + url + `/v1/
auth: {type: bearer, tokenSecret: shop_pw}
headers: {X-Dest: one}
retry: {initialInterval: 1s}
`)
	a := s.apply(`
id: it-dest-change
trigger: {mode: sync, timeout: 20s}
steps:
  - {id: send, type: http, method: POST, destination: it-dest-change, path: "deals/{{ trigger.body.id }}", query: {src: hookflow}, body: {mode: all}}
  - {id: reply, type: response, status: 200, body: {code: "{{ steps.send.outputs.statusCode }}"}}
`)
	require.Equal(t, http.StatusCreated, a.status, a.body)

	r := post(t, s.hook("it-dest-change"), "application/json", `{"id":"D-1"}`)
	require.Equal(t, http.StatusOK, r.status, r.body)
	s.putDestination(`
name: it-dest-change
baseUrl: ` + url + `/v2/
auth: {type: bearer, tokenSecret: shop_pw}
headers: {X-Dest: two}
`)
	r2 := post(t, s.hook("it-dest-change"), "application/json", `{"id":"D-2"}`)
	require.Equal(t, http.StatusOK, r2.status, r2.body)

	got := hits.all()
	require.Len(t, got, 2)
	require.Equal(t, "/v1/deals/D-1?src=hookflow", got[0].path)
	require.Equal(t, "one", got[0].header.Get("X-Dest"))
	require.Equal(t, "/v2/deals/D-2?src=hookflow", got[1].path)
	require.Equal(t, "two", got[1].header.Get("X-Dest"))
	require.Equal(t, "Bearer hunter2-shop", got[1].header.Get("Authorization"))

	f := s.call("GET", "/api/v1/flows/it-dest-change", readKey, "", "")
	require.EqualValues(t, 1, f.json(t)["version"], "the flow kept its version")
	id := r2.header.Get("Hookflow-Execution-Id")
	log := s.stepLog(id)
	d := log.Steps[0].Delivery
	require.NotNil(t, d)
	require.Equal(t, "it-dest-change", d.Destination)
	require.EqualValues(t, 2, d.DestinationVersion)
	require.Equal(t, url+"/v2/deals/D-2?src=hookflow", d.URL)
	require.NotContains(t, historyText(t, s.stack, id), "hunter2-shop")
}

// Two worker processes polling one destination: Temporal's task queue rate
// limit holds across both.
func TestDestinationRateLimitHoldsAcrossWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 20 s of deliveries")
	}
	hits, url := destReceiver(t, func() int { return http.StatusOK })
	s := setupSharedAdmin(t)
	s.putDestination(`
name: it-dest-rate
baseUrl: ` + url + `/
rateLimit: {perSecond: 5}
circuitBreaker: {disabled: true}
`)
	// A second worker process (the shared one is the first), with its own
	// client and identity, as another process would have.
	secondDestinationWorker(t, nil)
	require.Eventually(t, func() bool {
		d, err := shared.client.DescribeTaskQueue(context.Background(), flow.DestinationTaskQueue("it-dest-rate"), enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		return err == nil && len(d.GetPollers()) >= 2
	}, 10*time.Second, 100*time.Millisecond, "two workers poll the destination's queue")

	a := s.apply(`
id: it-dest-rate
steps:
  - id: each
    type: loop
    over: trigger.body.items
    concurrency: 100
    max: 200
    steps:
      - {id: send, type: http, method: POST, destination: it-dest-rate, path: "items/{{ item }}", body: {mode: keyValue, fields: {n: "{{ item }}"}}}
`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	items := make([]string, 150)
	for i := range items {
		items[i] = fmt.Sprint(i)
	}
	ids := s.trigger("it-dest-rate", 1, func(int) string { return `{"items":[` + strings.Join(items, ",") + `]}` })

	time.Sleep(23 * time.Second)
	got := hits.all()
	require.NotEmpty(t, got)
	t0 := got[0].at
	in := 0
	for _, h := range got {
		if h.at.Sub(t0) < 20*time.Second {
			in++
		}
	}
	rate := float64(in) / 20
	t.Logf("destination rate limit 5/s over 2 workers: %d deliveries in the first 20 s = %.2f/s", in, rate)
	require.LessOrEqual(t, rate, 5.5)
	require.GreaterOrEqual(t, rate, 4.0, "the limit paces deliveries, it does not stall them")

	res, err := s.result(ids[0])
	require.NoError(t, err, "all 150 deliveries complete")
	require.NotNil(t, res)
	require.Len(t, hits.all(), 150)
}

// maxInFlight 3 over two worker processes (each alone would run 3): a
// slow receiver never holds more than 3 requests at once, measured by the
// receiver; every delivery arrives once, and waiting for a lease was not
// an attempt.
func TestDestinationMaxInFlightHoldsAcrossWorkers(t *testing.T) {
	const n, maxInFlight = 12, 3
	var now, peak atomic.Int64
	hits, url := destReceiver(t, func() int {
		c := now.Add(1)
		for p := peak.Load(); c > p && !peak.CompareAndSwap(p, c); p = peak.Load() {
		}
		time.Sleep(400 * time.Millisecond)
		now.Add(-1)
		return http.StatusOK
	})
	s := setupSharedAdmin(t)
	s.putDestination(`
name: it-dest-inflight
baseUrl: ` + url + `/
maxInFlight: 3
circuitBreaker: {disabled: true}
`)
	secondDestinationWorker(t, nil)
	require.Eventually(t, func() bool {
		d, err := shared.client.DescribeTaskQueue(context.Background(), flow.DestinationTaskQueue("it-dest-inflight"), enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		return err == nil && len(d.GetPollers()) >= 2
	}, 10*time.Second, 100*time.Millisecond, "two workers poll the destination's queue")
	a := s.apply(`
id: it-dest-inflight
steps:
  - {id: send, type: http, method: POST, destination: it-dest-inflight, path: "q/{{ trigger.body.n }}", body: {mode: all}}
`)
	require.Equal(t, http.StatusCreated, a.status, a.body)

	began := time.Now()
	ids := s.trigger("it-dest-inflight", n, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })
	for _, id := range ids {
		_, err := s.result(id)
		require.NoError(t, err)
		require.EqualValues(t, 1, s.stepLog(id).Steps[0].Delivery.Attempts, "waiting for a lease was not an attempt")
	}
	t.Logf("%d deliveries of 400 ms, maxInFlight %d over two workers: peak %d at the receiver, all done in %s", n, maxInFlight, peak.Load(), time.Since(began).Round(time.Millisecond))
	require.LessOrEqual(t, peak.Load(), int64(maxInFlight), "never more than maxInFlight in flight across the workers")
	require.Equal(t, int64(maxInFlight), peak.Load(), "the bound is used, not just kept")
	keys := map[string]int{}
	for _, h := range hits.all() {
		keys[h.key]++
	}
	require.Len(t, keys, n, "every delivery arrived")
	for k, c := range keys {
		require.Equal(t, 1, c, "delivery %s arrived once", k)
	}
	left, err := destinations.NewStore(shared.flows).LiveLeases(context.Background(), "it-dest-inflight")
	require.NoError(t, err)
	require.Zero(t, left, "every lease was given back")
}

// An operator pauses a destination: deliveries wait in its task queue
// (none sent, none attempted); resumed, every one goes out once.
func TestDestinationPauseResumeLosesNothing(t *testing.T) {
	hits, url := destReceiver(t, func() int { return http.StatusOK })
	s := setupSharedAdmin(t)
	s.putDestination("name: it-dest-pause\nbaseUrl: " + url + "/\n")
	a := s.apply(`
id: it-dest-pause
steps:
  - {id: send, type: http, method: POST, destination: it-dest-pause, path: "orders/{{ trigger.body.n }}", body: {mode: all}}
`)
	require.Equal(t, http.StatusCreated, a.status, a.body)

	p := s.call("POST", "/api/v1/destinations/it-dest-pause/pause", writeKey, "application/json", `{"reason":"CRM maintenance"}`)
	require.Equal(t, http.StatusOK, p.status, p.body)
	require.Equal(t, true, destState(p.json(t))["paused"])
	time.Sleep(4 * destinationReload) // every worker has stopped polling

	ids := s.trigger("it-dest-pause", 10, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })
	require.Eventually(t, func() bool {
		pk, _ := s.destination("it-dest-pause")["parked"].(map[string]any)
		return pk != nil && pk["count"].(float64) >= 1
	}, 15*time.Second, 200*time.Millisecond, "parked deliveries are visible")
	time.Sleep(time.Second)
	require.Empty(t, hits.all(), "nothing is sent while paused")
	d := s.destination("it-dest-pause")
	t.Logf("paused: parked %v", d["parked"])

	r := s.call("POST", "/api/v1/destinations/it-dest-pause/resume", writeKey, "", "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	for _, id := range ids {
		_, err := s.result(id)
		require.NoError(t, err)
		log := s.stepLog(id)
		require.EqualValues(t, 1, log.Steps[0].Delivery.Attempts, "waiting was not an attempt")
	}
	keys := map[string]int{}
	for _, h := range hits.all() {
		keys[h.key]++
	}
	require.Len(t, keys, 10, "every delivery arrived")
	for k, n := range keys {
		require.Equal(t, 1, n, "delivery %s arrived once", k)
	}
}

// A receiver failing every request opens the circuit after N failures;
// then it receives only probes, one per interval; when it recovers every
// parked delivery arrives exactly once.
func TestDestinationCircuitBreakerParksAndProbes(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out real probe intervals; under -short the breaker's rules, the supervisor's probe and gate and the store's transitions run as unit tests (destinations/)")
	}
	var failing atomic.Bool
	failing.Store(true)
	hits, url := destReceiver(t, func() int {
		if failing.Load() {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	s := setupSharedAdmin(t)
	s.putDestination(`
name: it-dest-breaker
baseUrl: ` + url + `/
maxInFlight: 1
retry: {initialInterval: 500ms, maximumInterval: 1s}
circuitBreaker: {failures: 3, probeInterval: 2s}
`)
	a := s.apply(`
id: it-dest-breaker
steps:
  - {id: send, type: http, method: POST, destination: it-dest-breaker, path: "e/{{ trigger.body.n }}", body: {mode: all}}
`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	ids := s.trigger("it-dest-breaker", 5, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })

	require.Eventually(t, func() bool {
		return destState(s.destination("it-dest-breaker"))["circuit"] == "open"
	}, 20*time.Second, 50*time.Millisecond, "the circuit opens")
	opened := time.Now()
	atOpen := len(hits.all())
	require.Equal(t, 3, atOpen, "it opened after 3 failures, and nothing more was sent")

	time.Sleep(7 * time.Second)
	probes := hits.all()[atOpen:]
	t.Logf("open for 7 s: %d probe(s)", len(probes))
	require.NotEmpty(t, probes, "a probe goes out every interval")
	require.LessOrEqual(t, len(probes), 4, "only probes: one per 2 s")
	for i := 1; i < len(probes); i++ {
		require.GreaterOrEqual(t, probes[i].at.Sub(probes[i-1].at), 1500*time.Millisecond, "probes are an interval apart")
	}
	require.GreaterOrEqual(t, probes[0].at.Sub(opened), 1*time.Second)
	d := s.destination("it-dest-breaker")
	require.Equal(t, "open", destState(d)["circuit"])
	t.Logf("open: state %v parked %v", destState(d), d["parked"])

	failing.Store(false)
	for _, id := range ids {
		_, err := s.result(id)
		require.NoError(t, err)
	}
	require.Equal(t, "closed", destState(s.destination("it-dest-breaker"))["circuit"])
	delivered := map[string]int{}
	for _, h := range hits.all() {
		if h.status == http.StatusOK {
			delivered[h.key]++
		}
	}
	require.Len(t, delivered, 5, "every parked delivery arrived")
	for k, n := range delivered {
		require.Equal(t, 1, n, "delivery %s arrived exactly once", k)
	}
}

// secondDestinationWorker starts another worker process's destination
// workers (own client and identity), with its own metrics registry.
func secondDestinationWorker(t *testing.T, tel *telemetry.Telemetry) {
	t.Helper()
	c2, err := sdkclient.Dial(sdkclient.Options{
		HostPort: shared.server.FrontendAddress(), Namespace: shared.server.Namespace(),
		Identity: "hookflow-test-second-worker", Logger: sdklog.NewStructuredLogger(testLog),
	})
	require.NoError(t, err)
	t.Cleanup(c2.Close)
	second := worker.New(c2, testDeliverer(), worker.Options{
		Destinations: activities.NewDestinations(destinations.NewStore(shared.flows)), DestinationStates: destinations.NewStore(shared.flows),
		DestinationReload: destinationReload, Logger: testLog, Telemetry: tel,
	})
	require.NoError(t, second.Start())
	t.Cleanup(second.Stop)
}

// alignTo waits until just after the start of the next window of length
// per (windows are aligned to the Unix epoch, as the store counts them),
// and returns that start.
func alignTo(per time.Duration) time.Time {
	start := time.Now().Truncate(per).Add(per)
	time.Sleep(time.Until(start) + 100*time.Millisecond)
	return start
}

// metricLine finds a metric's sample line in a Prometheus text body.
func metricLine(body, prefix string) string {
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// A limit of 5 per 4 s over two worker processes: the first window admits
// exactly 5 (the rest park, the destination shows "limited" until the
// window ends), later windows never more than 5, and every delivery
// arrives exactly once.
func TestDestinationLimitPerPeriodAcrossWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out real limit periods; under -short the admission arithmetic, the store's concurrent admissions and the supervisor's wake at a period's end run as unit tests (destinations/)")
	}
	const per, max, n = 4 * time.Second, 5, 12
	hits, url := destReceiver(t, func() int { return http.StatusOK })
	s := setupSharedAdmin(t)
	s.putDestination(`
name: it-dest-limit
baseUrl: ` + url + `/
limits: [{per: 4s, max: 5}, {per: 24h, max: 1000}]
retry: {initialInterval: 500ms}
circuitBreaker: {disabled: true}
`)
	tel := telemetry.New(telemetry.Options{})
	secondDestinationWorker(t, tel)
	require.Eventually(t, func() bool {
		d, err := shared.client.DescribeTaskQueue(context.Background(), flow.DestinationTaskQueue("it-dest-limit"), enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		return err == nil && len(d.GetPollers()) >= 2
	}, 10*time.Second, 100*time.Millisecond, "two workers poll the destination's queue")
	a := s.apply(`
id: it-dest-limit
steps:
  - {id: send, type: http, method: POST, destination: it-dest-limit, path: "q/{{ trigger.body.n }}", body: {mode: all}}
`)
	require.Equal(t, http.StatusCreated, a.status, a.body)

	t0 := alignTo(per)
	ids := s.trigger("it-dest-limit", n, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })
	require.Eventually(t, func() bool { return len(hits.all()) >= max }, per, 50*time.Millisecond)
	// Refused deliveries go back to wait in the queue; Temporal's backlog
	// statistics may lag behind a 4 s window, so this is only logged
	// (the pause test asserts the backlog).
	var pk any
	for time.Now().Before(t0.Add(per - 500*time.Millisecond)) {
		if pk = s.destination("it-dest-limit")["parked"]; pk != nil && pk.(map[string]any)["count"].(float64) >= 1 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("parked while limited: %v", pk)
	d := s.destination("it-dest-limit")
	st := destState(d)
	t.Logf("limited: state %v parked %v", st, d["parked"])
	require.Equal(t, "limited", st["status"])
	end := t0.Add(per).UTC()
	require.Equal(t, end.Format(time.RFC3339Nano), st["limitedUntil"])
	lim := st["limits"].([]any)[0].(map[string]any)
	require.EqualValues(t, max, lim["used"])
	require.EqualValues(t, max, lim["max"])
	require.Equal(t, "4s", lim["per"])
	require.Equal(t, end.Format(time.RFC3339Nano), lim["resetsAt"])
	require.Len(t, hits.all(), max, "nothing more goes out while limited")

	// The second worker's /metrics: the state gauge says limited.
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, `hookflow_destination_state{destination="it-dest-limit",state="limited"} 1`, metricLine(rec.Body.String(), `hookflow_destination_state{destination="it-dest-limit",state="limited"}`))

	for _, id := range ids {
		_, err := s.result(id)
		require.NoError(t, err)
	}
	got := hits.all()
	keys := map[string]int{}
	for _, h := range got {
		keys[h.key]++
	}
	require.Len(t, keys, n, "every delivery arrived")
	for k, c := range keys {
		require.Equal(t, 1, c, "delivery %s arrived once", k)
	}
	// An arrival follows its admission: arrivals before a window's end
	// were admitted in it or before, at most max per window.
	perWindow := map[int]int{}
	for k := 1; k <= 4; k++ {
		before := 0
		for _, h := range got {
			if h.at.Before(t0.Add(time.Duration(k) * per)) {
				before++
			}
		}
		require.LessOrEqual(t, before, k*max, "at most %d by the end of window %d", k*max, k)
		if k == 1 {
			require.Equal(t, max, before, "the first window admitted exactly %d", max)
		}
	}
	for _, h := range got {
		perWindow[int(h.at.Sub(t0)/per)]++
	}
	t.Logf("arrivals per %s window after t0: %v", per, perWindow)
	for _, id := range ids {
		require.EqualValues(t, 1, s.stepLog(id).Steps[0].Delivery.Attempts, "waiting for a period to end was not an attempt")
	}
	d = s.destination("it-dest-limit")
	t.Logf("after: state %v", destState(d))

	// The parked metric: read from the same backlog the API shows.
	require.Eventually(t, func() bool {
		rec := httptest.NewRecorder()
		tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return metricLine(rec.Body.String(), `hookflow_destination_parked{destination="it-dest-limit"}`) != ""
	}, 15*time.Second, 200*time.Millisecond, "the worker reports parked deliveries")
}

// A receiver failing 60% of requests opens the circuit through the
// failure-rate window (10 attempts in the window, 6 failed), well before
// the consecutive-failure count could; then only probes arrive; on
// recovery every parked delivery arrives exactly once.
func TestDestinationFailureRateOpensCircuit(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a real failure window and probe intervals; under -short the window arithmetic and the store's window transitions run as unit tests (flow/, destinations/)")
	}
	var count atomic.Int64
	var failing atomic.Bool
	failing.Store(true)
	hits, url := destReceiver(t, func() int {
		n := count.Add(1)
		switch {
		case n <= 10 && (n-1)%5 < 3: // fail, fail, fail, ok, ok
			return http.StatusInternalServerError
		case n <= 10:
			return http.StatusOK
		case failing.Load():
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	s := setupSharedAdmin(t)
	s.putDestination(`
name: it-dest-rate-window
baseUrl: ` + url + `/
maxInFlight: 1
retry: {initialInterval: 500ms, maximumInterval: 1s}
circuitBreaker: {failures: 50, failureRate: 0.5, window: 10s, minRequests: 10, probeInterval: 2s}
`)
	a := s.apply(`
id: it-dest-rate-window
steps:
  - {id: send, type: http, method: POST, destination: it-dest-rate-window, path: "e/{{ trigger.body.n }}", body: {mode: all}}
`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	alignTo(10 * time.Second)
	ids := s.trigger("it-dest-rate-window", 20, func(i int) string { return fmt.Sprintf(`{"n":%d}`, i) })

	require.Eventually(t, func() bool {
		return destState(s.destination("it-dest-rate-window"))["circuit"] == "open"
	}, 20*time.Second, 50*time.Millisecond, "the failure rate opens the circuit")
	opened := time.Now()
	atOpen := len(hits.all())
	st := destState(s.destination("it-dest-rate-window"))
	t.Logf("opened after %d requests: state %v", atOpen, st)
	require.Equal(t, 10, atOpen, "it opened at the 10th attempt (6 of 10 failed), and nothing more was sent")
	require.Equal(t, "open", st["status"])

	time.Sleep(7 * time.Second)
	probes := hits.all()[atOpen:]
	t.Logf("open for 7 s: %d probe(s)", len(probes))
	require.NotEmpty(t, probes, "a probe goes out every interval")
	require.LessOrEqual(t, len(probes), 4, "only probes: one per 2 s")
	for i := 1; i < len(probes); i++ {
		require.GreaterOrEqual(t, probes[i].at.Sub(probes[i-1].at), 1500*time.Millisecond, "probes are an interval apart")
	}
	require.GreaterOrEqual(t, probes[0].at.Sub(opened), time.Second)

	failing.Store(false)
	for _, id := range ids {
		_, err := s.result(id)
		require.NoError(t, err)
	}
	st = destState(s.destination("it-dest-rate-window"))
	require.Equal(t, "closed", st["circuit"])
	delivered := map[string]int{}
	for _, h := range hits.all() {
		if h.status == http.StatusOK {
			delivered[h.key]++
		}
	}
	require.Len(t, delivered, 20, "every delivery arrived")
	for k, n := range delivered {
		require.Equal(t, 1, n, "delivery %s arrived exactly once", k)
	}
}

// Limits and the failure-rate window are refused with their paths.
func TestDestinationLimitShapesRefusedWithPaths(t *testing.T) {
	s := setupSharedAdmin(t)
	a := s.call("POST", "/api/v1/destinations", writeKey, "application/yaml", `
name: it-bad-limits
baseUrl: https://x.example.com/
limits: [{per: 500ms, max: 10}, {per: 1m}, {per: 1m, max: 5}]
circuitBreaker: {failureRate: 2, window: 1m}
`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	for _, p := range []string{"limits[0].per", "limits[1].max", "limits[2].per", "circuitBreaker.failureRate"} {
		require.Contains(t, a.body, `"path":"`+p+`"`)
	}
	a = s.call("POST", "/api/v1/destinations", writeKey, "application/json", `{"name":"it-bad-limits","baseUrl":"https://x.example.com/","limits":[{"per":"1m","max":5,"burst":2}]}`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "limits[0].burst", a.json(t)["path"], a.body)
}

// A delivery to a destination with no rate gets its first attempt from
// the flow worker (a local activity, no task on the destination's queue)
// when the destination's gate admits it; a paused one's is refused there,
// nothing sent, and the delivery waits in its queue like any other; a
// destination with a rate (the server enforces it on its queue) never
// gets one.
func TestDestinationFirstAttemptIsTheFlowWorkersWhenItsGateAdmitsIt(t *testing.T) {
	hits, url := destReceiver(t, func() int { return http.StatusOK })
	s := setupSharedAdmin(t)
	s.putDestination("name: it-dest-local\nbaseUrl: " + url + "/\n")
	s.putDestination("name: it-dest-rated\nbaseUrl: " + url + "/\nrateLimit: {perSecond: 50}\n")
	for _, name := range []string{"it-dest-local", "it-dest-rated"} {
		a := s.apply(`
id: ` + name + `
steps:
  - {id: send, type: http, method: POST, destination: ` + name + `, path: "o/{{ trigger.body.n }}", body: {mode: all}}
`)
		require.Equal(t, http.StatusCreated, a.status, a.body)
	}
	time.Sleep(4 * destinationReload) // the workers have read both

	local := s.trigger("it-dest-local", 1, func(int) string { return `{"n":1}` })[0]
	rated := s.trigger("it-dest-rated", 1, func(int) string { return `{"n":2}` })[0]
	for id, wantLocal := range map[string]bool{local: true, rated: false} {
		_, err := s.result(id)
		require.NoError(t, err)
		scheduled, made := deliveryEvents(t, s.stack, id)
		if wantLocal {
			require.Equal(t, [2]int{0, 1}, [2]int{scheduled, made}, "%s: one local first attempt, no activity", id)
		} else {
			require.Equal(t, [2]int{1, 0}, [2]int{scheduled, made}, "%s: a destination with a rate: its queue only", id)
		}
		require.EqualValues(t, 1, s.stepLog(id).Steps[0].Delivery.Attempts)
	}
	require.Len(t, hits.all(), 2)

	p := s.call("POST", "/api/v1/destinations/it-dest-local/pause", writeKey, "application/json", `{"reason":"maintenance"}`)
	require.Equal(t, http.StatusOK, p.status, p.body)
	time.Sleep(4 * destinationReload)
	paused := s.trigger("it-dest-local", 1, func(int) string { return `{"n":3}` })[0]
	require.Eventually(t, func() bool {
		scheduled, _ := deliveryEvents(t, s.stack, paused)
		return scheduled == 1
	}, 10*time.Second, 100*time.Millisecond, "refused by the paused gate in the flow worker, handed to its queue")
	time.Sleep(time.Second)
	require.Len(t, hits.all(), 2, "nothing sent while paused")
	r := s.call("POST", "/api/v1/destinations/it-dest-local/resume", writeKey, "", "")
	require.Equal(t, http.StatusOK, r.status, r.body)
	_, err := s.result(paused)
	require.NoError(t, err)
	require.EqualValues(t, 1, s.stepLog(paused).Steps[0].Delivery.Attempts, "the refused first attempt sent nothing and is not counted")
	require.Len(t, hits.all(), 3)
}

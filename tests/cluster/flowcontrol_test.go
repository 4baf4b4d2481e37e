//go:build cluster

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookflow/hookflow/contract"
	"github.com/stretchr/testify/require"
)

// Scenario 8's flow: one run per key at once, each run marking its start
// and its end at the receiver with its key and event in the path (the end
// under /ok/, or /hold/ when the event's body says so).
const (
	fcFlow   = "c8-keyed"
	fcKeys   = 4
	fcPerKey = 40
	fcPrefix = "/ok/" + fcFlow + "/"
	fcOutage = 10 * time.Second
	// fcHeld is the event of each key whose end the receiver holds
	// (/hold/) until the test releases it: the worker killed is one
	// holding such a send, so the kill cuts a send in flight.
	fcHeld = 10
	// fcLate is the first event of each key sent only just before
	// Temporal stops: those are accepted through its restart.
	fcLate    = 30
	fcDrained = 5 * time.Minute
)

var flowKeyed = fmt.Sprintf(`
id: %[1]s
name: cluster keyed
trigger:
  mode: async
  flowControl: {key: "{{ trigger.body.key }}", concurrency: 1}
steps:
  - id: begin
    type: http
    method: POST
    url: "http://receiver:8080%[2]sstart/{{ trigger.body.key }}/{{ trigger.body.event }}"
    body: {mode: keyValue, fields: {event: "{{ trigger.body.event }}"}}
    timeouts: {connect: 2s, response: 10s}
    retry: {initialInterval: 1s, backoffCoefficient: 2, maximumInterval: 5s}
  - {id: hold, type: delay, duration: 300ms}
  - id: finish
    type: http
    method: POST
    url: "http://receiver:8080/{{ trigger.body.to }}/%[1]s/end/{{ trigger.body.key }}/{{ trigger.body.event }}"
    body: {mode: keyValue, fields: {event: "{{ trigger.body.event }}"}}
    # Longer than the held sends wait for their release: only the sends
    # the kill cuts are retried.
    timeouts: {connect: 2s, response: 20s}
    retry: {initialInterval: 1s, backoffCoefficient: 2, maximumInterval: 5s}
`, fcFlow, fcPrefix)

func fcEvent(k, e int) string { return fmt.Sprintf("k%d-%03d", k, e) }

// 8. Flow control by key across the cluster: 4 keys × 40 events, each
// key's events from one sequential caller alternating between the two api
// replicas (so a key's arrival order is defined and spans both); with most
// events still waiting, one worker is SIGKILLed while sends of keyed runs
// are in flight on it (held by the receiver), then Temporal restarted
// while the callers send each key's last 10 events (admissions through
// the outage: a 503 is retried with the same idempotency key).
// Afterwards every event ran once (one run in the executions API, one
// delivery key per send at the receiver; a send in flight at a fault may
// arrive again under its key, counted and bounded; the cut ones must), and
// per key the runs
// started in arrival order and never overlapped (each began after the
// previous one's last request at the receiver).
func (c *Cluster) testFlowControlAcrossFaults(t *testing.T) {
	tok := c.createFlow(0, flowKeyed)
	time.Sleep(cacheTTL + 500*time.Millisecond) // both replicas serve it

	// The callers: one per key, each event accepted before the next is
	// sent (a 503 or a transport error is retried with the same key).
	// Events [from, to) of every key.
	var mu sync.Mutex
	var expected []string
	replicas := map[int]int{}
	retried := map[string]int{}
	send := func(from, to int) []func() {
		callers := make([]func(), fcKeys)
		for k := range fcKeys {
			callers[k] = func() {
				for e := from; e < to; e++ {
					ev := fcEvent(k, e)
					i := e % 2
					dest := "ok"
					if e == fcHeld {
						dest = "hold"
					}
					deadline := time.Now().Add(2 * time.Minute)
					for {
						a := c.trigger(i, tok, fmt.Sprintf(`{"key":"k%d","event":%q,"to":%q}`, k, ev, dest), ev)
						if a.err == nil && a.status >= 200 && a.status < 300 {
							if got := a.header.Get("Hookflow-Execution-Id"); got != fcFlow+":"+ev {
								t.Errorf("%s through replica %d: execution %q", ev, i+1, got)
								return
							}
							mu.Lock()
							expected = append(expected, fcFlow+":"+ev)
							replicas[i]++
							mu.Unlock()
							break
						}
						if (a.err == nil && a.status != http.StatusServiceUnavailable) || time.Now().After(deadline) {
							t.Errorf("%s through replica %d: %s", ev, i+1, a)
							return
						}
						mu.Lock()
						if a.err != nil {
							retried["transport error"]++
						} else {
							retried[fmt.Sprintf("%d Retry-After %q", a.status, a.header.Get("Retry-After"))]++
						}
						mu.Unlock()
						time.Sleep(500 * time.Millisecond)
					}
				}
			}
		}
		return callers
	}
	sendBegan := time.Now()
	parallel(t, send(0, fcLate)...)
	t.Logf("%d events over %d keys accepted in %s (%d through api-1, %d through api-2)",
		len(expected), fcKeys, time.Since(sendBegan).Round(10*time.Millisecond), replicas[0], replicas[1])
	require.Len(t, expected, fcKeys*fcLate)

	ended := func() int {
		seen := map[string]bool{}
		for _, r := range c.records(fcPrefix + "end/") {
			seen[r.Path] = true
		}
		return len(seen)
	}

	// Every key's run of event fcHeld sends its end and is held there;
	// the worker holding most of these sends is SIGKILLed (its requests
	// get no answer: Temporal retries them once their timeout has passed,
	// under the same delivery key), the others are answered.
	tc := c.temporalClient()
	defer tc.Close()
	holders := map[*node][]string{}
	eventually(t, 2*time.Minute, 200*time.Millisecond, "every key's held send in flight on a worker", func() error {
		if n := len(c.records("/hold/" + fcFlow + "/")); n < fcKeys {
			return fmt.Errorf("%d of %d held sends at the receiver", n, fcKeys)
		}
		clear(holders)
		for k := range fcKeys {
			id := fcFlow + ":" + fcEvent(k, fcHeld)
			d, err := tc.DescribeWorkflowExecution(context.Background(), id, "")
			if err != nil {
				return err
			}
			var holder *node
			for _, pa := range d.GetPendingActivities() {
				for _, w := range c.workers {
					if strings.Contains(pa.GetLastWorkerIdentity(), "@"+w.name) {
						holder = w
					}
				}
			}
			if holder == nil {
				return fmt.Errorf("%s: no worker holds its send yet", id)
			}
			holders[holder] = append(holders[holder], id)
		}
		return nil
	})
	victim := c.workers[0]
	if len(holders[c.workers[1]]) > len(holders[victim]) {
		victim = c.workers[1]
	}
	cut := holders[victim]
	atKill := ended()
	killed := time.Now()
	c.kill(victim)
	t.Logf("SIGKILL %s holding the sends of %v, with %d of %d events ended; %s", victim.name, cut, atKill, fcKeys*fcPerKey, c.keysNow(t))
	require.Less(t, atKill, fcKeys*fcPerKey/2, "too few events were waiting at the kill for the case to hold")

	// From now on every held send is answered: those of the worker left
	// at once, the killed worker's when their retries arrive.
	releasing, stopReleasing := context.WithCancel(context.Background())
	released := make(chan struct{})
	go func() {
		defer close(released)
		for {
			if base, err := c.tryURL(c.receiver); err == nil {
				c.do(http.MethodPost, base+"/control/release", "", "", nil)
			}
			select {
			case <-releasing.Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	defer func() {
		stopReleasing()
		<-released
	}()

	// The worker left carries on alone for a while; then Temporal goes
	// down with keys still waiting, while the callers send each key's
	// last events (they get 503 and retry until Temporal is back).
	time.Sleep(5 * time.Second)
	lateDone := make(chan struct{})
	go func() {
		defer close(lateDone)
		parallel(t, send(fcLate, fcPerKey)...)
	}()
	time.Sleep(time.Second)
	atStop := ended()
	require.Less(t, atStop, fcKeys*fcPerKey-2*fcKeys*5, "too few events were waiting when Temporal stopped for the case to hold")
	down := time.Now()
	c.stop(c.temporal, 10*time.Second)
	time.Sleep(fcOutage)
	c.start(c.temporal)
	for _, api := range c.apis {
		c.waitReady(api, 3*time.Minute)
	}
	t.Logf("temporal stopped with %d of %d events ended; answering again after %s", atStop, fcKeys*fcPerKey, time.Since(down).Round(100*time.Millisecond))
	c.start(victim)
	t.Logf("%s started again; %d events ended", victim.name, ended())
	<-lateDone
	mu.Lock()
	t.Logf("the last %d events of each key, sent from 1 s before Temporal stopped, all accepted %s after the stop; answers retried: %v",
		fcPerKey-fcLate, time.Since(down).Round(100*time.Millisecond), retried)
	mu.Unlock()
	require.Len(t, expected, fcKeys*fcPerKey)

	// Drain: every run completed, one per event, nothing more.
	drainBegan := time.Now()
	c.requireRuns(t, fcFlow, expected, nil, fcDrained)
	stopReleasing()
	<-released
	t.Logf("every run completed %s after the restarts (%s after the first event)", time.Since(drainBegan).Round(time.Second), time.Since(sendBegan).Round(time.Second))

	// The keys, seen through either replica, are idle again.
	for k := range fcKeys {
		v := c.keyView(t, k%2, fmt.Sprintf("k%d", k))
		require.Empty(t, v.Running, "key k%d: %+v", k, v)
		require.Zero(t, v.Waiting, "key k%d: %+v", k, v)
	}

	// The receiver's record: per event and phase, the requests and their
	// delivery keys.
	type sends struct {
		first, last time.Time
		at          []time.Time
		n           int
		keys        map[string]int
	}
	type phases struct{ start, end *sends }
	events := map[string]*phases{}
	recs := append(c.records(fcPrefix), c.records("/hold/"+fcFlow+"/")...)
	for _, r := range recs {
		rest, held := strings.CutPrefix(r.Path, "/hold/"+fcFlow+"/")
		if !held {
			rest = strings.TrimPrefix(r.Path, fcPrefix)
		}
		parts := strings.Split(rest, "/")
		require.Len(t, parts, 3, "request %s", r.Path)
		phase, key, ev := parts[0], parts[1], parts[2]
		require.True(t, strings.HasPrefix(ev, key+"-"), "request %s: event of another key", r.Path)
		require.Equal(t, held, phase == "end" && strings.HasSuffix(ev, fmt.Sprintf("-%03d", fcHeld)), "request %s: held or not as its event says", r.Path)
		p := events[ev]
		if p == nil {
			p = &phases{}
			events[ev] = p
		}
		var s **sends
		switch phase {
		case "start":
			s = &p.start
		case "end":
			s = &p.end
		default:
			t.Fatalf("request %s: unknown phase", r.Path)
		}
		if *s == nil {
			*s = &sends{first: r.Time, keys: map[string]int{}}
		}
		(*s).n++
		(*s).at = append((*s).at, r.Time)
		(*s).keys[r.Headers.Get("Idempotency-Key")]++
		if r.Time.Before((*s).first) {
			(*s).first = r.Time
		}
		if r.Time.After((*s).last) {
			(*s).last = r.Time
		}
	}
	require.Len(t, events, fcKeys*fcPerKey, "events at the receiver")
	var repeated []string
	repeatedCut := 0
	for ev, p := range events {
		require.NotNil(t, p.start, "%s: no start at the receiver", ev)
		require.NotNil(t, p.end, "%s: no end at the receiver", ev)
		for name, s := range map[string]*sends{"start": p.start, "end": p.end} {
			// One run per event: a second run would send under another
			// delivery key; a send retried because its outcome was lost
			// carries the same one.
			require.Len(t, s.keys, 1, "%s %s reached the receiver under more than one delivery key: %v", ev, name, s.keys)
			if s.n > 1 {
				var when []string
				for _, at := range s.at {
					when = append(when, fmt.Sprintf("%+.1fs", at.Sub(killed).Seconds()))
				}
				repeated = append(repeated, fmt.Sprintf("%s %s at %s", ev, name, strings.Join(when, ", ")))
				if name == "end" && contains(cut, fcFlow+":"+ev) {
					repeatedCut++
				}
			}
		}
		require.True(t, p.start.last.Before(p.end.first), "%s: a start arrived after its end", ev)
	}
	sort.Strings(repeated)
	// The sends cut by the kill arrived again (their retries), under
	// their one key.
	for _, id := range cut {
		_, ev, _ := strings.Cut(id, ":")
		require.GreaterOrEqual(t, events[ev].end.n, 2, "%s: its send cut by the kill was not retried", id)
	}
	// Besides the sends the kill cut, Temporal's restart may have cut at
	// most one send per key (one run of a key at a time).
	require.LessOrEqual(t, len(repeated)-repeatedCut, fcKeys, "sends repeated (times from the kill): %v", repeated)

	// Per key: runs started in arrival order, each after the previous
	// one's last request.
	var slowest time.Duration
	for k := range fcKeys {
		order := make([]string, 0, fcPerKey)
		for e := range fcPerKey {
			order = append(order, fcEvent(k, e))
		}
		byStart := append([]string(nil), order...)
		sort.Slice(byStart, func(i, j int) bool { return events[byStart[i]].start.first.Before(events[byStart[j]].start.first) })
		require.Equal(t, order, byStart, "key k%d: runs did not start in arrival order", k)
		for e := 1; e < fcPerKey; e++ {
			prev, next := events[order[e-1]], events[order[e]]
			require.True(t, prev.end.last.Before(next.start.first),
				"key k%d: %s started at %s, before %s's last end at %s", k, order[e], next.start.first.Format(time.StampMicro), order[e-1], prev.end.last.Format(time.StampMicro))
			if gap := next.start.first.Sub(prev.end.last); gap > slowest {
				slowest = gap
			}
		}
	}
	t.Logf("%d requests at the receiver for %d events: each started in its key's arrival order after the previous one ended; longest hand-over %s; repeated sends (same delivery key; times from the kill): %d %v",
		len(recs), len(events), slowest.Round(10*time.Millisecond), len(repeated), repeated)
}

// keysNow says what each key has running and waiting.
func (c *Cluster) keysNow(t *testing.T) string {
	t.Helper()
	var parts []string
	for k := range fcKeys {
		v := c.keyView(t, 1, fmt.Sprintf("k%d", k))
		parts = append(parts, fmt.Sprintf("k%d: running %v, %d waiting", k, v.Running, v.Waiting))
	}
	return strings.Join(parts, "; ")
}

// keyView reads a key of scenario 8's flow through replica i.
func (c *Cluster) keyView(t *testing.T, i int, key string) contract.KeyView {
	t.Helper()
	a := c.admin(i, http.MethodGet, "/api/v1/flows/"+fcFlow+"/keys/"+key, "", "")
	require.Equal(t, http.StatusOK, a.status, a.String())
	var v contract.KeyView
	require.NoError(t, json.Unmarshal([]byte(a.body), &v), a.body)
	return v
}

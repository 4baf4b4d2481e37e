//go:build cluster

package cluster

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	// A rate keeps every attempt on the destination's queue, each holding
	// its lease until released or its 20 s response timeout: a local
	// first attempt's would change hands at its 5 s budget, and the lease
	// a worker holds when it is killed must be the one the test read.
	// (Local first attempts take leases too: tests/destinations_test.go.)
	leaseDest = `
name: c9-dest
baseUrl: http://receiver:8080/hold/c9/
maxInFlight: 2
rateLimit: {perSecond: 100}
circuitBreaker: {disabled: true}
timeouts: {connect: 2s, response: 20s}
retry: {initialInterval: 1s, backoffCoefficient: 1, maximumInterval: 1s}
`
	leaseFlow = `
id: c9-lease
trigger: {mode: async}
steps:
  - {id: send, type: http, method: POST, destination: c9-dest, path: "{{ trigger.body.n }}", body: {mode: all}}
`
	leaseMax  = 2
	leaseRuns = 6
)

// 9. A destination's maxInFlight holds across the workers, through leases
// in the flow store, also when a worker holding some is SIGKILLed: its
// leases keep counting until they expire (a little after the attempt's
// timeout), so the receiver never has more than maxInFlight requests in
// flight; then they are taken again and every delivery arrives.
func (c *Cluster) testLeaseHolderKilled(t *testing.T) {
	a := c.admin(0, http.MethodPost, "/api/v1/destinations", "application/yaml", leaseDest)
	require.Equal(t, http.StatusCreated, a.status, a.String())
	tok := c.createFlow(0, leaseFlow)
	// Both replicas serve the flow; every worker has read the destination.
	time.Sleep(cacheTTL + 3*time.Second)

	c.held(true)
	var ids []string
	numbers := map[string]string{}
	for n := range leaseRuns {
		key := fmt.Sprintf("c9-%d", n)
		a := c.trigger(n%2, tok, fmt.Sprintf(`{"n":%d}`, n), key)
		require.Equal(t, http.StatusOK, a.status, a.String())
		ids = append(ids, "c9-lease:"+key)
		numbers["c9-lease:"+key] = strconv.Itoa(n)
	}
	// Leases by worker: a holder is "<hostname>-<pid>-<id>/<attempt>".
	leases := func() map[string][]int64 {
		out := map[string][]int64{}
		for _, row := range c.storeQuery(`SELECT holder, expires_at FROM destination_leases WHERE name = 'c9-dest' AND expires_at > (extract(epoch from now()) * 1000)::bigint`) {
			holder, exp, _ := strings.Cut(row, "|")
			ms, err := strconv.ParseInt(exp, 10, 64)
			require.NoError(t, err, row)
			for _, w := range c.workers {
				if strings.HasPrefix(holder, w.name+"-") {
					out[w.name] = append(out[w.name], ms)
				}
			}
		}
		return out
	}
	var byWorker map[string][]int64
	eventually(t, 30*time.Second, 100*time.Millisecond, "maxInFlight requests held at the receiver, their leases in the store", func() error {
		held, _ := c.held(false)
		byWorker = leases()
		n := 0
		for _, l := range byWorker {
			n += len(l)
		}
		if held < leaseMax || n < leaseMax {
			e, err := c.execution(0, ids[0])
			return fmt.Errorf("%d held, %d leases (%s: %s %+v %v; at the receiver: %d)", held, n, ids[0], e.Status, e.Steps, err, len(c.records("/hold/c9/")))
		}
		return nil
	})
	var victim *node
	for _, w := range c.workers {
		if victim == nil || len(byWorker[w.name]) > len(byWorker[victim.name]) {
			victim = w
		}
	}
	c.kill(victim)
	// What the dead worker holds now cannot change until it expires.
	held := leases()[victim.name]
	k := len(held)
	require.Positive(t, k, "%s held a lease when it was killed (before: %v)", victim.name, byWorker)
	var expiry time.Time
	for _, ms := range held {
		if at := time.UnixMilli(ms); at.After(expiry) {
			expiry = at
		}
	}
	t.Logf("leases %v; SIGKILLed %s holding %d, expiring in %s", byWorker, victim.name, k, time.Until(expiry).Round(100*time.Millisecond))

	// Until they expire, the dead worker's leases still count: the worker
	// left keeps at most maxInFlight - k in flight.
	time.Sleep(time.Second) // the killed worker's connections close
	c.held(true)
	for time.Until(expiry) > 500*time.Millisecond {
		time.Sleep(250 * time.Millisecond)
	}
	_, before := c.held(true)
	require.LessOrEqual(t, before, leaseMax-k, "while the dead worker's %d leases last, at most %d in flight", k, leaseMax-k)

	// Expired, they are taken again: maxInFlight in flight, never more.
	eventually(t, 30*time.Second, 200*time.Millisecond, "the dead worker's leases taken again", func() error {
		if _, peak := c.held(false); peak < leaseMax {
			return fmt.Errorf("peak %d since they expired", peak)
		}
		return nil
	})
	_, after := c.held(false)
	require.Equal(t, leaseMax, after, "never more than maxInFlight at the receiver")
	t.Logf("in flight while the dead worker's leases lasted: at most %d; after they expired: %d", before, after)

	// Answered from now on: every delivery arrives, every lease given back.
	stop := c.releaseUntilDone()
	defer stop()
	c.start(victim)
	c.requireRuns(t, "c9-lease", ids, nil, 2*time.Minute)
	c.requireDeliveredAt(t, "/hold/c9/", "c9-lease", ids, numbers)
	stop()
	_, peak := c.held(false)
	require.LessOrEqual(t, peak, leaseMax, "never more than maxInFlight at the receiver")
	eventually(t, 10*time.Second, 200*time.Millisecond, "every lease given back", func() error {
		if l := leases(); len(l) > 0 {
			return fmt.Errorf("live leases %v", l)
		}
		return nil
	})
}

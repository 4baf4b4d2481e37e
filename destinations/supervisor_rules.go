package destinations

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// The destination supervisor's rules, apart from its I/O (supervisor.go
// reads the store, has SDK workers started and emits notifications; these
// decide what it does, given the state it read and the time).

// probeKey is the key of an open circuit's probe worker: one poller, one
// delivery at a time.
const probeKey = "probe"

// workerFor is the worker a destination should have at now on the worker
// self: key "" none, else a key naming its settings (a change of key
// restarts it); probe when it is self's probe of an open circuit. claim
// reports an open circuit whose probe is due and held by no live claim of
// self: the caller claims it in the flow store and runs the probe only
// when it wins.
func workerFor(d *Destination, now time.Time, self string, maxInFlight int) (key string, probe, claim bool) {
	if d.State.Paused {
		return "", false, false
	}
	if u := d.State.LimitedUntil; u != nil && now.Before(*u) {
		// A used-up period: nothing polls until it ends (not even an
		// open circuit's probe, which the limit would refuse).
		return "", false, false
	}
	enabled, _, _ := d.Def.Breaker()
	if enabled && d.State.Circuit == CircuitOpen {
		if d.State.ProbeOwner == self && now.Sub(d.State.ProbeClaimedAt) < probeClaimTTL {
			// Kept while its probe is out: stopping would cancel it.
			return probeKey, true, false
		}
		due := d.State.NextProbeAt != nil && !now.Before(*d.State.NextProbeAt)
		return "", false, due
	}
	rate := 0.0
	if d.Def.RateLimit != nil {
		rate = d.Def.RateLimit.PerSecond
	}
	inFlight := d.Def.MaxInFlight
	if inFlight == 0 {
		inFlight = maxInFlight
	}
	return fmt.Sprintf("poll rate=%g inflight=%d", rate, inFlight), false, false
}

// workerChange is what a reload does to a destination's worker: stop the
// running one (running, with curKey) and start one for key ("" none).
// The same key keeps the worker as it is.
func workerChange(running bool, curKey, key string) (stop, start bool) {
	if running && curKey == key {
		return false, false
	}
	return running, key != ""
}

// earliestLimitEnd is the earliest end, after now, of a destination's
// used-up limit period (zero: none): the reload is poked then, so parked
// deliveries go out at once rather than at the next reload.
func earliestLimitEnd(list []*Destination, now time.Time) time.Time {
	var wake time.Time
	for _, d := range list {
		if u := d.State.LimitedUntil; u != nil && u.After(now) && (wake.IsZero() || u.Before(wake)) {
			wake = *u
		}
	}
	return wake
}

// limitWait is how long a delivery refused by a period used up until
// until waits before it goes back to its queue: two reloads, by when no
// worker polls the queue any more, so it waits there (visible as parked,
// in order) until the period ends; or the period's end (plus half a
// reload), when that comes first. Never negative.
func limitWait(until, now time.Time, reload time.Duration) time.Duration {
	return max(min(until.Sub(now)+reload/2, 2*reload), 0)
}

// gateVerdict is what the gate decides from the state this worker knows,
// before it asks the store anything.
type gateVerdict int

const (
	gateAdmit   gateVerdict = iota // send (after the period limits admit it)
	gatePaused                     // park: paused
	gateLimited                    // park: a period's limit is used up
	gateProbe                      // an open circuit: only its probe may go
)

// gateRule is the gate's rule: paused parks first, then a used-up period
// (not even a probe goes while it lasts), then an open circuit (with its
// breaker enabled) lets only the probe through.
func gateRule(d *Destination, now time.Time) gateVerdict {
	enabled, _, _ := d.Def.Breaker()
	switch {
	case d.State.Paused:
		return gatePaused
	case d.State.LimitedUntil != nil && now.Before(*d.State.LimitedUntil):
		return gateLimited
	case enabled && d.State.Circuit == CircuitOpen:
		return gateProbe
	}
	return gateAdmit
}

// FirstAttemptLocal tells whether a destination's deliveries may make
// their first attempt in the flow worker (a local activity) at all: only
// when it sets no rate, which the server enforces on its queue and nothing
// else can count. Decided from the definition, so the run records it
// (contract.DestinationPolicy); the state is the gate's, at the attempt.
func FirstAttemptLocal(def *flow.Destination) bool {
	return def.RateLimit == nil
}

// firstAttemptRule is the gate of a local first attempt: it goes only when
// the destination's queue would send it at once, that is, when the gate
// admits it outright (not paused, limited or open: an open circuit's probe
// is its queue's to make) and the destination sets no rate.
func firstAttemptRule(d *Destination, now time.Time) bool {
	return FirstAttemptLocal(d.Def) && gateRule(d, now) == gateAdmit
}

// outcomeWorthWriting tells whether an attempt's outcome must be written
// for a breaker without a failure-rate window: every failure and every
// probe; a success only when a failure may be counted (one recorded here
// since the last reload, failures in the state read, or an open circuit),
// so a healthy destination costs no write per delivery.
func outcomeWorthWriting(ok, probe, failedHere bool, st State) bool {
	dirty := failedHere || st.ConsecutiveFailures > 0 || st.Circuit == CircuitOpen
	return !ok || dirty || probe
}

// PollerOptions are the SDK worker options of a destination's poller: a
// probe takes one delivery at a time with one poll; else the
// destination's rate (the server enforces it across every poller) and
// its maxInFlight (maxInFlight when it sets none). The destination's
// maxInFlight holds across workers through the gate's leases; it bounds
// this process's slots too, since a process never sends more than the
// cluster may, and a slot whose attempt waits at the gate for a lease
// keeps the process from taking more tasks (they wait in the queue,
// costing nothing). A worker stopped for
// a pause or an open circuit lets the deliveries it runs finish (a whole
// attempt: at most connect 1m + response 10m is allowed, 38 s by default)
// rather than cancel them: stopTimeout, at least 40 s.
func PollerOptions(d *Destination, probe bool, maxInFlight int, stopTimeout time.Duration) sdkworker.Options {
	o := sdkworker.Options{WorkerStopTimeout: max(stopTimeout, 40*time.Second)}
	if probe {
		o.MaxConcurrentActivityExecutionSize, o.MaxConcurrentActivityTaskPollers = 1, 1
		return o
	}
	if d.Def.RateLimit != nil {
		o.TaskQueueActivitiesPerSecond = d.Def.RateLimit.PerSecond
	}
	o.MaxConcurrentActivityExecutionSize = d.Def.MaxInFlight
	if o.MaxConcurrentActivityExecutionSize == 0 {
		o.MaxConcurrentActivityExecutionSize = maxInFlight
	}
	return o
}

// CountsAgainst tells whether a failed attempt of error type errType is
// the destination's failure, for its circuit breaker: 5xx, network errors
// and timeouts, 429. A 4xx is the request's fault, a refused or missing
// secret the operator's.
func CountsAgainst(errType string) bool {
	switch errType {
	case contract.ErrHTTPServer, contract.ErrNetwork, contract.ErrTooManyRequests:
		return true
	}
	return false
}

// errorType is a failed attempt's error type (HTTPServerError, ...), as
// activities.ErrorType reads it.
func errorType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() != "" {
		return ae.Type()
	}
	return "Error"
}

// The rules of maxInFlight's leases (leases.go), as the gate applies them.

// leaseMargin is how much longer a lease lives than its attempt's
// start-to-close timeout. Temporal times an attempt out on the server and
// schedules its retry, which another worker may start (and take a lease
// for) while the timed-out attempt's worker, its clock a little behind or
// slow to see its context end, is still sending: a lease that expired
// exactly at the timeout would let both be in flight. The margin covers
// that and the clock skew between workers (one writes expires_at on its
// clock, another compares it with its own); it is short beside an
// attempt's timeout, so a dead worker's leases come back soon after its
// attempts were timed out anyway.
const leaseMargin = 15 * time.Second

// maxAttemptTimeout is the longest start-to-close an attempt is given
// (connect 1m + response 10m + 5 s): a lease's life when its attempt's
// timeout is unknown.
const maxAttemptTimeout = 11*time.Minute + 5*time.Second

// leaseTTL is how long a lease lives unless its attempt gives it back:
// the attempt's start-to-close timeout plus leaseMargin, so a lease
// outlives neither its attempt nor (by more than the margin) a crash.
func leaseTTL(startToClose time.Duration) time.Duration {
	if startToClose <= 0 {
		startToClose = maxAttemptTimeout
	}
	return startToClose + leaseMargin
}

// maxLeaseWait is the longest an attempt waits at the gate for a lease
// before it parks; leaseWaitReserve is what its deadline must still leave
// beyond its request's own timeouts after the wait (the worker's own
// work, which the attempt's timeout allows 5 s for).
const (
	maxLeaseWait     = 3 * time.Second
	leaseWaitReserve = 2 * time.Second
)

// leasePoll is how often an attempt waiting at the gate tries for a lease
// again (a lease given back on the same worker wakes it at once).
const leasePoll = 200 * time.Millisecond

// leaseWait is how long an attempt may wait at the gate for a lease: what
// its deadline leaves beyond need (its request's connect and response
// timeouts) and leaseWaitReserve, at most maxLeaseWait, never negative;
// nothing without a deadline. Waiting inside the attempt holds one of the
// worker's slots, so a worker whose slots all wait takes no more tasks and
// the rest stay in the queue, where they wait without a write or an
// attempt.
func leaseWait(deadline, now time.Time, need time.Duration) time.Duration {
	if deadline.IsZero() {
		return 0
	}
	return max(min(deadline.Sub(now)-need-leaseWaitReserve, maxLeaseWait), 0)
}

// leaseParkDelay is when an attempt that waited in vain for a lease (its
// parked earlier attempts before it) is tried again: soon, as leases free
// when attempts end, and later the more often it parked, so a destination
// slower than its backlog costs Temporal and the store less: 1 s, 2 s,
// 4 s, 8 s, then 10 s.
func leaseParkDelay(parked int32) time.Duration {
	if parked >= 4 {
		return 10 * time.Second
	}
	return time.Second << max(parked, 0)
}

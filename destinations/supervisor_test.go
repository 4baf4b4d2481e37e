package destinations

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

// The supervisor's loop, with fakes at its three seams: the flow store
// (States; the real one is store_test.go), the SDK worker it has started
// per destination and the notifier (the real ones run in
// tests/destinations_test.go and tests/notify_test.go).

// fakeStates is the flow store as the supervisor sees it. lists signals
// each ListDestinations (the loop's test signal).
type fakeStates struct {
	mu         sync.Mutex
	dests      []*Destination
	claimOK    bool
	startOK    bool
	claims     []string
	outcomes   []bool // RecordOutcome's ok, in order
	transition string
	admission  Admission
	released   []string
	lists      chan struct{}
	// Leases: free is how many TakeLease hands out before it refuses;
	// taken and given back are counted.
	free, taken, givenBack int
	// admitted counts AdmitAttempt's calls.
	admitted int
}

func (f *fakeStates) set(ds ...*Destination) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dests = ds
}

func (f *fakeStates) List(context.Context) ([]*Destination, error) {
	f.mu.Lock()
	out := make([]*Destination, len(f.dests))
	for i, d := range f.dests {
		c := *d // the supervisor writes its claims into what it read
		out[i] = &c
	}
	f.mu.Unlock()
	if f.lists != nil {
		select {
		case f.lists <- struct{}{}:
		default:
		}
	}
	return out, nil
}

func (f *fakeStates) ClaimProbe(_ context.Context, name, owner string, _ time.Duration) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.claims = append(f.claims, name+" by "+owner)
	return f.claimOK, nil
}

func (f *fakeStates) StartProbe(context.Context, string, string) (bool, error) {
	return f.startOK, nil
}

func (f *fakeStates) RecordOutcome(_ context.Context, _ string, ok, _ bool, _ int, _ time.Duration, _ string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.outcomes = append(f.outcomes, ok)
	return f.transition, nil
}

func (f *fakeStates) RecordWindowOutcome(ctx context.Context, name string, ok, probe bool, failures int, _ flow.FailureWindow, interval time.Duration, lastError string) (string, error) {
	return f.RecordOutcome(ctx, name, ok, probe, failures, interval, lastError)
}

func (f *fakeStates) AdmitAttempt(context.Context, string, []flow.PeriodLimit) (Admission, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admitted++
	return f.admission, nil
}

func (f *fakeStates) ReleaseProbe(_ context.Context, name, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, name)
	return nil
}

func (f *fakeStates) TakeLease(_ context.Context, name, holder string, _ int, _ time.Duration) (Lease, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.free == 0 {
		return Lease{}, false, nil
	}
	f.free--
	f.taken++
	return Lease{Name: name, Holder: holder}, true, nil
}

func (f *fakeStates) ReleaseLease(context.Context, Lease) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.free++
	f.givenBack++
	return nil
}

// fakePollers records the pollers the supervisor starts and stops.
type fakePollers struct {
	mu      sync.Mutex
	started []string // "name key"
	stopped []string
}

type fakePoller struct {
	p    *fakePollers
	name string
}

func (w fakePoller) Stop() {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	w.p.stopped = append(w.p.stopped, w.name)
}

func (p *fakePollers) start(d *Destination, key string, _ bool) (Poller, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = append(p.started, d.Name+" "+key)
	return fakePoller{p, d.Name}, nil
}

// take returns what was started and stopped since the last take (stops
// run in the background: waited for first).
func (p *fakePollers) take(m *Supervisor) (started, stopped []string) {
	m.stops.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	started, stopped = p.started, p.stopped
	p.started, p.stopped = nil, nil
	return started, stopped
}

// fakeNotifier records the events emitted, each with what its id derives
// from in every process (notify.DestinationEventID: the destination,
// the event and when the state change began).
type fakeNotifier struct {
	mu   sync.Mutex
	ids  []string
	typs []string
}

func eventID(name, typ string, since time.Time) string {
	return name + " " + typ + " " + since.UTC().Format(time.RFC3339Nano)
}

func (n *fakeNotifier) DestinationEvent(typ, name string, since time.Time, _ map[string]any) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	id := eventID(name, typ, since)
	n.ids, n.typs = append(n.ids, id), append(n.typs, typ+" "+name)
	return id
}

func (n *fakeNotifier) take() (typs, ids []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	typs, ids = n.typs, n.ids
	n.typs, n.ids = nil, nil
	return typs, ids
}

// clock is the supervisor's injected now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTestSupervisor(t *testing.T, reload time.Duration) (*Supervisor, *fakeStates, *fakePollers, *fakeNotifier, *clock) {
	t.Helper()
	st, p, n, c := &fakeStates{}, &fakePollers{}, &fakeNotifier{}, &clock{now: t0}
	m := NewSupervisor(Config{States: st, Reload: reload, MaxInFlight: 4, StartPoller: p.start, Notifier: n, Now: c.Now})
	return m, st, p, n, c
}

func TestReconcileStartsStopsAndRestartsEachDestinationsPoller(t *testing.T) {
	m, st, p, n, c := newTestSupervisor(t, time.Hour)
	ctx := context.Background()

	st.set(dest("a"), dest("b", func(d *Destination) { d.State.Paused, d.State.PausedAt = true, at(-time.Hour) }))
	m.reconcile(ctx)
	started, stopped := p.take(m)
	require.Equal(t, []string{"a poll rate=0 inflight=4"}, started, "a paused destination gets no poller")
	require.Empty(t, stopped)
	typs, _ := n.take()
	require.Empty(t, typs, "the first reload learns the state without notifying")

	m.reconcile(ctx)
	started, stopped = p.take(m)
	require.Empty(t, started, "an unchanged state keeps the pollers as they are")
	require.Empty(t, stopped)

	// a is paused and b resumed between two reloads.
	c.advance(time.Minute)
	st.set(dest("a", func(d *Destination) { d.State.Paused, d.State.PausedAt = true, at(time.Minute) }), dest("b"))
	m.reconcile(ctx)
	started, stopped = p.take(m)
	require.Equal(t, []string{"b poll rate=0 inflight=4"}, started)
	require.Equal(t, []string{"a"}, stopped)
	typs, ids := n.take()
	require.Equal(t, []string{flow.EventDestinationPaused + " a", flow.EventDestinationResumed + " b"}, typs)
	require.Equal(t, []string{
		eventID("a", flow.EventDestinationPaused, t0.Add(time.Minute)),
		eventID("b", flow.EventDestinationResumed, t0.Add(-time.Hour)),
	}, ids, "ids derive from the change (destination, event, when it began)")

	// b's limits change: its poller restarts with them.
	st.set(dest("a", func(d *Destination) { d.State.Paused, d.State.PausedAt = true, at(time.Minute) }),
		dest("b", func(d *Destination) { d.Def.MaxInFlight, d.Def.RateLimit = 2, &flow.RateLimit{PerSecond: 5} }))
	m.reconcile(ctx)
	started, stopped = p.take(m)
	require.Equal(t, []string{"b poll rate=5 inflight=2"}, started)
	require.Equal(t, []string{"b"}, stopped)

	// b's circuit opens with its probe due; this worker wins the claim.
	st.claimOK = true
	st.set(dest("a", func(d *Destination) { d.State.Paused, d.State.PausedAt = true, at(time.Minute) }), dest("b", open(time.Minute)))
	m.reconcile(ctx)
	started, stopped = p.take(m)
	require.Equal(t, []string{"b " + probeKey}, started)
	require.Equal(t, []string{"b"}, stopped)
	require.Equal(t, []string{"b by " + m.id}, st.claims)
	typs, ids = n.take()
	require.Equal(t, []string{flow.EventDestinationCircuitOpened + " b"}, typs)
	require.Equal(t, []string{eventID("b", flow.EventDestinationCircuitOpened, t0.Add(-time.Minute))}, ids)

	// b is deleted: its poller stops and nothing is emitted about it.
	st.set(dest("a", func(d *Destination) { d.State.Paused, d.State.PausedAt = true, at(time.Minute) }))
	m.reconcile(ctx)
	started, stopped = p.take(m)
	require.Empty(t, started)
	require.Equal(t, []string{"b"}, stopped)
	typs, _ = n.take()
	require.Empty(t, typs)
	m.mu.Lock()
	require.Empty(t, m.running)
	require.NotContains(t, m.known, "b")
	m.mu.Unlock()

	// b made again under its name is learnt anew: the reload that first
	// sees it notifies nothing, the next one what changed since.
	aPaused := dest("a", func(d *Destination) { d.State.Paused, d.State.PausedAt = true, at(time.Minute) })
	st.set(aPaused, dest("b", func(d *Destination) { d.State.Paused, d.State.PausedAt = true, at(0) }))
	m.reconcile(ctx)
	typs, _ = n.take()
	require.Empty(t, typs, "a destination made again is learnt, not notified")
	st.set(aPaused, dest("b"))
	m.reconcile(ctx)
	typs, ids = n.take()
	require.Equal(t, []string{flow.EventDestinationResumed + " b"}, typs)
	require.Equal(t, []string{eventID("b", flow.EventDestinationResumed, t0)}, ids)
}

func TestReconcileLeavesAnotherWorkersProbeAlone(t *testing.T) {
	m, st, p, _, _ := newTestSupervisor(t, time.Hour)
	st.claimOK = false
	st.set(dest("b", open(-time.Second)))
	m.reconcile(context.Background())
	started, _ := p.take(m)
	require.Empty(t, started, "a lost claim starts no poller")
	require.Len(t, st.claims, 1)
}

func TestTwoWorkersEmitTheSameEventIDsForOneChange(t *testing.T) {
	ctx := context.Background()
	var ids [2][]string
	for i := range ids {
		m, st, _, n, c := newTestSupervisor(t, time.Hour)
		st.set(dest("a"))
		m.reconcile(ctx)
		// The workers reload at different times; the change is one.
		c.advance(time.Duration(i+1) * 7 * time.Second)
		st.set(dest("a", open(time.Minute)))
		m.reconcile(ctx)
		st.set(dest("a"))
		m.reconcile(ctx)
		_, ids[i] = n.take()
	}
	require.Len(t, ids[0], 2)
	require.Equal(t, ids[0], ids[1])
	require.NotEqual(t, ids[0][0], ids[0][1], "the opening and the closing are two events")
}

func TestTheLoopReloadsWhenPokedAndWhenAUsedUpPeriodEnds(t *testing.T) {
	m, st, p, _, c := newTestSupervisor(t, time.Hour)
	st.lists = make(chan struct{}, 1)
	// The period ends 200ms after the injected now: the wake timer fires
	// then (real time), long before the hour's reload.
	st.set(dest("a", func(d *Destination) { d.State.LimitedUntil = at(200 * time.Millisecond) }))
	m.Start() // its first reload runs before it returns
	defer m.Stop()
	<-st.lists
	started, _ := p.take(m)
	require.Empty(t, started, "nothing polls while the period is used up")

	// By the wake, the injected clock is past the period's end.
	c.advance(time.Second)
	select {
	case <-st.lists:
	case <-time.After(5 * time.Second):
		t.Fatal("the end of the used-up period did not wake the reload")
	}
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.started) == 1
	}, 5*time.Second, 5*time.Millisecond)

	m.poke()
	select {
	case <-st.lists:
	case <-time.After(5 * time.Second):
		t.Fatal("a poke did not reload")
	}
	m.Stop()
	_, stopped := p.take(m)
	require.Equal(t, []string{"a"}, stopped, "stop stops every poller")
}

func parkedWait(t *testing.T, err error) time.Duration {
	t.Helper()
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, contract.ErrDestinationParked, ae.Type())
	return ae.NextRetryDelay()
}

func TestGateParksWhatMustNotBeSentAndSaysForHowLong(t *testing.T) {
	ctx := context.Background()
	m, st, _, _, _ := newTestSupervisor(t, 2*time.Second)

	_, _, err := m.gate(ctx, dest("a", func(d *Destination) { d.State.Paused = true }), "a", Timing{})
	require.ErrorContains(t, err, "destination a: paused; nothing was sent")
	require.Equal(t, 4*time.Second, parkedWait(t, err))

	_, _, err = m.gate(ctx, dest("a", func(d *Destination) { d.State.LimitedUntil = at(time.Second) }), "a", Timing{})
	require.ErrorContains(t, err, "its limit per period is used up until "+t0.Add(time.Second).Format(time.RFC3339))
	require.Equal(t, 2*time.Second, parkedWait(t, err), "the period's end plus half a reload")

	st.startOK = false
	_, _, err = m.gate(ctx, dest("a", open(time.Minute)), "a", Timing{})
	require.ErrorContains(t, err, "its circuit is open")
	require.Equal(t, time.Minute, parkedWait(t, err), "until the next probe")

	st.startOK = true
	probe, _, err := m.gate(ctx, dest("a", open(0)), "a", Timing{})
	require.NoError(t, err)
	require.True(t, probe, "the probe goes out")

	// A used-up limit refuses the probe: it is given back unsent.
	st.admission = Admission{ResetsAt: t0.Add(time.Hour)}
	_, _, err = m.gate(ctx, dest("a", open(0), func(d *Destination) {
		d.Def.Limits = []flow.PeriodLimit{{Per: field.Duration(time.Hour), Max: 1}}
	}), "a", Timing{})
	require.ErrorContains(t, err, "its limit per period is used up until "+t0.Add(time.Hour).Format(time.RFC3339))
	require.Equal(t, []string{"a"}, st.released)

	probe, _, err = m.gate(ctx, dest("a"), "a", Timing{})
	require.NoError(t, err)
	require.False(t, probe)
}

func TestOutcomeWritesFailuresAndOpensTheCircuitHereAtOnce(t *testing.T) {
	m, st, _, _, c := newTestSupervisor(t, time.Hour)
	d := dest("a", func(d *Destination) {
		d.Def.CircuitBreaker = &flow.CircuitBreaker{Failures: 2, ProbeInterval: field.Duration(30 * time.Second)}
	})
	m.known["a"] = d
	serverErr := temporal.NewApplicationError("HTTP 503", contract.ErrHTTPServer)

	m.outcome(d, nil, false)
	require.Empty(t, st.outcomes, "a healthy destination's success writes nothing")

	m.outcome(d, temporal.NewApplicationError("HTTP 404", contract.ErrHTTPClient), false)
	require.Empty(t, st.outcomes, "a 4xx is not the destination's failure: a success, and nothing is written")

	st.transition = TransitionOpened
	m.outcome(d, serverErr, false)
	require.Equal(t, []bool{false}, st.outcomes)
	m.mu.Lock()
	k := m.known["a"]
	m.mu.Unlock()
	require.Equal(t, CircuitOpen, k.State.Circuit, "this worker's gate refuses at once")
	require.Equal(t, c.Now().Add(30*time.Second), *k.State.NextProbeAt)
	select {
	case <-m.kick:
	default:
		t.Fatal("an opened circuit pokes the reload, which stops the poller")
	}

	st.transition = ""
	m.outcome(d, nil, false)
	require.Equal(t, []bool{false, true}, st.outcomes, "a success after a failure here is written (it clears the count)")

	m.outcome(dest("off", func(d *Destination) { d.Def.CircuitBreaker = &flow.CircuitBreaker{Disabled: true} }), serverErr, false)
	require.Len(t, st.outcomes, 2, "a disabled breaker records nothing")
}

func TestAnAttemptThatUsesUpAPeriodStopsThisWorkersPollerUntilItEnds(t *testing.T) {
	m, st, _, _, _ := newTestSupervisor(t, time.Hour)
	limits := func(d *Destination) { d.Def.Limits = []flow.PeriodLimit{{Per: field.Duration(time.Hour), Max: 3}} }
	m.known["a"] = dest("a", limits)

	st.admission = Admission{Admitted: true}
	probe, _, err := m.gate(context.Background(), dest("a", limits), "a", Timing{})
	require.NoError(t, err)
	require.False(t, probe)
	require.Nil(t, m.known["a"].State.LimitedUntil)
	require.Len(t, m.kick, 0, "an attempt within its limits pokes nothing")

	// The attempt that uses the period up goes out, and marks it here.
	st.admission = Admission{Admitted: true, Transition: TransitionLimited, ResetsAt: t0.Add(time.Hour)}
	_, _, err = m.gate(context.Background(), dest("a", limits), "a", Timing{})
	require.NoError(t, err)
	m.mu.Lock()
	require.Equal(t, t0.Add(time.Hour), *m.known["a"].State.LimitedUntil)
	m.mu.Unlock()
	require.Len(t, m.kick, 1, "the reload it pokes stops the poller")
}

// Gate and Done as the delivery activity calls them: the state the last
// reload read decides, and the outcome reaches the breaker.
func TestGateAndDoneWorkOnTheStateTheLastReloadRead(t *testing.T) {
	m, st, _, _, _ := newTestSupervisor(t, time.Hour)
	ctx := context.Background()
	serverErr := temporal.NewApplicationError("HTTP 503", contract.ErrHTTPServer)

	// Not read yet (a destination created since the last reload): sent,
	// and its outcome counts nowhere until the supervisor knows it.
	a, err := m.Gate(ctx, "new", Timing{})
	require.NoError(t, err)
	require.False(t, a.Probe)
	m.Done(a, serverErr, time.Millisecond)
	require.Empty(t, st.outcomes)

	st.set(dest("a", func(d *Destination) { d.State.ConsecutiveFailures = 1 }), dest("p", func(d *Destination) { d.State.Paused = true }))
	m.reconcile(ctx)
	_, err = m.Gate(ctx, "p", Timing{})
	require.ErrorContains(t, err, "destination p: paused")

	a, err = m.Gate(ctx, "a", Timing{})
	require.NoError(t, err)
	m.Done(a, serverErr, time.Millisecond)
	m.Done(a, nil, time.Millisecond)
	require.Equal(t, []bool{false, true}, st.outcomes, "a failure, then the success that clears the count")
}

// A destination with maxInFlight: the gate takes a lease, Done gives it
// back whatever the outcome; with none free for as long as the attempt may
// wait, it parks (nothing sent) and says when to try again; a probe or an
// admission refused after the lease gives the lease back.
func TestGateHoldsALeaseOfMaxInFlightUntilDone(t *testing.T) {
	m, st, _, _, _ := newTestSupervisor(t, time.Hour)
	ctx := context.Background()
	two := func(d *Destination) { d.Def.MaxInFlight = 2 }
	st.set(dest("a", two))
	m.reconcile(ctx)
	st.free = 2

	a1, err := m.Gate(ctx, "a", Timing{})
	require.NoError(t, err)
	a2, err := m.Gate(ctx, "a", Timing{})
	require.NoError(t, err)
	_, err = m.Gate(ctx, "a", Timing{Parked: 2})
	require.ErrorContains(t, err, "destination a: all of its maxInFlight (2) are in flight; nothing was sent")
	require.Equal(t, 4*time.Second, parkedWait(t, err), "after two earlier parks: 4 s")

	m.Done(a1, temporal.NewApplicationError("HTTP 503", contract.ErrHTTPServer), time.Millisecond)
	a3, err := m.Gate(ctx, "a", Timing{})
	require.NoError(t, err, "a failed attempt gave its lease back")
	m.Done(a2, nil, time.Millisecond)
	m.Done(a3, nil, time.Millisecond)
	require.Equal(t, 3, st.taken)
	require.Equal(t, 3, st.givenBack)

	// Waiting: a lease given back here wakes the waiter at once (the
	// store's clock is t0, so the deadline leaves a 3 s wait).
	b1, err := m.Gate(ctx, "a", Timing{})
	require.NoError(t, err)
	b2, err := m.Gate(ctx, "a", Timing{})
	require.NoError(t, err)
	go func() {
		time.Sleep(50 * time.Millisecond)
		m.Done(b1, nil, time.Millisecond)
	}()
	began := time.Now()
	b3, err := m.Gate(ctx, "a", Timing{Deadline: t0.Add(time.Minute), Need: 33 * time.Second})
	require.NoError(t, err, "the waiter got the lease given back")
	require.Less(t, time.Since(began), time.Second, "woken by the release, not its poll")
	m.Done(b2, nil, 0)
	m.Done(b3, nil, 0)

	// No wait left: refused at once, the probe it held given back.
	st.startOK, st.free = true, 0
	st.set(dest("a", two, open(0)))
	m.reconcile(ctx)
	_, err = m.Gate(ctx, "a", Timing{})
	require.ErrorContains(t, err, "are in flight")
	require.Equal(t, []string{"a"}, st.released, "the probe sent nothing: given back")

	// A used-up period refuses after the lease: the lease is given back.
	st.free, st.admission = 1, Admission{ResetsAt: t0.Add(time.Hour)}
	st.set(dest("a", two, func(d *Destination) { d.Def.Limits = []flow.PeriodLimit{{Per: field.Duration(time.Hour), Max: 1}} }))
	m.reconcile(ctx)
	_, err = m.Gate(ctx, "a", Timing{})
	require.ErrorContains(t, err, "its limit per period is used up")
	require.Equal(t, 1, st.free, "the lease went back")

	// Without maxInFlight nothing is leased.
	st.set(dest("b"))
	m.reconcile(ctx)
	taken := st.taken
	b, err := m.Gate(ctx, "b", Timing{})
	require.NoError(t, err)
	m.Done(b, nil, 0)
	require.Equal(t, taken, st.taken)
}

// GateFirst, as a flow worker's local first attempt calls it: only what
// the queue would send at once goes (a destination this worker knows,
// with no rate, admitted outright), with a lease taken at the first try
// and the period limits counted; everything else parks at once, nothing
// sent, and the delivery goes to its queue.
func TestGateFirstAdmitsOnlyWhatItsQueueWouldSendAtOnce(t *testing.T) {
	m, st, _, _, _ := newTestSupervisor(t, time.Hour)
	ctx := context.Background()
	serverErr := temporal.NewApplicationError("HTTP 503", contract.ErrHTTPServer)

	_, err := m.GateFirst(ctx, "new", Timing{})
	require.ErrorContains(t, err, "destination new: its first attempt is its queue's; nothing was sent")
	require.Zero(t, parkedWait(t, err), "to the queue at once")

	limits := []flow.PeriodLimit{{Per: field.Duration(time.Hour), Max: 5}}
	st.set(
		dest("a", func(d *Destination) { d.Def.MaxInFlight, d.Def.Limits = 1, limits }),
		dest("rated", func(d *Destination) { d.Def.RateLimit = &flow.RateLimit{PerSecond: 5} }),
		dest("p", func(d *Destination) { d.State.Paused = true }),
		dest("o", open(0)),
	)
	m.reconcile(ctx)
	st.startOK = true
	for _, name := range []string{"rated", "p", "o"} {
		_, err := m.GateFirst(ctx, name, Timing{})
		require.ErrorContains(t, err, "its first attempt is its queue's", name)
	}
	require.Empty(t, st.released, "an open circuit's probe is not taken, so none is given back")

	st.free = 1
	st.admission = Admission{Admitted: true}
	a, err := m.GateFirst(ctx, "a", Timing{Deadline: t0.Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, 1, st.admitted, "counted against the period limits")
	began := time.Now()
	_, err = m.GateFirst(ctx, "a", Timing{Deadline: t0.Add(time.Minute)})
	require.ErrorContains(t, err, "all of its maxInFlight (1) are in flight")
	require.Less(t, time.Since(began), 500*time.Millisecond, "no wait for a lease in the flow worker's task")
	m.Done(a, serverErr, time.Millisecond)
	require.Equal(t, 1, st.givenBack)
	require.Equal(t, []bool{false}, st.outcomes, "its failure counts for the breaker")
}

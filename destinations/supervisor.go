package destinations

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/telemetry"
)

// States is what the supervisor reads and writes in the flow store: every
// destination with its state, the circuit breaker's steps and the period
// limits' admissions (*Store).
type States interface {
	List(ctx context.Context) ([]*Destination, error)
	ClaimProbe(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	StartProbe(ctx context.Context, name, owner string) (bool, error)
	// RecordOutcome is the breaker without a failure-rate window;
	// RecordWindowOutcome the one with (both report TransitionOpened and
	// TransitionClosed).
	RecordOutcome(ctx context.Context, name string, ok, probe bool, failures int, probeInterval time.Duration, lastError string) (string, error)
	RecordWindowOutcome(ctx context.Context, name string, ok, probe bool, failures int, w flow.FailureWindow, probeInterval time.Duration, lastError string) (string, error)
	// AdmitAttempt counts an attempt against the destination's period
	// limits (TransitionLimited, TransitionUnlimited).
	AdmitAttempt(ctx context.Context, name string, limits []flow.PeriodLimit) (Admission, error)
	ReleaseProbe(ctx context.Context, name, owner string) error
	// TakeLease takes one of a destination's max leases of maxInFlight
	// (ok false: all are held), ReleaseLease gives it back (leases.go).
	TakeLease(ctx context.Context, name, holder string, max int, ttl time.Duration) (Lease, bool, error)
	ReleaseLease(ctx context.Context, l Lease) error
}

// parkedRefresh is how often a worker reads its destinations' parked
// deliveries from Temporal for the hookflow_destination_parked metric.
const parkedRefresh = 10 * time.Second

// DefaultReload is how often a worker reads destinations and their state:
// the longest a pause, a resume, a circuit opened by another worker or a
// new destination takes to reach it.
const DefaultReload = 2 * time.Second

// probeClaimTTL is how long a worker holds an open circuit's probe before
// another may take it (the first died, or nothing was queued to send).
const probeClaimTTL = 2 * time.Minute

// Config is what a Supervisor runs with.
type Config struct {
	// States is the flow store (*Store).
	States States
	// StartPoller starts the SDK worker that polls a destination's task
	// queue (flow.DestinationTaskQueue) with the settings key names
	// (PollerOptions; probe: one delivery at a time) and the delivery
	// activity registered; the worker package supplies it.
	StartPoller func(d *Destination, key string, probe bool) (Poller, error)
	// Client is Temporal, read for the parked metric (nil: no metric).
	Client sdkclient.Client
	// Reload is how often destinations are read again (0: DefaultReload).
	Reload time.Duration
	// MaxInFlight is a destination's deliveries in flight on this process
	// when its definition sets none (a definition's maxInFlight holds
	// across every worker, through leases in the flow store).
	MaxInFlight int
	// Notifier emits destination events (nil: none).
	Notifier Notifier
	// Log and Telemetry (nil: none).
	Log       *slog.Logger
	Telemetry *telemetry.Telemetry
	// Now is the clock every decision reads (nil: time.Now).
	Now func() time.Time
}

// Supervisor keeps one SDK worker per destination polling its task queue
// (hookflow-dest-<name>) with the destination's limits: the Temporal
// server enforces TaskQueueActivitiesPerSecond across every poller, so a
// rate limit holds across all worker processes; a destination's
// maxInFlight holds across them through leases in the flow store, which
// the gate takes (and bounds each process's slots too). A paused destination, or one whose circuit is open, has no
// poller: its deliveries wait in the queue (parked), neither failed nor
// attempted. One worker at a time claims an open circuit's probe and polls
// for a single delivery. Its Gate and Done are the delivery activity's
// admission and outcome on those queues.
type Supervisor struct {
	client      sdkclient.Client
	st          States
	reload      time.Duration
	maxInFlight int
	log         *slog.Logger
	tel         *telemetry.Telemetry
	id          string

	// notifier emits destination events (nil: none); events follows
	// each destination's state as of the last reload (events.go).
	notifier Notifier
	events   map[string]destEvents

	// now is the clock every decision reads; startPoller starts a
	// destination's SDK worker (tests count starts and stops instead of
	// polling Temporal).
	now         func() time.Time
	startPoller func(d *Destination, key string, probe bool) (Poller, error)

	mu      sync.Mutex
	known   map[string]*Destination
	running map[string]*destWorker
	failed  map[string]bool // a failure recorded here since the last reload
	kick    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	stops   sync.WaitGroup
	// wake pokes the reload when the earliest used-up limit period ends.
	wake   *time.Timer
	wakeOn time.Time
	// leaseFreed is closed (and replaced) when an attempt here gives a
	// lease back: attempts waiting here for one try again at once.
	leaseFreed chan struct{}
	// The parked metric's last refresh, and the client's namespace.
	parkedAt   time.Time
	refreshing atomic.Bool
	namespace  string
}

type destWorker struct {
	w     Poller
	key   string
	probe bool
}

// Poller is what the supervisor needs of a running SDK worker.
type Poller interface{ Stop() }

// Notifier emits destination events (*notify.Emitter).
type Notifier interface {
	DestinationEvent(typ, name string, since time.Time, data map[string]any) string
}

// NewSupervisor returns a supervisor, not started.
func NewSupervisor(cfg Config) *Supervisor {
	reload := cfg.Reload
	if reload <= 0 {
		reload = DefaultReload
	}
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Supervisor{
		client: cfg.Client, st: cfg.States, reload: reload, maxInFlight: cfg.MaxInFlight,
		log: log.With("component", "destinations"), tel: cfg.Telemetry,
		id:    fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)),
		known: map[string]*Destination{}, running: map[string]*destWorker{}, failed: map[string]bool{},
		kick: make(chan struct{}, 1), leaseFreed: make(chan struct{}),
		notifier: cfg.Notifier, events: map[string]destEvents{},
		now: now, startPoller: cfg.StartPoller,
	}
}

// Start reads the destinations once, starts their pollers, and then
// reloads every Reload, when poked, and when a used-up period ends.
func (m *Supervisor) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.done = cancel, make(chan struct{})
	m.reconcile(ctx)
	go func() {
		defer close(m.done)
		t := time.NewTicker(m.reload)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-m.kick:
			}
			m.reconcile(ctx)
		}
	}()
}

// Stop stops the reload loop and every destination worker (each lets its
// running deliveries finish within its stop timeout).
func (m *Supervisor) Stop() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	<-m.done
	m.mu.Lock()
	if m.wake != nil {
		m.wake.Stop()
	}
	for name, dw := range m.running {
		m.stopWorker(dw)
		delete(m.running, name)
	}
	m.mu.Unlock()
	m.stops.Wait()
}

func (m *Supervisor) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// stopWorker stops a worker in the background (Stop waits for running
// deliveries); the caller holds m.mu.
func (m *Supervisor) stopWorker(dw *destWorker) {
	m.stops.Add(1)
	go func() {
		defer m.stops.Done()
		dw.w.Stop()
	}()
}

// reconcile reads every destination and starts, restarts or stops its
// worker to match: off when paused or open (unless this worker holds the
// probe), else polling with the destination's limits.
func (m *Supervisor) reconcile(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := m.st.List(rctx)
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("reading destinations failed; keeping the workers as they are", "error", err)
		}
		return
	}
	now := m.now()
	seen := map[string]bool{}
	for _, d := range list {
		seen[d.Name] = true
		key, probe := m.desired(rctx, d, now)
		m.tel.DestinationState(d.Name, d.StatusAt(now))
		if prev, ok := m.events[d.Name]; ok {
			m.notifyTransitions(prev, d)
		}
		m.events[d.Name] = destEventsOf(d)
		m.mu.Lock()
		m.known[d.Name] = d
		m.failed[d.Name] = false
		cur := m.running[d.Name]
		curKey := ""
		if cur != nil {
			curKey = cur.key
		}
		stop, start := workerChange(cur != nil, curKey, key)
		if !stop && !start {
			m.mu.Unlock()
			continue
		}
		if stop {
			m.stopWorker(cur)
			delete(m.running, d.Name)
		}
		if start {
			if w, err := m.startPoller(d, key, probe); err != nil {
				m.log.Error("start destination worker", "destination", d.Name, "error", err)
			} else {
				m.running[d.Name] = &destWorker{w: w, key: key, probe: probe}
			}
		}
		m.mu.Unlock()
		if key != "" || cur != nil {
			m.log.Info("destination worker", "destination", d.Name, "mode", modeName(key, probe), "version", d.Version)
		}
	}
	for name := range m.events {
		if !seen[name] {
			delete(m.events, name)
		}
	}
	m.mu.Lock()
	for name, dw := range m.running {
		if !seen[name] {
			m.stopWorker(dw)
			delete(m.running, name)
			delete(m.known, name)
		}
	}
	m.mu.Unlock()
	m.wakeUp(earliestLimitEnd(list, now))
	if now.Sub(m.parkedAt) >= parkedRefresh && m.tel != nil && m.client != nil && m.refreshing.CompareAndSwap(false, true) {
		m.parkedAt = now
		names := make([]string, 0, len(list))
		for _, d := range list {
			names = append(names, d.Name)
		}
		go m.refreshParked(ctx, names)
	}
}

// wakeUp pokes the reload right after a used-up limit period ends, so
// parked deliveries go out then rather than at the next reload.
func (m *Supervisor) wakeUp(at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if at.IsZero() || at.Equal(m.wakeOn) {
		return
	}
	m.wakeOn = at
	if m.wake != nil {
		m.wake.Stop()
	}
	m.wake = time.AfterFunc(at.Sub(m.now())+10*time.Millisecond, m.poke)
}

// refreshParked sets the parked metric from Temporal's backlog of each
// destination's queue (the admin API's figure, Backlog).
func (m *Supervisor) refreshParked(ctx context.Context, names []string) {
	defer m.refreshing.Store(false)
	ctx, cancel := context.WithTimeout(ctx, parkedRefresh)
	defer cancel()
	if m.namespace == "" {
		ns, err := ClientNamespace(ctx, m.client)
		if err != nil {
			m.log.Warn("learn the Temporal namespace for the parked metric", "error", err)
			return
		}
		m.namespace = ns
	}
	for _, name := range names {
		b, err := Backlog(ctx, m.client.WorkflowService(), m.namespace, name)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("describe a destination's task queue for the parked metric", "destination", name, "error", err)
			}
			continue
		}
		m.tel.DestinationParked(name, b.Count, b.OldestAge)
	}
}

func modeName(key string, probe bool) string {
	switch {
	case key == "":
		return "stopped"
	case probe:
		return "probe"
	}
	return "polling"
}

// desired is the worker a destination should have here: "" none, else a
// key naming its settings; probe when it is this worker's probe. An open
// circuit's due probe is claimed in the flow store (one worker wins).
func (m *Supervisor) desired(ctx context.Context, d *Destination, now time.Time) (string, bool) {
	key, probe, claim := workerFor(d, now, m.id, m.maxInFlight)
	if !claim {
		return key, probe
	}
	ok, err := m.st.ClaimProbe(ctx, d.Name, m.id, probeClaimTTL)
	if err != nil {
		m.log.Warn("claim probe", "destination", d.Name, "error", err)
	}
	if !ok {
		return "", false
	}
	d.State.ProbeOwner, d.State.ProbeStarted = m.id, false
	return probeKey, true
}

// Attempt is an attempt Gate let through, for Done.
type Attempt struct {
	name string
	d    *Destination // as this worker knew it (nil: not yet read)
	// Probe: the attempt is an open circuit's probe.
	Probe bool
	// lease is its lease of maxInFlight (nil: the destination sets none).
	lease *Lease
}

// Timing is what the gate knows of an attempt from its activity: its
// start-to-close timeout (its lease expires a little after), its
// deadline and what its request needs of it (the connect and response
// timeouts: it waits for a lease only while its deadline leaves them),
// and how often it parked before.
type Timing struct {
	StartToClose time.Duration
	Deadline     time.Time
	Need         time.Duration
	Parked       int32
}

// Gate is the delivery activity's admission on a destination's queue: it
// lets an attempt through, or refuses it (a DestinationParked error:
// nothing is sent, and the delivery goes back to wait in its queue) while
// the destination is paused, limited or open (except its probe), or all
// of its maxInFlight leases stay held for as long as the attempt may wait.
func (m *Supervisor) Gate(ctx context.Context, name string, t Timing) (Attempt, error) {
	m.mu.Lock()
	d := m.known[name]
	m.mu.Unlock()
	probe, lease, err := m.gate(ctx, d, name, t)
	return Attempt{name: name, d: d, Probe: probe, lease: lease}, err
}

// GateFirst is the admission of a delivery's first attempt made by the
// flow worker (a local activity), with the same rules and counts as the
// queue's: it refuses (a DestinationParked error: nothing was sent, and
// the delivery goes to the destination's queue at once) a destination
// this worker has not read yet, one with a rate, one its gate would not
// admit outright (paused, limited, open), or one whose maxInFlight leases
// are all held now (no wait: the flow worker's task waits on it). Let
// through, the attempt takes a lease and counts against the period limits
// as the queue's attempts do, and Done records it.
func (m *Supervisor) GateFirst(ctx context.Context, name string, t Timing) (Attempt, error) {
	m.mu.Lock()
	d := m.known[name]
	m.mu.Unlock()
	if d == nil || !firstAttemptRule(d, m.now()) {
		return Attempt{name: name}, refusedHere(name, "its first attempt is its queue's")
	}
	t.Deadline = time.Time{} // one try for a lease, no wait
	probe, lease, err := m.gate(ctx, d, name, t)
	if probe {
		// Cannot be: the rule above admitted d outright. Should it ever,
		// the probe is the queue's to make.
		m.releaseLease(lease)
		m.giveBackProbe(ctx, name, probe)
		return Attempt{name: name}, refusedHere(name, "its circuit is open")
	}
	if err != nil {
		var ae *temporal.ApplicationError
		why := err.Error()
		if errors.As(err, &ae) {
			why = ae.Message()
		}
		// The gate's reason, said as a flow worker's refusal.
		why = strings.TrimSuffix(strings.TrimPrefix(why, "destination "+name+": "), "; nothing was sent and the delivery waits in its queue")
		return Attempt{name: name}, refusedHere(name, why)
	}
	return Attempt{name: name, d: d, lease: lease}, nil
}

// refusedHere is a first attempt the flow worker may not make (a
// DestinationParked error, with no wait: nothing was sent, and the
// delivery goes to the destination's queue at once).
func refusedHere(name, why string) error {
	return temporal.NewApplicationErrorWithOptions(
		fmt.Sprintf("destination %s: %s; nothing was sent and the delivery goes to its queue at once", name, why),
		contract.ErrDestinationParked, temporal.ApplicationErrorOptions{})
}

// Done records an attempt Gate let through: its outcome (err nil: it
// delivered) in the attempt metric and for the circuit breaker; and it
// gives its lease back, whatever the outcome.
func (m *Supervisor) Done(a Attempt, err error, took time.Duration) {
	m.releaseLease(a.lease)
	outcome := "delivered"
	if err != nil {
		outcome = errorType(err)
	}
	m.tel.DestinationAttempt(a.name, outcome, took)
	if a.d != nil {
		m.outcome(a.d, err, a.Probe)
	}
}

// gate admits an attempt, or refuses it (a DestinationParked error:
// nothing is sent, and the delivery goes back to wait in its queue) while
// the destination is paused, limited or open, or its leases stay held;
// probe when it is an open circuit's probe, lease its lease of
// maxInFlight (nil when it sets none).
func (m *Supervisor) gate(ctx context.Context, d *Destination, name string, t Timing) (probe bool, lease *Lease, err error) {
	if d != nil {
		switch gateRule(d, m.now()) {
		case gatePaused:
			return false, nil, parked(name, "paused", 2*m.reload)
		case gateLimited:
			return false, nil, parked(name, "its limit per period is used up until "+d.State.LimitedUntil.Format(time.RFC3339), m.limitWait(*d.State.LimitedUntil))
		case gateProbe:
			ok, err := m.st.StartProbe(ctx, name, m.id)
			if err != nil || !ok {
				wait := 2 * m.reload
				if d.State.NextProbeAt != nil {
					wait = max(d.State.NextProbeAt.Sub(m.now()), wait)
				}
				return false, nil, parked(name, "its circuit is open", wait)
			}
			probe = true
		}
		if d.Def.MaxInFlight > 0 {
			if lease, err = m.takeLease(ctx, d, t); err != nil {
				m.giveBackProbe(ctx, name, probe)
				return false, nil, err
			}
		}
		if len(d.Def.Limits) > 0 {
			// After the lease: a lease can be given back, an admission
			// counted against a period cannot.
			if err := m.admit(ctx, d); err != nil {
				m.releaseLease(lease)
				m.giveBackProbe(ctx, name, probe)
				return false, nil, err
			}
		}
	}
	return probe, lease, nil
}

// giveBackProbe gives back a probe that sent nothing (a lease or a limit
// refused it): a later delivery may be the probe.
func (m *Supervisor) giveBackProbe(ctx context.Context, name string, probe bool) {
	if !probe {
		return
	}
	if err := m.st.ReleaseProbe(ctx, name, m.id); err != nil {
		m.log.Warn("give back a probe that sent nothing", "destination", name, "error", err)
	}
}

// takeLease takes one of d's maxInFlight leases in the flow store (one
// conditional write a try), waiting for one as long as the attempt may
// (leaseWait): it tries again every leasePoll, and at once when an
// attempt here gives one back. Refused at the end, the attempt parks
// (nothing was sent) and is tried again after leaseParkDelay.
func (m *Supervisor) takeLease(ctx context.Context, d *Destination, t Timing) (*Lease, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	holder := m.id + "/" + hex.EncodeToString(b)
	ttl := leaseTTL(t.StartToClose)
	giveUp := time.NewTimer(leaseWait(t.Deadline, m.now(), t.Need))
	defer giveUp.Stop()
	poll := time.NewTicker(leasePoll)
	defer poll.Stop()
	for {
		m.mu.Lock()
		freed := m.leaseFreed
		m.mu.Unlock()
		l, ok, err := m.st.TakeLease(ctx, d.Name, holder, d.Def.MaxInFlight, ttl)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("take a lease of the destination's maxInFlight", "destination", d.Name, "error", err)
			}
			return nil, parked(d.Name, "the flow store could not take a lease of its maxInFlight", 2*m.reload)
		}
		if ok {
			return &l, nil
		}
		select {
		case <-freed:
			continue
		case <-poll.C:
			continue
		case <-giveUp.C:
		case <-ctx.Done():
		}
		return nil, parked(d.Name, fmt.Sprintf("all of its maxInFlight (%d) are in flight", d.Def.MaxInFlight), leaseParkDelay(t.Parked))
	}
}

// releaseLease gives a lease back (nil: none), on a context of its own
// (the attempt's may have ended), and wakes the attempts waiting here.
// Given back or not, it expires at its ttl.
func (m *Supervisor) releaseLease(l *Lease) {
	if l == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.st.ReleaseLease(ctx, *l); err != nil {
		m.log.Warn("give back a lease of the destination's maxInFlight; it expires by itself", "destination", l.Name, "error", err)
	}
	m.mu.Lock()
	close(m.leaseFreed)
	m.leaseFreed = make(chan struct{})
	m.mu.Unlock()
}

// admit counts the attempt against the destination's period limits in
// the flow store (one conditional statement per limit, so every worker
// together admits at most max per period). Refused, the delivery parks
// until the period ends, and so does this worker's poller (a reload is
// poked; the others learn at their next reload or their own refusal).
func (m *Supervisor) admit(ctx context.Context, d *Destination) error {
	adm, err := m.st.AdmitAttempt(ctx, d.Name, d.Def.Limits)
	if err != nil {
		m.log.Warn("count an attempt against the destination's limits", "destination", d.Name, "error", err)
		return parked(d.Name, "the flow store could not count the attempt against its limits", 2*m.reload)
	}
	switch adm.Transition {
	case TransitionLimited:
		m.log.Warn("destination limit used up: deliveries park until the period ends", "destination", d.Name, "transition", adm.Transition, "until", adm.ResetsAt)
	case TransitionUnlimited:
		m.log.Info("destination limit period ended: deliveries resume", "destination", d.Name, "transition", adm.Transition)
	}
	if adm.Admitted && adm.Transition != TransitionLimited {
		return nil
	}
	m.mu.Lock()
	if cur := m.known[d.Name]; cur != nil && (cur.State.LimitedUntil == nil || adm.ResetsAt.After(*cur.State.LimitedUntil)) {
		c := *cur
		until := adm.ResetsAt
		c.State.LimitedUntil = &until
		m.known[d.Name] = &c
	}
	m.mu.Unlock()
	m.poke()
	if adm.Admitted {
		return nil
	}
	return parked(d.Name, "its limit per period is used up until "+adm.ResetsAt.Format(time.RFC3339), m.limitWait(adm.ResetsAt))
}

// limitWait is limitWait (destination_rules.go) on this worker's clock
// and reload.
func (m *Supervisor) limitWait(until time.Time) time.Duration {
	return limitWait(until, m.now(), m.reload)
}

func parked(name, why string, wait time.Duration) error {
	return temporal.NewApplicationErrorWithOptions(
		fmt.Sprintf("destination %s: %s; nothing was sent and the delivery waits in its queue", name, why),
		contract.ErrDestinationParked, temporal.ApplicationErrorOptions{NextRetryDelay: wait})
}

// outcome records an attempt for the circuit breaker. Without a
// failure-rate window a success writes only when a failure may be counted
// (this worker's view), so a healthy destination costs no write per
// delivery; with one, every outcome is counted (one statement).
func (m *Supervisor) outcome(d *Destination, err error, probe bool) {
	enabled, failures, interval := d.Def.Breaker()
	if !enabled {
		return
	}
	ok := err == nil || !CountsAgainst(errorType(err))
	if w := d.Def.RateWindow(); w.Rate > 0 {
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tr, rerr := m.st.RecordWindowOutcome(ctx, d.Name, ok, probe, failures, w, interval, msg)
		m.transition(d, tr, rerr, probe, failures, interval)
		return
	}
	m.mu.Lock()
	failedHere := m.failed[d.Name]
	if !ok {
		m.failed[d.Name] = true
	}
	m.mu.Unlock()
	if !outcomeWorthWriting(ok, probe, failedHere, d.State) {
		return
	}
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, rerr := m.st.RecordOutcome(ctx, d.Name, ok, probe, failures, interval, msg)
	m.transition(d, tr, rerr, probe, failures, interval)
}

// transition acts on what recording an outcome reported.
func (m *Supervisor) transition(d *Destination, tr string, rerr error, probe bool, failures int, interval time.Duration) {
	if rerr != nil {
		m.log.Warn("record a delivery outcome for the circuit breaker", "destination", d.Name, "error", rerr)
		return
	}
	if tr == TransitionOpened {
		// This worker's gate refuses at once; the reload it pokes stops
		// its poller.
		m.mu.Lock()
		if cur := m.known[d.Name]; cur != nil {
			c := *cur
			c.State.Circuit = CircuitOpen
			next := m.now().Add(interval)
			c.State.NextProbeAt = &next
			m.known[d.Name] = &c
		}
		m.mu.Unlock()
	}
	switch tr {
	case TransitionOpened:
		m.log.Warn("destination circuit opened: deliveries park, one probe every interval", "destination", d.Name, "failures", failures, "probeInterval", interval.String())
	case TransitionClosed:
		m.log.Info("destination circuit closed: deliveries resume", "destination", d.Name)
	}
	if tr != "" || probe {
		m.poke()
	}
}

package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/notify"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/telemetry"
)

// DestinationStates is what the destination workers read and write in the
// flow store: every destination with its state, the circuit breaker's
// steps and the period limits' admissions (*store.Destinations).
type DestinationStates interface {
	List(ctx context.Context) ([]*store.Destination, error)
	ClaimProbe(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	StartProbe(ctx context.Context, name, owner string) (bool, error)
	// RecordOutcome is the breaker without a failure-rate window;
	// RecordWindowOutcome the one with (both report TransitionOpened and
	// TransitionClosed).
	RecordOutcome(ctx context.Context, name string, ok, probe bool, failures int, probeInterval time.Duration, lastError string) (string, error)
	RecordWindowOutcome(ctx context.Context, name string, ok, probe bool, failures int, w flow.FailureWindow, probeInterval time.Duration, lastError string) (string, error)
	// AdmitAttempt counts an attempt against the destination's period
	// limits (TransitionLimited, TransitionUnlimited).
	AdmitAttempt(ctx context.Context, name string, limits []flow.PeriodLimit) (store.Admission, error)
	ReleaseProbe(ctx context.Context, name, owner string) error
}

// parkedRefresh is how often a worker reads its destinations' parked
// deliveries from Temporal for the hookflow_destination_parked metric.
const parkedRefresh = 10 * time.Second

// DefaultDestinationReload is how often a worker reads destinations and
// their state: the longest a pause, a resume, a circuit opened by another
// worker or a new destination takes to reach it.
const DefaultDestinationReload = 2 * time.Second

// probeClaimTTL is how long a worker holds an open circuit's probe before
// another may take it (the first died, or nothing was queued to send).
const probeClaimTTL = 2 * time.Minute

// destinations keeps one SDK worker per destination polling its task
// queue (hookflow-dest-<name>) with the destination's limits: the Temporal
// server enforces TaskQueueActivitiesPerSecond across every poller, so a
// rate limit holds across all worker processes; MaxInFlight bounds each
// process. A paused destination, or one whose circuit is open, has no
// poller: its deliveries wait in the queue (parked), neither failed nor
// attempted. One worker at a time claims an open circuit's probe and polls
// for a single delivery.
type destinations struct {
	client      sdkclient.Client
	deliver     *activities.Deliverer
	st          DestinationStates
	reload      time.Duration
	stopTimeout time.Duration
	maxInFlight int
	log         *slog.Logger
	tel         *telemetry.Telemetry
	id          string

	// notifier emits destination events (nil: none); events follows
	// each destination's state as of the last reload (notify.Follower).
	notifier destinationNotifier
	events   *notify.Follower

	// now is the clock every decision reads (time.Now; tests move it);
	// startPoller starts a destination's SDK worker (m.startWorker; tests
	// count starts and stops instead of polling Temporal).
	now         func() time.Time
	startPoller func(d *store.Destination, key string, probe bool) (*destWorker, error)

	mu      sync.Mutex
	known   map[string]*store.Destination
	running map[string]*destWorker
	failed  map[string]bool // a failure recorded here since the last reload
	kick    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	stops   sync.WaitGroup
	// wake pokes the reload when the earliest used-up limit period ends.
	wake   *time.Timer
	wakeOn time.Time
	// The parked metric's last refresh, and the client's namespace.
	parkedAt   time.Time
	refreshing atomic.Bool
	namespace  string
}

type destWorker struct {
	w     poller
	key   string
	probe bool
}

// poller is what the supervisor needs of a running SDK worker.
type poller interface{ Stop() }

// destinationNotifier emits destination events (*notify.Emitter).
type destinationNotifier interface {
	DestinationEvent(typ, name string, since time.Time, data map[string]any) string
}

func newDestinations(c sdkclient.Client, deliver *activities.Deliverer, opts Options) *destinations {
	reload := opts.DestinationReload
	if reload <= 0 {
		reload = DefaultDestinationReload
	}
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &destinations{
		client: c, deliver: deliver, st: opts.DestinationStates, reload: reload,
		stopTimeout: opts.StopTimeout, maxInFlight: opts.MaxConcurrentDeliveries,
		log: log.With("component", "destinations"), tel: opts.Telemetry,
		id:    fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)),
		known: map[string]*store.Destination{}, running: map[string]*destWorker{}, failed: map[string]bool{},
		kick:   make(chan struct{}, 1),
		events: notify.NewFollower(),
		now:    time.Now,
	}
	if opts.Notifier != nil {
		m.notifier = opts.Notifier
	}
	m.startPoller = m.startWorker
	return m
}

func (m *destinations) start() {
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

// stop stops the reload loop and every destination worker (each lets its
// running deliveries finish within the stop timeout).
func (m *destinations) stop() {
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

func (m *destinations) poke() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// stopWorker stops a worker in the background (Stop waits for running
// deliveries); the caller holds m.mu.
func (m *destinations) stopWorker(dw *destWorker) {
	m.stops.Add(1)
	go func() {
		defer m.stops.Done()
		dw.w.Stop()
	}()
}

// reconcile reads every destination and starts, restarts or stops its
// worker to match: off when paused or open (unless this worker holds the
// probe), else polling with the destination's limits.
func (m *destinations) reconcile(ctx context.Context) {
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
		for _, ev := range m.events.Observe(d) {
			if m.notifier != nil {
				m.notifier.DestinationEvent(ev.Type, d.Name, ev.Since, ev.Data)
			}
		}
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
			if dw, err := m.startPoller(d, key, probe); err != nil {
				m.log.Error("start destination worker", "destination", d.Name, "error", err)
			} else {
				m.running[d.Name] = dw
			}
		}
		m.mu.Unlock()
		if key != "" || cur != nil {
			m.log.Info("destination worker", "destination", d.Name, "mode", modeName(key, probe), "version", d.Version)
		}
	}
	m.events.Keep(seen)
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
	if now.Sub(m.parkedAt) >= parkedRefresh && m.tel != nil && m.refreshing.CompareAndSwap(false, true) {
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
func (m *destinations) wakeUp(at time.Time) {
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
// destination's queue (the admin API's figure, activities.DestinationBacklog).
func (m *destinations) refreshParked(ctx context.Context, names []string) {
	defer m.refreshing.Store(false)
	ctx, cancel := context.WithTimeout(ctx, parkedRefresh)
	defer cancel()
	if m.namespace == "" {
		ns, err := activities.ClientNamespace(ctx, m.client)
		if err != nil {
			m.log.Warn("learn the Temporal namespace for the parked metric", "error", err)
			return
		}
		m.namespace = ns
	}
	for _, name := range names {
		b, err := activities.DestinationBacklog(ctx, m.client.WorkflowService(), m.namespace, name)
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
func (m *destinations) desired(ctx context.Context, d *store.Destination, now time.Time) (string, bool) {
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

func (m *destinations) startWorker(d *store.Destination, key string, probe bool) (*destWorker, error) {
	// A worker stopped for a pause or an open circuit lets the deliveries
	// it runs finish (a whole attempt: at most connect 1m + response 10m
	// is allowed, 38 s by default) rather than cancel them.
	o := sdkworker.Options{WorkerStopTimeout: max(m.stopTimeout, 40*time.Second)}
	if probe {
		// One delivery at a time, one poll at a time: the probe.
		o.MaxConcurrentActivityExecutionSize, o.MaxConcurrentActivityTaskPollers = 1, 1
	} else {
		if d.Def.RateLimit != nil {
			o.TaskQueueActivitiesPerSecond = d.Def.RateLimit.PerSecond
		}
		o.MaxConcurrentActivityExecutionSize = d.Def.MaxInFlight
		if o.MaxConcurrentActivityExecutionSize == 0 {
			o.MaxConcurrentActivityExecutionSize = m.maxInFlight
		}
	}
	w := sdkworker.New(m.client, flow.DestinationTaskQueue(d.Name), o)
	w.RegisterActivityWithOptions(m.deliverTo, activity.RegisterOptions{Name: contract.DeliverName})
	if err := w.Start(); err != nil {
		return nil, err
	}
	return &destWorker{w: w, key: key, probe: probe}, nil
}

// deliverTo is the delivery activity on a destination's queue: the gate
// (paused, or circuit open: nothing is sent and the delivery parks again),
// the attempt, and its outcome for the circuit breaker.
func (m *destinations) deliverTo(ctx context.Context, req flow.HTTPRequest) (*contract.Result, error) {
	name := req.Destination
	m.mu.Lock()
	d := m.known[name]
	m.mu.Unlock()
	probe, err := m.gate(ctx, d, name)
	if err != nil {
		// Counted, so the delivery's attempt number leaves it out.
		activities.RecordParked(ctx, activities.ParkedAttempts(ctx)+1)
		return nil, err
	}
	start := time.Now()
	res, err := m.deliver.Deliver(ctx, req)
	outcome := "delivered"
	if err != nil {
		outcome = activities.ErrorType(err)
	}
	m.tel.DestinationAttempt(name, outcome, time.Since(start))
	if d != nil {
		m.outcome(d, err, probe)
	}
	return res, err
}

// gate admits an attempt, or refuses it (a DestinationParked error:
// nothing is sent, and the delivery goes back to wait in its queue) while
// the destination is paused, limited or open; probe when it is an open
// circuit's probe.
func (m *destinations) gate(ctx context.Context, d *store.Destination, name string) (bool, error) {
	probe := false
	if d != nil {
		switch gateRule(d, m.now()) {
		case gatePaused:
			return false, parked(name, "paused", 2*m.reload)
		case gateLimited:
			return false, parked(name, "its limit per period is used up until "+d.State.LimitedUntil.Format(time.RFC3339), m.limitWait(*d.State.LimitedUntil))
		case gateProbe:
			ok, err := m.st.StartProbe(ctx, name, m.id)
			if err != nil || !ok {
				wait := 2 * m.reload
				if d.State.NextProbeAt != nil {
					wait = max(d.State.NextProbeAt.Sub(m.now()), wait)
				}
				return false, parked(name, "its circuit is open", wait)
			}
			probe = true
		}
		if len(d.Def.Limits) > 0 {
			if err := m.admit(ctx, d); err != nil {
				if probe {
					// The probe sent nothing: it goes out after the period.
					if rerr := m.st.ReleaseProbe(ctx, name, m.id); rerr != nil {
						m.log.Warn("give back a probe its limit refused", "destination", name, "error", rerr)
					}
				}
				return false, err
			}
		}
	}
	return probe, nil
}

// admit counts the attempt against the destination's period limits in
// the flow store (one conditional statement per limit, so every worker
// together admits at most max per period). Refused, the delivery parks
// until the period ends, and so does this worker's poller (a reload is
// poked; the others learn at their next reload or their own refusal).
func (m *destinations) admit(ctx context.Context, d *store.Destination) error {
	adm, err := m.st.AdmitAttempt(ctx, d.Name, d.Def.Limits)
	if err != nil {
		m.log.Warn("count an attempt against the destination's limits", "destination", d.Name, "error", err)
		return parked(d.Name, "the flow store could not count the attempt against its limits", 2*m.reload)
	}
	switch adm.Transition {
	case store.TransitionLimited:
		m.log.Warn("destination limit used up: deliveries park until the period ends", "destination", d.Name, "transition", adm.Transition, "until", adm.ResetsAt)
	case store.TransitionUnlimited:
		m.log.Info("destination limit period ended: deliveries resume", "destination", d.Name, "transition", adm.Transition)
	}
	if adm.Admitted && adm.Transition != store.TransitionLimited {
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
func (m *destinations) limitWait(until time.Time) time.Duration {
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
func (m *destinations) outcome(d *store.Destination, err error, probe bool) {
	enabled, failures, interval := d.Def.Breaker()
	if !enabled {
		return
	}
	ok := err == nil || !activities.CountsAgainstDestination(err)
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
func (m *destinations) transition(d *store.Destination, tr string, rerr error, probe bool, failures int, interval time.Duration) {
	if rerr != nil {
		m.log.Warn("record a delivery outcome for the circuit breaker", "destination", d.Name, "error", rerr)
		return
	}
	if tr == store.TransitionOpened {
		// This worker's gate refuses at once; the reload it pokes stops
		// its poller.
		m.mu.Lock()
		if cur := m.known[d.Name]; cur != nil {
			c := *cur
			c.State.Circuit = store.CircuitOpen
			next := m.now().Add(interval)
			c.State.NextProbeAt = &next
			m.known[d.Name] = &c
		}
		m.mu.Unlock()
	}
	switch tr {
	case store.TransitionOpened:
		m.log.Warn("destination circuit opened: deliveries park, one probe every interval", "destination", d.Name, "failures", failures, "probeInterval", interval.String())
	case store.TransitionClosed:
		m.log.Info("destination circuit closed: deliveries resume", "destination", d.Name)
	}
	if tr != "" || probe {
		m.poke()
	}
}

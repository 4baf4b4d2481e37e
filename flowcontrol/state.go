// Package flowcontrol is trigger.flowControl: per-key concurrency with FIFO
// order, throttle, singleton, debounce and batch, built on Temporal.
//
// Every accepted event of a coordinated flow (concurrency, throttle,
// singleton) starts its own run at once, so its payload lives in its own
// history; the run then waits for a permit from its key's coordinator, a
// workflow that holds run ids, never payloads (State, this file: pure
// rules, table-tested). The API admits each event into its key's queue
// before starting its run (UpdateAdmit: arrival order, and the bound; a
// free key is granted in the answer), a run that must wait reports ready,
// the coordinator grants in order, and the run releases its permit when it
// ends. Debounce and batch gather a key's events in a gather workflow
// (gather.go: its rules) that starts one run per quiet period or batch.
// The I/O the coordinator and the runs need is activities.go. The
// deterministic workflows are in package workflows (coordinator.go,
// permit.go, gather.go); the API's side is api/flowcontrol.go and
// api/gather.go. docs/flow-control.md holds the semantics.
package flowcontrol

import (
	"errors"
	"time"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow/trigger"
)

// Timing of the coordinator's checks.
const (
	// ReadyGrace is how long an admitted run may take to report ready
	// before the coordinator checks that it exists: the API died, or its
	// start failed, between admission and start.
	ReadyGrace = 30 * time.Second
	// HolderCheck is how long a permit is held before the coordinator
	// checks that its run is still open (a terminated run never releases),
	// and how often after that.
	HolderCheck = time.Minute
	// MaxWaitingBytes bounds the ids a key's queue holds, so the
	// coordinator's continue-as-new input stays far inside Temporal's 2 MB
	// payload limit whatever the ids' length.
	MaxWaitingBytes = 768 << 10
	// doneMemory is how many released run ids a coordinator remembers, so
	// that a duplicate of an event that already ran is not queued again.
	doneMemory = 1000
)

// ErrFull is an admission refused because the key's queue is full.
var ErrFull = errors.New("the key's queue is full")

// Entry is a run waiting for its permit.
type Entry struct {
	ID    string    `json:"i"`
	Seq   int64     `json:"s"`
	Since time.Time `json:"t"`
	// Ready: the run exists and waits (it reported in).
	Ready bool `json:"r,omitempty"`
	// Checked is when the coordinator last asked whether a run that has
	// not reported ready exists.
	Checked time.Time `json:"c,omitzero"`
}

// Holder is a run holding a permit.
type Holder struct {
	ID      string    `json:"i"`
	Seq     int64     `json:"s"`
	Since   time.Time `json:"t"`
	Checked time.Time `json:"c,omitzero"`
	// Cancelling: a newer event asked this run to stop (singleton cancel).
	Cancelling bool `json:"x,omitempty"`
	// Unseen: granted in its admission's answer, before its run existed;
	// checked after ReadyGrace (its start may have failed), not
	// HolderCheck.
	Unseen bool `json:"u,omitempty"`
}

// State is a key coordinator's state: ids and times only, carried whole
// across continue-as-new.
type State struct {
	Rules   contract.KeyRules `json:"rules"`
	Waiting []Entry           `json:"waiting,omitempty"`
	Running []Holder          `json:"running,omitempty"`
	// Starts are the grant times still inside the throttle window, oldest
	// first.
	Starts []time.Time `json:"starts,omitempty"`
	// Done are the ids of runs that released their permit, newest last.
	Done []string `json:"done,omitempty"`
	Seq  int64    `json:"seq"`
	// Queued counts the entries that ever joined the queue; those not
	// waiting any more (Queued - len(Waiting)) have left it: granted,
	// skipped, withdrawn or gone.
	Queued  int64 `json:"queued"`
	Granted int64 `json:"granted"`
	Skipped int64 `json:"skipped"`
	// waitingBytes is the length of the waiting ids, counted again after
	// a continue-as-new (bytesKnown false).
	waitingBytes int
	bytesKnown   bool
}

// Skip is a run told not to run: By is the run that holds the key or
// superseded it.
type Skip struct {
	ID, By, Reason string
}

// Decisions are what the coordinator must do after a change.
type Decisions struct {
	Grants  []string
	Skips   []Skip
	Cancels []string
	// Check lists runs whose existence or openness must be checked
	// (CheckRuns); Gone takes the answer back.
	Check []string
	// WakeAt is when to look again though nothing arrives (a throttle
	// slot, a check falling due); zero when nothing is due.
	WakeAt time.Time
}

// Empty tells whether the key holds nothing: its coordinator may close.
func (s *State) Empty() bool { return len(s.Waiting) == 0 && len(s.Running) == 0 }

// tracksHolders: runs hold their permit until they end (concurrency,
// singleton); a throttle alone only spaces starts.
func (s *State) tracksHolders() bool { return s.Rules.Concurrency > 0 || s.Rules.Singleton != "" }

func (s *State) maxWaiting() int {
	if s.Rules.MaxWaiting > 0 {
		return s.Rules.MaxWaiting
	}
	return 10_000
}

func (s *State) bytes() int {
	if !s.bytesKnown {
		s.waitingBytes = 0
		for _, e := range s.Waiting {
			s.waitingBytes += len(e.ID)
		}
		s.bytesKnown = true
	}
	return s.waitingBytes
}

// addBytes counts ids joining (n > 0) or leaving the queue; called before
// Waiting changes.
func (s *State) addBytes(n int) { s.waitingBytes = s.bytes() + n }

// find tells where id is: in Running, in Waiting (its index), or Done.
func (s *State) find(id string) (running bool, waiting int, done bool) {
	for _, h := range s.Running {
		if h.ID == id {
			return true, -1, false
		}
	}
	for i, e := range s.Waiting {
		if e.ID == id {
			return false, i, false
		}
	}
	for _, d := range s.Done {
		if d == id {
			return false, -1, true
		}
	}
	return false, -1, false
}

// CheckAdmit tells whether Admit would take id, without changing anything:
// the admission update's validator, so a refused event leaves no trace.
func (s *State) CheckAdmit(id string) error {
	if running, w, done := s.find(id); running || w >= 0 || done {
		return nil
	}
	if len(s.Waiting) >= s.maxWaiting() || s.bytes()+len(id) > MaxWaitingBytes {
		return ErrFull
	}
	return nil
}

// Admit queues id, the run of an event the API accepted, in arrival order.
// A duplicate is answered with where the run already is.
func (s *State) Admit(id string, now time.Time) (contract.Admission, error) {
	running, w, done := s.find(id)
	switch {
	case running:
		return contract.Admission{Known: true}, nil
	case w >= 0:
		return contract.Admission{Known: true, Ahead: len(s.Running) + w}, nil
	case done:
		return contract.Admission{Done: true}, nil
	}
	if err := s.CheckAdmit(id); err != nil {
		return contract.Admission{}, err
	}
	s.push(id, now, false)
	return contract.Admission{Ahead: len(s.Running) + len(s.Waiting) - 1}, nil
}

// AdmitAndDecide admits id and, when nothing waits before it, decides at
// once: an event that meets a free key is granted in the admission's
// answer (its run starts holding the permit: no report, no signal), one a
// singleton turns away is skipped there (nothing starts). The decisions
// for other runs (singleton cancel) are returned for the coordinator to
// send.
func (s *State) AdmitAndDecide(id string, now time.Time) (contract.Admission, Decisions, error) {
	adm, err := s.Admit(id, now)
	if err != nil || adm.Known || adm.Done || len(s.Waiting) != 1 || s.Waiting[0].ID != id {
		return adm, Decisions{}, err
	}
	// Decided as if its run had reported: it will exist once the answer
	// reaches the API, which starts it.
	s.Waiting[0].Ready = true
	d := s.Decide(now)
	for i, g := range d.Grants {
		if g == id {
			d.Grants = append(d.Grants[:i:i], d.Grants[i+1:]...)
			adm.Decision = contract.DecisionRun
			for j := range s.Running {
				if s.Running[j].ID == id {
					s.Running[j].Unseen = true
				}
			}
			return adm, d, nil
		}
	}
	for i, sk := range d.Skips {
		if sk.ID == id {
			d.Skips = append(d.Skips[:i:i], d.Skips[i+1:]...)
			adm.Decision, adm.By, adm.Reason = contract.DecisionSkip, sk.By, sk.Reason
			return adm, d, nil
		}
	}
	// It waits: its run reports when it exists.
	for i := range s.Waiting {
		if s.Waiting[i].ID == id {
			s.Waiting[i].Ready = false
		}
	}
	return adm, d, nil
}

func (s *State) push(id string, now time.Time, ready bool) {
	s.Seq++
	s.Queued++
	s.addBytes(len(id))
	s.Waiting = append(s.Waiting, Entry{ID: id, Seq: s.Seq, Since: now, Ready: ready})
}

// Ready marks id as waiting for its permit. A run nobody admitted (started
// by a schedule, a rerun, or an API that died before admitting it) joins
// the end of the queue; the bound does not apply: it already runs. So does
// a run that had its turn and reports again (an operator reset it): a run
// reports once per turn, before it can be granted.
func (s *State) Ready(id string, now time.Time) {
	running, w, _ := s.find(id)
	switch {
	case running:
		// A repeated report (the run's signal was sent twice).
	case w >= 0:
		s.Waiting[w].Ready = true
	default:
		s.push(id, now, true)
	}
}

// Release ends id's turn: it ended (holding a permit) or left the queue
// (cancelled while waiting).
func (s *State) Release(id string) {
	for i, h := range s.Running {
		if h.ID == id {
			s.Running = append(s.Running[:i:i], s.Running[i+1:]...)
			s.remember(id)
			return
		}
	}
	s.removeWaiting(id)
}

// Withdraw takes out an admitted run that never reported ready (its start
// failed, or found a closed run of the same event).
func (s *State) Withdraw(id string) {
	for i, e := range s.Waiting {
		if e.ID == id && !e.Ready {
			s.addBytes(-len(id))
			s.Waiting = append(s.Waiting[:i:i], s.Waiting[i+1:]...)
			return
		}
	}
}

// Gone takes the answer of a check: these runs are closed or never
// started. A waiting one leaves the queue; a holder frees its permit.
func (s *State) Gone(ids []string) {
	for _, id := range ids {
		s.Release(id)
	}
}

func (s *State) removeWaiting(id string) {
	for i, e := range s.Waiting {
		if e.ID == id {
			s.addBytes(-len(id))
			s.Waiting = append(s.Waiting[:i:i], s.Waiting[i+1:]...)
			s.remember(id)
			return
		}
	}
}

func (s *State) remember(id string) {
	s.Done = append(s.Done, id)
	if len(s.Done) > doneMemory {
		s.Done = append(s.Done[:0:0], s.Done[len(s.Done)-doneMemory:]...)
	}
}

// Decide hands out what the rules allow now: grants in arrival order while
// permits and throttle slots last, skips and cancels for a singleton, and
// checks of runs that are late to report or hold a permit long.
func (s *State) Decide(now time.Time) Decisions {
	var d Decisions
	s.trimStarts(now)
	switch s.Rules.Singleton {
	case "skip":
		s.decideSkip(now, &d)
	case "cancel":
		s.decideCancel(now, &d)
	default:
		s.decideQueue(now, &d)
	}
	s.checks(now, &d)
	return d
}

// decideQueue grants from the head of the queue while a permit and a
// throttle slot are free. The head must have reported ready: the queue is
// strict FIFO, so a run admitted but not yet started holds the ones
// behind it (for at most ReadyGrace, when its absence is checked).
func (s *State) decideQueue(now time.Time, d *Decisions) {
	for len(s.Waiting) > 0 && s.Waiting[0].Ready {
		if s.Rules.Concurrency > 0 && len(s.Running) >= s.Rules.Concurrency {
			return
		}
		if next, ok := s.throttleSlot(now); !ok {
			d.WakeAt = earliest(d.WakeAt, next)
			return
		}
		s.grant(s.Waiting[0], now, d)
	}
}

// decideSkip: one run at a time; an event arriving while the key runs is
// skipped, naming the run that holds it.
func (s *State) decideSkip(now time.Time, d *Decisions) {
	for len(s.Waiting) > 0 && s.Waiting[0].Ready {
		e := s.Waiting[0]
		if len(s.Running) > 0 {
			s.skip(e, Skip{ID: e.ID, By: s.Running[0].ID, Reason: "the key is running " + s.Running[0].ID}, d)
			continue
		}
		if next, ok := s.throttleSlot(now); !ok {
			d.WakeAt = earliest(d.WakeAt, next)
			return
		}
		s.grant(e, now, d)
	}
}

// decideCancel: the newest ready event wins: older waiting runs are
// skipped, runs holding the key are cancelled, and the winner is granted
// once they have released it.
func (s *State) decideCancel(now time.Time, d *Decisions) {
	var winner Entry
	for {
		newest := -1
		for i, e := range s.Waiting {
			if e.Ready && (newest < 0 || e.Seq > s.Waiting[newest].Seq) {
				newest = i
			}
		}
		if newest < 0 {
			return
		}
		winner = s.Waiting[newest]
		var by string
		for _, h := range s.Running {
			if h.Seq > winner.Seq {
				by = h.ID
			}
		}
		if by == "" {
			break
		}
		// The key is held by a newer event: the ready ones are stale.
		s.skip(winner, Skip{ID: winner.ID, By: by, Reason: "superseded by " + by}, d)
	}
	var keep []Entry
	for _, e := range s.Waiting {
		switch {
		case e.ID == winner.ID:
			keep = append(keep, e)
		case e.Ready:
			s.Skipped++
			d.Skips = append(d.Skips, Skip{ID: e.ID, By: winner.ID, Reason: "superseded by " + winner.ID})
			s.remember(e.ID)
			s.addBytes(-len(e.ID))
		default:
			keep = append(keep, e)
		}
	}
	s.Waiting = keep
	for i := range s.Running {
		if !s.Running[i].Cancelling {
			s.Running[i].Cancelling = true
			d.Cancels = append(d.Cancels, s.Running[i].ID)
		}
	}
	if len(s.Running) == 0 {
		s.grant(winner, now, d)
	}
}

func (s *State) grant(e Entry, now time.Time, d *Decisions) {
	s.removeWaitingAt(e.ID)
	if s.tracksHolders() {
		s.Running = append(s.Running, Holder{ID: e.ID, Seq: e.Seq, Since: now})
	} else {
		s.remember(e.ID)
	}
	if s.Rules.ThrottleLimit > 0 {
		s.Starts = append(s.Starts, now)
	}
	s.Granted++
	d.Grants = append(d.Grants, e.ID)
}

func (s *State) skip(e Entry, sk Skip, d *Decisions) {
	s.removeWaitingAt(e.ID)
	s.remember(e.ID)
	s.Skipped++
	d.Skips = append(d.Skips, sk)
}

func (s *State) removeWaitingAt(id string) {
	for i, e := range s.Waiting {
		if e.ID == id {
			s.addBytes(-len(id))
			s.Waiting = append(s.Waiting[:i:i], s.Waiting[i+1:]...)
			return
		}
	}
}

// throttleSlot tells whether a start is allowed now and, if not, when the
// next one is: a sliding window holding at most limit starts.
func (s *State) throttleSlot(now time.Time) (time.Time, bool) {
	r := s.Rules
	if r.ThrottleLimit <= 0 || len(s.Starts) < r.ThrottleLimit {
		return time.Time{}, true
	}
	return s.Starts[len(s.Starts)-r.ThrottleLimit].Add(r.ThrottlePer), false
}

// NextSlot is when the throttle next admits a start (zero: now).
func (s *State) NextSlot(now time.Time) time.Time {
	s.trimStarts(now)
	next, _ := s.throttleSlot(now)
	return next
}

func (s *State) trimStarts(now time.Time) {
	if s.Rules.ThrottleLimit <= 0 {
		s.Starts = nil
		return
	}
	i := 0
	for i < len(s.Starts) && !s.Starts[i].Add(s.Rules.ThrottlePer).After(now) {
		i++
	}
	s.Starts = s.Starts[i:]
}

// checks lists the head run that is late to report ready and the holders
// held long, each at most once per interval, and when the next falls due.
func (s *State) checks(now time.Time, d *Decisions) {
	if len(s.Waiting) > 0 && !s.Waiting[0].Ready {
		e := &s.Waiting[0]
		due := e.Since.Add(ReadyGrace)
		if !e.Checked.IsZero() {
			due = e.Checked.Add(ReadyGrace)
		}
		if !now.Before(due) {
			e.Checked = now
			d.Check = append(d.Check, e.ID)
			due = now.Add(ReadyGrace)
		}
		d.WakeAt = earliest(d.WakeAt, due)
	}
	for i := range s.Running {
		h := &s.Running[i]
		every := HolderCheck
		if h.Unseen {
			every = ReadyGrace
		}
		due := h.Since.Add(every)
		if !h.Checked.IsZero() {
			due = h.Checked.Add(every)
		}
		if !now.Before(due) {
			h.Checked = now
			d.Check = append(d.Check, h.ID)
			due = now.Add(every)
		}
		d.WakeAt = earliest(d.WakeAt, due)
	}
}

// View is the key's state for operators.
func (s *State) View(flowID, key string, now time.Time) contract.KeyView {
	v := contract.KeyView{FlowID: flowID, Key: key, Running: []string{}, Waiting: len(s.Waiting), Granted: s.Granted, Skipped: s.Skipped}
	for _, h := range s.Running {
		v.Running = append(v.Running, h.ID)
	}
	for i, e := range s.Waiting {
		if i == 10 {
			break
		}
		v.NextWaiting = append(v.NextWaiting, e.ID)
	}
	if len(s.Waiting) > 0 {
		t := s.Waiting[0].Since
		v.OldestWaiting = &t
	}
	if next := s.NextSlot(now); !next.IsZero() {
		v.NextSlot = &next
	}
	return v
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// RulesOf turns a flow's flow control into what its coordinators enforce.
func RulesOf(fc *trigger.FlowControl) contract.KeyRules {
	r := contract.KeyRules{Concurrency: fc.Concurrency, Singleton: fc.Singleton, MaxWaiting: fc.EffectiveMaxWaiting()}
	if t := fc.Throttle; t != nil {
		r.ThrottleLimit, r.ThrottlePer = t.Limit, t.Per.Std()
	}
	return r
}

package flowcontrol

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/hookflow/hookflow/contract"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// op is one step of a scenario: an input to the state and what Decide
// must answer after it.
type op struct {
	do     string // admit, ready, release, withdraw, gone
	id     string
	at     int // seconds after t0
	grants []string
	skips  []string
	cancel []string
}

func run(t *testing.T, rules contract.KeyRules, ops []op) *State {
	t.Helper()
	s := &State{Rules: rules}
	for i, o := range ops {
		now := at(o.at)
		switch o.do {
		case "admit":
			if _, err := s.Admit(o.id, now); err != nil {
				t.Fatalf("op %d admit %s: %v", i, o.id, err)
			}
		case "ready":
			s.Ready(o.id, now)
		case "release":
			s.Release(o.id)
		case "withdraw":
			s.Withdraw(o.id)
		case "gone":
			s.Gone([]string{o.id})
		case "tick":
		default:
			t.Fatalf("op %d: unknown %q", i, o.do)
		}
		d := s.Decide(now)
		var skips []string
		for _, sk := range d.Skips {
			skips = append(skips, sk.ID+"<"+sk.By)
		}
		if !reflect.DeepEqual(d.Grants, o.grants) || !reflect.DeepEqual(skips, o.skips) || !reflect.DeepEqual(d.Cancels, o.cancel) {
			t.Fatalf("after op %d (%s %s at %ds): grants %v skips %v cancels %v; want %v %v %v",
				i, o.do, o.id, o.at, d.Grants, skips, d.Cancels, o.grants, o.skips, o.cancel)
		}
	}
	return s
}

func TestConcurrencyOneGrantsInArrivalOrderOneAtATime(t *testing.T) {
	run(t, contract.KeyRules{Concurrency: 1}, []op{
		{do: "admit", id: "a"},
		{do: "admit", id: "b"},
		{do: "admit", id: "c"},
		// b reports before a: FIFO holds, nothing is granted until a is ready.
		{do: "ready", id: "b"},
		{do: "ready", id: "a", grants: []string{"a"}},
		{do: "ready", id: "c"},
		{do: "release", id: "a", grants: []string{"b"}},
		{do: "release", id: "b", grants: []string{"c"}},
		{do: "release", id: "c"},
	})
}

func TestConcurrencyTwoRunsTwoAtOnce(t *testing.T) {
	s := run(t, contract.KeyRules{Concurrency: 2}, []op{
		{do: "ready", id: "a", grants: []string{"a"}},
		{do: "ready", id: "b", grants: []string{"b"}},
		{do: "ready", id: "c"},
		{do: "release", id: "b", grants: []string{"c"}},
	})
	if !s.Empty() && len(s.Running) != 2 {
		t.Fatalf("running %v", s.Running)
	}
}

func TestAnAdmittedRunThatNeverStartsIsCheckedAfterTheGraceAndDropped(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Concurrency: 1}}
	s.Admit("lost", at(0))
	s.Admit("b", at(1))
	s.Ready("b", at(1))
	d := s.Decide(at(1))
	if len(d.Grants) != 0 || len(d.Check) != 0 || !d.WakeAt.Equal(at(0).Add(ReadyGrace)) {
		t.Fatalf("before the grace: %+v", d)
	}
	d = s.Decide(at(0).Add(ReadyGrace))
	if !reflect.DeepEqual(d.Check, []string{"lost"}) {
		t.Fatalf("at the grace: check %v", d.Check)
	}
	// Asked once per grace, not on every change.
	if d = s.Decide(at(0).Add(ReadyGrace + time.Second)); len(d.Check) != 0 {
		t.Fatalf("checked again at once: %v", d.Check)
	}
	s.Gone([]string{"lost"})
	if d = s.Decide(at(40)); !reflect.DeepEqual(d.Grants, []string{"b"}) {
		t.Fatalf("after lost is gone: grants %v", d.Grants)
	}
}

func TestAHolderHeldLongIsCheckedAndFreedWhenGone(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Concurrency: 1}}
	s.Ready("a", at(0))
	s.Ready("b", at(0))
	s.Decide(at(0))
	d := s.Decide(at(0).Add(HolderCheck))
	if !reflect.DeepEqual(d.Check, []string{"a"}) {
		t.Fatalf("check %v", d.Check)
	}
	s.Gone(d.Check)
	if d = s.Decide(at(61)); !reflect.DeepEqual(d.Grants, []string{"b"}) {
		t.Fatalf("grants %v", d.Grants)
	}
}

func TestThrottleSpacesStartsByASlidingWindow(t *testing.T) {
	s := &State{Rules: contract.KeyRules{ThrottleLimit: 2, ThrottlePer: 10 * time.Second}}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		s.Ready(id, at(0))
	}
	d := s.Decide(at(0))
	if !reflect.DeepEqual(d.Grants, []string{"a", "b"}) || !d.WakeAt.Equal(at(10)) {
		t.Fatalf("t=0: %+v", d)
	}
	if d = s.Decide(at(9)); len(d.Grants) != 0 {
		t.Fatalf("t=9: %v", d.Grants)
	}
	if d = s.Decide(at(10)); !reflect.DeepEqual(d.Grants, []string{"c", "d"}) {
		t.Fatalf("t=10: %v", d.Grants)
	}
	if d = s.Decide(at(20)); !reflect.DeepEqual(d.Grants, []string{"e"}) {
		t.Fatalf("t=20: %v", d.Grants)
	}
	// A throttle alone does not track holders: nothing to release.
	if len(s.Running) != 0 || !s.Empty() {
		t.Fatalf("throttle tracked holders: %+v", s)
	}
}

func TestConcurrencyWithThrottleHoldsBoth(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Concurrency: 1, ThrottleLimit: 1, ThrottlePer: 5 * time.Second}}
	s.Ready("a", at(0))
	s.Ready("b", at(0))
	s.Decide(at(0))
	s.Release("a")
	if d := s.Decide(at(1)); len(d.Grants) != 0 || !d.WakeAt.Equal(at(5)) {
		t.Fatalf("released before the slot: %+v", d)
	}
	if d := s.Decide(at(5)); !reflect.DeepEqual(d.Grants, []string{"b"}) {
		t.Fatalf("at the slot: %v", d.Grants)
	}
}

func TestSingletonSkipTurnsAwayEventsWhileTheKeyRuns(t *testing.T) {
	run(t, contract.KeyRules{Singleton: "skip"}, []op{
		{do: "ready", id: "a", grants: []string{"a"}},
		{do: "ready", id: "b", skips: []string{"b<a"}},
		{do: "release", id: "a"},
		{do: "ready", id: "c", grants: []string{"c"}},
	})
}

func TestSingletonCancelLetsTheNewestEventWin(t *testing.T) {
	run(t, contract.KeyRules{Singleton: "cancel"}, []op{
		{do: "ready", id: "a", grants: []string{"a"}},
		{do: "ready", id: "b", cancel: []string{"a"}},
		// c arrives before a has stopped: b is superseded, a is not asked twice.
		{do: "ready", id: "c", skips: []string{"b<c"}},
		{do: "release", id: "a", grants: []string{"c"}},
	})
}

func TestSingletonCancelSkipsAnEventOlderThanTheHolder(t *testing.T) {
	run(t, contract.KeyRules{Singleton: "cancel"}, []op{
		{do: "admit", id: "old"},
		{do: "ready", id: "new", grants: []string{"new"}},
		{do: "ready", id: "old", skips: []string{"old<new"}},
	})
}

func TestADuplicateAdmissionIsOneEntry(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Concurrency: 1}}
	a1, _ := s.Admit("a", at(0))
	s.Admit("b", at(0))
	a2, _ := s.Admit("a", at(1))
	if a1.Known || !a2.Known || len(s.Waiting) != 2 {
		t.Fatalf("first %+v, again %+v, waiting %d", a1, a2, len(s.Waiting))
	}
	s.Ready("a", at(1))
	s.Decide(at(1))
	s.Release("a")
	if a3, _ := s.Admit("a", at(2)); !a3.Done || len(s.Waiting) != 1 {
		t.Fatalf("after its turn: %+v, waiting %d", a3, len(s.Waiting))
	}
}

func TestAFullQueueRefusesNewEventsButNotDuplicatesOrRunningOnes(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Concurrency: 1, MaxWaiting: 2}}
	s.Admit("a", at(0))
	s.Admit("b", at(0))
	if err := s.CheckAdmit("c"); err != ErrFull {
		t.Fatalf("third: %v", err)
	}
	if _, err := s.Admit("c", at(0)); err != ErrFull {
		t.Fatalf("admit third: %v", err)
	}
	if _, err := s.Admit("a", at(0)); err != nil {
		t.Fatalf("duplicate refused: %v", err)
	}
	// A run nobody admitted (a schedule's) already exists: it joins anyway.
	s.Ready("sched", at(0))
	if len(s.Waiting) != 3 {
		t.Fatalf("waiting %d", len(s.Waiting))
	}
}

func TestTheQueueIsBoundedByTheBytesOfItsIDs(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Concurrency: 1}}
	long := string(make([]byte, 190))
	n := 0
	for ; ; n++ {
		if _, err := s.Admit(fmt.Sprintf("%s%08d", long, n), at(0)); err != nil {
			break
		}
	}
	if n != MaxWaitingBytes/198 {
		t.Fatalf("admitted %d ids of 198 bytes; want %d", n, MaxWaitingBytes/198)
	}
}

func TestWithdrawRemovesOnlyARunThatNeverReported(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Concurrency: 1}}
	s.Admit("a", at(0))
	s.Ready("a", at(0))
	s.Admit("b", at(0))
	s.Withdraw("a")
	s.Withdraw("b")
	if len(s.Waiting) != 1 || s.Waiting[0].ID != "a" {
		t.Fatalf("waiting %+v", s.Waiting)
	}
	// A withdrawn run that did start after all (its start only looked
	// failed) still gets its turn when it reports.
	s.Ready("b", at(1))
	if len(s.Waiting) != 2 {
		t.Fatalf("b not back: %+v", s.Waiting)
	}
}

func TestTheStateSurvivesContinueAsNewAsJSON(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Concurrency: 1, ThrottleLimit: 3, ThrottlePer: time.Minute}}
	s.Admit("a", at(0))
	s.Admit("b", at(0))
	s.Ready("a", at(0))
	s.Decide(at(0))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.bytes() != 1 || len(back.Running) != 1 || len(back.Starts) != 1 || back.Seq != 2 {
		t.Fatalf("back %+v", back)
	}
	back.Ready("b", at(1))
	back.Release("a")
	if d := back.Decide(at(1)); !reflect.DeepEqual(d.Grants, []string{"b"}) {
		t.Fatalf("grants %v", d.Grants)
	}
}

func TestAnEventMeetingAFreeKeyIsGrantedInItsAdmission(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Concurrency: 1}}
	adm, d, err := s.AdmitAndDecide("a", at(0))
	if err != nil || adm.Decision != contract.DecisionRun || len(d.Grants) != 0 {
		t.Fatalf("a: %+v %+v %v", adm, d, err)
	}
	// The key is held: b waits for its run to report.
	adm, _, _ = s.AdmitAndDecide("b", at(1))
	if adm.Decision != "" || adm.Ahead != 1 || len(s.Waiting) != 1 || s.Waiting[0].Ready {
		t.Fatalf("b: %+v waiting %+v", adm, s.Waiting)
	}
	// c queues behind b without a decision, whatever the key's state.
	s.Release("a")
	if adm, _, _ = s.AdmitAndDecide("c", at(2)); adm.Decision != "" {
		t.Fatalf("c decided past b: %+v", adm)
	}
	s.Ready("b", at(2))
	if d := s.Decide(at(2)); !reflect.DeepEqual(d.Grants, []string{"b"}) {
		t.Fatalf("grants %v", d.Grants)
	}
}

func TestARunGrantedInItsAdmissionThatNeverStartsIsFreedAfterTheGrace(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Concurrency: 1}}
	s.AdmitAndDecide("lost", at(0))
	if d := s.Decide(at(0).Add(ReadyGrace)); !reflect.DeepEqual(d.Check, []string{"lost"}) {
		t.Fatalf("check %v", d.Check)
	}
}

func TestASingletonSkipsInTheAdmissionWhileTheKeyRuns(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Singleton: "skip"}}
	s.AdmitAndDecide("a", at(0))
	adm, _, _ := s.AdmitAndDecide("b", at(1))
	if adm.Decision != contract.DecisionSkip || adm.By != "a" || len(s.Waiting) != 0 || s.Skipped != 1 {
		t.Fatalf("b: %+v, %+v", adm, s)
	}
}

func TestASingletonCancelAdmissionCancelsTheHolderAndWaits(t *testing.T) {
	s := &State{Rules: contract.KeyRules{Singleton: "cancel"}}
	s.AdmitAndDecide("a", at(0))
	adm, d, _ := s.AdmitAndDecide("b", at(1))
	if adm.Decision != "" || !reflect.DeepEqual(d.Cancels, []string{"a"}) || s.Waiting[0].Ready {
		t.Fatalf("b: %+v %+v", adm, d)
	}
	s.Release("a")
	s.Ready("b", at(2))
	if d := s.Decide(at(2)); !reflect.DeepEqual(d.Grants, []string{"b"}) {
		t.Fatalf("grants %v", d.Grants)
	}
}

// A full key's state, carried across continue-as-new, stays inside
// Temporal's 2 MB payload limit, whatever the ids' length: the queue is
// bounded by count and by the bytes of its ids.
func TestAFullKeysStateFitsInAContinueAsNewInput(t *testing.T) {
	for _, idLen := range []int{40, 200} {
		s := &State{Rules: contract.KeyRules{Concurrency: 1, MaxWaiting: 10_000, ThrottleLimit: 10_000, ThrottlePer: time.Hour}}
		id := func(i int) string { return fmt.Sprintf("%0*d", idLen, i) }
		for i := 0; i < doneMemory; i++ {
			s.remember(id(-i - 1))
		}
		for i := 0; i < 1000; i++ {
			s.Starts = append(s.Starts, at(i))
		}
		s.Running = append(s.Running, Holder{ID: id(-1), Since: at(0), Checked: at(1)})
		n := 0
		for ; ; n++ {
			if _, err := s.Admit(id(n), at(n)); err != nil {
				break
			}
			s.Waiting[len(s.Waiting)-1].Ready = true
			s.Waiting[len(s.Waiting)-1].Checked = at(n)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ids of %d bytes: %d waiting, state %d bytes", idLen, n, len(b))
		if len(b) > 1_500_000 {
			t.Fatalf("ids of %d bytes: a full key's state is %d bytes", idLen, len(b))
		}
	}
}

package flowcontrol

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

func debounceFlow(period, maxWait time.Duration) *flow.Flow {
	return &flow.Flow{ID: "f", Trigger: trigger.Trigger{FlowControl: &trigger.FlowControl{
		Debounce: &trigger.Debounce{Period: field.Duration(period), MaxWait: field.Duration(maxWait)}}}}
}

func batchFlow(size int, timeout time.Duration) *flow.Flow {
	return &flow.Flow{ID: "f", Trigger: trigger.Trigger{FlowControl: &trigger.FlowControl{
		Batch: &trigger.Batch{MaxSize: size, Timeout: field.Duration(timeout)}}}}
}

func event(f *flow.Flow, id string) contract.GatherEvent {
	return contract.GatherEvent{EventID: id, Flow: f, FlowVersion: 1, Trigger: map[string]any{
		"body": map[string]any{"id": id}, "headers": map[string]any{}, "query": map[string]any{},
	}}
}

// gop is one step of a gather scenario: an event at a time (or, with no
// id, a look at the clock), what Add must answer, and when the open
// window is due afterwards (ms after t0; -1: no window open).
type gop struct {
	at       int
	id       string
	dup      bool
	flushNow bool
	due      int
	// runs are the runs Flush must give at this time, by event id and
	// event count, each then Started.
	runs []string
}

func gather(t *testing.T, f *flow.Flow, ops []gop) *GatherState {
	t.Helper()
	s := &GatherState{Key: "k"}
	for i, o := range ops {
		now := ms(o.at)
		if o.id != "" {
			r := s.Add(event(f, o.id), now)
			if r.Duplicate != o.dup || r.FlushNow != o.flushNow {
				t.Fatalf("op %d (%s at %dms): duplicate %v flushNow %v; want %v %v", i, o.id, o.at, r.Duplicate, r.FlushNow, o.dup, o.flushNow)
			}
		}
		var runs []string
		for s.Ready(now) {
			r, ok := s.Flush(now)
			if !ok {
				t.Fatalf("op %d: Ready but Flush gave nothing", i)
			}
			runs = append(runs, fmt.Sprintf("%s/%d", r.EventID, r.Events))
			s.Started()
		}
		if fmt.Sprint(runs) != fmt.Sprint(o.runs) {
			t.Fatalf("op %d (%q at %dms): runs %v; want %v", i, o.id, o.at, runs, o.runs)
		}
		want := time.Time{}
		if o.due >= 0 {
			want = ms(o.due)
		}
		if got := s.DueAt(); !got.Equal(want) {
			t.Fatalf("op %d (%q at %dms): due %v; want %v", i, o.id, o.at, got.Sub(t0), want.Sub(t0))
		}
	}
	return s
}

func TestDebounceRunsOnceTheKeyIsQuietWithTheLastEvent(t *testing.T) {
	gather(t, debounceFlow(time.Second, 0), []gop{
		{at: 0, id: "a", due: 1000},
		{at: 500, id: "b", due: 1500},
		{at: 1200, id: "c", due: 2200},
		{at: 2199, due: 2200},
		{at: 2200, runs: []string{"c/3"}, due: -1},
		// The next event opens a new window.
		{at: 2300, id: "d", due: 3300},
		{at: 3300, runs: []string{"d/1"}, due: -1},
	})
}

func TestDebounceMaxWaitBoundsABusyKey(t *testing.T) {
	ops := []gop{{at: 0, id: "e0", due: 1000}}
	// An event every 500ms: the period never passes, maxWait (2s) does.
	for i := 1; i <= 3; i++ {
		ops = append(ops, gop{at: i * 500, id: fmt.Sprintf("e%d", i), due: min(i*500+1000, 2000)})
	}
	ops = append(ops,
		gop{at: 2000, id: "e4", runs: []string{"e4/5"}, due: -1},
		gop{at: 2500, id: "e5", due: 3500},
	)
	gather(t, debounceFlow(time.Second, 2*time.Second), ops)
}

func TestBatchClosesAtMaxSizeOrTimeout(t *testing.T) {
	gather(t, batchFlow(3, 10*time.Second), []gop{
		{at: 0, id: "a", due: 10000},
		{at: 1, id: "b", due: 10000},
		{at: 2, id: "c", flushNow: true, runs: []string{"batch-a/3"}, due: -1},
		{at: 3, id: "d", due: 10003},
		{at: 4, id: "e", due: 10003},
		{at: 10002, due: 10003},
		{at: 10003, runs: []string{"batch-d/2"}, due: -1},
	})
}

func TestADuplicateEventIsOneEntryInsideAWindowAndAfterItsRun(t *testing.T) {
	s := gather(t, batchFlow(3, time.Second), []gop{
		{at: 0, id: "a", due: 1000},
		{at: 1, id: "a", dup: true, due: 1000},
		{at: 2, id: "b", due: 1000},
		{at: 3, id: "c", flushNow: true, runs: []string{"batch-a/3"}, due: -1},
		// A late duplicate of an event that ran.
		{at: 4, id: "b", dup: true, due: -1},
	})
	if s.Duplicates != 2 || s.Runs != 1 {
		t.Fatalf("duplicates %d runs %d; want 2 and 1", s.Duplicates, s.Runs)
	}
	r := s.View("f")
	if r.Duplicates != 2 || r.Runs != 1 || r.Pending != 0 || r.NextFlush != nil || r.Kind != KindBatch {
		t.Fatalf("view %+v", r)
	}

	// Debounce: a duplicate does not move the window.
	gather(t, debounceFlow(time.Second, 0), []gop{
		{at: 0, id: "a", due: 1000},
		{at: 900, id: "a", dup: true, due: 1000},
		{at: 1000, runs: []string{"a/1"}, due: -1},
	})
}

func TestTheMemoryOfRunEventsIsBounded(t *testing.T) {
	s := &GatherState{Key: "k"}
	f := batchFlow(1, time.Second)
	for i := range seenMemory + 1 {
		if r := s.Add(event(f, fmt.Sprint(i)), ms(i)); r.Duplicate || !r.FlushNow {
			t.Fatalf("event %d: %+v", i, r)
		}
		if _, ok := s.Flush(ms(i)); !ok {
			t.Fatal("no run")
		}
		s.Started()
	}
	if len(s.Seen) != seenMemory {
		t.Fatalf("seen %d ids; want %d", len(s.Seen), seenMemory)
	}
	if !s.Add(event(f, fmt.Sprint(seenMemory)), ms(0)).Duplicate {
		t.Fatal("the newest id was forgotten")
	}
	if s.Add(event(f, "0"), ms(0)).Duplicate {
		t.Fatal("the oldest id is still remembered past the bound")
	}

	// A debounce window counts every event but keeps the newest ids.
	d := &GatherState{}
	for i := range windowIDs + 5 {
		d.Add(event(debounceFlow(time.Hour, 0), fmt.Sprint(i)), ms(i))
	}
	if d.Open.Count != windowIDs+5 || len(d.Open.IDs) != windowIDs || len(d.Open.Events) != 1 {
		t.Fatalf("count %d ids %d events %d", d.Open.Count, len(d.Open.IDs), len(d.Open.Events))
	}
}

func TestABatchClosesBeforeAnEventThatWouldPassItsByteBound(t *testing.T) {
	s := &GatherState{Key: "k"}
	f := batchFlow(100, time.Minute)
	big := func(id string) contract.GatherEvent {
		ev := event(f, id)
		ev.Trigger["body"] = strings.Repeat("x", 600<<10)
		return ev
	}
	if r := s.Add(big("a"), ms(0)); r.FlushNow {
		t.Fatal("one event closed the batch")
	}
	if r := s.Add(big("b"), ms(1)); r.FlushNow {
		t.Fatal("1.2 MiB closed the batch")
	}
	// A third would be 1.8 MiB: the batch of two closes, c opens the next.
	r := s.Add(big("c"), ms(2))
	if !r.FlushNow || r.Pending != 1 {
		t.Fatalf("%+v; want flushNow with c pending", r)
	}
	run, ok := s.Flush(ms(2))
	if !ok || run.EventID != "batch-a" || run.Events != 2 {
		t.Fatalf("run %s of %d", run.EventID, run.Events)
	}
	b, _ := json.Marshal(run.Trigger)
	if len(b) > MaxBatchBytes {
		t.Fatalf("the run's trigger data is %d bytes", len(b))
	}
	// Until Started, Flush gives the same run again (its start failed).
	again, _ := s.Flush(ms(3))
	if again.EventID != "batch-a" {
		t.Fatalf("after a failed start: %s", again.EventID)
	}
	s.Started()
	if s.Ready(ms(3)) || s.Pending() != 1 {
		t.Fatal("c's batch is not due yet")
	}
}

func TestTheRunReceivesTheLastEventOrTheBatchInArrivalOrder(t *testing.T) {
	d := &GatherState{Key: "cus_42"}
	f := debounceFlow(time.Second, 0)
	for i, id := range []string{"a", "b", "c"} {
		ev := event(f, id)
		ev.FlowVersion = int64(i + 1)
		ev.Trigger["order"] = id // a parse alias
		d.Add(ev, ms(i*100))
	}
	run, ok := d.Flush(ms(1200))
	if !ok {
		t.Fatal("not due")
	}
	got, _ := json.Marshal(run.Trigger)
	want := `{"body":{"id":"c"},"debounced":{"events":3,"firstAt":"2026-12-07T10:00:00Z","key":"cus_42","lastAt":"2026-12-07T10:00:00.2Z"},"headers":{},"order":"c","query":{}}`
	if string(got) != want {
		t.Fatalf("debounced trigger\n got %s\nwant %s", got, want)
	}
	if run.EventID != "c" || run.FlowVersion != 3 {
		t.Fatalf("run %s from version %d; want c from the newest version, 3", run.EventID, run.FlowVersion)
	}

	b := &GatherState{Key: "k"}
	fb := batchFlow(10, time.Second)
	for i, id := range []string{"x", "y", "z"} {
		b.Add(event(fb, id), ms(i))
	}
	run, _ = b.Flush(ms(1000))
	got, _ = json.Marshal(run.Trigger)
	want = `{"batch":{"firstAt":"2026-12-07T10:00:00Z","key":"k","lastAt":"2026-12-07T10:00:00.002Z","size":3},` +
		`"events":[{"body":{"id":"x"},"headers":{},"query":{}},{"body":{"id":"y"},"headers":{},"query":{}},{"body":{"id":"z"},"headers":{},"query":{}}]}`
	if string(got) != want {
		t.Fatalf("batch trigger\n got %s\nwant %s", got, want)
	}
}

// The state survives continue-as-new: encoded and decoded, it dedupes,
// times and flushes as before.
func TestTheGatherStateIsCarriedAsJSON(t *testing.T) {
	f := batchFlow(3, time.Second)
	s := &GatherState{Key: "k"}
	s.Add(event(f, "a"), ms(0))
	s.Add(event(f, "b"), ms(1))
	s.Add(event(f, "c"), ms(2))
	s.Flush(ms(2))
	s.Started()
	s.Add(event(f, "d"), ms(3))
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back GatherState
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !back.Add(event(f, "a"), ms(4)).Duplicate || !back.Add(event(f, "d"), ms(4)).Duplicate {
		t.Fatal("the carried state forgot ids")
	}
	if due := back.DueAt(); !due.Equal(ms(1003)) {
		t.Fatalf("due %v", due)
	}
	run, ok := back.Flush(ms(1003))
	if !ok || run.EventID != "batch-d" || run.Events != 1 {
		t.Fatalf("run %+v", run)
	}
}

func TestCheckEventRefusesMalformedInput(t *testing.T) {
	plain := &flow.Flow{ID: "plain"}
	for _, c := range []struct {
		name string
		ev   contract.GatherEvent
		want string
	}{
		{"ok", event(batchFlow(1, time.Second), "a"), ""},
		{"no id", event(batchFlow(1, time.Second), ""), "no id"},
		{"no flow", contract.GatherEvent{EventID: "a"}, "no flow snapshot"},
		{"not gathering", event(plain, "a"), `flow "plain" neither debounces nor batches`},
	} {
		err := CheckEvent(c.ev)
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v; want %q", c.name, err, c.want)
		}
	}
}

// An event id taken again with another payload is refused (the caller
// reused an idempotency key), in a window and after its run; the same
// payload, or an event without a digest, is a duplicate.
func TestAnEventIDReusedWithAnotherPayloadIsRefused(t *testing.T) {
	f := batchFlow(2, time.Second)
	withDigest := func(id, digest string) contract.GatherEvent {
		ev := event(f, id)
		ev.Digest = digest
		return ev
	}
	s := &GatherState{}
	s.Add(withDigest("a", "d1"), ms(0))
	for _, c := range []struct {
		name string
		ev   contract.GatherEvent
		want error
	}{
		{"same payload", withDigest("a", "d1"), nil},
		{"another payload", withDigest("a", "d2"), ErrKeyReused},
		{"no digest to compare", withDigest("a", ""), nil},
		{"a new event", withDigest("b", "d9"), nil},
	} {
		if err := s.CheckReuse(c.ev); err != c.want {
			t.Errorf("in the window, %s: %v; want %v", c.name, err, c.want)
		}
	}
	s.Add(withDigest("b", "d9"), ms(1))
	if _, ok := s.Flush(ms(1)); !ok {
		t.Fatal("the full batch is not ready")
	}
	s.Started()
	if err := s.CheckReuse(withDigest("b", "d8")); err != ErrKeyReused {
		t.Errorf("after the run: %v", err)
	}
}

// The carried state stays inside Temporal's payload limit: the oldest
// remembered ids go first, and a window too large beside the flow closes
// early.
func TestTheCarriedStateFitsTheContinueAsNewPayload(t *testing.T) {
	f := batchFlow(1000, time.Minute)
	f.Description = strings.Repeat("f", 150<<10) // a flow of many steps
	s := &GatherState{Key: "k"}
	for i := range seenMemory {
		s.Seen = append(s.Seen, Ref{ID: fmt.Sprintf("%0200d", i), Digest: strings.Repeat("d", 64)})
	}
	for i := range 3 {
		ev := event(f, fmt.Sprintf("big-%d", i))
		ev.Trigger["body"] = strings.Repeat("x", 500<<10)
		s.Add(ev, ms(i))
	}
	if s.Pending() != 3 || len(s.Closed) != 0 {
		t.Fatalf("pending %d closed %d", s.Pending(), len(s.Closed))
	}
	if b, _ := json.Marshal(s); len(b) <= MaxCarryBytes {
		t.Fatalf("the scenario fits already (%d bytes)", len(b))
	}
	if s.FitCarry() {
		t.Fatal("closed the window though forgetting ids was enough")
	}
	b, _ := json.Marshal(s)
	if len(b) > MaxCarryBytes || len(s.Seen) == 0 || len(s.Seen) == seenMemory {
		t.Fatalf("%d bytes, %d ids kept", len(b), len(s.Seen))
	}
	if !s.IsDuplicate(fmt.Sprintf("%0200d", seenMemory-1)) || s.IsDuplicate(fmt.Sprintf("%0200d", 0)) {
		t.Fatal("the newest ids must be the ones kept")
	}

	// A flow snapshot so large that the window cannot be carried.
	huge := batchFlow(1000, time.Minute)
	huge.Description = strings.Repeat("h", 600<<10)
	ev := event(huge, "big-3")
	s.Add(ev, ms(3))
	if !s.FitCarry() || s.Open != nil || len(s.Closed) != 1 {
		t.Fatalf("the window was not closed early: open %v closed %d", s.Open != nil, len(s.Closed))
	}
	if run, ok := s.Flush(ms(3)); !ok || run.Events != 4 {
		t.Fatalf("run of %d events", run.Events)
	}
}

package schedules

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/trigger"
)

func sampleFlow(t *testing.T, yaml string) *flow.Flow {
	t.Helper()
	f, err := flow.DecodeYAML([]byte(yaml))
	require.NoError(t, err)
	return f
}

const nightly = `id: nightly-sync
name: Nightly
schedules:
  - {id: nightly, cron: "0 2 * * *", timezone: Europe/Berlin, jitter: 5m, overlap: bufferOne, catchupWindow: 1h, input: {full: true}}
  - {id: often, every: 15m, offset: 5m}
steps: [{id: s, type: set, values: {a: 1}}]
`

func TestScheduleIDsParseBackAndNeverCollide(t *testing.T) {
	cases := []struct {
		flow, entry string
	}{{"a", "b"}, {"a-b", "c"}, {"a", "b-c"}, {"x_1", "y_2"}}
	seen := map[string]bool{}
	for _, c := range cases {
		id := ID(c.flow, c.entry)
		require.False(t, seen[id], id)
		seen[id] = true
		f, e, ok := ParseID(id)
		require.True(t, ok, id)
		require.Equal(t, c.flow, f)
		require.Equal(t, c.entry, e)
	}
	for _, bad := range []string{"other:a:b", "hookflow:a", "hookflow::b", "hookflow:a:", "hookflow:a:b:c", "nightly"} {
		_, _, ok := ParseID(bad)
		require.False(t, ok, bad)
	}
}

func TestDesireBuildsTheTemporalScheduleOfEachEntry(t *testing.T) {
	f := sampleFlow(t, nightly)
	ds := Desire(Flow{Def: f, Version: 3, Enabled: true}, Settings{PublicURL: "https://h.example"})
	require.Len(t, ds, 2)

	d := ds[0]
	require.Equal(t, "hookflow:nightly-sync:nightly", d.ID)
	require.Equal(t, []string{"0 2 * * *"}, d.Options.Spec.CronExpressions)
	require.Equal(t, "Europe/Berlin", d.Options.Spec.TimeZoneName)
	require.Equal(t, 5*time.Minute, d.Options.Spec.Jitter)
	require.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, d.Options.Overlap)
	require.Equal(t, time.Hour, d.Options.CatchupWindow)
	require.False(t, d.Options.Paused)
	a := d.Options.Action.(*client.ScheduleWorkflowAction)
	require.Equal(t, "nightly-sync:schedule-nightly", a.ID)
	require.Equal(t, contract.TaskQueue, a.TaskQueue)
	in := a.Args[0].(contract.Input)
	require.Equal(t, int64(3), in.FlowVersion)
	require.Equal(t, "https://h.example", in.PublicURL)
	require.Equal(t, map[string]any{"body": map[string]any{"full": true}, "mode": "schedule", "schedule": "nightly"}, in.Trigger)
	require.Equal(t, d.Fingerprint, a.Memo[MemoFingerprint])
	mode, _ := a.TypedSearchAttributes.GetKeyword(contract.SearchAttrTriggerMode)
	require.Equal(t, "schedule", mode)
	entry, _ := a.TypedSearchAttributes.GetKeyword(contract.SearchAttrScheduleID)
	require.Equal(t, "nightly", entry)

	e := ds[1]
	require.Equal(t, []client.ScheduleIntervalSpec{{Every: 15 * time.Minute, Offset: 5 * time.Minute}}, e.Options.Spec.Intervals)
	require.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, e.Options.Overlap, "skip by default")
}

func TestADisabledFlowsSchedulesAreCreatedPausedWithTheDisabledNote(t *testing.T) {
	ds := Desire(Flow{Def: sampleFlow(t, nightly), Version: 1, Enabled: false}, Settings{})
	for _, d := range ds {
		require.True(t, d.Paused)
		require.True(t, d.Options.Paused)
		require.Equal(t, DisabledNote, d.Options.Note)
	}
}

func TestTheFingerprintChangesWithTheVersionAndTheEntryButNotTheEnabledState(t *testing.T) {
	f := sampleFlow(t, nightly)
	v1 := Desire(Flow{Def: f, Version: 1, Enabled: true}, Settings{})[0].Fingerprint
	require.Equal(t, v1, Desire(Flow{Def: f, Version: 1, Enabled: false}, Settings{})[0].Fingerprint)
	require.NotEqual(t, v1, Desire(Flow{Def: f, Version: 2, Enabled: true}, Settings{})[0].Fingerprint)
	g := sampleFlow(t, nightly)
	g.Schedules[0].Jitter = 0
	require.NotEqual(t, v1, Desire(Flow{Def: g, Version: 1, Enabled: true}, Settings{})[0].Fingerprint)
}

func TestPlan(t *testing.T) {
	f := sampleFlow(t, nightly)
	on := Desire(Flow{Def: f, Version: 2, Enabled: true}, Settings{})
	off := Desire(Flow{Def: f, Version: 2, Enabled: false}, Settings{})
	old := Desire(Flow{Def: f, Version: 1, Enabled: true}, Settings{})
	inStep := func(ds []Desired, paused bool, note string) []Actual {
		var out []Actual
		for _, d := range ds {
			out = append(out, Actual{ID: d.ID, Fingerprint: d.Fingerprint, Paused: paused, Note: note})
		}
		return out
	}
	kinds := func(cs []Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, string(c.Kind)+" "+c.ID)
		}
		return out
	}
	n, o := "hookflow:nightly-sync:nightly", "hookflow:nightly-sync:often"
	cases := []struct {
		name    string
		desired []Desired
		actual  []Actual
		want    []string
	}{
		{"nothing in Temporal: both are created", on, nil, []string{"create " + n, "create " + o}},
		{"in step: nothing to do", on, inStep(on, false, ""), nil},
		{"a new version: both are updated", on, inStep(old, false, ""), []string{"update " + n, "update " + o}},
		{"the flow disabled: both are paused", off, inStep(on, false, ""), []string{"pause " + n, "pause " + o}},
		{"disabled and already paused: nothing to do", off, inStep(on, true, DisabledNote), nil},
		{"enabled again: the disabled pause is undone", on, inStep(on, true, DisabledNote), []string{"unpause " + n, "unpause " + o}},
		{"enabled, paused by an operator: the pause stays", on, inStep(on, true, "maintenance"), nil},
		{"a new version while disabled: updated, stays paused", off, inStep(old, true, DisabledNote), []string{"update " + n, "update " + o}},
		{"a new version of a running flow disabled at once: update then pause", off, inStep(old, false, ""), []string{"update " + n, "pause " + n, "update " + o, "pause " + o}},
		{"the flow deleted: its schedules are deleted", nil, inStep(on, false, ""), []string{"delete " + n, "delete " + o}},
		{"an entry dropped: only it is deleted", on[:1], inStep(on, false, ""), []string{"delete " + o}},
		{"someone else's schedule is never touched", nil, []Actual{{ID: "billing-nightly"}, {ID: "hookflow-x"}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, kinds(Plan(tc.desired, tc.actual)))
		})
	}
}

// fakeTemporal is an in-memory Temporal at the reconciler's seam; the
// real seam (Client) is tested against the embedded server in tests/.
type fakeTemporal struct {
	schedules map[string]Actual
	listLags  bool // List misses what was created (visibility lag)
	created   map[string]bool
	failOn    string
	// beforeList runs at the start of List: something another replica
	// does meanwhile.
	beforeList func()
}

func newFake() *fakeTemporal {
	return &fakeTemporal{schedules: map[string]Actual{}, created: map[string]bool{}}
}

func (f *fakeTemporal) List(_ context.Context, prefix string) ([]Actual, error) {
	if f.beforeList != nil {
		f.beforeList()
	}
	var out []Actual
	for id, a := range f.schedules {
		if len(id) >= len(prefix) && id[:len(prefix)] == prefix && !(f.listLags && f.created[id]) {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeTemporal) Describe(_ context.Context, id string) (Actual, bool, error) {
	a, ok := f.schedules[id]
	return a, ok, nil
}

func (f *fakeTemporal) Create(_ context.Context, d *Desired) error {
	if f.failOn == d.ID {
		return errors.New("unavailable")
	}
	if _, ok := f.schedules[d.ID]; ok {
		return ErrExists
	}
	f.schedules[d.ID] = Actual{ID: d.ID, Fingerprint: d.Fingerprint, Paused: d.Options.Paused, Note: d.Options.Note}
	f.created[d.ID] = true
	return nil
}

func (f *fakeTemporal) Update(_ context.Context, d *Desired) error {
	a, ok := f.schedules[d.ID]
	if !ok {
		return ErrNotFound
	}
	a.Fingerprint = d.Fingerprint
	f.schedules[d.ID] = a
	return nil
}

func (f *fakeTemporal) Pause(_ context.Context, id, note string) error {
	a, ok := f.schedules[id]
	if !ok {
		return ErrNotFound
	}
	a.Paused, a.Note = true, note
	f.schedules[id] = a
	return nil
}

func (f *fakeTemporal) Unpause(_ context.Context, id, note string) error {
	a, ok := f.schedules[id]
	if !ok {
		return ErrNotFound
	}
	a.Paused, a.Note = false, note
	f.schedules[id] = a
	return nil
}

func (f *fakeTemporal) Delete(_ context.Context, id string) error {
	if _, ok := f.schedules[id]; !ok {
		return ErrNotFound
	}
	delete(f.schedules, id)
	return nil
}

func TestSyncingAFlowTwiceMakesOneScheduleEachAndSaysNothingChangedTheSecondTime(t *testing.T) {
	ft := newFake()
	ft.listLags = true // another replica's create not listed yet
	r := &Reconciler{T: ft}
	f := &Flow{Def: sampleFlow(t, nightly), Version: 1, Enabled: true}
	first, err := r.SyncFlow(context.Background(), "nightly-sync", f)
	require.NoError(t, err)
	require.Len(t, first, 2)
	second, err := r.SyncFlow(context.Background(), "nightly-sync", f)
	require.NoError(t, err)
	require.Empty(t, second)
	require.Len(t, ft.schedules, 2)
}

func TestAnEntryDroppedByANewVersionIsDeletedEvenBeforeTheListShowsIt(t *testing.T) {
	ft := newFake()
	r := &Reconciler{T: ft}
	f := sampleFlow(t, nightly)
	_, err := r.SyncFlow(context.Background(), f.ID, &Flow{Def: f, Version: 1, Enabled: true})
	require.NoError(t, err)
	ft.listLags = true
	g := sampleFlow(t, nightly)
	g.Schedules = g.Schedules[:1]
	changes, err := r.SyncFlow(context.Background(), f.ID, &Flow{Def: g, Version: 2, Enabled: true}, ID(f.ID, "often"))
	require.NoError(t, err)
	var got []string
	for _, c := range changes {
		got = append(got, string(c.Kind)+" "+c.ID)
	}
	require.Equal(t, []string{"update hookflow:nightly-sync:nightly", "delete hookflow:nightly-sync:often"}, got)
	require.Len(t, ft.schedules, 1)
}

func TestReconcileAllRepairsDriftAndSaysWhatItChanged(t *testing.T) {
	ft := newFake()
	r := &Reconciler{T: ft}
	f := sampleFlow(t, nightly)
	want := Desire(Flow{Def: f, Version: 4, Enabled: false}, Settings{})
	// Temporal has: one schedule of an old version running, an orphan of
	// a deleted flow, and someone else's schedule.
	ft.schedules[want[0].ID] = Actual{ID: want[0].ID, Fingerprint: "old"}
	ft.schedules["hookflow:gone:x"] = Actual{ID: "hookflow:gone:x"}
	ft.schedules["billing"] = Actual{ID: "billing"}
	changes, err := r.ReconcileAll(context.Background(), []Flow{{Def: f, Version: 4, Enabled: false}})
	require.NoError(t, err)
	var got []string
	for _, c := range changes {
		got = append(got, string(c.Kind)+" "+c.ID)
	}
	require.Equal(t, []string{
		"delete hookflow:gone:x",
		"update hookflow:nightly-sync:nightly", "pause hookflow:nightly-sync:nightly",
		"create hookflow:nightly-sync:often",
	}, got)
	require.Contains(t, ft.schedules, "billing")
	for _, d := range want {
		a := ft.schedules[d.ID]
		require.Equal(t, d.Fingerprint, a.Fingerprint)
		require.True(t, a.Paused)
		require.Equal(t, DisabledNote, a.Note)
	}
	again, err := r.ReconcileAll(context.Background(), []Flow{{Def: f, Version: 4, Enabled: false}})
	require.NoError(t, err)
	require.Empty(t, again)
}

func TestACreateThatLosesARaceWithAnotherReplicaBecomesAnUpdate(t *testing.T) {
	ft := newFake()
	d := Desire(Flow{Def: sampleFlow(t, nightly), Version: 1, Enabled: true}, Settings{})
	ft.schedules[d[0].ID] = Actual{ID: d[0].ID, Fingerprint: "theirs"}
	r := &Reconciler{T: ft}
	changes, err := r.apply(context.Background(), []Change{{Kind: Create, ID: d[0].ID, Desired: &d[0]}})
	require.NoError(t, err)
	require.Equal(t, Update, changes[0].Kind)
	require.Equal(t, d[0].Fingerprint, ft.schedules[d[0].ID].Fingerprint)
}

func TestAFailedChangeDoesNotStopTheOthersAndIsReported(t *testing.T) {
	ft := newFake()
	f := sampleFlow(t, nightly)
	ft.failOn = ID(f.ID, "nightly")
	r := &Reconciler{T: ft}
	changes, err := r.SyncFlow(context.Background(), f.ID, &Flow{Def: f, Version: 1, Enabled: true})
	require.ErrorContains(t, err, "create schedule hookflow:nightly-sync:nightly: unavailable")
	require.Len(t, changes, 1)
	require.Equal(t, "hookflow:nightly-sync:often", changes[0].ID)
}

// asTemporalKeepsIt is how Temporal describes the schedule d creates: a
// cron expression as a calendar of ranges, an unset catch-up window as
// its default (Drift must find nothing in it).
func asTemporalKeepsIt(d Desired, cal *client.ScheduleCalendarSpec) *Described {
	act := d.Options.Action.(*client.ScheduleWorkflowAction)
	spec := d.Options.Spec
	spec.Intervals = append([]client.ScheduleIntervalSpec(nil), spec.Intervals...) // edits below must not reach d
	if len(spec.CronExpressions) > 0 {
		spec.CronExpressions = nil
		spec.Calendars = []client.ScheduleCalendarSpec{*cal}
	}
	cw := d.Options.CatchupWindow
	if cw == 0 {
		cw = defaultCatchupWindow
	}
	return &Described{Spec: spec, Overlap: d.Options.Overlap, CatchupWindow: cw, Workflow: contract.WorkflowName, TaskQueue: act.TaskQueue, WorkflowID: act.ID}
}

func TestDriftFindsEditsMadeInTemporalToTheTimingPoliciesAndTargetAndNothingInWhatHookflowWrote(t *testing.T) {
	ds := Desire(Flow{Def: sampleFlow(t, nightly), Version: 1, Enabled: true}, Settings{})
	cron, every := ds[0], ds[1] // "0 2 * * *" Europe/Berlin, jitter 5m, bufferOne, 1h; every 15m offset 5m
	r := func(start, end, step int) client.ScheduleRange {
		return client.ScheduleRange{Start: start, End: end, Step: step}
	}
	// "0 2 * * *" as Temporal describes it.
	at2 := client.ScheduleCalendarSpec{
		Second: []client.ScheduleRange{r(0, 0, 1)}, Minute: []client.ScheduleRange{r(0, 0, 1)}, Hour: []client.ScheduleRange{r(2, 2, 1)},
		DayOfMonth: []client.ScheduleRange{r(1, 31, 1)}, Month: []client.ScheduleRange{r(1, 12, 1)}, DayOfWeek: []client.ScheduleRange{r(0, 6, 1)},
	}
	edit := func(d Desired, f func(*Described)) *Described {
		x := asTemporalKeepsIt(d, &at2)
		f(x)
		return x
	}
	cases := []struct {
		name string
		d    Desired
		got  *Described
		want []string
	}{
		{"a cron entry as written", cron, asTemporalKeepsIt(cron, &at2), nil},
		{"an interval entry as written (catch-up window left to Temporal)", every, asTemporalKeepsIt(every, nil), nil},
		{"not described: only the fingerprint counts", cron, nil, nil},
		{"the same calendar written with other ranges", cron, edit(cron, func(x *Described) {
			x.Spec.Calendars[0].DayOfMonth = []client.ScheduleRange{r(1, 15, 0), r(16, 31, 1)}
			x.Spec.Calendars[0].Hour = []client.ScheduleRange{{Start: 2}} // end 0: the start
		}), nil},
		{"the hour changed in the Web UI", cron, edit(cron, func(x *Described) { x.Spec.Calendars[0].Hour = []client.ScheduleRange{r(3, 3, 1)} }),
			[]string{`the calendar differs from "0 2 * * *" in its hour`}},
		{"weekdays only", cron, edit(cron, func(x *Described) { x.Spec.Calendars[0].DayOfWeek = []client.ScheduleRange{r(1, 5, 1)} }),
			[]string{`the calendar differs from "0 2 * * *" in its day of week`}},
		{"a year added", cron, edit(cron, func(x *Described) { x.Spec.Calendars[0].Year = []client.ScheduleRange{r(2027, 2027, 1)} }),
			[]string{`the calendar differs from "0 2 * * *" in its year`}},
		{"a second calendar", cron, edit(cron, func(x *Described) { x.Spec.Calendars = append(x.Spec.Calendars, at2) }),
			[]string{`it has 2 calendars, want the one of "0 2 * * *"`}},
		{"an interval added to a cron entry", cron, edit(cron, func(x *Described) { x.Spec.Intervals = []client.ScheduleIntervalSpec{{Every: time.Hour}} }),
			[]string{"it has intervals [every 1h0m0s], want only the cron calendar"}},
		{"the interval changed", every, edit(every, func(x *Described) { x.Spec.Intervals[0].Every = time.Minute }),
			[]string{"the intervals are [every 1m0s offset 5m0s], want [every 15m0s offset 5m0s]"}},
		{"a calendar added to an interval entry", every, edit(every, func(x *Described) { x.Spec.Calendars = []client.ScheduleCalendarSpec{at2} }),
			[]string{"it has calendars, want only an interval"}},
		{"time zone and jitter", cron, edit(cron, func(x *Described) { x.Spec.TimeZoneName, x.Spec.Jitter = "UTC", 0 }),
			[]string{`the time zone is "UTC", want "Europe/Berlin"`, "the jitter is 0s, want 5m0s"}},
		{"an end time and a skip", cron, edit(cron, func(x *Described) {
			x.Spec.EndAt = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
			x.Spec.Skip = []client.ScheduleCalendarSpec{at2}
		}), []string{"it has a start or end time", "it has skip calendars"}},
		{"policies", cron, edit(cron, func(x *Described) {
			x.Overlap, x.CatchupWindow, x.PauseOnFailure = enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL, time.Minute, true
		}), []string{"the overlap policy is allowAll, want bufferOne", "the catch-up window is 1m0s, want 1h0m0s", "it pauses on failure"}},
		{"an unset catch-up window changed", every, edit(every, func(x *Described) { x.CatchupWindow = time.Hour }),
			[]string{"the catch-up window is 1h0m0s, want 8760h0m0s"}},
		{"skip described as unspecified", every, edit(every, func(x *Described) { x.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED }), nil},
		{"the action's target", every, edit(every, func(x *Described) { x.Workflow, x.TaskQueue, x.WorkflowID = "Other", "q", "x" }),
			[]string{`the workflow type is "Other", want "` + contract.WorkflowName + `"`, `the task queue is "q", want "` + contract.QueueFor(trigger.ModeAsync) + `"`, `the workflow id is "x", want "nightly-sync:schedule-often"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Drift(&tc.d, tc.got))
		})
	}
}

func TestAScheduleEditedInTemporalWithItsMemoLeftAloneIsPlannedForAnUpdateSayingWhat(t *testing.T) {
	ds := Desire(Flow{Def: sampleFlow(t, nightly), Version: 1, Enabled: true}, Settings{})
	every := ds[1]
	got := asTemporalKeepsIt(every, nil)
	got.Spec.Intervals[0].Every = time.Minute
	plan := Plan(ds[1:], []Actual{{ID: every.ID, Fingerprint: every.Fingerprint, Described: got}})
	require.Len(t, plan, 1)
	require.Equal(t, Update, plan[0].Kind)
	require.Equal(t, "edited in Temporal: the intervals are [every 1m0s offset 5m0s], want [every 15m0s offset 5m0s]", plan[0].Reason)
	require.Same(t, &ds[1:][0], plan[0].Desired)

	require.Empty(t, Plan(ds[1:], []Actual{{ID: every.ID, Fingerprint: every.Fingerprint, Described: asTemporalKeepsIt(every, nil)}}))
}

// Every replica reconciles at start and on a timer. A flow created through
// another replica while one runs (its write saves the flow, then syncs its
// schedules) keeps its new schedule: the store is read after Temporal, so
// a schedule that Temporal shows has its flow in what was read; read
// before, the flow would be missing and its schedule deleted as an orphan.
func TestAFlowCreatedThroughAnotherReplicaDuringAReconcileKeepsItsNewSchedule(t *testing.T) {
	ft := newFake()
	r := &Reconciler{T: ft}
	f := Flow{Def: sampleFlow(t, nightly), Version: 1, Enabled: true}
	var stored []Flow
	ft.beforeList = func() {
		stored = []Flow{f}
		for _, d := range Desire(f, Settings{}) {
			require.NoError(t, ft.Create(context.Background(), &d))
		}
	}
	changes, err := r.ReconcileWith(context.Background(), func(context.Context) ([]Flow, error) { return stored, nil })
	require.NoError(t, err)
	require.Empty(t, changes)
	require.Len(t, ft.schedules, 2)
}

// Package schedules keeps a flow's schedules (trigger.Schedule) in step with
// Temporal Schedules: one Temporal Schedule per entry, named from the flow id
// and the entry id, created when the flow is applied, updated when a new
// version changes what it starts, paused while the flow is disabled, deleted
// with the flow. Its rules (ids, the Temporal form of an entry, drift
// between a described schedule and its entry, what to change) are pure
// functions in this file; the reconciler (reconcile.go) applies a plan
// through a small seam over Temporal's ScheduleClient (temporal.go); the
// api runs it at start and on a timer (loop.go); operators' actions (list,
// pause, trigger, backfill) are in operate.go.
package schedules

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/trigger"
)

// Prefix starts every Temporal Schedule id hookflow owns; schedules without
// it are never touched.
const Prefix = "hookflow:"

// DisabledNote is the note of a schedule paused because its flow is
// disabled. Enabling the flow unpauses only schedules paused with it: a
// pause an operator made (with their own note) stays.
const DisabledNote = "hookflow: the flow is disabled"

// MemoFingerprint is the action memo field holding Fingerprint, so a
// reconcile can tell whether a schedule starts what the store says.
const MemoFingerprint = "hookflowScheduleFingerprint"

// ID is the Temporal Schedule id of a flow's entry. Flow ids and entry ids
// are slugs without ':', so it parses back unambiguously, and it is the same
// on every api replica and after a restart: creating it twice fails rather
// than making two.
func ID(flowID, entryID string) string { return Prefix + flowID + ":" + entryID }

// ParseID splits a Temporal Schedule id made by ID.
func ParseID(id string) (flowID, entryID string, ok bool) {
	rest, found := strings.CutPrefix(id, Prefix)
	if !found {
		return "", "", false
	}
	flowID, entryID, ok = strings.Cut(rest, ":")
	if !ok || flowID == "" || entryID == "" || strings.Contains(entryID, ":") {
		return "", "", false
	}
	return flowID, entryID, true
}

// FlowPrefix starts the schedule ids of one flow.
func FlowPrefix(flowID string) string { return Prefix + flowID + ":" }

// Flow is what the store says about one flow, as the schedules need it.
type Flow struct {
	Def     *flow.Flow
	Version int64
	Enabled bool
}

// Desired is one Temporal Schedule as the store wants it.
type Desired struct {
	ID          string
	FlowID      string
	Entry       trigger.Schedule
	Paused      bool // the flow is disabled
	Fingerprint string
	// Options create it (Paused and Note set when the flow is disabled).
	Options client.ScheduleOptions
}

// Actual is one Temporal Schedule as Temporal has it.
type Actual struct {
	ID          string
	Fingerprint string
	Paused      bool
	Note        string
	// Described is its timing, policies and action target as a Describe
	// shows them; nil when not read (then only the fingerprint counts).
	Described *Described
}

// Described is what a schedule's Describe shows beside its state: an edit
// made directly in Temporal (the Web UI, the temporal CLI) changes these
// and may leave the action's memo, and so the fingerprint, alone.
type Described struct {
	// Spec as Temporal keeps it: a cron expression comes back as a
	// calendar of ranges (CronExpressions empty).
	Spec           client.ScheduleSpec
	Overlap        enumspb.ScheduleOverlapPolicy
	CatchupWindow  time.Duration
	PauseOnFailure bool
	// Workflow, TaskQueue and WorkflowID are the action's; Workflow is
	// empty when the action starts no workflow.
	Workflow, TaskQueue, WorkflowID string
}

// defaultCatchupWindow is what Temporal keeps for a schedule created
// without a catch-up window.
const defaultCatchupWindow = 365 * 24 * time.Hour

// Drift lists how a described schedule differs from what d wants in its
// timing, policies and action target, as short phrases; empty when it
// matches. The run's input is compared by the fingerprint instead.
func Drift(d *Desired, got *Described) []string {
	if got == nil {
		return nil
	}
	var out []string
	diff := func(what string, have, want any) {
		out = append(out, fmt.Sprintf("%s is %v, want %v", what, have, want))
	}
	act, _ := d.Options.Action.(*client.ScheduleWorkflowAction)
	if act != nil {
		if got.Workflow != contract.WorkflowName {
			diff("the workflow type", quoted(got.Workflow), quoted(contract.WorkflowName))
		}
		if got.TaskQueue != act.TaskQueue {
			diff("the task queue", quoted(got.TaskQueue), quoted(act.TaskQueue))
		}
		if got.WorkflowID != act.ID {
			diff("the workflow id", quoted(got.WorkflowID), quoted(act.ID))
		}
	}
	skip := func(p enumspb.ScheduleOverlapPolicy) enumspb.ScheduleOverlapPolicy {
		if p == enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED {
			return enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
		}
		return p
	}
	if skip(got.Overlap) != skip(d.Options.Overlap) {
		diff("the overlap policy", overlapName(skip(got.Overlap)), overlapName(skip(d.Options.Overlap)))
	}
	if want := d.Options.CatchupWindow; got.CatchupWindow != want && (want != 0 || got.CatchupWindow != defaultCatchupWindow) {
		if want == 0 {
			want = defaultCatchupWindow
		}
		diff("the catch-up window", got.CatchupWindow, want)
	}
	if got.PauseOnFailure {
		out = append(out, "it pauses on failure")
	}
	return append(out, specDrift(d.Entry, got.Spec)...)
}

// specDrift compares an entry's timing with a schedule's spec as Temporal
// keeps it.
func specDrift(e trigger.Schedule, s client.ScheduleSpec) []string {
	var out []string
	if s.TimeZoneName != e.Timezone {
		out = append(out, fmt.Sprintf("the time zone is %q, want %q", s.TimeZoneName, e.Timezone))
	}
	if s.Jitter != e.Jitter.Std() {
		out = append(out, fmt.Sprintf("the jitter is %s, want %s", s.Jitter, e.Jitter.Std()))
	}
	if !s.StartAt.IsZero() || !s.EndAt.IsZero() {
		out = append(out, "it has a start or end time")
	}
	if len(s.Skip) > 0 {
		out = append(out, "it has skip calendars")
	}
	if len(s.CronExpressions) > 0 {
		out = append(out, "it has cron expressions besides its calendar")
	}
	if e.Cron == "" {
		want := client.ScheduleIntervalSpec{Every: e.Every.Std(), Offset: e.Offset.Std()}
		if len(s.Calendars) > 0 {
			out = append(out, "it has calendars, want only an interval")
		}
		if len(s.Intervals) != 1 || s.Intervals[0] != want {
			out = append(out, fmt.Sprintf("the intervals are %s, want %s", intervals(s.Intervals), intervals([]client.ScheduleIntervalSpec{want})))
		}
		return out
	}
	if len(s.Intervals) > 0 {
		out = append(out, fmt.Sprintf("it has intervals %s, want only the cron calendar", intervals(s.Intervals)))
	}
	want, err := trigger.ParseCronFields(e.Cron)
	if err != nil { // the store holds validated flows; say so rather than guess
		return append(out, "the entry's cron does not parse: "+err.Error())
	}
	if len(s.Calendars) != 1 {
		return append(out, fmt.Sprintf("it has %d calendars, want the one of %q", len(s.Calendars), e.Cron))
	}
	c := s.Calendars[0]
	fields := []struct {
		name string
		have []client.ScheduleRange
		want uint64
	}{
		{"second", c.Second, 1}, {"minute", c.Minute, want.Minute}, {"hour", c.Hour, want.Hour},
		{"day of month", c.DayOfMonth, want.DayOfMonth}, {"month", c.Month, want.Month}, {"day of week", c.DayOfWeek, want.DayOfWeek},
	}
	var differ []string
	for _, f := range fields {
		if rangeBits(f.have) != f.want {
			differ = append(differ, f.name)
		}
	}
	if len(c.Year) > 0 {
		differ = append(differ, "year")
	}
	if len(differ) > 0 {
		out = append(out, fmt.Sprintf("the calendar differs from %q in its %s", e.Cron, strings.Join(differ, ", ")))
	}
	return out
}

// rangeBits is the set of values ranges match, as Temporal counts them (an
// end before the start is the start; step 0 is 1); values past 63 (years)
// do not fit and set nothing.
func rangeBits(rs []client.ScheduleRange) uint64 {
	var bits uint64
	for _, r := range rs {
		end, step := r.End, r.Step
		if end < r.Start {
			end = r.Start
		}
		if step <= 0 {
			step = 1
		}
		for v := r.Start; v <= end && v < 64; v += step {
			if v >= 0 {
				bits |= 1 << v
			}
		}
	}
	return bits
}

func intervals(is []client.ScheduleIntervalSpec) string {
	parts := make([]string, len(is))
	for i, x := range is {
		parts[i] = "every " + x.Every.String()
		if x.Offset != 0 {
			parts[i] += " offset " + x.Offset.String()
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

func quoted(s string) string { return fmt.Sprintf("%q", s) }

// Settings are what every schedule's action shares.
type Settings struct {
	// PublicURL is the API's public base URL, carried in the run's input
	// for the signed links of wait and approval steps.
	PublicURL string
}

// Desire builds the Temporal Schedules a flow wants, in entry order.
func Desire(f Flow, set Settings) []Desired {
	if f.Def == nil {
		return nil
	}
	out := make([]Desired, 0, len(f.Def.Schedules))
	for _, e := range f.Def.Schedules {
		id := ID(f.Def.ID, e.ID)
		in := contract.Input{
			Flow: f.Def.Snapshot(), FlowVersion: f.Version, PublicURL: set.PublicURL, Engine: contract.CurrentEngine,
			Trigger: map[string]any{"body": e.Input, contract.TriggerMode: contract.TriggerModeSchedule, contract.TriggerSchedule: e.ID},
		}
		fp := Fingerprint(in, e)
		name := f.Def.Name
		if name == "" {
			name = f.Def.ID
		}
		opts := client.ScheduleOptions{
			ID:            id,
			Spec:          Spec(e),
			Overlap:       Overlap(e.EffectiveOverlap()),
			CatchupWindow: e.CatchupWindow.Std(),
			Action: &client.ScheduleWorkflowAction{
				// Temporal appends the nominal time to it:
				// <flow>:schedule-<entry>-2026-12-07T02:00:00Z.
				ID:        contract.WorkflowID(f.Def.ID, "schedule-"+e.ID),
				Workflow:  contract.WorkflowName,
				Args:      []any{in},
				TaskQueue: contract.QueueFor(trigger.ModeAsync),
				Memo:      map[string]any{MemoFingerprint: fp},
				TypedSearchAttributes: temporal.NewSearchAttributes(
					contract.SearchAttrFlowID.ValueSet(f.Def.ID),
					contract.SearchAttrFlowVersion.ValueSet(f.Version),
					contract.SearchAttrTriggerMode.ValueSet(contract.TriggerModeSchedule),
					contract.SearchAttrScheduleID.ValueSet(e.ID),
				),
				StaticSummary: fmt.Sprintf("%s (v%d, schedule %s)", name, f.Version, e.ID),
				StaticDetails: fmt.Sprintf("hookflow flow `%s`, version %d, schedule `%s`", f.Def.ID, f.Version, e.ID),
			},
		}
		if !f.Enabled {
			opts.Paused, opts.Note = true, DisabledNote
		}
		out = append(out, Desired{ID: id, FlowID: f.Def.ID, Entry: e, Paused: !f.Enabled, Fingerprint: fp, Options: opts})
	}
	return out
}

// Spec is the Temporal form of an entry's timing.
func Spec(e trigger.Schedule) client.ScheduleSpec {
	s := client.ScheduleSpec{TimeZoneName: e.Timezone, Jitter: e.Jitter.Std()}
	if e.Cron != "" {
		s.CronExpressions = []string{strings.TrimSpace(e.Cron)}
	} else {
		s.Intervals = []client.ScheduleIntervalSpec{{Every: e.Every.Std(), Offset: e.Offset.Std()}}
	}
	return s
}

// Overlap maps a flow's overlap policy to Temporal's (skip for anything
// validation would not let through).
func Overlap(p string) enumspb.ScheduleOverlapPolicy {
	switch p {
	case trigger.OverlapBufferOne:
		return enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE
	case trigger.OverlapBufferAll:
		return enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL
	case trigger.OverlapCancelOther:
		return enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER
	case trigger.OverlapTerminateOther:
		return enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER
	case trigger.OverlapAllowAll:
		return enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
	}
	return enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
}

// overlapName is a Temporal overlap policy as a flow names it.
func overlapName(p enumspb.ScheduleOverlapPolicy) string {
	for _, name := range []string{trigger.OverlapSkip, trigger.OverlapBufferOne, trigger.OverlapBufferAll, trigger.OverlapCancelOther, trigger.OverlapTerminateOther, trigger.OverlapAllowAll} {
		if Overlap(name) == p {
			return name
		}
	}
	return p.String()
}

// fingerprintFormat changes when what Desire builds changes, so every
// schedule is rewritten once.
const fingerprintFormat = "1"

// Fingerprint identifies what a schedule starts and when: the run's input
// (flow snapshot, version, trigger data) and the entry's timing and
// policies. Equal fingerprints need no update.
func Fingerprint(in contract.Input, e trigger.Schedule) string {
	b, _ := json.Marshal(struct {
		F  string           `json:"f"`
		In contract.Input   `json:"in"`
		E  trigger.Schedule `json:"e"`
	}{fingerprintFormat, in, e})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// Kind is what a change does to one Temporal Schedule.
type Kind string

const (
	Create  Kind = "create"
	Update  Kind = "update"
	Pause   Kind = "pause"
	Unpause Kind = "unpause"
	Delete  Kind = "delete"
)

// Change is one step of a plan, with why it is needed.
type Change struct {
	Kind   Kind   `json:"kind"`
	ID     string `json:"scheduleId"`
	Reason string `json:"reason"`
	// Desired is what to create or update to (nil for pause, unpause and
	// delete).
	Desired *Desired `json:"-"`
}

func (c Change) String() string { return string(c.Kind) + " " + c.ID + ": " + c.Reason }

// Plan says what turns actual into desired: create what is missing, update
// what starts something else, pause schedules of disabled flows, unpause
// those paused for that reason once the flow is enabled again, and delete
// schedules of hookflow's that nothing wants. Actual must hold every
// schedule in scope (one flow's, or all of hookflow's); changes come sorted
// by schedule id, an update before a pause of the same schedule.
func Plan(desired []Desired, actual []Actual) []Change {
	have := make(map[string]Actual, len(actual))
	for _, a := range actual {
		have[a.ID] = a
	}
	want := make(map[string]bool, len(desired))
	var out []Change
	for i := range desired {
		d := &desired[i]
		want[d.ID] = true
		a, ok := have[d.ID]
		if !ok {
			reason := "missing"
			if d.Paused {
				reason = "missing (created paused: the flow is disabled)"
			}
			out = append(out, Change{Kind: Create, ID: d.ID, Reason: reason, Desired: d})
			continue
		}
		if a.Fingerprint != d.Fingerprint {
			out = append(out, Change{Kind: Update, ID: d.ID, Reason: "starts another flow version, input or timing than the store says", Desired: d})
		} else if drift := Drift(d, a.Described); len(drift) > 0 {
			out = append(out, Change{Kind: Update, ID: d.ID, Reason: "edited in Temporal: " + strings.Join(drift, "; "), Desired: d})
		}
		switch {
		case d.Paused && !a.Paused:
			out = append(out, Change{Kind: Pause, ID: d.ID, Reason: "the flow is disabled"})
		case !d.Paused && a.Paused && a.Note == DisabledNote:
			out = append(out, Change{Kind: Unpause, ID: d.ID, Reason: "the flow is enabled again"})
		}
	}
	for _, a := range actual {
		if want[a.ID] {
			continue
		}
		if _, _, ok := ParseID(a.ID); !ok {
			continue // not hookflow's
		}
		out = append(out, Change{Kind: Delete, ID: a.ID, Reason: "no flow in the store has this schedule"})
	}
	order := map[Kind]int{Create: 0, Update: 1, Pause: 2, Unpause: 2, Delete: 3}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return order[out[i].Kind] < order[out[j].Kind]
	})
	return out
}

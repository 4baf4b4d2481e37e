//go:build !nodev

package tests

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/schedules"
	"github.com/hookflow/hookflow/worker"
)

// Schedule tests run one after another (no t.Parallel): the schedules are
// Temporal's, shared by every test's store, and the reconcile test deletes
// hookflow schedules its own store does not know.

func scheduledFlow(id, entries string, version string) string {
	return fmt.Sprintf(`id: %s
schedules:
%s
steps:
  - {id: out, type: output, values: {mode: "{{ trigger.mode }}", at: "{{ trigger.scheduledAt }}", schedule: "{{ trigger.schedule }}", n: "{{ trigger.body.n }}", version: %s}}
`, id, entries, version)
}

// cleanupFlow deletes the flow (and so its schedules) when the test ends,
// and removes anything left directly, so no schedule keeps firing.
func cleanupFlow(s *adminStack, id string, entries ...string) {
	s.t.Cleanup(func() {
		s.call("DELETE", "/api/v1/flows/"+id, writeKey, "", "")
		for _, e := range entries {
			_ = shared.client.ScheduleClient().GetHandle(context.Background(), schedules.ID(id, e)).Delete(context.Background())
		}
	})
}

func describeSchedule(t *testing.T, id string) *sdkclient.ScheduleDescription {
	t.Helper()
	d, err := shared.client.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background())
	require.NoError(t, err)
	return d
}

func listRuns(t *testing.T, query string) []string {
	t.Helper()
	resp, err := shared.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query, PageSize: 1000})
	require.NoError(t, err)
	var ids []string
	for _, e := range resp.GetExecutions() {
		ids = append(ids, e.GetExecution().GetWorkflowId()+"/"+e.GetExecution().GetRunId())
	}
	return ids
}

func TestAnEverySecondScheduleFiresItsRunsCompleteWithModeScheduleAndPauseStopsIt(t *testing.T) {
	s := setupAdmin(t)
	id := uniqueFlowID("it-sched-every")
	cleanupFlow(s, id, "tick")
	a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", scheduledFlow(id, `  - {id: tick, every: 1s, input: {n: 7}}`, "1"))
	require.Equal(t, http.StatusCreated, a.status, a.body)
	require.Contains(t, a.body, `"kind":"create"`, "the write says what it did in Temporal")
	sid := schedules.ID(id, "tick")

	q := fmt.Sprintf(`HookflowFlowId = %q AND HookflowTriggerMode = "schedule" AND HookflowScheduleId = "tick" AND ExecutionStatus = "Completed"`, id)
	var done []string
	require.Eventually(t, func() bool { done = listRuns(t, q); return len(done) >= 2 }, 20*time.Second, 200*time.Millisecond)

	// A run's result: trigger.mode, the nominal time and the entry's input.
	wid, rid, _ := strings.Cut(done[0], "/")
	var res contract.RunResult
	require.NoError(t, shared.client.GetWorkflow(context.Background(), wid, rid).Get(context.Background(), &res))
	require.Equal(t, "schedule", res.Output["mode"])
	require.Equal(t, "tick", res.Output["schedule"])
	require.EqualValues(t, 7, res.Output["n"])
	desc, err := shared.client.DescribeWorkflowExecution(context.Background(), wid, rid)
	require.NoError(t, err)
	var nominal time.Time
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(desc.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[contract.SearchAttrTemporalScheduledStartTime], &nominal))
	require.Equal(t, nominal.UTC().Format(time.RFC3339Nano), res.Output["at"])
	require.True(t, strings.HasPrefix(wid, id+":schedule-tick-"), wid)
	require.Equal(t, nominal.UTC().Truncate(time.Second), nominal.UTC(), "every 1s falls on whole seconds")

	// Its history replays against the current workflow code (reading the
	// nominal time from the started event is deterministic).
	replayer := sdkworker.NewWorkflowReplayer()
	worker.Register(replayer)
	require.NoError(t, replayer.ReplayWorkflowHistoryWithOptions(nil, runHistory(t, s.stack, wid, rid), sdkworker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: wid, RunID: rid},
	}))

	// Listed in the executions API as a scheduled run.
	a = s.call("GET", "/api/v1/executions/"+wid, readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	ex := a.json(t)
	require.Equal(t, "schedule", ex["mode"], a.body)
	require.Equal(t, "completed", ex["status"], a.body)
	require.Equal(t, id, ex["flowId"], a.body)
	a = s.call("GET", "/api/v1/flows/"+id+"/executions", readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, wid)

	// The operator's view.
	a = s.call("GET", "/api/v1/flows/"+id+"/schedules", readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	list := a.json(t)["schedules"].([]any)
	require.Len(t, list, 1)
	info := list[0].(map[string]any)
	require.Equal(t, sid, info["scheduleId"])
	require.Equal(t, true, info["exists"])
	require.Equal(t, true, info["inStep"])
	require.Equal(t, false, info["paused"])
	require.NotEmpty(t, info["nextRuns"])
	require.NotEmpty(t, info["recentRuns"])
	statuses := map[string]bool{}
	for _, r := range info["recentRuns"].([]any) {
		statuses[r.(map[string]any)["status"].(string)] = true
	}
	require.True(t, statuses["completed"], "recent runs' statuses: %v", statuses)

	// Pause with a note: no more actions.
	a = s.call("POST", "/api/v1/flows/"+id+"/schedules/tick/pause", writeKey, "application/json", `{"note":"maintenance window"}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	d := describeSchedule(t, sid)
	require.True(t, d.Schedule.State.Paused)
	require.Equal(t, "maintenance window", d.Schedule.State.Note)
	before := d.Info.NumActions
	time.Sleep(2500 * time.Millisecond) // what must not happen takes a wait to see: 2 nominal times at least
	require.Equal(t, before, describeSchedule(t, sid).Info.NumActions, "a paused schedule started runs")

	// Unpause: it fires again.
	a = s.call("POST", "/api/v1/flows/"+id+"/schedules/tick/unpause", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Eventually(t, func() bool { return describeSchedule(t, sid).Info.NumActions > before }, 10*time.Second, 100*time.Millisecond)
}

func TestDisablePausesEnableResumesANewVersionUpdatesTheActionAndDeleteRemovesTheSchedule(t *testing.T) {
	s := setupAdmin(t)
	id := uniqueFlowID("it-sched-life")
	cleanupFlow(s, id, "daily")
	a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", scheduledFlow(id, `  - {id: daily, cron: "0 3 * * *", timezone: Europe/Berlin}`, "1"))
	require.Equal(t, http.StatusCreated, a.status, a.body)
	sid := schedules.ID(id, "daily")
	d := describeSchedule(t, sid)
	require.False(t, d.Schedule.State.Paused)
	require.Equal(t, "Europe/Berlin", d.Schedule.Spec.TimeZoneName)
	require.NotEmpty(t, d.Info.NextActionTimes)
	next := d.Info.NextActionTimes[0].In(mustZone(t, "Europe/Berlin"))
	require.Equal(t, 3, next.Hour(), "cron read in the entry's time zone")

	a = s.call("POST", "/api/v1/flows/"+id+"/disable", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	d = describeSchedule(t, sid)
	require.True(t, d.Schedule.State.Paused)
	require.Equal(t, schedules.DisabledNote, d.Schedule.State.Note)

	a = s.call("POST", "/api/v1/flows/"+id+"/enable", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.False(t, describeSchedule(t, sid).Schedule.State.Paused)

	// An operator's pause survives enabling the flow.
	require.Equal(t, http.StatusOK, s.call("POST", "/api/v1/flows/"+id+"/schedules/daily/pause", writeKey, "application/json", `{"note":"held by ops"}`).status)
	require.Equal(t, http.StatusOK, s.call("POST", "/api/v1/flows/"+id+"/enable", writeKey, "", "").status)
	require.Equal(t, "held by ops", describeSchedule(t, sid).Schedule.State.Note)
	require.True(t, describeSchedule(t, sid).Schedule.State.Paused)

	// A new version: the action starts version 2, the timing follows.
	a = s.call("PUT", "/api/v1/flows/"+id, writeKey, "application/yaml", scheduledFlow(id, `  - {id: daily, cron: "30 4 * * *", timezone: UTC, overlap: bufferAll}`, "2"))
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, `"kind":"update"`)
	d = describeSchedule(t, sid)
	act := d.Schedule.Action.(*sdkclient.ScheduleWorkflowAction)
	var in contract.Input
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(act.Args[0].(*commonpb.Payload), &in))
	require.Equal(t, int64(2), in.FlowVersion)
	require.Equal(t, "UTC", d.Schedule.Spec.TimeZoneName)
	require.Equal(t, 4, d.Info.NextActionTimes[0].UTC().Hour())
	require.Equal(t, 30, d.Info.NextActionTimes[0].UTC().Minute())
	require.True(t, d.Schedule.State.Paused, "the operator's pause stays across an update")

	// Delete: the schedule is gone.
	a = s.call("DELETE", "/api/v1/flows/"+id, writeKey, "", "")
	require.Equal(t, http.StatusNoContent, a.status, a.body)
	_, err := shared.client.ScheduleClient().GetHandle(context.Background(), sid).Describe(context.Background())
	var nf *serviceerror.NotFound
	require.True(t, errors.As(err, &nf), "want not found, got %v", err)
}

// uniqueFlowID makes each run of a test (-count=N) use its own flow, so
// runs left by an earlier one on the shared server are not counted.
func uniqueFlowID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	require.NoError(t, err)
	return l
}

func TestABackfillOfARangeStartsOneRunPerNominalTimeInIt(t *testing.T) {
	s := setupAdmin(t)
	id := uniqueFlowID("it-sched-backfill")
	cleanupFlow(s, id, "hourly")
	// Hourly, so nothing fires on its own during the test.
	a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", scheduledFlow(id, `  - {id: hourly, every: 1h, input: {n: 1}}`, "1"))
	require.Equal(t, http.StatusCreated, a.status, a.body)
	// 00:00 to 04:00: both ends included, five nominal times. allowAll,
	// so runs of the backfill do not skip each other.
	a = s.call("POST", "/api/v1/flows/"+id+"/schedules/hourly/backfill", writeKey, "application/json",
		`{"start":"2020-01-01T00:00:00Z","end":"2020-01-01T04:00:00Z","overlap":"allowAll"}`)
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	q := fmt.Sprintf(`HookflowFlowId = %q AND HookflowTriggerMode = "schedule" AND ExecutionStatus = "Completed"`, id)
	var runs []string
	require.Eventually(t, func() bool { runs = listRuns(t, q); return len(runs) >= 5 }, 30*time.Second, 200*time.Millisecond)
	var nominal []string
	for _, r := range runs {
		wid, rid, _ := strings.Cut(r, "/")
		var res contract.RunResult
		require.NoError(t, shared.client.GetWorkflow(context.Background(), wid, rid).Get(context.Background(), &res))
		nominal = append(nominal, res.Output["at"].(string))
	}
	require.ElementsMatch(t, []string{"2020-01-01T00:00:00Z", "2020-01-01T01:00:00Z", "2020-01-01T02:00:00Z", "2020-01-01T03:00:00Z", "2020-01-01T04:00:00Z"}, nominal)
	// Nothing more comes: the count stays five.
	time.Sleep(time.Second)
	require.Len(t, listRuns(t, fmt.Sprintf(`HookflowFlowId = %q`, id)), 5)

	// Trigger now: one more run, now.
	a = s.call("POST", "/api/v1/flows/"+id+"/schedules/hourly/trigger", writeKey, "", "")
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	require.Eventually(t, func() bool { return len(listRuns(t, q)) == 6 }, 20*time.Second, 200*time.Millisecond)

	// Refusals with paths.
	for _, tc := range []struct{ body, path string }{
		{`{"end":"2020-01-01T04:00:00Z"}`, "start"},
		{`{"start":"2020-01-01T04:00:00Z","end":"2020-01-01T00:00:00Z"}`, "end"},
		{`{"start":"2020-01-01T00:00:00Z","end":"2030-01-01T00:00:00Z"}`, "end"},
		{`{"start":"2020-01-01T00:00:00Z","end":"2020-01-01T04:00:00Z","overlap":"queue"}`, "overlap"},
	} {
		a = s.call("POST", "/api/v1/flows/"+id+"/schedules/hourly/backfill", writeKey, "application/json", tc.body)
		require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
		require.Equal(t, tc.path, a.json(t)["path"], a.body)
	}
	a = s.call("POST", "/api/v1/flows/"+id+"/schedules/nope/trigger", writeKey, "", "")
	require.Equal(t, http.StatusNotFound, a.status, a.body)
}

func TestAFlowWithABadScheduleIsRefusedWithItsPathAndNothingIsSaved(t *testing.T) {
	s := setupAdmin(t)
	for _, tc := range []struct{ entry, path string }{
		{`{id: a, cron: "0 25 * * *"}`, "schedules[0].cron"},
		{`{id: a, cron: "0 2 * * *", timezone: Europe/Atlantis}`, "schedules[0].timezone"},
		{`{id: a, every: 100ms}`, "schedules[0].every"},
		{`{id: a, every: 1m, overlap: whenever}`, "schedules[0].overlap"},
	} {
		a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", scheduledFlow("it-sched-bad", "  - "+tc.entry, "1"))
		require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
		require.Equal(t, tc.path, a.json(t)["path"], a.body)
	}
	a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", "id: it-sched-bad\nschedules: [{id: a, every: 1m}]\nsteps: [{id: r, type: response, status: 200}]\n")
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "steps[0]", a.json(t)["path"], a.body)
	require.Equal(t, http.StatusNotFound, s.call("GET", "/api/v1/flows/it-sched-bad", readKey, "", "").status)
	_, err := shared.client.ScheduleClient().GetHandle(context.Background(), schedules.ID("it-sched-bad", "a")).Describe(context.Background())
	var nf *serviceerror.NotFound
	require.True(t, errors.As(err, &nf), "nothing reached Temporal: %v", err)
}

func TestReconcileRepairsDriftAndSaysWhatItChanged(t *testing.T) {
	s := setupAdmin(t)
	id := uniqueFlowID("it-sched-drift")
	cleanupFlow(s, id, "a", "b")
	a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", scheduledFlow(id, "  - {id: a, every: 1h}\n  - {id: b, every: 2h}", "1"))
	require.Equal(t, http.StatusCreated, a.status, a.body)
	ctx := context.Background()
	sc := shared.client.ScheduleClient()
	// Drift made directly in Temporal: one schedule deleted, an orphan of
	// a flow the store does not have.
	require.NoError(t, sc.GetHandle(ctx, schedules.ID(id, "b")).Delete(ctx))
	orphan := schedules.ID("it-sched-gone", "x")
	_, err := sc.Create(ctx, sdkclient.ScheduleOptions{ID: orphan, Spec: sdkclient.ScheduleSpec{Intervals: []sdkclient.ScheduleIntervalSpec{{Every: time.Hour}}},
		Action: &sdkclient.ScheduleWorkflowAction{ID: "it-sched-gone", Workflow: contract.WorkflowName, TaskQueue: contract.TaskQueue, Args: []any{contract.Input{}}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sc.GetHandle(ctx, orphan).Delete(ctx) })
	// The orphan is found through Temporal's schedule list (visibility).
	require.Eventually(t, func() bool {
		it, err := sc.List(ctx, sdkclient.ScheduleListOptions{})
		require.NoError(t, err)
		for it.HasNext() {
			e, err := it.Next()
			require.NoError(t, err)
			if e.ID == orphan {
				return true
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond)

	a = s.call("POST", "/api/v1/schedules/reconcile", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	var got []string
	for _, c := range a.json(t)["changes"].([]any) {
		m := c.(map[string]any)
		got = append(got, m["kind"].(string)+" "+m["scheduleId"].(string))
	}
	require.Equal(t, []string{"create " + schedules.ID(id, "b"), "delete " + orphan}, got)
	describeSchedule(t, schedules.ID(id, "b"))
	a = s.call("POST", "/api/v1/schedules/reconcile", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.JSONEq(t, `{"changes":[]}`, a.body, "a second reconcile finds nothing to do")
}

// An edit made directly in Temporal (as in the Web UI: the spec and the
// policies changed, the action and its memo left alone) is drift: the
// operator's view says the schedule is out of step, and a reconcile
// rewrites it to the store's timing, saying what it found.
func TestAScheduleEditedInTemporalWithItsMemoLeftAloneIsSeenAndRepairedByAReconcile(t *testing.T) {
	s := setupAdmin(t)
	id := uniqueFlowID("it-sched-edit")
	cleanupFlow(s, id, "weekdays", "tick")
	a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", scheduledFlow(id,
		"  - {id: weekdays, cron: \"30 2 * * 1-5\", timezone: Europe/Berlin, jitter: 1m, overlap: bufferOne, catchupWindow: 1h}\n  - {id: tick, every: 1h, offset: 5m}", "1"))
	require.Equal(t, http.StatusCreated, a.status, a.body)
	inStep := func() map[string]any {
		a := s.call("GET", "/api/v1/flows/"+id+"/schedules", readKey, "", "")
		require.Equal(t, http.StatusOK, a.status, a.body)
		out := map[string]any{}
		for _, x := range a.json(t)["schedules"].([]any) {
			m := x.(map[string]any)
			out[m["id"].(string)] = m["inStep"]
		}
		return out
	}
	// As hookflow wrote them (a cron expression comes back from Temporal
	// as a calendar, an unset catch-up window as Temporal's default):
	// in step, and a reconcile finds nothing to do.
	require.Equal(t, map[string]any{"weekdays": true, "tick": true}, inStep())
	a = s.call("POST", "/api/v1/schedules/reconcile", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.JSONEq(t, `{"changes":[]}`, a.body)

	ctx := context.Background()
	sc := shared.client.ScheduleClient()
	edit := func(sid string, f func(*sdkclient.Schedule)) {
		require.NoError(t, sc.GetHandle(ctx, sid).Update(ctx, sdkclient.ScheduleUpdateOptions{
			DoUpdate: func(in sdkclient.ScheduleUpdateInput) (*sdkclient.ScheduleUpdate, error) {
				sch := in.Description.Schedule
				f(&sch)
				return &sdkclient.ScheduleUpdate{Schedule: &sch}, nil
			},
		}))
	}
	weekdays, tick := schedules.ID(id, "weekdays"), schedules.ID(id, "tick")
	edit(weekdays, func(sch *sdkclient.Schedule) {
		sch.Spec.Calendars = nil
		sch.Spec.CronExpressions = []string{"0 4 * * *"}
		sch.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL
	})
	edit(tick, func(sch *sdkclient.Schedule) {
		sch.Spec.Intervals = []sdkclient.ScheduleIntervalSpec{{Every: 2 * time.Hour}}
	})
	require.Equal(t, map[string]any{"weekdays": false, "tick": false}, inStep())

	a = s.call("POST", "/api/v1/schedules/reconcile", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	var got []string
	for _, c := range a.json(t)["changes"].([]any) {
		m := c.(map[string]any)
		got = append(got, m["kind"].(string)+" "+m["scheduleId"].(string)+": "+m["reason"].(string))
	}
	require.Equal(t, []string{
		"update " + tick + ": edited in Temporal: the intervals are [every 2h0m0s], want [every 1h0m0s offset 5m0s]",
		"update " + weekdays + `: edited in Temporal: the overlap policy is allowAll, want bufferOne; the calendar differs from "30 2 * * 1-5" in its minute, hour, day of week`,
	}, got)

	// Back to the store's timing.
	d := describeSchedule(t, tick)
	require.Equal(t, []sdkclient.ScheduleIntervalSpec{{Every: time.Hour, Offset: 5 * time.Minute}}, d.Schedule.Spec.Intervals)
	d = describeSchedule(t, weekdays)
	require.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, d.Schedule.Policy.Overlap)
	berlin := mustZone(t, "Europe/Berlin")
	for _, next := range d.Info.NextActionTimes {
		// Jitter (1m) may move a run; the nominal times stay 02:30 on weekdays.
		local := next.In(berlin)
		require.Equal(t, 2, local.Hour(), next)
		require.True(t, local.Weekday() >= time.Monday && local.Weekday() <= time.Friday, next)
	}
	require.Equal(t, map[string]any{"weekdays": true, "tick": true}, inStep())
	a = s.call("POST", "/api/v1/schedules/reconcile", writeKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.JSONEq(t, `{"changes":[]}`, a.body, "a second reconcile finds nothing to do")
}

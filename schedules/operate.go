package schedules

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/flow/trigger"
)

// Info is one of a flow's schedules as operators see it: the entry from
// the store beside Temporal's state of its schedule.
type Info struct {
	ID         string           `json:"id"`
	ScheduleID string           `json:"scheduleId"`
	Entry      trigger.Schedule `json:"entry"`
	// Exists is false when Temporal has no schedule for the entry (a
	// reconcile creates it).
	Exists bool   `json:"exists"`
	Paused bool   `json:"paused"`
	Note   string `json:"note,omitempty"`
	// InStep is false when the schedule starts another flow version, input
	// or timing than the store says, or was edited in Temporal (its spec,
	// policies or action target differ: a reconcile rewrites it).
	InStep           bool        `json:"inStep"`
	NextRuns         []time.Time `json:"nextRuns,omitempty"`
	RecentRuns       []RecentRun `json:"recentRuns,omitempty"`
	Running          []string    `json:"running,omitempty"`
	Actions          int         `json:"actions"`
	SkippedByOverlap int         `json:"skippedByOverlap"`
	MissedCatchup    int         `json:"missedCatchupWindow"`
}

// RecentRun is one run a schedule started.
type RecentRun struct {
	ScheduledAt time.Time `json:"scheduledAt"`
	StartedAt   time.Time `json:"startedAt"`
	ExecutionID string    `json:"executionId"`
	RunID       string    `json:"runId"`
	// Status is the execution's status now, as the executions API names
	// it (running, completed, failed, ...); empty once retention deleted
	// it.
	Status string `json:"status,omitempty"`
}

// Infos returns each of f's schedules with Temporal's state, in entry
// order.
func (c *Client) Infos(ctx context.Context, f Flow, set Settings) ([]Info, error) {
	out := []Info{}
	for _, d := range Desire(f, set) {
		info := Info{ID: d.Entry.ID, ScheduleID: d.ID, Entry: d.Entry}
		desc, err := c.sc().GetHandle(ctx, d.ID).Describe(ctx)
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			out = append(out, info)
			continue
		case err != nil:
			return nil, fmt.Errorf("describe schedule %s: %w", d.ID, err)
		}
		info.Exists = true
		if st := desc.Schedule.State; st != nil {
			info.Paused, info.Note = st.Paused, st.Note
		}
		if wa, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction); ok {
			info.InStep = c.fingerprint(wa) == d.Fingerprint && len(Drift(&d, described(desc))) == 0
		}
		info.NextRuns = desc.Info.NextActionTimes
		for _, r := range desc.Info.RecentActions {
			rr := RecentRun{ScheduledAt: r.ScheduleTime, StartedAt: r.ActualTime}
			if w := r.StartWorkflowResult; w != nil {
				rr.ExecutionID, rr.RunID = w.WorkflowID, w.FirstExecutionRunID
				rr.Status = c.status(ctx, w.WorkflowID)
			}
			info.RecentRuns = append(info.RecentRuns, rr)
		}
		for _, w := range desc.Info.RunningWorkflows {
			info.Running = append(info.Running, w.WorkflowID)
		}
		info.Actions = desc.Info.NumActions
		info.SkippedByOverlap = desc.Info.NumActionsSkippedOverlap
		info.MissedCatchup = desc.Info.NumActionsMissedCatchupWindow
		out = append(out, info)
	}
	return out, nil
}

// OperatorPause pauses a schedule with an operator's note; enabling the
// flow does not undo it (only DisabledNote pauses are).
func (c *Client) OperatorPause(ctx context.Context, id, note string) error {
	if note == "" || note == DisabledNote {
		note = "paused by an operator"
	}
	return c.Pause(ctx, id, note)
}

// TriggerNow starts a run at once, under the entry's overlap policy.
func (c *Client) TriggerNow(ctx context.Context, d *Desired) error {
	return notFound(c.sc().GetHandle(ctx, d.ID).Trigger(ctx, client.ScheduleTriggerOptions{Overlap: d.Options.Overlap}))
}

// Backfill starts the runs the schedule would have started in [start,
// end), under the entry's overlap policy (Temporal's ScheduleBackfill).
func (c *Client) Backfill(ctx context.Context, d *Desired, start, end time.Time) error {
	return notFound(c.sc().GetHandle(ctx, d.ID).Backfill(ctx, client.ScheduleBackfillOptions{
		Backfill: []client.ScheduleBackfill{{Start: start, End: end, Overlap: d.Options.Overlap}},
	}))
}

// status is an execution's status (its latest run: a continued run goes
// on under the same id), lower-case as the executions API names it; ""
// when it cannot be read (deleted by retention).
func (c *Client) status(ctx context.Context, id string) string {
	d, err := c.C.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		return ""
	}
	return strings.ToLower(d.GetWorkflowExecutionInfo().GetStatus().String())
}

package schedules

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
)

// Temporal is the seam to Temporal's ScheduleClient the reconciler works
// through (temporal.go is the real one; tests use a fake).
type Temporal interface {
	// List returns hookflow's schedules whose id starts with prefix.
	// Temporal answers it from visibility, which may lag a write by a
	// moment.
	List(ctx context.Context, prefix string) ([]Actual, error)
	// Describe reads one schedule; found is false when there is none.
	Describe(ctx context.Context, id string) (a Actual, found bool, err error)
	// Create fails with ErrExists when the id is taken.
	Create(ctx context.Context, d *Desired) error
	// Update rewrites spec, action and policies, keeping the pause state.
	Update(ctx context.Context, d *Desired) error
	Pause(ctx context.Context, id, note string) error
	Unpause(ctx context.Context, id, note string) error
	Delete(ctx context.Context, id string) error
}

// ErrExists: a schedule with the id exists already (another replica
// created it between our read and our create).
var ErrExists = errors.New("schedule exists")

// ErrNotFound: no schedule with the id.
var ErrNotFound = errors.New("schedule not found")

// Reconciler applies plans through Temporal.
type Reconciler struct {
	T        Temporal
	Settings Settings
	Log      *slog.Logger
}

// SyncFlow brings one flow's schedules in step with the store: f nil (the
// flow was deleted) removes them all. Besides the schedules the flow wants,
// it reads those listed under the flow's prefix and the ids in also (the
// previous version's entries, which a listing may not show yet), each by a
// consistent Describe. It returns what it changed.
func (r *Reconciler) SyncFlow(ctx context.Context, flowID string, f *Flow, also ...string) ([]Change, error) {
	var desired []Desired
	if f != nil {
		desired = Desire(*f, r.Settings)
	}
	ids := map[string]bool{}
	for _, d := range desired {
		ids[d.ID] = true
	}
	for _, id := range also {
		ids[id] = true
	}
	listed, err := r.T.List(ctx, FlowPrefix(flowID))
	if err != nil {
		return nil, fmt.Errorf("list the schedules of flow %s: %w", flowID, err)
	}
	for _, a := range listed {
		ids[a.ID] = true
	}
	actual, err := r.describe(ctx, ids)
	if err != nil {
		return nil, err
	}
	return r.apply(ctx, Plan(desired, actual))
}

// ReconcileAll brings every hookflow schedule in step with flows (all of
// the store's flows): creates what is missing, updates what drifted, pauses
// and unpauses by the flows' state, deletes orphans. It returns what it
// changed, and the first error after trying every change.
func (r *Reconciler) ReconcileAll(ctx context.Context, flows []Flow) ([]Change, error) {
	return r.ReconcileWith(ctx, func(context.Context) ([]Flow, error) { return flows, nil })
}

// ReconcileWith is ReconcileAll on the flows read returns, read after
// Temporal's schedules: a flow written meanwhile (through this or another
// replica, whose write syncs its schedules) is then in the flows read, so
// its new schedule is never taken for an orphan and deleted, as it could
// be if the store were read first. Reconciles run on every replica, at
// start and on a timer, so the order matters.
func (r *Reconciler) ReconcileWith(ctx context.Context, read func(context.Context) ([]Flow, error)) ([]Change, error) {
	listed, err := r.T.List(ctx, Prefix)
	if err != nil {
		return nil, fmt.Errorf("list hookflow's schedules: %w", err)
	}
	ids := map[string]bool{}
	for _, a := range listed {
		ids[a.ID] = true
	}
	actual, err := r.describe(ctx, ids)
	if err != nil {
		return nil, err
	}
	flows, err := read(ctx)
	if err != nil {
		return nil, err
	}
	var desired []Desired
	more := map[string]bool{}
	for _, f := range flows {
		for _, d := range Desire(f, r.Settings) {
			desired = append(desired, d)
			if !ids[d.ID] {
				more[d.ID] = true // not listed (yet): Describe says whether it exists
			}
		}
	}
	also, err := r.describe(ctx, more)
	if err != nil {
		return nil, err
	}
	return r.apply(ctx, Plan(desired, append(actual, also...)))
}

func (r *Reconciler) describe(ctx context.Context, ids map[string]bool) ([]Actual, error) {
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	var out []Actual
	for _, id := range sorted {
		a, found, err := r.T.Describe(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("describe schedule %s: %w", id, err)
		}
		if found {
			out = append(out, a)
		}
	}
	return out, nil
}

// apply runs a plan's changes in order; a create that finds the schedule
// made meanwhile (another replica) becomes an update. It goes on past a
// failure and returns what it did and the first error.
func (r *Reconciler) apply(ctx context.Context, plan []Change) ([]Change, error) {
	var done []Change
	var first error
	for _, c := range plan {
		var err error
		switch c.Kind {
		case Create:
			err = r.T.Create(ctx, c.Desired)
			if errors.Is(err, ErrExists) {
				c.Kind, c.Reason = Update, "created meanwhile by another replica; rewritten to the store's version"
				err = r.T.Update(ctx, c.Desired)
			}
		case Update:
			err = r.T.Update(ctx, c.Desired)
		case Pause:
			err = r.T.Pause(ctx, c.ID, DisabledNote)
		case Unpause:
			err = r.T.Unpause(ctx, c.ID, "hookflow: the flow is enabled")
		case Delete:
			err = r.T.Delete(ctx, c.ID)
			if errors.Is(err, ErrNotFound) {
				err = nil // deleted meanwhile: what we wanted
			}
		}
		if err != nil {
			if first == nil {
				first = fmt.Errorf("%s schedule %s: %w", c.Kind, c.ID, err)
			}
			continue
		}
		if r.Log != nil {
			r.Log.Info("schedule reconciled", "change", string(c.Kind), "schedule", c.ID, "reason", c.Reason)
		}
		done = append(done, c)
	}
	return done, first
}

package schedules

import (
	"context"

	"github.com/hookflow/hookflow/store"
)

// FromStore is one stored flow as the schedules see it (nil for nil: a
// deleted flow).
func FromStore(f *store.Flow) *Flow {
	if f == nil {
		return nil
	}
	return &Flow{Def: f.Def, Version: f.Version, Enabled: f.Enabled}
}

// StoredFlows reads every flow of the store, for a reconcile.
func StoredFlows(ctx context.Context, flows *store.Flows) ([]Flow, error) {
	all, err := flows.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Flow, 0, len(all))
	for _, f := range all {
		out = append(out, *FromStore(f))
	}
	return out, nil
}

// Reconcile brings every hookflow schedule in step with the store (read
// after Temporal, see ReconcileWith): what an api runs at start and on a
// timer (Loop).
func (r *Reconciler) Reconcile(ctx context.Context, flows *store.Flows) ([]Change, error) {
	return r.ReconcileWith(ctx, func(ctx context.Context) ([]Flow, error) { return StoredFlows(ctx, flows) })
}

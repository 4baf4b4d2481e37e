package destinations

import (
	"context"
	"errors"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// The destinations as flows see them: which flows send to one (a
// destination in use is not deleted) and which of a flow's exist (a flow
// naming a missing one is refused).

// Use is a flow's reference to a destination.
type Use struct {
	FlowID string
	// Path is where in the flow (steps[0].destination, notify.destination).
	Path string
}

// UsedBy is the first of flows (in order) that sends to destination name,
// and where; ok is false when none does.
func UsedBy(flows []*store.Flow, name string) (u Use, ok bool) {
	for _, f := range flows {
		for _, r := range f.Def.Destinations() {
			if r.Name == name {
				return Use{FlowID: f.ID, Path: r.Path}, true
			}
		}
	}
	return Use{}, false
}

// Known tells, for each destination f names, whether the store holds it
// (each read once). An error is the store's: nothing is known then.
func (s *Store) Known(ctx context.Context, f *flow.Flow) (map[string]bool, error) {
	known := map[string]bool{}
	for _, r := range f.Destinations() {
		if _, seen := known[r.Name]; seen {
			continue
		}
		_, err := s.Get(ctx, r.Name)
		switch {
		case err == nil:
			known[r.Name] = true
		case errors.Is(err, store.ErrNotFound):
			known[r.Name] = false
		default:
			return nil, err
		}
	}
	return known, nil
}

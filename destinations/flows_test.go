package destinations_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func storedFlow(t *testing.T, yml string) *store.Flow {
	t.Helper()
	f, err := flow.DecodeYAML([]byte(yml))
	require.NoError(t, err)
	return &store.Flow{ID: f.ID, Def: f}
}

func TestUsedByNamesTheFirstFlowSendingToADestinationAndWhere(t *testing.T) {
	flows := []*store.Flow{
		storedFlow(t, "id: quiet\nsteps: [{id: a, type: set, values: {a: 1}}]\n"),
		storedFlow(t, "id: sends\nsteps:\n  - {id: send, type: http, method: POST, destination: crm, path: x}\n"),
		storedFlow(t, "id: tells\nnotify: {destination: ops, events: [run.failed]}\nsteps: [{id: a, type: set, values: {a: 1}}]\n"),
	}
	cases := []struct {
		name string
		dest string
		want destinations.Use
		used bool
	}{
		{"a step's destination", "crm", destinations.Use{FlowID: "sends", Path: "steps[0].destination"}, true},
		{"a notify destination keeps it too", "ops", destinations.Use{FlowID: "tells", Path: "notify.destination"}, true},
		{"a destination no flow names", "other", destinations.Use{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, used := destinations.UsedBy(flows, c.dest)
			require.Equal(t, c.used, used)
			require.Equal(t, c.want, got)
		})
	}
}

func TestKnownReadsEachNamedDestinationOnce(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			ds := destinations.NewStore(s)
			_, err := ds.Create(ctx, &flow.Destination{Name: "crm", BaseURL: "https://crm.example.com/"})
			require.NoError(t, err)
			f := storedFlow(t, "id: f\nsteps:\n  - {id: a, type: http, method: POST, destination: crm, path: x}\n  - {id: b, type: http, method: POST, destination: crm, path: y}\n  - {id: c, type: http, method: POST, destination: gone, path: z}\n").Def
			before := s.Queries()
			known, err := ds.Known(ctx, f)
			require.NoError(t, err)
			require.Equal(t, map[string]bool{"crm": true, "gone": false}, known)
			require.Equal(t, int64(2), s.Queries()-before, "one read each: crm once however many steps name it")
		})
	}
}

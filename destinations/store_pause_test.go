package destinations_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store/storetest"
)

// A second pause is no new pause: the workers derive the paused event's
// id from when the pause began, so moving it would notify twice.
func TestPausingAPausedDestinationKeepsWhenItsPauseBegan(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			ds := destinations.NewStore(s)
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			destinations.SetClock(ds, func() time.Time { return now })
			_, err := ds.Create(ctx, &flow.Destination{Name: "crm", BaseURL: "https://crm.example.com/"})
			require.NoError(t, err)

			first, err := ds.Pause(ctx, "crm", true, "maintenance")
			require.NoError(t, err)
			require.Equal(t, now, *first.State.PausedAt)
			now = now.Add(time.Minute)
			again, err := ds.Pause(ctx, "crm", true, "longer maintenance")
			require.NoError(t, err)
			require.True(t, again.State.Paused)
			require.Equal(t, *first.State.PausedAt, *again.State.PausedAt, "the pause began at the first")
			require.Equal(t, "longer maintenance", again.State.PauseReason)

			resumed, err := ds.Pause(ctx, "crm", false, "")
			require.NoError(t, err)
			require.False(t, resumed.State.Paused)
			require.Nil(t, resumed.State.PausedAt)
			next, err := ds.Pause(ctx, "crm", true, "")
			require.NoError(t, err)
			require.Equal(t, now, *next.State.PausedAt, "a pause after a resume begins anew")
		})
	}
}

package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPausingAPausedDestinationKeepsWhenItsPauseBegan: the pause
// notification's id derives from pausedAt, so a second pause that moved it
// was sent as a second destination.paused event (TestNotifyPauseResume,
// intermittently, when a worker reloaded between the two).
func TestPausingAPausedDestinationKeepsWhenItsPauseBegan(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			_, err := s.Destinations().Create(ctx, testDestination(t, "name: crm\nbaseUrl: https://crm.example.com/\n"))
			require.NoError(t, err)
			first, err := s.Destinations().Pause(ctx, "crm", true, "maintenance")
			require.NoError(t, err)
			require.NotNil(t, first.State.PausedAt)
			time.Sleep(5 * time.Millisecond) // the store's clock is milliseconds
			again, err := s.Destinations().Pause(ctx, "crm", true, "still maintenance")
			require.NoError(t, err)
			require.True(t, again.State.Paused)
			require.Equal(t, *first.State.PausedAt, *again.State.PausedAt, "a second pause is not a new pause")
			require.Equal(t, "still maintenance", again.State.PauseReason)

			resumed, err := s.Destinations().Pause(ctx, "crm", false, "")
			require.NoError(t, err)
			require.False(t, resumed.State.Paused)
			require.Nil(t, resumed.State.PausedAt)
			time.Sleep(5 * time.Millisecond)
			paused, err := s.Destinations().Pause(ctx, "crm", true, "")
			require.NoError(t, err)
			require.True(t, paused.State.PausedAt.After(*first.State.PausedAt), "a pause after a resume is a new pause")
		})
	}
}

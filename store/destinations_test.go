package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

func testDestination(t *testing.T, yml string) *flow.Destination {
	t.Helper()
	d, err := flow.DecodeDestination([]byte(yml), true)
	require.NoError(t, err)
	return d
}

func TestDestinationsVersionsAndState(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			d := testDestination(t, "name: crm\nbaseUrl: https://crm.example.com/v1/\nauth: {type: bearer, tokenSecret: crm_token}\n")
			got, err := s.CreateDestination(ctx, d)
			require.NoError(t, err)
			require.Equal(t, int64(1), got.Version)
			require.Equal(t, store.CircuitClosed, got.State.Circuit)
			_, err = s.CreateDestination(ctx, d)
			require.ErrorIs(t, err, store.ErrExists)

			_, changed, err := s.UpdateDestination(ctx, d, 1)
			require.NoError(t, err)
			require.False(t, changed, "an unchanged definition makes no version")
			d2 := testDestination(t, "name: crm\nbaseUrl: https://crm2.example.com/v1/\n")
			got, changed, err = s.UpdateDestination(ctx, d2, 1)
			require.NoError(t, err)
			require.True(t, changed)
			require.Equal(t, int64(2), got.Version)
			_, _, err = s.UpdateDestination(ctx, d, 1)
			require.ErrorIs(t, err, store.ErrConflict)
			vs, err := s.DestinationVersions(ctx, "crm")
			require.NoError(t, err)
			require.Len(t, vs, 2)
			require.Equal(t, "https://crm.example.com/v1/", vs[0].Def.BaseURL)

			got, err = s.PauseDestination(ctx, "crm", true, "maintenance")
			require.NoError(t, err)
			require.True(t, got.State.Paused)
			require.Equal(t, "maintenance", got.State.PauseReason)
			got, err = s.PauseDestination(ctx, "crm", false, "")
			require.NoError(t, err)
			require.False(t, got.State.Paused)
			require.Equal(t, int64(2), got.Version, "pausing makes no version")

			// Three failures open the circuit once, however many workers
			// report them at the same time.
			var wg sync.WaitGroup
			transitions := make(chan string, 6)
			for range 6 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tr, err := s.RecordOutcome(ctx, "crm", false, false, 3, time.Hour, "receiver answered 500")
					require.NoError(t, err)
					transitions <- tr
				}()
			}
			wg.Wait()
			close(transitions)
			opened := 0
			for tr := range transitions {
				if tr == store.TransitionOpened {
					opened++
				}
			}
			require.Equal(t, 1, opened)
			got, err = s.GetDestination(ctx, "crm")
			require.NoError(t, err)
			require.Equal(t, store.CircuitOpen, got.State.Circuit)
			require.EqualValues(t, 6, got.State.ConsecutiveFailures)

			// The probe is not due for an hour: nobody claims it.
			ok, err := s.ClaimProbe(ctx, "crm", "w1", time.Minute)
			require.NoError(t, err)
			require.False(t, ok)
			_, err = s.ResetCircuit(ctx, "crm")
			require.NoError(t, err)
			for range 2 {
				_, err = s.RecordOutcome(ctx, "crm", false, false, 2, 0, "x")
				require.NoError(t, err)
			}
			ok, err = s.ClaimProbe(ctx, "crm", "w1", time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = s.ClaimProbe(ctx, "crm", "w2", time.Minute)
			require.NoError(t, err)
			require.False(t, ok, "one worker holds the probe")
			ok, err = s.StartProbe(ctx, "crm", "w1")
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = s.StartProbe(ctx, "crm", "w1")
			require.NoError(t, err)
			require.False(t, ok, "one probe per claim")
			tr, err := s.RecordOutcome(ctx, "crm", true, true, 2, 0, "")
			require.NoError(t, err)
			require.Equal(t, store.TransitionClosed, tr)
			got, err = s.GetDestination(ctx, "crm")
			require.NoError(t, err)
			require.Equal(t, store.CircuitClosed, got.State.Circuit)
			require.Zero(t, got.State.ConsecutiveFailures)

			require.NoError(t, s.DeleteDestination(ctx, "crm"))
			_, err = s.GetDestination(ctx, "crm")
			require.True(t, errors.Is(err, store.ErrNotFound))
		})
	}
}

package capture_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/capture"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestCapturesAreTakenOnceAcrossWriters(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			caps := capture.NewStore(s)
			_, err := caps.Arm(ctx, "nope", 1, time.Now().Add(time.Minute))
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.Flows().Create(ctx, storetest.Flow(t, "id: cap\nsteps: [{id: a, type: set, values: {x: 1}}]\n"))
			require.NoError(t, err)

			_, ok, err := caps.Take(ctx, "cap", capture.Request{Method: "POST"})
			require.NoError(t, err)
			require.False(t, ok, "not armed: nothing recorded")

			arm, err := caps.Arm(ctx, "cap", 3, time.Now().Add(time.Minute))
			require.NoError(t, err)
			require.Equal(t, 3, arm.Remaining)
			armed, err := caps.ArmOf(ctx, "cap")
			require.NoError(t, err)
			require.Equal(t, 3, armed.Remaining)

			// Ten requests at once (as from several replicas): three are
			// recorded, the others run the flow.
			var mu sync.Mutex
			taken := 0
			var wg sync.WaitGroup
			for i := 0; i < 10; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, ok, err := caps.Take(ctx, "cap", capture.Request{Method: "POST", Body: map[string]any{"n": 1.0}})
					require.NoError(t, err)
					if ok {
						mu.Lock()
						taken++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			require.Equal(t, 3, taken)
			list, err := caps.List(ctx, "cap")
			require.NoError(t, err)
			require.Len(t, list, 3)
			got, err := caps.Get(ctx, list[0].ID)
			require.NoError(t, err)
			require.Equal(t, map[string]any{"n": 1.0}, got.Request.Body)
			armed, err = caps.ArmOf(ctx, "cap")
			require.NoError(t, err)
			require.Nil(t, armed, "spent")

			// An expired arm records nothing.
			_, err = caps.Arm(ctx, "cap", 5, time.Now().Add(-time.Second))
			require.NoError(t, err)
			_, ok, err = caps.Take(ctx, "cap", capture.Request{Method: "POST"})
			require.NoError(t, err)
			require.False(t, ok)

			// Deleting the flow deletes its captures.
			require.NoError(t, s.Flows().Delete(ctx, "cap"))
			_, err = caps.Get(ctx, list[0].ID)
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	}
}

// Arming one flow from several replicas at once
// succeeds for each (the last one stands), never a key conflict.
func TestConcurrentArmsOfOneFlowAllSucceed(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			caps := capture.NewStore(s)
			_, err := s.Flows().Create(ctx, storetest.Flow(t, "id: cap\nsteps: [{id: a, type: set, values: {x: 1}}]\n"))
			require.NoError(t, err)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := caps.Arm(ctx, "cap", i+1, time.Now().Add(time.Minute))
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			armed, err := caps.ArmOf(ctx, "cap")
			require.NoError(t, err)
			require.NotNil(t, armed, "one of the arms stands")
		})
	}
}

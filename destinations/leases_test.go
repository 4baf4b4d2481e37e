package destinations_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// movableClock is a store clock a test moves.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *movableClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Three leases of maxInFlight 3: a fourth is refused until one is given
// back; a release by a holder whose lease was taken over frees nothing.
func TestLeasesAreAtMostMaxInFlightAndGivenBackByTheirHolder(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ds := destinations.NewStore(open(t))
			_, err := ds.Create(ctx, testDestination(t, "name: crm\nbaseUrl: https://crm.example.com/\nmaxInFlight: 3\n"))
			require.NoError(t, err)

			var held []destinations.Lease
			slots := map[int64]bool{}
			for i := range 3 {
				l, ok, err := ds.TakeLease(ctx, "crm", fmt.Sprint("a", i), 3, time.Minute)
				require.NoError(t, err)
				require.True(t, ok, "lease %d of 3", i+1)
				require.False(t, slots[l.Slot], "slot %d taken twice", l.Slot)
				require.Less(t, l.Slot, int64(3))
				slots[l.Slot] = true
				held = append(held, l)
			}
			_, ok, err := ds.TakeLease(ctx, "crm", "a3", 3, time.Minute)
			require.NoError(t, err)
			require.False(t, ok, "a fourth attempt finds no free lease")
			n, err := ds.LiveLeases(ctx, "crm")
			require.NoError(t, err)
			require.Equal(t, 3, n)

			stale := held[1]
			stale.Holder = "someone-else"
			require.NoError(t, ds.ReleaseLease(ctx, stale))
			_, ok, err = ds.TakeLease(ctx, "crm", "a4", 3, time.Minute)
			require.NoError(t, err)
			require.False(t, ok, "only the holder's release frees its slot")

			require.NoError(t, ds.ReleaseLease(ctx, held[1]))
			l, ok, err := ds.TakeLease(ctx, "crm", "a5", 3, time.Minute)
			require.NoError(t, err)
			require.True(t, ok, "a released lease is free at once")
			require.Equal(t, held[1].Slot, l.Slot)

			_, _, err = ds.TakeLease(ctx, "gone", "x", 3, time.Minute)
			require.ErrorIs(t, err, store.ErrNotFound)
			require.NoError(t, ds.Delete(ctx, "crm"), "a destination with live leases can be deleted")
		})
	}
}

// A worker killed while holding leases never gives them back: they
// expire at their ttl on the store's clock, and then another worker takes
// the slots over; its own release is not undone by the dead holder's.
func TestLeasesOfADeadWorkerAreTakenOverAfterTheyExpire(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ds := destinations.NewStore(open(t))
			clock := &movableClock{t: time.Unix(1_800_000_000, 0)}
			destinations.SetClock(ds, clock.now)
			_, err := ds.Create(ctx, testDestination(t, "name: crm\nbaseUrl: https://crm.example.com/\nmaxInFlight: 2\n"))
			require.NoError(t, err)

			var dead []destinations.Lease
			for i := range 2 {
				l, ok, err := ds.TakeLease(ctx, "crm", fmt.Sprint("dead-", i), 2, 40*time.Second)
				require.NoError(t, err)
				require.True(t, ok)
				dead = append(dead, l)
			}
			clock.advance(40*time.Second - time.Millisecond)
			_, ok, err := ds.TakeLease(ctx, "crm", "live-0", 2, 40*time.Second)
			require.NoError(t, err)
			require.False(t, ok, "held until they expire")

			clock.advance(time.Millisecond)
			n, err := ds.LiveLeases(ctx, "crm")
			require.NoError(t, err)
			require.Zero(t, n, "expired at their ttl")
			var live []destinations.Lease
			for i := range 2 {
				l, ok, err := ds.TakeLease(ctx, "crm", fmt.Sprint("live-", i), 2, 40*time.Second)
				require.NoError(t, err)
				require.True(t, ok, "expired lease %d is taken over", i)
				live = append(live, l)
			}
			_, ok, err = ds.TakeLease(ctx, "crm", "live-2", 2, 40*time.Second)
			require.NoError(t, err)
			require.False(t, ok, "still at most 2")

			// The dead worker's late release (it was only cut off) frees
			// nothing the live ones hold.
			for _, l := range dead {
				require.NoError(t, ds.ReleaseLease(ctx, l))
			}
			n, err = ds.LiveLeases(ctx, "crm")
			require.NoError(t, err)
			require.Equal(t, 2, n)
			require.NotEqual(t, live[0].Slot, live[1].Slot)
		})
	}
}

// Many workers taking and giving back leases at once never hold more
// than maxInFlight between them (the count is read from the store by the
// takers themselves, each between its take and its release).
func TestConcurrentTakersNeverHoldMoreThanMaxInFlight(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			ds := destinations.NewStore(open(t))
			_, err := ds.Create(ctx, testDestination(t, "name: crm\nbaseUrl: https://crm.example.com/\nmaxInFlight: 4\n"))
			require.NoError(t, err)
			var holding, peak, taken atomic.Int64
			var wg sync.WaitGroup
			for w := range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 15 {
						l, ok, err := ds.TakeLease(ctx, "crm", fmt.Sprintf("w%d-%d", w, i), 4, time.Minute)
						if !assertNoError(t, err) || !ok {
							continue
						}
						taken.Add(1)
						h := holding.Add(1)
						for p := peak.Load(); h > p && !peak.CompareAndSwap(p, h); p = peak.Load() {
						}
						time.Sleep(10 * time.Millisecond)
						holding.Add(-1)
						assertNoError(t, ds.ReleaseLease(ctx, l))
					}
				}()
			}
			wg.Wait()
			t.Logf("%s: %d of 180 takes got a lease, peak held %d", name, taken.Load(), peak.Load())
			require.LessOrEqual(t, peak.Load(), int64(4))
			require.GreaterOrEqual(t, peak.Load(), int64(2), "leases were held side by side")
			n, err := ds.LiveLeases(ctx, "crm")
			require.NoError(t, err)
			require.Zero(t, n, "every lease was given back")
		})
	}
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%v", err)
		return false
	}
	return true
}

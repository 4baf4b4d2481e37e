package destinations_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/store/storetest"
)

// The gates of two workers on one flow store (SQLite and PostgreSQL), as
// their delivery activities use them; the SDK workers are not started
// (tests/destinations_test.go runs them through Temporal).

type noPoller struct{}

func (noPoller) Stop() {}

func startGate(t *testing.T, ds *destinations.Store) *destinations.Supervisor {
	t.Helper()
	m := destinations.NewSupervisor(destinations.Config{
		States: ds, Reload: time.Hour,
		StartPoller: func(*destinations.Destination, string, bool) (destinations.Poller, error) { return noPoller{}, nil },
	})
	m.Start() // reads the destinations once: the gate knows them
	t.Cleanup(m.Stop)
	return m
}

// peakReceiver is a slow receiver that measures, from outside, how many
// requests it holds at once.
type peakReceiver struct {
	now, peak, served atomic.Int64
}

func (p *peakReceiver) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	n := p.now.Add(1)
	for c := p.peak.Load(); n > c && !p.peak.CompareAndSwap(c, n); c = p.peak.Load() {
	}
	time.Sleep(30 * time.Millisecond)
	p.now.Add(-1)
	p.served.Add(1)
	w.WriteHeader(http.StatusOK)
}

func isParked(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == contract.ErrDestinationParked
}

// Two workers, eight deliveries at a time each, to a destination with
// maxInFlight 3: the receiver never holds more than 3, and it does hold
// 3 (the leases pace, they do not serialize); every delivery arrives.
func TestTwoWorkersTogetherNeverExceedMaxInFlight(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			ds := destinations.NewStore(st)
			_, err := ds.Create(ctx, testDestination(t, "name: slow\nbaseUrl: https://slow.example.com/\nmaxInFlight: 3\ncircuitBreaker: {disabled: true}\n"))
			require.NoError(t, err)
			recv := &peakReceiver{}
			srv := httptest.NewServer(recv)
			defer srv.Close()
			// Each worker its own Store on the shared handle, as each
			// process has its own.
			gates := []*destinations.Supervisor{startGate(t, destinations.NewStore(st)), startGate(t, destinations.NewStore(st))}

			const perSlot = 6
			var parked atomic.Int64
			var wg sync.WaitGroup
			for w, g := range gates {
				for slot := range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < perSlot; {
							timing := destinations.Timing{StartToClose: 10 * time.Second, Deadline: time.Now().Add(10 * time.Second), Need: 5 * time.Second}
							a, err := g.Gate(ctx, "slow", timing)
							if isParked(err) {
								parked.Add(1) // Temporal would try it again later
								continue
							}
							if !assertNoError(t, err) {
								return
							}
							resp, err := http.Post(srv.URL+fmt.Sprintf("/%d/%d/%d", w, slot, i), "application/json", nil)
							if err == nil {
								resp.Body.Close()
							}
							g.Done(a, err, 0)
							i++
						}
					}()
				}
			}
			wg.Wait()
			t.Logf("%s: 96 deliveries, peak in flight at the receiver %d, %d attempts parked", name, recv.peak.Load(), parked.Load())
			require.EqualValues(t, 2*8*perSlot, recv.served.Load(), "every delivery arrived")
			require.LessOrEqual(t, recv.peak.Load(), int64(3), "never more than maxInFlight at once")
			require.Equal(t, int64(3), recv.peak.Load(), "maxInFlight is used, not just bounded")
			n, err := ds.LiveLeases(ctx, "slow")
			require.NoError(t, err)
			require.Zero(t, n, "every lease was given back")
		})
	}
}

// A worker killed while holding leases never gives them back: the other
// worker's attempts park until the leases expire (the attempt's
// start-to-close timeout plus the margin, on the store's clock), then go
// out.
func TestLeasesOfAWorkerKilledMidAttemptComeBackAfterExpiry(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			clock := &movableClock{t: time.Now()}
			_, err := destinations.NewStore(st).Create(ctx, testDestination(t, "name: slow\nbaseUrl: https://slow.example.com/\nmaxInFlight: 2\n"))
			require.NoError(t, err)
			killedStore, liveStore := destinations.NewStore(st), destinations.NewStore(st)
			destinations.SetClock(killedStore, clock.now)
			destinations.SetClock(liveStore, clock.now)
			killed, live := startGate(t, killedStore), startGate(t, liveStore)

			timing := destinations.Timing{StartToClose: 20 * time.Second}
			for range 2 {
				_, err := killed.Gate(ctx, "slow", timing)
				require.NoError(t, err) // and never Done: the worker died
			}
			_, err = live.Gate(ctx, "slow", timing)
			require.True(t, isParked(err), "both leases are held: %v", err)

			clock.advance(20 * time.Second)
			_, err = live.Gate(ctx, "slow", timing)
			require.True(t, isParked(err), "held past the attempt's timeout, for the margin: %v", err)

			clock.advance(15 * time.Second)
			a1, err := live.Gate(ctx, "slow", timing)
			require.NoError(t, err, "expired: taken over")
			a2, err := live.Gate(ctx, "slow", timing)
			require.NoError(t, err)
			_, err = live.Gate(ctx, "slow", timing)
			require.True(t, isParked(err), "still at most 2")
			live.Done(a1, nil, 0)
			live.Done(a2, nil, 0)
			n, err := liveStore.LiveLeases(ctx, "slow")
			require.NoError(t, err)
			require.Zero(t, n)
		})
	}
}

package destinations_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func testDestination(t *testing.T, yml string) *flow.Destination {
	t.Helper()
	d, err := flow.DecodeDestination([]byte(yml), true)
	require.NoError(t, err)
	return d
}

func TestDestinationsKeepVersionsApartFromTheirSharedState(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			ds := destinations.NewStore(s)
			d := testDestination(t, "name: crm\nbaseUrl: https://crm.example.com/v1/\nauth: {type: bearer, tokenSecret: crm_token}\n")
			got, err := ds.Create(ctx, d)
			require.NoError(t, err)
			require.Equal(t, int64(1), got.Version)
			require.Equal(t, destinations.CircuitClosed, got.State.Circuit)
			_, err = ds.Create(ctx, d)
			require.ErrorIs(t, err, store.ErrExists)

			_, changed, err := ds.Update(ctx, d, 1)
			require.NoError(t, err)
			require.False(t, changed, "an unchanged definition makes no version")
			d2 := testDestination(t, "name: crm\nbaseUrl: https://crm2.example.com/v1/\n")
			got, changed, err = ds.Update(ctx, d2, 1)
			require.NoError(t, err)
			require.True(t, changed)
			require.Equal(t, int64(2), got.Version)
			_, _, err = ds.Update(ctx, d, 1)
			require.ErrorIs(t, err, store.ErrConflict)
			vs, err := ds.Versions(ctx, "crm")
			require.NoError(t, err)
			require.Len(t, vs, 2)
			require.Equal(t, "https://crm.example.com/v1/", vs[0].Def.BaseURL)

			got, err = ds.Pause(ctx, "crm", true, "maintenance")
			require.NoError(t, err)
			require.True(t, got.State.Paused)
			require.Equal(t, "maintenance", got.State.PauseReason)
			got, err = ds.Pause(ctx, "crm", false, "")
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
					tr, err := ds.RecordOutcome(ctx, "crm", false, false, 3, time.Hour, "receiver answered 500")
					require.NoError(t, err)
					transitions <- tr
				}()
			}
			wg.Wait()
			close(transitions)
			opened := 0
			for tr := range transitions {
				if tr == destinations.TransitionOpened {
					opened++
				}
			}
			require.Equal(t, 1, opened)
			got, err = ds.Get(ctx, "crm")
			require.NoError(t, err)
			require.Equal(t, destinations.CircuitOpen, got.State.Circuit)
			require.EqualValues(t, 6, got.State.ConsecutiveFailures)

			// The probe is not due for an hour: nobody claims it.
			ok, err := ds.ClaimProbe(ctx, "crm", "w1", time.Minute)
			require.NoError(t, err)
			require.False(t, ok)
			_, err = ds.ResetCircuit(ctx, "crm")
			require.NoError(t, err)
			for range 2 {
				_, err = ds.RecordOutcome(ctx, "crm", false, false, 2, 0, "x")
				require.NoError(t, err)
			}
			ok, err = ds.ClaimProbe(ctx, "crm", "w1", time.Minute)
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = ds.ClaimProbe(ctx, "crm", "w2", time.Minute)
			require.NoError(t, err)
			require.False(t, ok, "one worker holds the probe")
			ok, err = ds.StartProbe(ctx, "crm", "w1")
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = ds.StartProbe(ctx, "crm", "w1")
			require.NoError(t, err)
			require.False(t, ok, "one probe per claim")
			require.NoError(t, ds.ReleaseProbe(ctx, "crm", "w2"), "not w2's")
			ok, err = ds.StartProbe(ctx, "crm", "w1")
			require.NoError(t, err)
			require.False(t, ok, "another worker cannot give it back")
			require.NoError(t, ds.ReleaseProbe(ctx, "crm", "w1"))
			ok, err = ds.StartProbe(ctx, "crm", "w1")
			require.NoError(t, err)
			require.True(t, ok, "a probe that sent nothing is given back")
			tr, err := ds.RecordOutcome(ctx, "crm", true, true, 2, 0, "")
			require.NoError(t, err)
			require.Equal(t, destinations.TransitionClosed, tr)
			got, err = ds.Get(ctx, "crm")
			require.NoError(t, err)
			require.Equal(t, destinations.CircuitClosed, got.State.Circuit)
			require.Zero(t, got.State.ConsecutiveFailures)

			require.NoError(t, ds.Delete(ctx, "crm"))
			_, err = ds.Get(ctx, "crm")
			require.True(t, errors.Is(err, store.ErrNotFound))
		})
	}
}

// A period limit admits exactly max attempts per window, however many
// workers ask at the same time; a refusal counts nothing and names when
// the window ends; the next window admits again, its first attempt
// reporting the transition.
func TestDestinationLimitsNeverOverAdmit(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			ds := destinations.NewStore(s)
			d := testDestination(t, "name: quota\nbaseUrl: https://q.example.com/\nlimits: [{per: 3s, max: 7}, {per: 1h, max: 10}]\n")
			_, err := ds.Create(ctx, d)
			require.NoError(t, err)
			// Start right after a 3 s boundary, so the burst lands in one window.
			time.Sleep(time.Until(time.UnixMilli(d.Limits[0].WindowStart(time.Now()) + 3000 + 50)))

			var admitted, limited atomic.Int64
			var wg sync.WaitGroup
			var resets sync.Map
			for range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a, err := ds.AdmitAttempt(ctx, "quota", d.Limits)
					require.NoError(t, err)
					if a.Admitted {
						admitted.Add(1)
					} else {
						resets.Store(a.ResetsAt, true)
					}
					if a.Transition == destinations.TransitionLimited {
						limited.Add(1)
					}
				}()
			}
			wg.Wait()
			require.EqualValues(t, 7, admitted.Load(), "exactly max in the window")
			require.EqualValues(t, 1, limited.Load(), "one attempt used the limit up")
			end := time.UnixMilli(d.Limits[0].WindowStart(time.Now()) + 3000).UTC()
			resets.Range(func(k, _ any) bool {
				require.Equal(t, end, k.(time.Time), "a refusal names the window's end")
				return true
			})
			got, err := ds.Get(ctx, "quota")
			require.NoError(t, err)
			require.Equal(t, destinations.StatusLimited, got.State.Status)
			require.Equal(t, end, *got.State.LimitedUntil)
			require.Len(t, got.State.Limits, 2)
			require.EqualValues(t, 7, got.State.Limits[0].Used)
			require.EqualValues(t, 7, got.State.Limits[1].Used, "a refused attempt counted in no period")
			list, err := ds.List(ctx)
			require.NoError(t, err)
			require.Equal(t, destinations.StatusLimited, list[0].State.Status)

			// The next window: 3 more fit under the hour's 10.
			time.Sleep(time.Until(end) + 20*time.Millisecond)
			got, err = ds.Get(ctx, "quota")
			require.NoError(t, err)
			require.Equal(t, destinations.StatusClosed, got.State.Status)
			require.Zero(t, got.State.Limits[0].Used)
			n := 0
			for i := range 5 {
				a, err := ds.AdmitAttempt(ctx, "quota", d.Limits)
				require.NoError(t, err)
				if i == 0 {
					require.Equal(t, destinations.TransitionUnlimited, a.Transition, "the first after a used-up window")
				}
				if a.Admitted {
					n++
				} else {
					require.Equal(t, time.UnixMilli(d.Limits[1].WindowStart(time.Now())+3600_000).UTC(), a.ResetsAt, "the hour's end")
				}
			}
			require.Equal(t, 3, n)
			got, err = ds.Get(ctx, "quota")
			require.NoError(t, err)
			require.Equal(t, destinations.StatusLimited, got.State.Status)
			require.EqualValues(t, 3, got.State.Limits[0].Used)
			require.EqualValues(t, 10, got.State.Limits[1].Used)

			q := s.Queries()
			a, err := ds.AdmitAttempt(ctx, "quota", nil)
			require.NoError(t, err)
			require.True(t, a.Admitted, "no limits: always admitted")
			require.Equal(t, q, s.Queries(), "and nothing is written")

			// What an admission costs: one transaction, an upsert per limit.
			big := testDestination(t, "name: cost\nbaseUrl: https://q.example.com/\nlimits: [{per: 1h, max: 1000000}, {per: 24h, max: 1000000}]\n")
			_, err = ds.Create(ctx, big)
			require.NoError(t, err)
			const rounds = 200
			start := time.Now()
			for range rounds {
				a, err := ds.AdmitAttempt(ctx, "cost", big.Limits)
				require.NoError(t, err)
				require.True(t, a.Admitted)
			}
			t.Logf("%s: one admission with 2 limits takes %s (mean of %d, sequential)", name, time.Since(start)/rounds, rounds)
			require.NoError(t, ds.Delete(ctx, "quota"))
		})
	}
}

// The failure-rate window opens the circuit once, from many workers at the
// same time, when minRequests attempts were made and the failed share
// reached the rate; a success that tips it counts too; a probe's success
// closes it and counting starts again.
func TestDestinationFailureWindowOpensOnce(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			ds := destinations.NewStore(s)
			d := testDestination(t, "name: flaky\nbaseUrl: https://f.example.com/\ncircuitBreaker: {failures: 1000, failureRate: 0.5, window: 1h, minRequests: 20}\n")
			_, err := ds.Create(ctx, d)
			require.NoError(t, err)
			w := d.RateWindow()
			_, failures, _ := d.Breaker()
			// 10 failures and 9 successes: 19 attempts, under minRequests.
			var wg sync.WaitGroup
			for i := range 19 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tr, err := ds.RecordWindowOutcome(ctx, "flaky", i%2 == 1, false, failures, w, time.Hour, "500")
					require.NoError(t, err)
					require.Empty(t, tr)
				}()
			}
			wg.Wait()
			got, err := ds.Get(ctx, "flaky")
			require.NoError(t, err)
			require.Equal(t, destinations.CircuitClosed, got.State.Circuit)
			require.EqualValues(t, 19, got.State.FailureWindow.Requests)
			require.EqualValues(t, 10, got.State.FailureWindow.Failures)
			// The 20th, a success, makes 10/20 = 0.5: it opens.
			tr, err := ds.RecordWindowOutcome(ctx, "flaky", true, false, failures, w, time.Hour, "")
			require.NoError(t, err)
			require.Equal(t, destinations.TransitionOpened, tr)

			_, err = ds.ResetCircuit(ctx, "flaky")
			require.NoError(t, err)
			got, err = ds.Get(ctx, "flaky")
			require.NoError(t, err)
			require.Zero(t, got.State.FailureWindow.Requests, "closing starts counting again")

			// 60 workers at once, 60% failing: one of them opens it.
			var opened atomic.Int64
			for i := range 60 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tr, err := ds.RecordWindowOutcome(ctx, "flaky", i%5 < 2, false, failures, w, time.Hour, "500")
					require.NoError(t, err)
					if tr == destinations.TransitionOpened {
						opened.Add(1)
					}
				}()
			}
			wg.Wait()
			require.EqualValues(t, 1, opened.Load(), "the window opens the circuit once")
			got, err = ds.Get(ctx, "flaky")
			require.NoError(t, err)
			require.Equal(t, destinations.CircuitOpen, got.State.Circuit)
			require.Equal(t, destinations.StatusOpen, got.State.Status)

			// What counting an outcome in the window costs.
			_, err = ds.ResetCircuit(ctx, "flaky")
			require.NoError(t, err)
			start := time.Now()
			for range 200 {
				_, err := ds.RecordWindowOutcome(ctx, "flaky", true, false, failures, w, time.Hour, "")
				require.NoError(t, err)
			}
			t.Logf("%s: one windowed outcome takes %s (mean of 200, sequential)", name, time.Since(start)/200)
			_, err = ds.RecordOutcome(ctx, "flaky", false, false, 1, time.Hour, "x")
			require.NoError(t, err)

			// A destination without a window: RecordOutcome, as before.
			tr, err = ds.RecordWindowOutcome(ctx, "flaky", true, true, failures, flow.FailureWindow{}, time.Hour, "")
			require.NoError(t, err)
			require.Equal(t, destinations.TransitionClosed, tr)
		})
	}
}

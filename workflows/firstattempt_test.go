package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/workflows"
)

const firstAttemptFlow = `
id: fa
trigger: {}
steps:
  - {id: send, type: http, method: POST, url: "https://example.com/hook", body: {mode: all}}
`

// attempt is one attempt as the receiver saw it.
type attempt struct {
	local bool
	at    time.Time
	key   string
	n     int32 // the activity's own attempt number
}

// firstAttemptHarness runs firstAttemptFlow with local first attempts on:
// local answers the first attempt, regular the webhook queue's attempts.
type firstAttemptHarness struct {
	*harness
	mu       sync.Mutex
	attempts []attempt
}

func setupFirstAttempt(t *testing.T, local func() error, regular func(n int32) error) *firstAttemptHarness {
	h := &firstAttemptHarness{harness: setup(t)}
	h.env.SetWorkerOptions(sdkworker.Options{Interceptors: []interceptor.WorkerInterceptor{workflows.FirstAttemptInterceptor(workflows.FirstAttempt{Enabled: true})}})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, in contract.FirstAttempt) (*contract.Result, error) {
		h.record(attempt{local: true, at: h.env.Now(), key: in.Request.DeliveryID, n: 1})
		require.Equal(t, workflows.DefaultFirstAttemptBudget, in.Budget)
		if err := local(); err != nil {
			return nil, err
		}
		return &contract.Result{StatusCode: 200, Attempt: 1}, nil
	}, activity.RegisterOptions{Name: contract.DeliverFirstName})
	h.env.RegisterActivityWithOptions(func(ctx context.Context, req flow.HTTPRequest) (*contract.Result, error) {
		n := activity.GetInfo(ctx).Attempt
		h.record(attempt{at: h.env.Now(), key: req.DeliveryID, n: n})
		if err := regular(n); err != nil {
			return nil, err
		}
		return &contract.Result{StatusCode: 200, Attempt: n}, nil
	}, activity.RegisterOptions{Name: contract.DeliverName})
	return h
}

func (h *firstAttemptHarness) record(a attempt) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts = append(h.attempts, a)
}

func serverError(n int32) error {
	return temporal.NewApplicationError("receiver answered 503", contract.ErrHTTPServer, contract.Failure{StatusCode: 503, Attempt: n})
}

func TestFirstAttemptSucceedsLocally(t *testing.T) {
	h := setupFirstAttempt(t, func() error { return nil }, func(int32) error { t.Fatal("handed over after a success"); return nil })
	_, err := h.run(firstAttemptFlow, map[string]any{"a": 1})
	require.NoError(t, err)
	require.Len(t, h.attempts, 1)
	require.True(t, h.attempts[0].local)
	d := h.stepLog().Steps[0].Delivery
	require.Equal(t, int32(1), d.Attempts)
	require.Equal(t, 200, d.StatusCode)
	require.Equal(t, h.attempts[0].key, d.DeliveryID)
}

// A first attempt that fails hands over: the webhook queue's first attempt
// comes the initial interval (1m) after it, the next the interval after
// that (2m), with the same delivery id; the step log counts all three.
func TestFirstAttemptFailureHandsOverOnSchedule(t *testing.T) {
	h := setupFirstAttempt(t, func() error { return serverError(1) }, func(n int32) error {
		if n == 1 {
			return serverError(n)
		}
		return nil
	})
	_, err := h.run(firstAttemptFlow, map[string]any{"a": 1})
	require.NoError(t, err)
	require.Len(t, h.attempts, 3)
	require.True(t, h.attempts[0].local)
	require.False(t, h.attempts[1].local)
	require.Equal(t, time.Minute, h.attempts[1].at.Sub(h.attempts[0].at).Round(time.Second))
	require.Equal(t, 2*time.Minute, h.attempts[2].at.Sub(h.attempts[1].at).Round(time.Second))
	for _, a := range h.attempts {
		require.Equal(t, h.attempts[0].key, a.key)
	}
	d := h.stepLog().Steps[0].Delivery
	require.Equal(t, int32(3), d.Attempts)
	require.Equal(t, 200, d.StatusCode)
}

func TestFirstAttemptTooManyRequestsWaitsForRetryAfter(t *testing.T) {
	h := setupFirstAttempt(t, func() error {
		return temporal.NewApplicationErrorWithOptions("receiver answered 429", contract.ErrTooManyRequests,
			temporal.ApplicationErrorOptions{NextRetryDelay: 7 * time.Second, Details: []any{contract.Failure{StatusCode: 429, Attempt: 1}}})
	}, func(int32) error { return nil })
	_, err := h.run(firstAttemptFlow, map[string]any{"a": 1})
	require.NoError(t, err)
	require.Len(t, h.attempts, 2)
	require.Equal(t, 7*time.Second, h.attempts[1].at.Sub(h.attempts[0].at).Round(time.Second))
	require.Equal(t, int32(2), h.stepLog().Steps[0].Delivery.Attempts)
}

func TestFirstAttemptClientErrorFailsWithoutHandOver(t *testing.T) {
	h := setupFirstAttempt(t, func() error {
		// As DeliverFirst fails: a generic message, the real one in the details.
		return temporal.NewNonRetryableApplicationError("first attempt failed (HTTPClientError)", contract.ErrHTTPClient, nil,
			contract.Failure{StatusCode: 404, Attempt: 1, Message: "receiver answered 404; not retried"})
	}, func(int32) error { t.Fatal("a 4xx was handed over"); return nil })
	_, err := h.run(firstAttemptFlow, map[string]any{"a": 1})
	require.Error(t, err)
	require.Contains(t, err.Error(), "receiver answered 404")
	require.Len(t, h.attempts, 1)
	d := h.stepLog().Steps[0].Delivery
	require.Equal(t, int32(1), d.Attempts)
	require.Equal(t, 404, d.StatusCode)
	require.Contains(t, d.LastError, "404")
}

// A receiver slower than the budget may have got the request: the
// webhook queue sends it again at once, with the same key, and the step's
// whole policy (its first retry 1m after that attempt, not 2m).
func TestFirstAttemptBeyondBudgetHandsOverAtOnce(t *testing.T) {
	h := setupFirstAttempt(t, func() error {
		return temporal.NewApplicationError("no answer within the budget", contract.ErrFirstAttemptCut, contract.Failure{Attempt: 1})
	}, func(n int32) error {
		if n == 1 {
			return serverError(n)
		}
		return nil
	})
	_, err := h.run(firstAttemptFlow, map[string]any{"a": 1})
	require.NoError(t, err)
	require.Len(t, h.attempts, 3)
	require.Less(t, h.attempts[1].at.Sub(h.attempts[0].at), time.Second)
	require.Equal(t, time.Minute, h.attempts[2].at.Sub(h.attempts[1].at).Round(time.Second))
	require.Equal(t, h.attempts[0].key, h.attempts[1].key)
	require.Equal(t, int32(3), h.stepLog().Steps[0].Delivery.Attempts)
}

// maximumAttempts: 1 means one attempt: the local one, not handed over.
func TestFirstAttemptIsTheOnlyOneWithMaximumAttemptsOne(t *testing.T) {
	h := setupFirstAttempt(t, func() error { return serverError(1) }, func(int32) error { t.Fatal("handed over past maximumAttempts"); return nil })
	_, err := h.run(`
id: fa
trigger: {}
steps:
  - {id: send, type: http, method: POST, url: "https://example.com/hook", retry: {maximumAttempts: 1}}
`, map[string]any{})
	require.Error(t, err)
	require.Equal(t, int32(1), h.stepLog().Steps[0].Delivery.Attempts)
}

// Sends one after another each make their first attempt locally (the
// second in a workflow task of its own, so a resume never repeats the first).
func TestFirstAttemptOfConsecutiveSends(t *testing.T) {
	// The second send follows a local attempt completed in the same
	// workflow task: it goes as an activity (one local attempt per task),
	// with its own key and at once, not as a hand-over.
	h := setupFirstAttempt(t, func() error { return nil }, func(int32) error { return nil })
	_, err := h.run(`
id: fa
trigger: {}
steps:
  - {id: one, type: http, method: POST, url: "https://example.com/1"}
  - {id: two, type: http, method: POST, url: "https://example.com/2"}
`, map[string]any{})
	require.NoError(t, err)
	require.Len(t, h.attempts, 2)
	require.True(t, h.attempts[0].local)
	require.False(t, h.attempts[1].local)
	require.Equal(t, int32(1), h.attempts[1].n)
	require.Equal(t, h.attempts[0].at, h.attempts[1].at, "no retry interval before it")
	require.NotEqual(t, h.attempts[0].key, h.attempts[1].key)
}

const firstAttemptDestinationFlow = `
id: fa
trigger: {}
steps:
  - {id: send, type: http, method: POST, destination: crm, path: hook, body: {mode: all}}
`

// resolveAs registers the destination lookup a delivery to one starts
// with, answering pol.
func (h *firstAttemptHarness) resolveAs(pol contract.DestinationPolicy) {
	h.env.RegisterActivityWithOptions(func(context.Context, string) (*contract.DestinationPolicy, error) {
		return &pol, nil
	}, activity.RegisterOptions{Name: contract.ResolveDestinationName})
}

// A destination whose policy allows it (no rate) gets a local first
// attempt; one with a rate never does.
func TestFirstAttemptToADestinationIsLocalOnlyWhenItsPolicyAllows(t *testing.T) {
	for _, allowed := range []bool{true, false} {
		h := setupFirstAttempt(t, func() error { return nil }, func(int32) error { return nil })
		h.resolveAs(contract.DestinationPolicy{Name: "crm", Version: 3, FirstAttemptLocal: allowed})
		_, err := h.run(firstAttemptDestinationFlow, map[string]any{"a": 1})
		require.NoError(t, err)
		require.Len(t, h.attempts, 1)
		require.Equal(t, allowed, h.attempts[0].local)
		d := h.stepLog().Steps[0].Delivery
		require.Equal(t, int32(1), d.Attempts)
		require.Equal(t, int64(3), d.DestinationVersion)
	}
}

// A first attempt the destination's gate refuses (paused, open, limited,
// its leases held) sent nothing: its queue makes the delivery at once, and
// the step log counts only the queue's attempts.
func TestFirstAttemptRefusedByTheDestinationsGateGoesToItsQueueAtOnce(t *testing.T) {
	h := setupFirstAttempt(t, func() error {
		return temporal.NewApplicationError("destination crm: paused; nothing was sent", contract.ErrDestinationParked)
	}, func(int32) error { return nil })
	h.resolveAs(contract.DestinationPolicy{Name: "crm", Version: 1, FirstAttemptLocal: true})
	_, err := h.run(firstAttemptDestinationFlow, map[string]any{"a": 1})
	require.NoError(t, err)
	require.Len(t, h.attempts, 2)
	require.True(t, h.attempts[0].local)
	require.False(t, h.attempts[1].local)
	require.Equal(t, h.attempts[0].at, h.attempts[1].at, "at once, not after the retry interval")
	require.Equal(t, h.attempts[0].key, h.attempts[1].key)
	d := h.stepLog().Steps[0].Delivery
	require.Equal(t, int32(1), d.Attempts, "the refused local attempt sent nothing")
	require.Equal(t, 200, d.StatusCode)
}

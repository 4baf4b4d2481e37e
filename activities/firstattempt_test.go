package activities_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
)

func firstAttempt(url string, budget time.Duration) contract.FirstAttempt {
	return contract.FirstAttempt{Budget: budget, Request: flow.HTTPRequest{
		Method: "POST", URL: url, DeliveryID: "dlv_1", ConnectTimeout: 3 * time.Second, ResponseTimeout: 30 * time.Second,
	}}
}

func TestDeliverFirstRecordsItsInput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	in := firstAttempt(srv.URL, time.Second)
	res, err := deliverer(t).DeliverFirst(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, 204, res.StatusCode)
	require.Equal(t, &in, res.FirstAttempt)

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }))
	defer bad.Close()
	_, err = deliverer(t).DeliverFirst(context.Background(), firstAttempt(bad.URL, time.Second))
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae))
	require.True(t, ae.NonRetryable())
	require.Equal(t, contract.ErrHTTPClient, ae.Type())
	var f contract.Failure
	require.NoError(t, ae.Details(&f))
	require.Equal(t, 404, f.StatusCode)
	require.NotNil(t, f.FirstAttempt)
	require.Contains(t, f.Message, "receiver answered 404")
	require.NotContains(t, ae.Message(), "404", "the message is in the details, encrypted with payloads")
}

// A receiver slower than the budget (but within the step's timeouts) is
// cut, and said so: the workflow hands the delivery over at once.
func TestDeliverFirstBeyondItsBudget(t *testing.T) {
	srv := silentReceiver(t)
	start := time.Now()
	_, err := deliverer(t).DeliverFirst(context.Background(), firstAttempt(srv.URL, 300*time.Millisecond))
	require.Less(t, time.Since(start), 2*time.Second)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae))
	require.Equal(t, contract.ErrFirstAttemptCut, ae.Type())
	require.False(t, ae.NonRetryable())
}

// gate is a destination's gate as the flow worker's first attempt sees it
// (the real one, destinations.Supervisor.GateFirst, is tested in its
// package): it refuses or admits, and records the outcomes it is told.
type gate struct {
	refuse   error
	outcomes []error
}

func (g *gate) GateFirst(_ context.Context, name string, _ destinations.Timing) (destinations.Attempt, error) {
	return destinations.Attempt{}, g.refuse
}

func (g *gate) Done(_ destinations.Attempt, err error, _ time.Duration) {
	g.outcomes = append(g.outcomes, err)
}

type oneDestination struct{ url string }

func (d oneDestination) Lookup(_ context.Context, name string, _ int64) (*destinations.Destination, error) {
	return &destinations.Destination{Name: name, Version: 1, Def: &flow.Destination{Name: name, BaseURL: d.url + "/"}}, nil
}

// A first attempt to a destination goes only through its gate: refused
// (or with no gate in this worker) nothing is sent and it fails as
// DestinationParked, which the workflow hands to the queue at once;
// admitted, it is sent and its outcome reaches the gate.
func TestDeliverFirstToADestinationGoesThroughItsGate(t *testing.T) {
	var got int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got++
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	in := firstAttempt("hook", time.Second)
	in.Request.Destination, in.Request.DestinationVersion = "crm", 1

	parked := func(t *testing.T, err error) {
		t.Helper()
		var ae *temporal.ApplicationError
		require.True(t, errors.As(err, &ae), "%v", err)
		require.Equal(t, contract.ErrDestinationParked, ae.Type())
	}
	allow, err := activities.ParseAllowlist([]string{"127.0.0.1"})
	require.NoError(t, err)
	d := activities.NewDeliverer(activities.Config{Allow: allow, Destinations: oneDestination{srv.URL}})
	_, err = d.DeliverFirst(context.Background(), in)
	parked(t, err)

	g := &gate{refuse: temporal.NewApplicationError("destination crm: paused; nothing was sent", contract.ErrDestinationParked)}
	d.UseFirstAttemptGate(g)
	_, err = d.DeliverFirst(context.Background(), in)
	parked(t, err)
	require.Zero(t, got, "nothing sent while refused")
	require.Empty(t, g.outcomes)

	g.refuse = nil
	_, err = d.DeliverFirst(context.Background(), in)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae))
	require.Equal(t, contract.ErrHTTPServer, ae.Type())
	require.Equal(t, 1, got)
	require.Len(t, g.outcomes, 1, "the outcome reaches the gate (breaker, lease)")
	require.Error(t, g.outcomes[0])
}

// A first attempt to a destination cut by the flow worker's budget is not
// the receiver's failure: the gate (the breaker, the metric) hears it as
// FirstAttemptBudgetExceeded, which counts against nothing.
func TestDeliverFirstCutByItsBudgetIsNotTheDestinationsFailure(t *testing.T) {
	srv := silentReceiver(t)
	allow, err := activities.ParseAllowlist([]string{"127.0.0.1"})
	require.NoError(t, err)
	d := activities.NewDeliverer(activities.Config{Allow: allow, Destinations: oneDestination{srv.URL}})
	g := &gate{}
	d.UseFirstAttemptGate(g)
	in := firstAttempt("hook", 300*time.Millisecond)
	in.Request.Destination, in.Request.DestinationVersion = "crm", 1
	_, err = d.DeliverFirst(context.Background(), in)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae))
	require.Equal(t, contract.ErrFirstAttemptCut, ae.Type())
	require.Len(t, g.outcomes, 1)
	require.True(t, errors.As(g.outcomes[0], &ae))
	require.Equal(t, contract.ErrFirstAttemptCut, ae.Type())
	require.False(t, destinations.CountsAgainst(ae.Type()), "not a failure of the destination")
}

// silentReceiver answers nothing until the request is given up or the test
// ends.
func silentReceiver(t *testing.T) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv
}

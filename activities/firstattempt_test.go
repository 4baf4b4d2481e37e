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

	"github.com/hookflow/hookflow/contract"
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
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	_, err := deliverer(t).DeliverFirst(context.Background(), firstAttempt(srv.URL, 300*time.Millisecond))
	require.Less(t, time.Since(start), 2*time.Second)
	var ae *temporal.ApplicationError
	require.True(t, errors.As(err, &ae))
	require.Equal(t, contract.ErrFirstAttemptCut, ae.Type())
	require.False(t, ae.NonRetryable())
}

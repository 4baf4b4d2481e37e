//go:build !nodev

package tests

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
)

// deliveryEvents counts a run's Deliver activities scheduled and its local
// first attempts (markers).
func deliveryEvents(t *testing.T, s *stack, id string) (scheduled, local int) {
	t.Helper()
	for _, e := range history(t, s, id).Events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == contract.DeliverName {
			scheduled++
		}
		if _, _, ok := contract.FirstAttemptOf(converter.GetDefaultDataConverter(), e.GetMarkerRecordedEventAttributes()); ok {
			local++
		}
	}
	return scheduled, local
}

// A send whose first attempt succeeds is made by the flow worker itself:
// no activity is scheduled, and the receiver gets it once, with its key.
func TestFirstAttemptLocalSendSchedulesNoActivity(t *testing.T) {
	rcv := newReceiver(t, okJSON(`{}`))
	s := setup(t, `
id: it-first-local
trigger: {}
steps:
  - {id: send, type: http, method: POST, url: "`+rcv.URL+`/x", body: {mode: all}}
`)
	a := post(t, s.hookURL("it-first-local"), "application/json", `{"n":1}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	_, err := s.result(id)
	require.NoError(t, err)
	hits := rcv.all()
	require.Len(t, hits, 1)
	require.True(t, strings.HasPrefix(hits[0].header.Get("Idempotency-Key"), "dlv_"))
	scheduled, local := deliveryEvents(t, s, id)
	require.Equal(t, 0, scheduled, "no Deliver activity for a first attempt that succeeded")
	require.Equal(t, 1, local)
	d := s.stepLog(id).Steps[0].Delivery
	require.Equal(t, int32(1), d.Attempts)
	require.Equal(t, hits[0].header.Get("Idempotency-Key"), d.DeliveryID)
}

// A receiver that fails the first attempt gets the delivery again from
// the webhook queue, the retry interval later, with the same key.
func TestFirstAttemptFailureIsHandedOver(t *testing.T) {
	rcv := newReceiver(t, func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s := setup(t, `
id: it-first-handover
trigger: {}
steps:
  - {id: send, type: http, method: POST, url: "`+rcv.URL+`/x", body: {mode: all}, retry: {initialInterval: 1s}}
`)
	a := post(t, s.hookURL("it-first-handover"), "application/json", `{"n":1}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	res, err := s.result(id)
	require.NoError(t, err)
	require.NotNil(t, res)
	hits := rcv.all()
	require.Len(t, hits, 2)
	require.Equal(t, hits[0].header.Get("Idempotency-Key"), hits[1].header.Get("Idempotency-Key"))
	require.GreaterOrEqual(t, hits[1].at.Sub(hits[0].at), time.Second, "the retry interval after the failure")
	scheduled, local := deliveryEvents(t, s, id)
	require.Equal(t, 1, scheduled)
	require.Equal(t, 1, local)
	// The step log reads as before: attempt 1 was the local one.
	d := s.stepLog(id).Steps[0].Delivery
	require.Equal(t, int32(2), d.Attempts)
	require.Equal(t, http.StatusNoContent, d.StatusCode)
	require.Equal(t, hits[0].header.Get("Idempotency-Key"), d.DeliveryID)
	var closed bool
	for _, e := range history(t, s, id).Events {
		closed = closed || e.GetEventType() == enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
	}
	require.True(t, closed)
}

package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/notify"
	"github.com/hookflow/hookflow/telemetry"
)

// starts records the workflows a notifier starts; a second start of one id
// is refused, as Temporal's reuse policy does.
type starts struct {
	sdkclient.Client
	mu   sync.Mutex
	ids  []string
	ins  []contract.NotifyInput
	fail error
}

func (s *starts) ExecuteWorkflow(_ context.Context, o sdkclient.StartWorkflowOptions, _ any, args ...any) (sdkclient.WorkflowRun, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return nil, s.fail
	}
	for _, id := range s.ids {
		if id == o.ID {
			return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("started", "", "")
		}
	}
	s.ids = append(s.ids, o.ID)
	s.ins = append(s.ins, args[0].(contract.NotifyInput))
	return nil, nil
}

func (s *starts) destinations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, in := range s.ins {
		out = append(out, in.Destination)
	}
	return out
}

func TestAnEmitReachesEachTargetOnceAndARetriedEmitStartsNothingTwice(t *testing.T) {
	c := &starts{}
	tel := telemetry.New(telemetry.Options{})
	n := notify.New(notify.Config{Client: c, Global: flow.NotifySetting{Destination: "ops"}, Telemetry: tel})
	ev := contract.Notification{ID: "evt_1", Type: flow.EventRunFailed, Timestamp: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC), Data: map[string]any{"flowId": "f"}}

	// The flow's destination and the global one, each once.
	got, err := n.Emit(context.Background(), contract.EmitRequest{Event: ev, Flow: &flow.Notify{Destination: "team"}})
	require.NoError(t, err)
	require.Equal(t, 2, got)
	require.Equal(t, []string{"team", "ops"}, c.destinations())
	require.Equal(t, notify.WorkflowID("team", "evt_1"), c.ids[0])
	var body map[string]any
	require.NoError(t, json.Unmarshal(c.ins[0].Body, &body))
	require.Equal(t, map[string]any{"type": "run.failed", "timestamp": "2026-11-25T20:00:00Z", "data": map[string]any{"flowId": "f"}}, body)
	require.Equal(t, "evt_1", c.ins[0].EventID)

	// A retried emit starts nothing twice.
	got, err = n.Emit(context.Background(), contract.EmitRequest{Event: ev, Flow: &flow.Notify{Destination: "team"}})
	require.NoError(t, err)
	require.Equal(t, 2, got)
	require.Len(t, c.ids, 2)

	// The same destination in both: once. global: false: the flow's only.
	ev.ID = "evt_2"
	_, err = n.Emit(context.Background(), contract.EmitRequest{Event: ev, Flow: &flow.Notify{Destination: "ops"}})
	require.NoError(t, err)
	ev.ID = "evt_3"
	off := false
	_, err = n.Emit(context.Background(), contract.EmitRequest{Event: ev, Flow: &flow.Notify{Destination: "team", Global: &off}})
	require.NoError(t, err)
	ev.ID, ev.Type = "evt_4", flow.EventDeliveryGaveUp
	_, err = n.Emit(context.Background(), contract.EmitRequest{Event: ev, Flow: &flow.Notify{Destination: "team", Events: []string{flow.EventRunFailed}}})
	require.NoError(t, err)
	require.Equal(t, []string{"team", "ops", "ops", "team", "ops"}, c.destinations())

	// Temporal not answering: an error, so the local activity retries.
	c.fail = errors.New("unavailable")
	ev.ID = "evt_5"
	_, err = n.Emit(context.Background(), contract.EmitRequest{Event: ev})
	require.ErrorContains(t, err, "unavailable")

	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	m, _ := io.ReadAll(rec.Body)
	require.Contains(t, string(m), `hookflow_notifications_total{event="run.failed",outcome="started"} 4`)
	require.Contains(t, string(m), `hookflow_notifications_total{event="run.failed",outcome="duplicate"} 2`)
	require.Contains(t, string(m), `hookflow_notifications_total{event="delivery.gave_up",outcome="error"} 1`)
}

// The id of a destination event derives from the state change it
// reports: the same in every process, so Temporal starts it once.
func TestDestinationEventIDIsTheSameEverywhere(t *testing.T) {
	at := time.UnixMilli(1_764_000_000_123)
	id := notify.DestinationEventID("crm", flow.EventDestinationPaused, at)
	require.Equal(t, id, notify.DestinationEventID("crm", flow.EventDestinationPaused, at.Add(400*time.Microsecond)), "millisecond precision, as the store keeps it")
	require.NotEqual(t, id, notify.DestinationEventID("crm", flow.EventDestinationResumed, at))
	require.NotEqual(t, id, notify.DestinationEventID("crm", flow.EventDestinationPaused, at.Add(time.Millisecond)))
	require.NotEqual(t, id, notify.DestinationEventID("erp", flow.EventDestinationPaused, at))
	c := &starts{}
	n := notify.New(notify.Config{Client: c, Global: flow.NotifySetting{Destination: "ops", Events: []string{flow.EventDestinationPaused}}})
	require.Equal(t, id, n.DestinationEvent(flow.EventDestinationPaused, "crm", at, nil))
}

// Destination events go to the global destination only, never to the
// destination they are about.
func TestDestinationEventsGoToTheGlobalDestinationButNeverToTheOneTheyAreAbout(t *testing.T) {
	c := &starts{}
	n := notify.New(notify.Config{Client: c, Global: flow.NotifySetting{Destination: "ops", Events: []string{flow.EventDestinationPaused}}})
	require.NotEmpty(t, n.DestinationEvent(flow.EventDestinationPaused, "crm", time.Time{}, map[string]any{"reason": "x"}))
	require.Empty(t, n.DestinationEvent(flow.EventDestinationResumed, "crm", time.Time{}, nil), "not picked")
	require.NotEmpty(t, n.DestinationEvent(flow.EventDestinationPaused, "ops", time.Time{}, nil))
	require.Eventually(t, func() bool { return len(c.destinations()) == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, []string{"ops"}, c.destinations(), "ops's own pause is not sent to ops")
	var body map[string]any
	require.NoError(t, json.Unmarshal(c.ins[0].Body, &body))
	require.Equal(t, map[string]any{"destination": "crm", "reason": "x"}, body["data"])

	// Temporal not answering: retried in the background, same event id.
	c.mu.Lock()
	c.fail = errors.New("unavailable")
	c.mu.Unlock()
	id := n.DestinationEvent(flow.EventDestinationPaused, "erp", time.Time{}, nil)
	require.NotEmpty(t, id)
	c.mu.Lock()
	c.fail = nil
	c.mu.Unlock()
	require.Eventually(t, func() bool { return len(c.destinations()) == 2 }, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, notify.WorkflowID("ops", id), c.ids[1])

	// No client: nothing, no error.
	none := notify.New(notify.Config{Client: nil, Global: flow.NotifySetting{Destination: "ops"}})
	got, err := none.Emit(context.Background(), contract.EmitRequest{Event: contract.Notification{ID: "e", Type: flow.EventRunFailed}})
	require.NoError(t, err)
	require.Zero(t, got)
}

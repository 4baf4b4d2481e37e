package notify

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func TestTargetsAreTheFlowsDestinationThenTheGlobalOneEachOnce(t *testing.T) {
	off := false
	global := flow.NotifySetting{Destination: "ops"}
	onlyPaused := flow.NotifySetting{Destination: "ops", Events: []string{flow.EventDestinationPaused}}
	cases := []struct {
		name      string
		global    flow.NotifySetting
		fn        *flow.Notify
		typ       string
		flowEvent bool
		want      []string
	}{
		{"no setting anywhere: no one", flow.NotifySetting{}, nil, flow.EventRunFailed, true, nil},
		{"a flow without notify: the global destination", global, nil, flow.EventRunFailed, true, []string{"ops"}},
		{"the flow's destination, then the global one", global, &flow.Notify{Destination: "team"}, flow.EventRunFailed, true, []string{"team", "ops"}},
		{"the same destination in both: once", global, &flow.Notify{Destination: "ops"}, flow.EventRunFailed, true, []string{"ops"}},
		{"global: false keeps a flow's events from the global destination", global, &flow.Notify{Destination: "team", Global: &off}, flow.EventRunFailed, true, []string{"team"}},
		{"a destination event (no flow) goes to the global destination", onlyPaused, nil, flow.EventDestinationPaused, false, []string{"ops"}},
		{"an event the flow did not pick goes to the global destination only", global, &flow.Notify{Destination: "team", Events: []string{flow.EventRunFailed}}, flow.EventDeliveryGaveUp, true, []string{"ops"}},
		{"an event the global setting did not pick: no one", onlyPaused, nil, flow.EventRunFailed, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, Targets(c.global, c.fn, c.typ, c.flowEvent))
		})
	}
}

// The id of a destination event derives from the state change it
// reports: the same in every process, so Temporal starts it once.
func TestDestinationEventIDIsTheSameEverywhere(t *testing.T) {
	at := time.UnixMilli(1_764_000_000_123)
	id := DestinationEventID("crm", flow.EventDestinationPaused, at)
	require.Regexp(t, `^evt_[0-9a-f]{32}$`, id)
	require.Equal(t, id, DestinationEventID("crm", flow.EventDestinationPaused, at.Add(400*time.Microsecond)), "millisecond precision, as the store keeps it")
	require.NotEqual(t, id, DestinationEventID("crm", flow.EventDestinationResumed, at))
	require.NotEqual(t, id, DestinationEventID("crm", flow.EventDestinationPaused, at.Add(time.Millisecond)))
	require.NotEqual(t, id, DestinationEventID("erp", flow.EventDestinationPaused, at))
	require.Regexp(t, `^evt_[0-9a-f]{32}$`, NewEventID())
	require.NotEqual(t, NewEventID(), NewEventID())
}

func TestAWorkflowIDHoldsTheDestinationAndTheEvent(t *testing.T) {
	require.Equal(t, "hookflow-notify:ops:evt_1", WorkflowID("ops", "evt_1"))
}

func TestRetryWaitDoublesFromASecondUpTo30Seconds(t *testing.T) {
	var got []time.Duration
	for retry := 1; retry <= 8; retry++ {
		got = append(got, RetryWait(retry))
	}
	s := time.Second
	require.Equal(t, []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 30 * s, 30 * s}, got)
}

func TestTheBodyIsStandardWebhooksTypeTimestampAndData(t *testing.T) {
	ev := contract.Notification{ID: "evt_1", Type: flow.EventRunFailed,
		Timestamp: time.Date(2026, 11, 25, 21, 0, 0, 5, time.FixedZone("x", 3600)), Data: map[string]any{"flowId": "f"}}
	b, err := Body(ev)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, map[string]any{"type": "run.failed", "timestamp": "2026-11-25T20:00:00.000000005Z", "data": map[string]any{"flowId": "f"}}, got, "in UTC, the id is not in the body")
}

func TestSignsStandardWebhooksOnlyForASignatureOfThatVersion(t *testing.T) {
	sw := &flow.HTTPAuth{Type: flow.AuthSignature, Version: flow.SignatureStandardWebhooks}
	other := &flow.HTTPAuth{Type: flow.AuthSignature, Version: flow.SignatureHubSpotV3}
	bearer := &flow.HTTPAuth{Type: flow.AuthBearer, TokenSecret: "t"}
	for _, c := range []struct {
		name string
		d    *flow.Destination
		want bool
	}{
		{"no destination", nil, false},
		{"no auth", &flow.Destination{}, false},
		{"a bearer token", &flow.Destination{Auth: bearer}, false},
		{"another signature", &flow.Destination{Auth: other}, false},
		{"standardWebhooks", &flow.Destination{Auth: sw}, true},
	} {
		t.Run(c.name, func(t *testing.T) { require.Equal(t, c.want, SignsStandardWebhooks(c.d)) })
	}
}

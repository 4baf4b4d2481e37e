package flow_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
)

func TestNotifyDecodesWithPaths(t *testing.T) {
	f, err := flow.DecodeYAML([]byte(`
id: n
notify: {destination: ops, events: [run.failed, delivery.gave_up]}
steps:
  - {id: send, type: http, method: POST, destination: crm, path: x}
`))
	require.NoError(t, err)
	require.True(t, f.Notify.Wants(flow.EventRunFailed))
	require.False(t, f.Notify.Wants(flow.EventDeliveryFailed))
	require.True(t, f.Notify.GlobalAllowed())
	// The notify destination is checked (and kept from deletion) as the
	// steps' are.
	require.Equal(t, []flow.DestinationRef{{Path: "steps[0].destination", Name: "crm"}, {Path: "notify.destination", Name: "ops"}}, f.Destinations())

	_, err = flow.DecodeYAML([]byte(`
id: n
notify: {destination: Ops!, events: [run.failed, destination.paused], colour: red}
steps: [{id: a, type: set, values: {a: 1}}]
`))
	var ve *flow.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	paths := map[string]string{}
	for _, fe := range ve.Errors {
		paths[fe.Path] = fe.Message
	}
	require.Contains(t, paths, "notify.destination")
	require.Contains(t, paths, "notify.colour")
	require.Contains(t, paths["notify.events[1]"], "must be one of: run.failed, delivery.gave_up, delivery.failed")

	// No destination, global off: the flow's events go nowhere.
	f, err = flow.DecodeYAML([]byte("id: n\nnotify: {global: false}\nsteps: [{id: a, type: set, values: {a: 1}}]\n"))
	require.NoError(t, err)
	require.False(t, f.Notify.Wants(flow.EventRunFailed))
	require.False(t, f.Notify.GlobalAllowed())
	require.Empty(t, f.Destinations())
	var none *flow.Notify
	require.True(t, none.GlobalAllowed())
}

func TestNotifySetting(t *testing.T) {
	s, err := flow.ParseNotifySetting("ops", nil)
	require.NoError(t, err)
	for _, e := range flow.NotifyEvents {
		require.True(t, s.Wants(e), e)
	}
	s, err = flow.ParseNotifySetting("ops", []string{"destination.circuit_opened", " run.failed"})
	require.NoError(t, err)
	require.True(t, s.Wants(flow.EventRunFailed))
	require.False(t, s.Wants(flow.EventDestinationPaused))
	_, err = flow.ParseNotifySetting("ops", []string{"run.exploded"})
	require.ErrorContains(t, err, `unknown notification event "run.exploded"`)
	s, err = flow.ParseNotifySetting("", nil)
	require.NoError(t, err)
	require.False(t, s.Wants(flow.EventRunFailed))
}

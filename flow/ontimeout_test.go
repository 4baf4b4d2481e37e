package flow_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/trigger"
)

func TestSyncOnTimeout(t *testing.T) {
	f, err := flow.DecodeYAML([]byte(`{id: a, trigger: {mode: sync, timeout: 2s, onTimeout: accepted}, steps: [{id: r, type: response}]}`))
	require.NoError(t, err)
	require.Equal(t, trigger.OnTimeoutAccepted, f.Trigger.OnTimeout)
	_, err = flow.DecodeYAML([]byte(`{id: a, trigger: {mode: sync, onTimeout: "504"}, steps: [{id: r, type: response}]}`))
	require.NoError(t, err, "504 is the default, and may be said")

	for _, tc := range []struct{ yaml, want string }{
		{`{id: a, trigger: {onTimeout: accepted}, steps: [{id: s, type: set, values: {x: 1}}]}`, "sync triggers only"},
		{`{id: a, trigger: {mode: sync, onTimeout: later}, steps: [{id: r, type: response}]}`, "one of"},
	} {
		_, err := flow.DecodeYAML([]byte(tc.yaml))
		requireError(t, fieldErrors(t, err), "trigger.onTimeout", tc.want)
	}
}

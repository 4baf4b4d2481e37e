package flow_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
)

func jsonOf(v any) ([]byte, error) { return json.Marshal(v) }

func TestCatalogLoadsADirectoryAndRefusesBadFiles(t *testing.T) {
	cat, err := flow.LoadDir("../examples")
	require.NoError(t, err)
	require.NotEmpty(t, cat.Entries())
	for _, e := range cat.Entries() {
		got, ok := cat.ByToken(e.Token)
		require.True(t, ok)
		require.Equal(t, e.Flow.ID, got.Flow.ID)
	}

	dir := t.TempDir()
	write(t, dir, "good.yaml", "id: good\ntrigger: {}\nsteps: [{id: s, type: set, values: {x: 1}}]\n")
	write(t, dir, "bad.yaml", "id: bad\ntrigger: {}\nsteps: [{id: s, type: condition, if: \"1 +\", then: [{id: t, type: delay}]}]\n")
	write(t, dir, "worse.json", `{"id": "worse", "trigger": {}, "steps": [{"id": "r", "type": "response"}]}`)
	_, err = flow.LoadDir(dir)
	require.Error(t, err)
	msg := err.Error()
	require.Contains(t, msg, "bad.yaml")
	require.Contains(t, msg, "steps[0].if: expression `1 +`")
	require.Contains(t, msg, "steps[0].then[0].duration")
	require.Contains(t, msg, "worse.json")
	require.Contains(t, msg, "steps[0]: a response step needs a sync trigger")
}

func TestCatalogRefusesDuplicateIDsAndTokens(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "id: same\ntrigger: {token: aaaaaaaaaaaaaaaaaaaaaaaa}\nsteps: [{id: s, type: set, values: {x: 1}}]\n")
	write(t, dir, "b.yaml", "id: same\ntrigger: {}\nsteps: [{id: s, type: set, values: {x: 1}}]\n")
	write(t, dir, "c.yaml", "id: other\ntrigger: {token: aaaaaaaaaaaaaaaaaaaaaaaa}\nsteps: [{id: s, type: set, values: {x: 1}}]\n")
	_, err := flow.LoadDir(dir)
	require.ErrorContains(t, err, `flow id "same" is already used`)
	require.ErrorContains(t, err, "trigger token is already used")
}

func TestGeneratedTokensAreLongAndDistinct(t *testing.T) {
	a, b := flow.NewToken(), flow.NewToken()
	require.NotEqual(t, a, b)
	require.GreaterOrEqual(t, len(a), 43, "256 bits in base64url")
}

func TestReadsResponse(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want bool
	}{
		{"steps.send.outputs.trackingId", false},
		{"steps.send.outputs.statusCode == 200", false},
		{"steps.send.status == 'failed' || steps.send.error != ''", false},
		{"steps.other.outputs.body", false},
		{"steps.send.outputs.body.id", true},
		{"steps.send.outputs.headers['x-id']", true},
		{"steps.send.outputs", true},
		{"toJSON(steps.send)", true},
		{"steps['send'].outputs.id", true},
		{"len(steps)", true},
		{"trigger.body.steps", false},
		{"trigger.body['steps']", true}, // conservative: the word in a string
	} {
		f, err := flow.DecodeYAML([]byte(`{id: a, trigger: {}, steps: [{id: send, type: http, method: POST, url: "https://x.example"}, {id: other, type: http, method: POST, url: "https://x.example"}, {id: v, type: set, values: {x: "{{ ` + tc.expr + ` }}"}}]}`))
		require.NoError(t, err, tc.expr)
		require.Equal(t, tc.want, f.ReadsResponse("send"), tc.expr)
	}
}

func TestReadsOutputsIgnoresAPropertyNamedLikeTheStep(t *testing.T) {
	f, err := flow.DecodeYAML([]byte(`{id: a, trigger: {}, steps: [{id: order, type: delay, duration: 1s}, {id: v, type: set, values: {x: "{{ trigger.body.order.total > 1 }}", y: "{{ steps.order.status }}"}}]}`))
	require.NoError(t, err)
	require.False(t, f.ReadsOutputs("order", "resumeUrl"))
	f, err = flow.DecodeYAML([]byte(`{id: a, trigger: {}, steps: [{id: order, type: delay, duration: 1s}, {id: v, type: set, values: {x: "{{ steps.order.resumeUrl }}"}}]}`))
	require.NoError(t, err)
	require.True(t, f.ReadsOutputs("order", "resumeUrl"), "a field of the step's results outside outputs counts")
}

package flow_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
)

func jsonOf(v any) ([]byte, error) { return json.Marshal(v) }

func env() map[string]any {
	return map[string]any{
		flow.EnvTrigger: map[string]any{"body": map[string]any{
			"order": map[string]any{"id": "A-1", "total": 250.0, "tags": []any{"x", "y"}},
			"meta":  map[string]any{"z": 1.0, "a": 2.0, "m": 3.0},
		}},
		flow.EnvVars:      map[string]any{"n": 2},
		flow.EnvSteps:     map[string]any{},
		flow.EnvExecution: map[string]any{"startedAt": "2026-01-02T03:04:05Z"},
	}
}

func TestTemplateKeepsTypeWhenItIsOneExpression(t *testing.T) {
	e := flow.NewEvaluator()
	cases := []struct {
		tmpl string
		want any
	}{
		{"{{ trigger.body.order.total }}", 250.0},
		{"{{ trigger.body.order.total > 100 }}", true},
		{"{{ trigger.body.order.tags }}", []any{"x", "y"}},
		{" {{ vars.n * 2 }} ", " 4 "}, // surrounding text, even spaces, makes it a string
		{"order {{ trigger.body.order.id }} of {{ trigger.body.order.total }}", "order A-1 of 250"},
		{"tags: {{ trigger.body.order.tags }}", `tags: ["x","y"]`},
		{"missing: [{{ trigger.body.nope }}]", "missing: []"},
		{"no template", "no template"},
	}
	for _, tc := range cases {
		got, err := e.RenderString(tc.tmpl, env())
		require.NoError(t, err, tc.tmpl)
		require.Equal(t, tc.want, got, tc.tmpl)
	}
}

func TestRenderWalksValuesWithoutChangingThem(t *testing.T) {
	e := flow.NewEvaluator()
	in := map[string]any{"id": "{{ trigger.body.order.id }}", "list": []any{"{{ vars.n }}", 3.0, "plain"}}
	out, err := e.Render(in, env())
	require.NoError(t, err)
	require.Equal(t, map[string]any{"id": "A-1", "list": []any{2, 3.0, "plain"}}, out)
	require.Equal(t, "{{ trigger.body.order.id }}", in["id"], "input must not be modified")

	_, err = e.Render(map[string]any{"a": map[string]any{"b": "{{ 1 + }}"}}, env())
	require.ErrorContains(t, err, "a.b")
}

func TestMapFunctionsAreSortedForDeterminism(t *testing.T) {
	e := flow.NewEvaluator()
	// Run many times: Go randomizes map order, so an unsorted builtin
	// would differ between runs (and between workflow replays).
	for range 50 {
		v, err := e.Eval("keys(trigger.body.meta)", env())
		require.NoError(t, err)
		require.Equal(t, []any{"a", "m", "z"}, v)
		v, err = e.Eval("values(trigger.body.meta)", env())
		require.NoError(t, err)
		require.Equal(t, []any{2.0, 3.0, 1.0}, v)
		v, err = e.Eval("toPairs(trigger.body.meta)[0]", env())
		require.NoError(t, err)
		require.Equal(t, []any{"a", 2.0}, v)
	}
}

func TestConditionsMustBeBoolean(t *testing.T) {
	e := flow.NewEvaluator()
	ok, err := e.EvalBool("{{ trigger.body.order.total > 100 }}", env())
	require.NoError(t, err)
	require.True(t, ok)
	_, err = e.EvalBool("trigger.body.order.id", env())
	require.ErrorContains(t, err, "must yield true or false, got a string")
}

func TestWallClockIsNotAvailable(t *testing.T) {
	_, err := flow.CompileExpr("now()", false)
	require.Error(t, err)
	_, err = flow.NewEvaluator().Eval(`date("2026-01-02", "2006-01-02", timezone("Local"))`, env())
	require.ErrorContains(t, err, "not deterministic")
	// date() parses in UTC, never the worker's local zone.
	e := flow.NewEvaluator()
	v, err := e.Eval(`date("2026-01-02 03:04", "2006-01-02 15:04").Hour()`, env())
	require.NoError(t, err)
	require.Equal(t, 3, v)
	v, err = e.Eval(`date("2026-01-02 03:04", "2006-01-02 15:04", "Europe/Berlin").UTC().Hour()`, env())
	require.NoError(t, err)
	require.Equal(t, 2, v)
}

func TestStepReferences(t *testing.T) {
	p, err := flow.CompileExpr(`steps.a.outputs.x + steps["b"].outputs.y > len(filter([1], {# > steps.c.outputs.z}))`, false)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, flow.StepReferences(p))
}

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

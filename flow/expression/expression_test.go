package expression_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow/expression"
)

func env() map[string]any {
	return map[string]any{
		expression.EnvTrigger: map[string]any{"body": map[string]any{
			"order": map[string]any{"id": "A-1", "total": 250.0, "tags": []any{"x", "y"}},
			"meta":  map[string]any{"z": 1.0, "a": 2.0, "m": 3.0},
		}},
		expression.EnvVars:      map[string]any{"n": 2},
		expression.EnvSteps:     map[string]any{},
		expression.EnvExecution: map[string]any{"startedAt": "2026-01-02T03:04:05Z"},
	}
}

func TestTemplateKeepsTypeWhenItIsOneExpression(t *testing.T) {
	e := expression.NewEvaluator()
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
	e := expression.NewEvaluator()
	in := map[string]any{"id": "{{ trigger.body.order.id }}", "list": []any{"{{ vars.n }}", 3.0, "plain"}}
	out, err := e.Render(in, env())
	require.NoError(t, err)
	require.Equal(t, map[string]any{"id": "A-1", "list": []any{2, 3.0, "plain"}}, out)
	require.Equal(t, "{{ trigger.body.order.id }}", in["id"], "input must not be modified")

	_, err = e.Render(map[string]any{"a": map[string]any{"b": "{{ 1 + }}"}}, env())
	require.ErrorContains(t, err, "a.b")
}

func TestMapFunctionsAreSortedForDeterminism(t *testing.T) {
	e := expression.NewEvaluator()
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
	e := expression.NewEvaluator()
	ok, err := e.EvalBool("{{ trigger.body.order.total > 100 }}", env())
	require.NoError(t, err)
	require.True(t, ok)
	_, err = e.EvalBool("trigger.body.order.id", env())
	require.ErrorContains(t, err, "must yield true or false, got a string")
}

func TestWallClockIsNotAvailable(t *testing.T) {
	_, err := expression.Compile("now()", false)
	require.Error(t, err)
	_, err = expression.NewEvaluator().Eval(`date("2026-01-02", "2006-01-02", timezone("Local"))`, env())
	require.ErrorContains(t, err, "not deterministic")
	// date() parses in UTC, never the worker's local zone.
	e := expression.NewEvaluator()
	v, err := e.Eval(`date("2026-01-02 03:04", "2006-01-02 15:04").Hour()`, env())
	require.NoError(t, err)
	require.Equal(t, 3, v)
	v, err = e.Eval(`date("2026-01-02 03:04", "2006-01-02 15:04", "Europe/Berlin").UTC().Hour()`, env())
	require.NoError(t, err)
	require.Equal(t, 2, v)
}

func TestStepReferences(t *testing.T) {
	p, err := expression.Compile(`steps.a.outputs.x + steps["b"].outputs.y > len(filter([1], {# > steps.c.outputs.z}))`, false)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c"}, expression.StepReferences(p))
}

// Trigger-time templates, in the API before a run exists, read trigger
// only and keep a single expression's type, like a run's.
func TestTriggerTimeTemplatesReadTriggerOnlyAndKeepTheirType(t *testing.T) {
	trigger := map[string]any{"body": map[string]any{"id": 7.0, "email": "a@x.test"}}
	for _, tc := range []struct {
		src  string
		want any
	}{
		{"{{ trigger.body.id }}", 7.0},
		{"mail:{{ trigger.body.email }}", "mail:a@x.test"},
		{"plain", "plain"},
	} {
		got, err := expression.RenderTrigger(tc.src, trigger)
		require.NoError(t, err, tc.src)
		require.Equal(t, tc.want, got, tc.src)
	}
	_, err := expression.RenderTrigger("{{ vars.x }}", trigger)
	require.ErrorContains(t, err, "unknown name vars")
	ok, err := expression.EvalTriggerBool("trigger.body.id > 5", trigger)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = expression.EvalTriggerBool("trigger.body.email", trigger)
	require.ErrorContains(t, err, "must yield true or false")
}

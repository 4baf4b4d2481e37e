package trigger_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
)

func TestNestQuery(t *testing.T) {
	q, err := url.ParseQuery("a[0].b=1&a[1].b=2&c[d]=3&e=4&e=5&f.g.h=6&plain=x&m[0][1]=y")
	require.NoError(t, err)
	got, err := trigger.NestQuery(q)
	require.NoError(t, err)
	require.Equal(t, map[string]any{
		"a":     []any{map[string]any{"b": "1"}, map[string]any{"b": "2"}},
		"c":     map[string]any{"d": "3"},
		"e":     []any{"4", "5"},
		"f":     map[string]any{"g": map[string]any{"h": "6"}},
		"plain": "x",
		"m":     []any{[]any{nil, "y"}},
	}, got)

	for _, bad := range []string{"a=1&a.b=2", "a[0]=1&a.b=2", "[0]=1", "a[]=1", "a..b=1", "a[5000]=1", ".a=1"} {
		q, err := url.ParseQuery(bad)
		require.NoError(t, err)
		_, err = trigger.NestQuery(q)
		require.Error(t, err, bad)
	}
}

func TestDerivePaths(t *testing.T) {
	require.Equal(t, []string{"a", "b", "b.c"}, trigger.DerivePaths(map[string]any{"a": 1.0, "b": map[string]any{"c": 2.0}}))
	require.Equal(t, []string{"items", "items.0", "items.0.sku", "odd\\.key"},
		trigger.DerivePaths(map[string]any{"items": []any{map[string]any{"sku": "x"}}, "odd.key": 1.0}))
}

func parseOf(t *testing.T, yaml string) *trigger.Parse {
	t.Helper()
	f, err := flow.DecodeYAML([]byte(yaml))
	require.NoError(t, err)
	return f.Trigger.Parse
}

func TestParseApply(t *testing.T) {
	p := parseOf(t, `
id: a
trigger:
  parse:
    headers:
      - {name: X-Request-Id, alias: requestId}
      - {name: X-Count, alias: count, type: number}
      - {name: X-Live, alias: live, type: boolean}
    query:
      - {path: source}
      - {path: filter.0.kind, alias: kind, type: enum, options: [a, b]}
    body:
      - {path: order.id, alias: orderId, type: string, required: true}
      - {path: order.total, type: number}
      - {path: order.status, type: enum, options: [new, paid]}
      - {path: order.gift, type: boolean}
      - {path: order.note}
steps: [{id: s, type: set, values: {x: 1}}]
`)
	q, _ := url.ParseQuery("source=shop&filter[0].kind=b")
	nested, err := trigger.NestQuery(q)
	require.NoError(t, err)
	out, errs := p.Apply([]byte(`{"order":{"id":"A-1","total":250,"status":"paid","gift":false}}`),
		map[string]string{"x-request-id": "r-1", "x-count": "42", "x-live": "true"}, nested)
	require.Empty(t, errs)
	require.Equal(t, map[string]any{
		"requestId": "r-1", "count": 42.0, "live": true,
		"source": "shop", "kind": "b",
		"orderId": "A-1", "total": 250.0, "status": "paid", "gift": false, "note": nil,
	}, out)

	// Every wrong value is reported at once, each with its path.
	_, errs = p.Apply([]byte(`{"order":{"total":"250","status":"lost","gift":"yes"}}`),
		map[string]string{"x-count": "many", "x-live": "1"}, map[string]any{"filter": []any{map[string]any{"kind": "c"}}})
	require.ElementsMatch(t, []field.Error{
		{Path: "headers.X-Count", Message: `must be a number, got "many"`},
		{Path: "headers.X-Live", Message: `must be true or false, got "1"`},
		{Path: "query.filter.0.kind", Message: `must be one of a, b, got "c"`},
		{Path: "body.order.id", Message: "is required"},
		{Path: "body.order.total", Message: `must be a number, got "250"`},
		{Path: "body.order.status", Message: `must be one of new, paid, got "lost"`},
		{Path: "body.order.gift", Message: `must be true or false, got "yes"`},
	}, errs)
}

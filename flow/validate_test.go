package flow_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
)

// validYAML is a flow that passes every rule; cases below break one rule
// each by editing it.
const validYAML = `
id: new-order
name: New order
trigger: {mode: sync, timeout: 10s}
steps:
  - id: totals
    type: set
    values: {withTax: "{{ trigger.body.total * 1.2 }}"}
  - id: big
    type: condition
    if: trigger.body.total > 100
    then:
      - {id: reply, type: response, status: 201, body: {tax: "{{ steps.totals.outputs.withTax }}"}}
    else:
      - {id: small, type: end, status: failure, message: "too small: {{ trigger.body.total }}"}
`

func fieldErrors(t *testing.T, err error) []field.Error {
	t.Helper()
	require.Error(t, err)
	var ve *flow.ValidationError
	require.True(t, errors.As(err, &ve), "want *flow.ValidationError, got %T: %v", err, err)
	return ve.Errors
}

// requireError asserts that one of errs is at path and contains want.
func requireError(t *testing.T, errs []field.Error, path, want string) {
	t.Helper()
	for _, e := range errs {
		if e.Path == path && strings.Contains(e.Message, want) {
			return
		}
	}
	t.Fatalf("no error at %q containing %q; got:\n%v", path, want, errs)
}

func TestValidFlowDecodes(t *testing.T) {
	f, err := flow.DecodeYAML([]byte(validYAML))
	require.NoError(t, err)
	require.Equal(t, "new-order", f.ID)
	require.Equal(t, trigger.ModeSync, f.Trigger.EffectiveMode())
	require.Len(t, f.Steps, 2)
	cond, ok := f.Steps[1].Spec.(*flow.Condition)
	require.True(t, ok)
	require.Equal(t, "trigger.body.total > 100", cond.If)
	require.Equal(t, "reply", cond.Then[0].ID)
}

func TestValidationRules(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		path string
		want string
	}{
		{"unknown top-level field", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {x: 1}}], colour: red}`, "colour", "unknown field"},
		{"unknown trigger field", `{id: a, trigger: {mood: happy}, steps: [{id: s, type: set, values: {x: 1}}]}`, "trigger.mood", "unknown field"},
		{"unknown step field", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {x: 1}, colour: red}]}`, "steps[0].colour", "unknown field for a set step"},
		{"unknown nested field", `{id: a, trigger: {}, steps: [{id: s, type: switch, cases: [{if: "true", steps: [{id: t, type: set, values: {x: 1}}], when: 1}]}]}`, "steps[0].cases[0].when", "unknown field"},
		{"missing id", `{trigger: {}, steps: [{id: s, type: set, values: {x: 1}}]}`, "id", "is required"},
		{"bad flow id", `{id: "New Order", trigger: {}, steps: [{id: s, type: set, values: {x: 1}}]}`, "id", "lowercase id"},
		{"no steps", `{id: a, trigger: {}, steps: []}`, "steps", "at least 1"},
		{"bad mode", `{id: a, trigger: {mode: later}, steps: [{id: s, type: set, values: {x: 1}}]}`, "trigger.mode", "one of: sync, async"},
		{"short token", `{id: a, trigger: {token: abc}, steps: [{id: s, type: set, values: {x: 1}}]}`, "trigger.token", "at least 22"},
		{"timeout on async", `{id: a, trigger: {timeout: 5s}, steps: [{id: s, type: set, values: {x: 1}}]}`, "trigger.timeout", "sync triggers only"},
		{"timeout too long", `{id: a, trigger: {mode: sync, timeout: 1h}, steps: [{id: s, type: set, values: {x: 1}}]}`, "trigger.timeout", "at most 5m"},
		{"bad duration", `{id: a, trigger: {mode: sync, timeout: soon}, steps: [{id: s, type: set, values: {x: 1}}]}`, "trigger.timeout", "invalid duration"},
		{"response on sync trigger", `{id: a, trigger: {mode: sync, response: {status: 200}}, steps: [{id: s, type: set, values: {x: 1}}]}`, "trigger.response", "async triggers only"},
		{"missing step id", `{id: a, trigger: {}, steps: [{type: set, values: {x: 1}}]}`, "steps[0].id", "is required"},
		{"step id not an identifier", `{id: a, trigger: {}, steps: [{id: my-step, type: set, values: {x: 1}}]}`, "steps[0].id", "identifier"},
		{"duplicate step id", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {x: 1}}, {id: c, type: condition, if: "true", then: [{id: s, type: set, values: {y: 1}}]}]}`, "steps[1].then[0].id", `duplicate step id "s" (first used at steps[0])`},
		{"missing type", `{id: a, trigger: {}, steps: [{id: s}]}`, "steps[0].type", "is required"},
		{"unknown type", `{id: a, trigger: {}, steps: [{id: s, type: teleport}]}`, "steps[0].type", `unknown step type "teleport"`},
		{"wrong field type", `{id: a, trigger: {}, steps: [{id: s, type: loop, over: "[]", max: lots, steps: [{id: t, type: set, values: {x: 1}}]}]}`, "steps[0].max", "must be an integer"},
		{"condition without if", `{id: a, trigger: {}, steps: [{id: s, type: condition, then: [{id: t, type: set, values: {x: 1}}]}]}`, "steps[0].if", "is required"},
		{"condition without branches", `{id: a, trigger: {}, steps: [{id: s, type: condition, if: "true"}]}`, "steps[0].then", "then or else"},
		{"expression does not compile", `{id: a, trigger: {}, steps: [{id: s, type: condition, if: "trigger.body.x >", then: [{id: t, type: set, values: {x: 1}}]}]}`, "steps[0].if", "expression `trigger.body.x >`"},
		{"unknown name in expression", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {x: "{{ trigerr.body }}"}}]}`, "steps[0].values.x", "unknown name trigerr"},
		{"now is not allowed", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {x: "{{ now() }}"}}]}`, "steps[0].values.x", "now"},
		{"item outside a loop", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {x: "{{ item }}"}}]}`, "steps[0].values.x", "unknown name item"},
		{"unclosed template", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {x: "{{ trigger.body"}}]}`, "steps[0].values.x", "unclosed {{"},
		{"reference to a later step", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {x: "{{ steps.t.outputs }}"}}, {id: t, type: set, values: {y: 1}}]}`, "steps[0].values.x", "steps.t, which does not run before this step"},
		{"reference to a missing step", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {x: "{{ steps.ghost }}"}}]}`, "steps[0].values.x", "no step has that id"},
		{"reference to itself", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {x: "{{ steps.s }}"}}]}`, "steps[0].values.x", "does not run before"},
		{"reference across parallel branches", `{id: a, trigger: {}, steps: [{id: p, type: parallel, branches: [{steps: [{id: l, type: set, values: {x: 1}}]}, {steps: [{id: r, type: set, values: {y: "{{ steps.l }}"}}]}]}]}`, "steps[0].branches[1].steps[0].values.y", "does not run before"},
		{"reference from else to then", `{id: a, trigger: {}, steps: [{id: c, type: condition, if: "true", then: [{id: t, type: set, values: {x: 1}}], else: [{id: e, type: set, values: {y: "{{ steps.t }}"}}]}]}`, "steps[0].else[0].values.y", "does not run before"},
		{"response in an async flow", `{id: a, trigger: {}, steps: [{id: r, type: response, status: 200}]}`, "steps[0]", "needs a sync trigger"},
		{"response status out of range", `{id: a, trigger: {mode: sync}, steps: [{id: r, type: response, status: 99}]}`, "steps[0].status", "at least 100"},
		{"response header name", `{id: a, trigger: {mode: sync}, steps: [{id: r, type: response, headers: {"bad header": x}}]}`, "steps[0].headers[bad header]", "valid HTTP header name"},
		{"loop max over the bound", `{id: a, trigger: {}, steps: [{id: l, type: loop, over: "[1]", max: 500000, steps: [{id: t, type: set, values: {x: 1}}]}]}`, "steps[0].max", "at most 100000"},
		{"loop without steps", `{id: a, trigger: {}, steps: [{id: l, type: loop, over: "[1]"}]}`, "steps[0].steps", "is required"},
		{"parallel with one branch", `{id: a, trigger: {}, steps: [{id: p, type: parallel, branches: [{steps: [{id: t, type: set, values: {x: 1}}]}]}]}`, "steps[0].branches", "at least 2"},
		{"delay with neither", `{id: a, trigger: {}, steps: [{id: d, type: delay}]}`, "steps[0].duration", "a delay needs duration (such as 10m) or until"},
		{"delay with both", `{id: a, trigger: {}, steps: [{id: d, type: delay, duration: 1m, until: "2030-01-01T00:00:00Z"}]}`, "steps[0].until", "set duration or until, not both"},
		{"delay too long", `{id: a, trigger: {}, steps: [{id: d, type: delay, duration: 400d}]}`, "steps[0].duration", "at most"},
		{"end with bad status", `{id: a, trigger: {}, steps: [{id: e, type: end, status: maybe}]}`, "steps[0].status", "one of: success, failure"},
		{"set with bad variable name", `{id: a, trigger: {}, steps: [{id: s, type: set, values: {"2fast": 1}}]}`, "steps[0].values.2fast", "variable name"},
		{"switch without cases", `{id: a, trigger: {}, steps: [{id: s, type: switch, cases: []}]}`, "steps[0].cases", "at least 1"},
		{"switch case without if", `{id: a, trigger: {}, steps: [{id: s, type: switch, cases: [{steps: [{id: t, type: set, values: {x: 1}}]}]}]}`, "steps[0].cases[0].if", "is required"},
		{"step that is not an object", `{id: a, trigger: {}, steps: [42]}`, "steps[0]", "must be an object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := flow.DecodeYAML([]byte(tc.yaml))
			require.Nil(t, f, "an invalid flow must not be returned")
			requireError(t, fieldErrors(t, err), tc.path, tc.want)
		})
	}
}

func TestAllErrorsAreReportedAtOnce(t *testing.T) {
	_, err := flow.DecodeYAML([]byte(`
id: Bad Id
trigger: {mode: later}
steps:
  - {id: a, type: teleport}
  - {id: a, type: set, values: {x: "{{ nope }}"}, extra: 1}
  - id: c
    type: condition
    if: "1 +"
    then: [{id: d, type: delay}]
`))
	errs := fieldErrors(t, err)
	requireError(t, errs, "id", "lowercase id")
	requireError(t, errs, "trigger.mode", "one of")
	requireError(t, errs, "steps[0].type", "unknown step type")
	requireError(t, errs, "steps[1].id", "duplicate step id")
	requireError(t, errs, "steps[1].extra", "unknown field")
	requireError(t, errs, "steps[1].values.x", "unknown name nope")
	requireError(t, errs, "steps[2].if", "expression `1 +`")
	requireError(t, errs, "steps[2].then[0].duration", "a delay needs duration")
	// Errors come in document order.
	require.Equal(t, "id", errs[0].Path)
	require.Contains(t, err.Error(), "steps[2].then[0].duration: ")
	require.NotContains(t, err.Error(), "steps[2].then[0].until", "one message for one problem")
}

func TestReferencesToEarlierStepsAreAllowed(t *testing.T) {
	_, err := flow.DecodeYAML([]byte(`
id: a
trigger: {mode: sync}
steps:
  - id: p
    type: parallel
    branches:
      - steps: [{id: l, type: set, values: {x: 1}}]
      - steps: [{id: r, type: set, values: {y: 2}}]
  - id: each
    type: loop
    over: "[1, 2]"
    steps:
      - {id: first, type: set, values: {v: "{{ item + index }}"}}
      - {id: second, type: set, values: {w: "{{ steps.first.outputs.v }}"}}
  - {id: after, type: response, body: {l: "{{ steps.l.outputs.x }}", r: "{{ steps['r'].outputs.y }}", s: "{{ steps.second.status }}", p: "{{ steps.p.status }}"}}
`))
	require.NoError(t, err)
}

func TestJSONAndYAMLDecodeTheSame(t *testing.T) {
	fy, err := flow.DecodeYAML([]byte(validYAML))
	require.NoError(t, err)
	js, err := jsonOf(fy)
	require.NoError(t, err)
	fj, err := flow.Decode(js)
	require.NoError(t, err)
	js2, err := jsonOf(fj)
	require.NoError(t, err)
	require.JSONEq(t, string(js), string(js2), "a flow must round-trip through JSON (the workflow receives it so)")
}

func TestMalformedInput(t *testing.T) {
	_, err := flow.Decode([]byte(`{"id": "a", "steps": [`))
	errs := fieldErrors(t, err)
	require.Contains(t, errs[0].Message, "malformed JSON")

	_, err = flow.DecodeYAML([]byte("id: [unclosed"))
	errs = fieldErrors(t, err)
	require.Contains(t, errs[0].Message, "malformed YAML")
}

func TestRegistryRejectsDuplicates(t *testing.T) {
	// The same name, and the same spec type under another name.
	require.Panics(t, func() { flow.Register[flow.End](flow.TypeSet, "again") })
	require.Panics(t, func() { flow.Register[flow.Set]("set2", "again") })
	k, ok := flow.KindOf[*flow.Loop]()
	require.True(t, ok)
	require.Equal(t, flow.TypeLoop, k.Name)
	names := []string{}
	for _, k := range flow.Kinds() {
		names = append(names, k.Name)
	}
	require.Equal(t, []string{"approval", "call", "condition", "delay", "end", "http", "loop", "output", "parallel", "record.create", "record.delete", "record.find", "record.update", "record.upsert", "response", "set", "switch", "wait"}, names)
}

func TestYAMLIsReadAsYAML12(t *testing.T) {
	// YAML 1.1 reads y, no and on as booleans; flows must keep them.
	f, err := flow.DecodeYAML([]byte(`{id: a, trigger: {}, steps: [{id: s, type: set, values: {y: no, on: "x"}}]}`))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"y": "no", "on": "x"}, f.Steps[0].Spec.(*flow.Set).Values)
}

// TestDurationLimitsAreDurations walks every registered spec and the flow
// itself: a duration limit is written as a duration (dmin=1s), never as
// nanoseconds, and every one parses.
func TestDurationLimitsAreDurations(t *testing.T) {
	durType := reflect.TypeOf(field.Duration(0))
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || seen[rt] {
			return
		}
		seen[rt] = true
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if f.Type == durType {
				for _, rule := range strings.Split(f.Tag.Get("validate"), ",") {
					name, param, _ := strings.Cut(rule, "=")
					require.NotContains(t, []string{"min", "max", "gte", "lte"}, name, "%s.%s: write duration limits as dmin/dmax", rt.Name(), f.Name)
					if name == "dmin" || name == "dmax" {
						_, err := field.ParseDuration(param)
						require.NoError(t, err, "%s.%s", rt.Name(), f.Name)
					}
				}
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(flow.Flow{}))
	for _, k := range flow.Kinds() {
		walk(k.SpecType)
	}
	require.Greater(t, len(seen), 10)
}

// TestAuthConstantsMatchTags: struct tags cannot name constants, so this
// keeps the accepted auth types, versions and places in step with the
// constants the worker switches on.
func TestAuthConstantsMatchTags(t *testing.T) {
	rt := reflect.TypeOf(flow.HTTPAuth{})
	oneof := func(name string) []string {
		f, ok := rt.FieldByName(name)
		require.True(t, ok)
		for _, rule := range strings.Split(f.Tag.Get("validate"), ",") {
			if v, ok := strings.CutPrefix(rule, "oneof="); ok {
				return strings.Fields(v)
			}
		}
		t.Fatalf("%s has no oneof rule", name)
		return nil
	}
	require.Equal(t, []string{flow.AuthBasic, flow.AuthBearer, flow.AuthAPIKey, flow.AuthSignature}, oneof("Type"))
	require.Equal(t, []string{flow.SignatureHubSpotV1, flow.SignatureHubSpotV2, flow.SignatureHubSpotV3, flow.SignatureStandardWebhooks}, oneof("Version"))
	require.Equal(t, []string{flow.APIKeyInHeader, flow.APIKeyInQuery}, oneof("In"))
}

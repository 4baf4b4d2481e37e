package reference_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/reference"
)

// The reference's Evaluated column is true to the code: a field marked
// template or expression is what the step hands to the expression checker
// (Spec.Expressions) when it holds {{ }}, and no other field is.
func TestEvaluatedFieldsAreWhatTheStepsEvaluate(t *testing.T) {
	checked := 0
	for _, d := range reference.StepDocs() {
		kind, ok := flow.LookupKind(d.Name)
		require.True(t, ok)
		for _, f := range reference.Flatten(d.Fields) {
			if f.Path == "id" || f.Path == "type" || f.Path == "name" {
				continue
			}
			value, ok := templateValue(f.Shape)
			if !ok {
				continue
			}
			spec := kind.New()
			require.NoError(t, json.Unmarshal(nest(f.Path, value), spec), "%s.%s", d.Name, f.Path)
			at := strings.ReplaceAll(strings.ReplaceAll(f.Path, "[]", "[0]"), ".<name>", ".k")
			evaluated := false
			for _, ef := range spec.Expressions() {
				if ef.Path == at || strings.HasPrefix(ef.Path, at+".") || strings.HasPrefix(ef.Path, at+"[") {
					evaluated = true
				}
			}
			require.Equal(t, f.Evaluated != "", evaluated, "%s.%s: the reference says evaluated=%q", d.Name, f.Path, f.Evaluated)
			checked++
		}
	}
	require.Greater(t, checked, 40)
}

// templateValue is a value of the shape holding a template, for the
// shapes that can hold one.
func templateValue(s *reference.Shape) (any, bool) {
	const tmpl = "{{ trigger.body.x }}"
	switch s.Kind {
	case "string", "any":
		return tmpl, true
	case "map", "list":
		if s.Elem.Kind != "string" && s.Elem.Kind != "any" {
			return nil, false
		}
		if s.Kind == "map" {
			return map[string]any{"k": tmpl}, true
		}
		return []any{tmpl}, true
	}
	return nil, false
}

// nest writes value at a flattened path: cases[].if is
// {"cases": [{"if": value}]}.
func nest(path string, value any) []byte {
	parts := strings.Split(path, ".")
	v := value
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if p == "<name>" {
			v = map[string]any{"k": v}
			continue
		}
		if name, ok := strings.CutSuffix(p, "[]"); ok {
			v = map[string]any{name: []any{v}}
			continue
		}
		v = map[string]any{p: v}
	}
	b, _ := json.Marshal(v)
	return b
}

// Every default and rule a type declares by path (flow.Defaulter,
// flow.Ruler) lands on a field of the reference: a path with a typo would
// otherwise be dropped without a word.
func TestDeclaredDefaultsAndRulesNameRealFields(t *testing.T) {
	docs := map[string]any{
		"trigger":     &trigger.Trigger{},
		"destination": &flow.Destination{},
		"collection":  &records.Collection{},
	}
	for _, k := range flow.Kinds() {
		docs[k.Name] = k.New()
	}
	byName := map[string]*reference.Doc{}
	for _, d := range reference.Docs() {
		byName[d.Name] = d
	}
	declared := 0
	for name, v := range docs {
		fields := map[string]*reference.Field{}
		for _, f := range reference.Flatten(byName[name].Fields) {
			fields[strings.ReplaceAll(f.Path, "[]", "")] = f
		}
		if d, ok := v.(flow.Defaulter); ok {
			for path, def := range d.FieldDefaults() {
				f, ok := fields[path]
				require.True(t, ok, "%s declares a default for %s, which it has no field for", name, path)
				require.NotEmpty(t, f.Default, "%s.%s", name, path)
				require.Contains(t, []string{fmt.Sprint(def), reference.FormatDuration(asDuration(def))}, f.Default, "%s.%s", name, path)
				declared++
			}
		}
		if r, ok := v.(flow.Ruler); ok {
			for path := range r.FieldRules() {
				_, ok := fields[path]
				require.True(t, ok, "%s declares rules for %s, which it has no field for", name, path)
				declared++
			}
		}
	}
	for path := range (&flow.Step{}).FieldRules() {
		require.Contains(t, []string{"id", "type", "name"}, path)
	}
	require.Greater(t, declared, 30)
}

func asDuration(v any) field.Duration {
	switch d := v.(type) {
	case field.Duration:
		return d
	case interface{ Nanoseconds() int64 }:
		return field.Duration(d.Nanoseconds())
	}
	return 0
}

// Every step type says what its outputs are, for the reference.
func TestEveryStepTypeDocumentsItsOutputs(t *testing.T) {
	for _, d := range reference.StepDocs() {
		require.NotEmpty(t, d.Outputs, d.Name)
	}
}

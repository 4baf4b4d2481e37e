package flow

import (
	"regexp"
	"slices"
	"strings"

	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
)

// ValueTemplates lists, with paths, every template string inside a JSON-like
// value (objects, arrays, strings), for validation. Object keys are visited
// in sorted order so errors come out in a stable order.
func ValueTemplates(path string, v any) []ExprField {
	var out []ExprField
	var walk func(string, any)
	walk = func(p string, v any) {
		switch t := v.(type) {
		case string:
			if expression.IsTemplate(t) {
				out = append(out, ExprField{Path: p, Source: t})
			}
		case map[string]any:
			for _, k := range SortedKeys(t) {
				walk(field.JoinPath(p, k), t[k])
			}
		case []any:
			for i, e := range t {
				walk(field.IndexPath(p, i), e)
			}
		}
	}
	walk(path, v)
	return out
}

var (
	stepsWord    = regexp.MustCompile(`\bsteps\b`)
	stepsMember  = regexp.MustCompile(`^\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)`)
	safeStepRead = regexp.MustCompile(`^\s*\.\s*(?:status|error)\b|^\s*\.\s*outputs\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)`)
)

// ReadsResponse reports whether an expression of the flow may read the
// response body or headers of the step with this id (steps.<id>.outputs.body
// or .headers, or the step's results as a whole). An http step whose
// response nobody reads keeps none of it in history.
func (f *Flow) ReadsResponse(stepID string) bool { return f.ReadsOutputs(stepID, "body", "headers") }

// ReadsOutputs reports whether an expression of the flow may read one of the
// named outputs of the step with this id (steps.<id>.outputs.<name>), or the
// step's results as a whole. Reading other outputs, status or error does not
// count. It errs on the side of yes: a dynamic read (steps[...]) or steps as
// a whole counts. A property that happens to share the step's name
// (trigger.body.<id>) does not.
func (f *Flow) ReadsOutputs(stepID string, names ...string) bool {
	reads := false
	f.Walk(func(_ string, s *Step) bool {
		if s.Spec == nil {
			return true
		}
		for _, ef := range s.Spec.Expressions() {
			if sourceReadsOutputs(ef.Source, stepID, names) {
				reads = true
				return false
			}
		}
		return true
	})
	return reads
}

func sourceReadsOutputs(src, stepID string, names []string) bool {
	for _, loc := range stepsWord.FindAllStringIndex(src, -1) {
		if before := strings.TrimRight(src[:loc[0]], " \t"); strings.HasSuffix(before, ".") {
			continue // a property named steps (trigger.body.steps), not the step results
		}
		rest := src[loc[1]:]
		m := stepsMember.FindStringSubmatch(rest)
		if m == nil {
			return true // steps[...], or steps as a whole
		}
		if m[1] != stepID {
			continue
		}
		rest = rest[len(m[0]):]
		safe := safeStepRead.FindStringSubmatch(rest)
		if safe == nil || slices.Contains(names, safe[1]) {
			return true
		}
	}
	return false
}

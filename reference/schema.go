package reference

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/flow/field"
)

// DurationPattern is what field.ParseDuration accepts: Go's duration syntax
// with an optional leading whole number of days (3d, 1d12h, 90s, 1.5h).
// TestDurationPatternAgreesWithParseDuration holds the two together.
const DurationPattern = `^\s*(?:[0-9]+d(?:[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+|[-+]?0)?|[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+|[-+]?0)\s*$`

// Schemas are the names of the JSON Schemas, as served and committed
// (schemas/<name>.json).
var Schemas = []string{"flow", "destination", "collection"}

// onlyValidate says what the schema cannot check, so editors and CI know
// to run hookflow's own validation too.
const onlyValidate = " Generated from hookflow's spec types (do not edit). The schema checks shapes, types, enums, required fields, lengths and patterns; only `hookflow %s validate` (and the API on apply) also checks %s."

// Schema returns the JSON Schema (draft 2020-12) of a file kind: flow,
// destination or collection; ok is false for any other name.
func Schema(name string) ([]byte, bool) {
	var s map[string]any
	switch name {
	case "flow":
		s = flowSchema()
	case "destination":
		d := DestinationDoc()
		s = documentSchema(d, "hookflow destination", "A destination file (hookflow destinations apply): a base URL with its auth, headers, timeouts, retry policy and limits, picked by http steps by name."+
			fmt.Sprintf(onlyValidate, "destinations", "durations against their limits (timeouts, periods, windows), that the base URL is an absolute http(s) URL ending with /, &, ? or =, auth's fields for its type, that periods are whole seconds and not repeated, and that window and minRequests come with failureRate"))
	case "collection":
		d := CollectionDoc()
		s = documentSchema(d, "hookflow collection", "A collection file (hookflow collections apply): a named set of records with typed properties, at least one of them unique."+
			fmt.Sprintf(onlyValidate, "collections", "that property names are unique, that at least one property is unique (and not a boolean), that enums have options and only enums have them, and that options are not repeated"))
	default:
		return nil, false
	}
	return marshal(s), true
}

func flowSchema() map[string]any {
	d := FlowDoc()
	s := documentSchema(d, "hookflow flow", "A flow file (hookflow flows apply, or a file of hookflow dev --flows): a trigger and a tree of steps."+
		fmt.Sprintf(onlyValidate, "flows", "expressions and {{ }} templates (that they compile), references between steps (steps.<id> only of a step that runs before, unique step ids), durations against their limits, the trigger's rules by mode (timeout and onTimeout for sync, response for async; exactly one auth), rules between fields of a step (url or baseUrl, body fields by mode, auth's fields for its type), response steps only in sync flows; and, on apply only, that named destinations, called flows and collections exist"))
	defs := s["$defs"].(map[string]any)
	var names []any
	var branches []any
	for _, k := range StepDocs() {
		names = append(names, k.Name)
		def := objectSchema(k.Fields, defs)
		def["description"] = k.Summary
		props := def["properties"].(map[string]any)
		props["type"] = map[string]any{"const": k.Name, "description": "The step type."}
		defs["step."+k.Name] = def
		branches = append(branches, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"type": map[string]any{"const": k.Name}}, "required": []any{"type"}},
			"then": map[string]any{"$ref": "#/$defs/step." + k.Name},
		})
	}
	common := describe(stepType, "", nil, nil)
	step := objectSchema(common, defs)
	delete(step, "additionalProperties") // the step type's own definition closes it
	step["description"] = "A step: id, type and the type's own fields."
	step["properties"].(map[string]any)["type"] = map[string]any{"enum": names, "description": "The step type (see the step reference)."}
	step["allOf"] = branches
	defs["step"] = step
	return s
}

// documentSchema is the schema of a whole file: the object of its fields,
// with its definitions.
func documentSchema(d *Doc, title, description string) map[string]any {
	defs := map[string]any{}
	// Closed like every object: "$schema" as a key would be an unknown
	// field to hookflow, so YAML names the schema in a comment (the
	// modeline) and JSON in the editor's settings.
	s := objectSchema(d.Fields, defs)
	out := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       title,
		"description": description,
		"$defs":       defs,
	}
	for k, v := range s {
		out[k] = v
	}
	return out
}

// objectSchema is a closed object of fields; nested structs go to defs.
func objectSchema(fields []*Field, defs map[string]any) map[string]any {
	props := map[string]any{}
	var required []any
	for _, f := range fields {
		props[f.Name] = fieldSchema(f, defs)
		if f.Required {
			required = append(required, f.Name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func fieldSchema(f *Field, defs map[string]any) map[string]any {
	s := shapeSchema(f.Shape, defs)
	desc := f.Description
	if lim := Limits(f.Shape); len(lim) > 0 && f.Shape.Kind == "duration" {
		// Duration limits are the one kind of limit the schema cannot
		// state: say them.
		desc = strings.TrimSpace(desc + " Limits: " + strings.Join(lim, "; ") + ".")
	}
	if f.Evaluated != "" {
		desc = strings.TrimSpace(desc + " Takes " + evaluatedText(f.Evaluated) + ".")
	}
	if desc != "" {
		s["description"] = desc
	}
	if f.Default != "" {
		s["default"] = defaultJSON(f)
	}
	return s
}

func evaluatedText(e string) string {
	if e == "expression" {
		return "a bare expression"
	}
	return "{{ }} templates"
}

// defaultJSON is the default as the JSON value a file would hold.
func defaultJSON(f *Field) any {
	switch f.Shape.Kind {
	case "integer":
		if n, err := strconv.ParseInt(f.Default, 10, 64); err == nil {
			return n
		}
	case "number":
		if n, err := strconv.ParseFloat(f.Default, 64); err == nil {
			return n
		}
	case "boolean":
		return f.Default == "true"
	case "any":
		var v any
		if json.Unmarshal([]byte(f.Default), &v) == nil {
			return v
		}
	}
	return f.Default
}

func shapeSchema(sh *Shape, defs map[string]any) map[string]any {
	s := map[string]any{}
	switch sh.Kind {
	case "string":
		s["type"] = "string"
	case "duration":
		s["type"] = "string"
		s["pattern"] = DurationPattern
	case "integer", "number", "boolean":
		s["type"] = sh.Kind
	case "any":
	case "object":
		if _, ok := defs[sh.Struct]; !ok {
			defs[sh.Struct] = nil // reserve: a struct that holds itself
			defs[sh.Struct] = objectSchema(sh.Fields, defs)
		}
		s["$ref"] = "#/$defs/" + sh.Struct
	case "steps":
		s["type"] = "array"
		s["items"] = map[string]any{"$ref": "#/$defs/step"}
	case "list":
		s["type"] = "array"
		s["items"] = shapeSchema(sh.Elem, defs)
	case "map":
		s["type"] = "object"
		s["additionalProperties"] = shapeSchema(sh.Elem, defs)
		if len(sh.Key) > 0 {
			s["propertyNames"] = shapeSchema(&Shape{Kind: "string", Rules: sh.Key}, defs)
		}
	}
	applyRules(s, sh)
	return s
}

// applyRules states a shape's validate rules in JSON Schema.
func applyRules(s map[string]any, sh *Shape) {
	var patterns []string
	for _, r := range sh.Rules {
		switch r.Name {
		case "required":
			switch sh.Kind {
			case "string":
				setIfUnset(s, "minLength", 1)
			}
		case "min", "gte":
			setBound(s, sh.Kind, "minLength", "minItems", "minProperties", "minimum", r.Param)
		case "max", "lte":
			setBound(s, sh.Kind, "maxLength", "maxItems", "maxProperties", "maximum", r.Param)
		case "gt":
			s["exclusiveMinimum"] = number(r.Param)
		case "oneof":
			var enum []any
			for _, v := range strings.Fields(r.Param) {
				enum = append(enum, v)
			}
			s["enum"] = enum
		case "excludes":
			patterns = append(patterns, "^[^"+regexp.QuoteMeta(r.Param)+"]*$")
		default:
			if p, ok := field.RulePattern(r.Name); ok {
				patterns = append(patterns, p)
			}
		}
	}
	switch len(patterns) {
	case 0:
	case 1:
		s["pattern"] = patterns[0]
	default:
		var all []any
		for _, p := range patterns {
			all = append(all, map[string]any{"pattern": p})
		}
		s["allOf"] = all
	}
	allowZero(s, sh)
}

// zeros are the values omitempty lets through every other rule: hookflow
// reads an explicit "" or 0 as unset.
var zeros = map[string]any{"string": "", "integer": 0, "number": 0}

// constraintKeys are the keywords a zero value may skip.
var constraintKeys = []string{"minLength", "maxLength", "pattern", "allOf", "enum", "minimum", "maximum", "exclusiveMinimum"}

// allowZero states omitempty: the value's zero passes, whatever the
// other rules say, as it does in validation.
func allowZero(s map[string]any, sh *Shape) {
	zero, ok := zeros[sh.Kind]
	if !ok {
		return
	}
	if _, omit := sh.rule("omitempty"); !omit {
		return
	}
	rules := map[string]any{}
	for _, k := range constraintKeys {
		if v, ok := s[k]; ok {
			rules[k] = v
			delete(s, k)
		}
	}
	if len(rules) == 0 {
		return
	}
	s["anyOf"] = []any{map[string]any{"const": zero}, rules}
}

func setBound(s map[string]any, kind, str, list, obj, num, param string) {
	switch kind {
	case "string":
		s[str] = number(param)
	case "list", "steps":
		s[list] = number(param)
	case "map":
		s[obj] = number(param)
	case "integer", "number":
		s[num] = number(param)
	}
}

func setIfUnset(s map[string]any, k string, v any) {
	if _, ok := s[k]; !ok {
		s[k] = v
	}
}

func number(p string) any {
	if n, err := strconv.ParseInt(p, 10, 64); err == nil {
		return n
	}
	f, err := strconv.ParseFloat(p, 64)
	if err != nil {
		panic(fmt.Sprintf("reference: %q is not a number in a validate tag", p))
	}
	return f
}

// marshal writes a schema as indented JSON with sorted keys (maps), so the
// committed file changes only when the code does.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

package flow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/hookflow/hookflow/flow/field"
)

// Step is one node of the flow tree: the fields every step has, and the
// type-specific Spec. In JSON both sit in one object:
//
//	{"id": "big", "type": "condition", "if": "...", "then": [...]}
type Step struct {
	// ID names the step; later steps read its results as steps.<id>.
	ID string `json:"id" doc:"Names the step; later steps read its results as steps.<id>. Unique in the flow."`
	// Type is a registered step type name.
	Type string `json:"type" doc:"The step type (see the step reference)."`
	// Name is an optional human label, shown as the summary in the Web UI.
	Name string `json:"name,omitempty" doc:"A human label, shown as the summary in the Web UI."`
	// Spec is the decoded type-specific part; nil when Type is unknown.
	Spec Spec `json:"-"`

	// problems found while decoding, with paths relative to the step. They
	// are reported by Validate with the step's full path, so that one bad
	// step does not hide the errors of the others.
	problems field.List
}

var commonStepFields = map[string]bool{"id": true, "type": true, "name": true}

// UnmarshalJSON decodes the common fields and the spec of the registered
// type. It never fails for a JSON object: what is wrong is kept for Validate,
// which reports it with the full path together with every other error.
func (s *Step) UnmarshalJSON(b []byte) error {
	*s = Step{}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil || fields == nil {
		s.problems.Add("", "must be an object with id and type")
		return nil
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"id", &s.ID}, {"type", &s.Type}, {"name", &s.Name}} {
		if raw, ok := fields[f.name]; ok {
			if err := json.Unmarshal(raw, f.dst); err != nil {
				s.problems.Add(f.name, "must be a string")
			}
		}
	}
	kind, ok := LookupKind(s.Type)
	if !ok {
		// Validate reports the unknown or missing type.
		return nil
	}
	spec := kind.New()
	rest := make(map[string]json.RawMessage, len(fields))
	known := jsonFieldNames(reflect.TypeOf(spec))
	for k, v := range fields {
		if commonStepFields[k] {
			continue
		}
		if !known[k] {
			allowed := append(SortedKeys(known), "id", "name", "type")
			sort.Strings(allowed)
			s.problems.Add(k, "unknown field for a %s step (allowed: %s)", s.Type, strings.Join(allowed, ", "))
			continue
		}
		rest[k] = v
	}
	for k, v := range rest {
		if f, ok := structFieldByJSONName(reflect.TypeOf(spec), k); ok {
			checkUnknownFields(v, f.Type, k, &s.problems)
		}
	}
	body, _ := json.Marshal(rest)
	if err := json.Unmarshal(body, spec); err != nil {
		s.problems = append(s.problems, describeJSONError(err))
	}
	s.Spec = spec
	return nil
}

// MarshalJSON writes the common fields and the spec in one object, so that a
// decoded flow round-trips (the workflow receives it as its input snapshot).
func (s Step) MarshalJSON() ([]byte, error) {
	out := map[string]json.RawMessage{}
	if s.Spec != nil {
		b, err := json.Marshal(s.Spec)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, err
		}
	}
	for k, v := range map[string]string{"id": s.ID, "type": s.Type, "name": s.Name} {
		if v == "" && k == "name" {
			continue
		}
		b, _ := json.Marshal(v)
		out[k] = b
	}
	return json.Marshal(out)
}

// describeJSONError turns encoding/json errors into a path and a message a
// person understands (no Go type names).
func describeJSONError(err error) field.Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return field.Error{Path: jsonFieldToPath(te.Field), Message: "must be " + jsonTypeName(te.Type)}
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return field.Error{Message: fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn)}
	}
	msg := err.Error()
	return field.Error{Message: strings.TrimPrefix(msg, "json: ")}
}

// jsonFieldToPath turns encoding/json's "cases.0.if" into "cases[0].if".
func jsonFieldToPath(jsonField string) string {
	parts := strings.Split(jsonField, ".")
	var b strings.Builder
	for i, p := range parts {
		if p == "" {
			continue
		}
		if strings.Trim(p, "0123456789") == "" { // an index
			b.WriteString("[" + p + "]")
			continue
		}
		if i > 0 && b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

func jsonTypeName(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	switch t.Kind() {
	case reflect.String:
		if t == reflect.TypeOf(field.Duration(0)) {
			return "a duration string such as 30s, 5m, 2h or 3d"
		}
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if t == reflect.TypeOf(field.Duration(0)) {
			return "a duration string such as 30s, 5m, 2h or 3d"
		}
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	}
	return "a different type"
}

var fieldNamesCache sync.Map // reflect.Type -> map[string]bool

// jsonFieldNames lists the JSON names a struct accepts, for reporting every
// unknown field at once (encoding/json's DisallowUnknownFields stops at the
// first one and cannot name the path).
func jsonFieldNames(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v, ok := fieldNamesCache.Load(t); ok {
		return v.(map[string]bool)
	}
	names := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			for n := range jsonFieldNames(f.Type) {
				names[n] = true
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	fieldNamesCache.Store(t, names)
	return names
}

// SortedKeys returns a map's keys in order: the one way hookflow iterates
// maps where the order can be seen (workflow code must be deterministic).
func SortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// decodeStrict decodes JSON into v, recording every unknown field (with its
// path) and the first type error instead of stopping at the first problem.
// Nested steps record their own problems (see Step.UnmarshalJSON).
func decodeStrict(data []byte, v any, prefix string, errs *field.List) {
	if !checkUnknownFields(data, reflect.TypeOf(v), prefix, errs) {
		return
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(v); err != nil {
		fe := describeJSONError(err)
		errs.Add(field.JoinPath(prefix, fe.Path), "%s", fe.Message)
	}
}

var stepType = reflect.TypeOf(Step{})

// checkUnknownFields walks raw JSON beside the Go type it decodes into and
// records every object key the type does not declare. Steps are skipped:
// they check themselves against their registered type. It returns false when
// the JSON itself is malformed.
func checkUnknownFields(raw json.RawMessage, t reflect.Type, path string, errs *field.List) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == stepType:
		return true
	case t == durationType:
		if msg, ok := field.CheckDuration(raw); !ok {
			errs.Add(path, "%s", msg)
		}
	case t.Kind() == reflect.Struct:
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			var syn *json.SyntaxError
			if errors.As(err, &syn) {
				errs.Add(path, "malformed JSON at byte %d: %v", syn.Offset, syn)
				return false
			}
			return true // a type error: the decoder reports it with its path
		}
		known := jsonFieldNames(t)
		for _, k := range SortedKeys(fields) {
			f, ok := structFieldByJSONName(t, k)
			if !ok || !known[k] {
				errs.Add(field.JoinPath(path, k), "unknown field (allowed: %s)", strings.Join(SortedKeys(known), ", "))
				continue
			}
			checkUnknownFields(fields[k], f.Type, field.JoinPath(path, k), errs)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			for i, item := range items {
				checkUnknownFields(item, t.Elem(), field.IndexPath(path, i), errs)
			}
		}
	}
	return true
}

// structFieldByJSONName finds the field a JSON key decodes into, looking
// through embedded structs.
func structFieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if f.Anonymous && tag == "" {
			if ef, ok := structFieldByJSONName(f.Type, name); ok {
				return ef, true
			}
			continue
		}
		if tag == name || (tag == "" && f.Name == name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// Package reference describes every file a hookflow user writes (flows,
// destinations, collections) from the Go types that decode and validate
// them: their json and validate tags, doc and expr tags, and the defaults
// the code fills in (flow.Defaulter). From that one description it renders
// the JSON Schemas (schemas/), the Markdown reference (docs/reference/)
// and hookflow explain's entries, so none of them can drift from the code.
//
// It imports no Temporal package: cmd/docgen runs it without the embedded
// server.
package reference

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/records"
)

// Field is one field of a file: what it is, its shape and its rules.
type Field struct {
	// Name is the JSON name; Path the dotted path from the document's
	// root, with [] for the elements of a list (cases[].if).
	Name, Path  string
	Description string
	// Evaluated is "template" (strings may hold {{ }}), "expression" (a
	// bare expression) or "".
	Evaluated string
	Required  bool
	// Default is the value the code fills in when the field is unset.
	Default string
	Shape   *Shape
}

// Shape is a value's type and the rules on it.
type Shape struct {
	// Kind: string, duration, integer, number, boolean, any, object,
	// list, map or steps (a nested step list).
	Kind  string
	Rules []Rule
	// Struct is the Go type name of an object (its $defs name).
	Struct string
	Fields []*Field
	// Elem is a list's or map's element; Key the rules on a map's keys.
	Elem *Shape
	Key  []Rule
}

// Rule is one validate rule: required, min=3, oneof=a b.
type Rule struct{ Name, Param string }

// Doc is one documented thing: a file kind (flow, destination,
// collection), the trigger, or a step type.
type Doc struct {
	// Name is what explain takes: flow, trigger, destination,
	// collection, or a step type (http, record.find).
	Name    string
	Summary string
	// Outputs says what later steps read as steps.<id>.outputs (step
	// types only).
	Outputs string
	Fields  []*Field
	// Struct is the Go type the fields come from.
	Struct string
}

var durationType = reflect.TypeFor[field.Duration]()
var stepType = reflect.TypeFor[flow.Step]()

// describe walks a struct type into its fields. rules and defaults hold
// what a Ruler or Defaulter above said, by path relative to the document.
func describe(t reflect.Type, prefix string, rules map[string]string, defaults map[string]any) []*Field {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if r, ok := reflect.New(t).Interface().(flow.Ruler); ok {
		rules = merged(rules, prefix, r.FieldRules())
	}
	if d, ok := reflect.New(t).Interface().(flow.Defaulter); ok {
		defaults = mergedDefaults(defaults, prefix, d.FieldDefaults())
	}
	var out []*Field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.IsExported() || name == "-" || sf.Tag.Get("schema") == "-" {
			continue
		}
		if sf.Anonymous && name == "" {
			out = append(out, describe(sf.Type, prefix, rules, defaults)...)
			continue
		}
		if name == "" {
			name = sf.Name
		}
		path := joinPath(prefix, name)
		tag := sf.Tag.Get("validate")
		if r, ok := rules[path]; ok {
			tag = r
		}
		self, elem, key := splitRules(tag)
		f := &Field{
			Name:        name,
			Path:        path,
			Description: sf.Tag.Get("doc"),
			Evaluated:   sf.Tag.Get("expr"),
			Shape:       shapeOf(sf.Type, path, self, elem, key, rules, defaults),
		}
		f.Required = requiredBy(f.Shape, strings.Contains(opts, "omitempty"))
		if d, ok := defaults[path]; ok {
			f.Default = formatValue(d)
		}
		out = append(out, f)
	}
	return out
}

func shapeOf(t reflect.Type, path string, self, elem, key []Rule, rules map[string]string, defaults map[string]any) *Shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s := &Shape{Rules: self}
	switch {
	case t == durationType:
		s.Kind = "duration"
	case t.Kind() == reflect.Slice && t.Elem() == stepType:
		s.Kind = "steps"
	case t.Kind() == reflect.Slice:
		s.Kind = "list"
		s.Elem = shapeOf(t.Elem(), path, elem, nil, nil, rules, defaults)
	case t.Kind() == reflect.Map:
		s.Kind = "map"
		s.Key = key
		s.Elem = shapeOf(t.Elem(), path, elem, nil, nil, rules, defaults)
	case t.Kind() == reflect.Struct:
		s.Kind = "object"
		s.Struct = t.Name()
		s.Fields = describe(t, path, rules, defaults)
	case t.Kind() == reflect.Interface:
		s.Kind = "any"
	case t.Kind() == reflect.String:
		s.Kind = "string"
	case t.Kind() == reflect.Bool:
		s.Kind = "boolean"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		s.Kind = "number"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s.Kind = "integer"
	default:
		panic(fmt.Sprintf("reference: %s at %s has no JSON shape", t, path))
	}
	return s
}

// splitRules splits a validate tag into the rules on the value itself,
// on its elements (after dive) and on a map's keys (keys ... endkeys).
func splitRules(tag string) (self, elem, key []Rule) {
	if tag == "" {
		return nil, nil, nil
	}
	target := &self
	inKeys := false
	for _, part := range strings.Split(tag, ",") {
		name, param, _ := strings.Cut(part, "=")
		switch {
		case name == "dive":
			target = &elem
			continue
		case name == "keys":
			inKeys = true
			continue
		case name == "endkeys":
			inKeys = false
			continue
		}
		r := Rule{Name: name, Param: param}
		if inKeys {
			key = append(key, r)
		} else {
			*target = append(*target, r)
		}
	}
	return self, elem, key
}

// requiredBy tells whether a field must be present: its rules say so, or
// its zero value (what an absent field decodes to) breaks one of them.
func requiredBy(s *Shape, omitEmptyJSON bool) bool {
	omit := false
	for _, r := range s.Rules {
		switch r.Name {
		case "omitempty":
			omit = true
		case "required":
			return true
		case "gt":
			if !omit && (s.Kind == "integer" || s.Kind == "number") {
				return true
			}
		}
	}
	return false
}

func (s *Shape) rule(name string) (string, bool) {
	for _, r := range s.Rules {
		if r.Name == name {
			return r.Param, true
		}
	}
	return "", false
}

func merged(base map[string]string, prefix string, add map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(add))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range add {
		out[joinPath(prefix, k)] = v
	}
	return out
}

func mergedDefaults(base map[string]any, prefix string, add map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(add))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range add {
		out[joinPath(prefix, k)] = v
	}
	return out
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// formatValue writes a default as a person writes it in a file.
func formatValue(v any) string {
	switch d := v.(type) {
	case field.Duration:
		return FormatDuration(d)
	case time.Duration:
		return FormatDuration(field.Duration(d))
	case string:
		return d
	case trigger.Mode:
		return string(d)
	}
	return fmt.Sprint(v)
}

// FormatDuration writes a duration the way flows do: 3d, 8h, 1m30s, 100ms.
func FormatDuration(d field.Duration) string {
	std := d.Std()
	if std == 0 {
		return "0s"
	}
	const day = 24 * time.Hour
	out := ""
	if std >= day && std%day == 0 {
		return fmt.Sprintf("%dd", std/day)
	}
	s := std.String()
	for _, unit := range []string{"m0s", "h0m"} {
		if strings.HasSuffix(s, unit) {
			s = strings.TrimSuffix(s, unit[1:])
		}
	}
	return out + s
}

// Docs returns every documented thing: flow, trigger, destination,
// collection, then the step types by name.
func Docs() []*Doc {
	out := []*Doc{FlowDoc(), TriggerDoc(), DestinationDoc(), CollectionDoc()}
	return append(out, StepDocs()...)
}

// FlowDoc describes a flow file.
func FlowDoc() *Doc {
	return &Doc{Name: "flow", Summary: "a flow file: a trigger and a tree of steps", Struct: "Flow",
		Fields: describe(reflect.TypeFor[flow.Flow](), "", nil, nil)}
}

// TriggerDoc describes a flow's trigger, with paths from the trigger.
func TriggerDoc() *Doc {
	return &Doc{Name: "trigger", Summary: "the incoming webhook that starts a flow (a flow's trigger)", Struct: "Trigger",
		Fields: describe(reflect.TypeFor[trigger.Trigger](), "", nil, nil)}
}

// DestinationDoc describes a destination file.
func DestinationDoc() *Doc {
	return &Doc{Name: "destination", Summary: "a destination file: an admin-defined webhook endpoint http steps send to by name", Struct: "Destination",
		Fields: describe(reflect.TypeFor[flow.Destination](), "", nil, nil)}
}

// CollectionDoc describes a collection file.
func CollectionDoc() *Doc {
	return &Doc{Name: "collection", Summary: "a collection file: a named set of records with typed properties", Struct: "Collection",
		Fields: describe(reflect.TypeFor[records.Collection](), "", nil, nil)}
}

// StepDocs describes every registered step type, sorted by name: the
// fields every step has, then the type's own.
func StepDocs() []*Doc {
	var out []*Doc
	for _, k := range flow.Kinds() {
		var fields []*Field
		for _, f := range describe(stepType, "", nil, nil) {
			if f.Name == "type" {
				// A step type's own type field holds its name.
				c := *f
				c.Shape = &Shape{Kind: "string", Rules: append(append([]Rule{}, f.Shape.Rules...), Rule{Name: "oneof", Param: k.Name})}
				f = &c
			}
			fields = append(fields, f)
		}
		fields = append(fields, describe(k.SpecType, "", nil, nil)...)
		d := &Doc{Name: k.Name, Summary: k.Summary, Fields: fields, Struct: k.SpecType.Elem().Name()}
		if o, ok := k.New().(flow.OutputsDocumenter); ok {
			d.Outputs = o.OutputsDoc()
		}
		out = append(out, d)
	}
	return out
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

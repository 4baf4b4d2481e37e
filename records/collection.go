package records

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/store"
)

// Property types of a collection. Datetimes are RFC 3339 strings.
const (
	TypeString   = "string"
	TypeNumber   = "number"
	TypeBoolean  = "boolean"
	TypeEnum     = "enum"
	TypeDatetime = "datetime"
)

// Limits of collections and records.
const (
	MaxProperties  = 200
	MaxRecordBytes = 64 << 10 // a record's properties as JSON
	MaxStringChars = 10_000
	// MaxDescriptionChars bounds a collection's and a property's
	// description; MaxOptionChars an enum option.
	MaxDescriptionChars = 2000
	MaxOptionChars      = 200
)

var (
	// A collection is named like a flow, a property like a step: the
	// rules of flow's validate tags, so the JSON Schema states them too.
	collectionNamePattern = regexp.MustCompile(rulePattern("flowid"))
	propertyNamePattern   = regexp.MustCompile(rulePattern("stepid"))
)

// Collection is a named set of records with typed properties, at least one
// of them unique (HubSpot's objects with their unique property, NocoBase's
// collections). Records are found by a unique property's value.
type Collection struct {
	Name        string     `json:"name" doc:"The collection's name: record steps and trigger.enroll.record pick it."`
	Description string     `json:"description,omitempty" doc:"What the collection holds."`
	Properties  []Property `json:"properties" doc:"The records' typed properties, at least one of them unique."`
	// Version counts the definition's changes (ETag "v<version>"); set by
	// the store.
	Version   int64     `json:"version,omitempty" schema:"-"`
	CreatedAt time.Time `json:"createdAt,omitzero" schema:"-"`
	UpdatedAt time.Time `json:"updatedAt,omitzero" schema:"-"`
}

// Property is one typed property of a collection's records.
type Property struct {
	Name        string `json:"name" doc:"The property's name: records hold it as properties.<name>."`
	Type        string `json:"type" doc:"The values' type; datetimes are RFC 3339 strings."`
	Description string `json:"description,omitempty" doc:"What the property means."`
	// Options are an enum's allowed values.
	Options []string `json:"options,omitempty" doc:"An enum's allowed values (type enum only)."`
	// Unique: no two records hold the same value (records without one
	// are allowed unless Required). Records are found by it.
	Unique bool `json:"unique,omitempty" doc:"No two records hold the same value (records without one are allowed unless required); records are found by it. A boolean cannot be unique."`
	// Required: every record has a value.
	Required bool `json:"required,omitempty" doc:"Every record has a value."`
}

// Property returns the named property.
func (c *Collection) Property(name string) (*Property, bool) {
	for i := range c.Properties {
		if c.Properties[i].Name == name {
			return &c.Properties[i], true
		}
	}
	return nil, false
}

// UniqueProperties lists the names of the unique properties, in order.
func (c *Collection) UniqueProperties() []string {
	var out []string
	for _, p := range c.Properties {
		if p.Unique {
			out = append(out, p.Name)
		}
	}
	return out
}

func (c *Collection) propertyNames() []string {
	out := make([]string, len(c.Properties))
	for i, p := range c.Properties {
		out[i] = p.Name
	}
	return out
}

// definition is the part of a collection its files and the API set: what
// the digest compares (an unchanged apply makes no version).
func (c *Collection) definition() (string, string) {
	d := Collection{Name: c.Name, Description: c.Description, Properties: c.Properties}
	b, _ := json.Marshal(&d)
	sum := sha256.Sum256(b)
	return string(b), hex.EncodeToString(sum[:])
}

// InvalidError lists every problem with a collection definition or a
// record's properties, each with its path ("properties.age: must be a
// number"). The API answers it with 422.
type InvalidError struct {
	What   string // "collection" or "record"
	Errors []field.Error
}

func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	if len(lines) == 1 {
		return "invalid " + e.What + ": " + lines[0]
	}
	return fmt.Sprintf("invalid %s (%d errors): %s", e.What, len(lines), strings.Join(lines, "; "))
}

// UniqueError is a write that would give a unique property's value to a
// second record. It matches store.ErrExists.
type UniqueError struct {
	Collection, Property string
	Value                any
	// RecordID holds the value already.
	RecordID string
}

func (e *UniqueError) Error() string {
	return fmt.Sprintf("collection %q: unique property %s: the value %s is already held by record %s",
		e.Collection, e.Property, describe(e.Value), e.RecordID)
}

func (e *UniqueError) Is(target error) bool { return target == store.ErrExists }

func describe(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// DecodeCollection reads a collection definition strictly: JSON, or YAML
// when yamlDoc is true (files people write). Unknown fields and every rule
// broken are reported at once, each with its path.
func DecodeCollection(data []byte, yamlDoc bool) (*Collection, error) {
	if yamlDoc {
		js, err := flow.YAMLToJSON(data)
		if err != nil {
			return nil, &InvalidError{What: "collection", Errors: []field.Error{*err}}
		}
		data = js
	}
	var errs []field.Error
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, &InvalidError{What: "collection", Errors: []field.Error{{Message: "must be a JSON object: " + err.Error()}}}
	}
	known := []string{"name", "description", "properties"}
	for _, k := range flow.SortedKeys(raw) {
		if !slices.Contains(known, k) {
			errs = append(errs, field.Error{Path: k, Message: "unknown field (allowed: " + strings.Join(known, ", ") + ")"})
		}
	}
	if p, ok := raw["properties"]; ok {
		var props []map[string]json.RawMessage
		if json.Unmarshal(p, &props) == nil {
			allowed := []string{"description", "name", "options", "required", "type", "unique"}
			for i, prop := range props {
				for _, k := range flow.SortedKeys(prop) {
					if !slices.Contains(allowed, k) {
						errs = append(errs, field.Error{Path: fmt.Sprintf("properties[%d].%s", i, k), Message: "unknown field (allowed: " + strings.Join(allowed, ", ") + ")"})
					}
				}
			}
		}
	}
	c := &Collection{}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(c); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			errs = append(errs, field.Error{Path: te.Field, Message: "must be " + jsonKind(te.Type.Kind().String())})
		} else {
			errs = append(errs, field.Error{Message: err.Error()})
		}
		return nil, &InvalidError{What: "collection", Errors: errs}
	}
	errs = append(errs, c.check()...)
	if len(errs) > 0 {
		return nil, &InvalidError{What: "collection", Errors: errs}
	}
	return c, nil
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "a different type"
}

// check holds the rules of a collection definition.
func (c *Collection) check() []field.Error {
	var errs []field.Error
	add := func(path, format string, args ...any) {
		errs = append(errs, field.Error{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if !collectionNamePattern.MatchString(c.Name) {
		add("name", "must be a lowercase name: a-z, 0-9, - and _, starting with a letter or digit, at most 64 characters")
	}
	if len(c.Description) > MaxDescriptionChars {
		add("description", "must be at most %d characters long", MaxDescriptionChars)
	}
	switch {
	case len(c.Properties) == 0:
		add("properties", "a collection needs properties, at least one of them unique")
	case len(c.Properties) > MaxProperties:
		add("properties", "must have at most %d item(s)", MaxProperties)
	}
	seen := map[string]int{}
	unique := 0
	for i, p := range c.Properties {
		at := fmt.Sprintf("properties[%d]", i)
		if !propertyNamePattern.MatchString(p.Name) {
			add(at+".name", "must be an identifier: letters, digits and _, not starting with a digit, at most 64 characters")
		} else if first, dup := seen[p.Name]; dup {
			add(at+".name", "duplicate property %q (first at properties[%d])", p.Name, first)
		} else {
			seen[p.Name] = i
		}
		switch p.Type {
		case TypeString, TypeNumber, TypeBoolean, TypeDatetime:
			if len(p.Options) > 0 {
				add(at+".options", "apply to type enum only")
			}
		case TypeEnum:
			if len(p.Options) == 0 {
				add(at+".options", "an enum needs its options")
			}
			for j, o := range p.Options {
				if o == "" || len(o) > MaxOptionChars {
					add(fmt.Sprintf("%s.options[%d]", at, j), "must be 1 to %d characters long", MaxOptionChars)
				}
				if slices.Index(p.Options, o) != j {
					add(fmt.Sprintf("%s.options[%d]", at, j), "duplicate option %q", o)
				}
			}
		case "":
			add(at+".type", "is required (one of: %s)", strings.Join(propertyTypes, ", "))
		default:
			add(at+".type", "must be one of: %s", strings.Join(propertyTypes, ", "))
		}
		if p.Unique {
			unique++
			if p.Type == TypeBoolean {
				add(at+".unique", "a boolean cannot be unique (two records at most)")
			}
		}
		if len(p.Description) > MaxDescriptionChars {
			add(at+".description", "must be at most %d characters long", MaxDescriptionChars)
		}
	}
	if len(c.Properties) > 0 && unique == 0 {
		add("properties", "at least one property must be unique (unique: true): records are found by it")
	}
	return errs
}

// ValidateRecord checks a record's properties against the collection:
// every property known and of its type, required ones present. Null values
// are absent. Paths are "properties.<name>".
func (c *Collection) ValidateRecord(props map[string]any) []field.Error {
	var errs []field.Error
	for _, k := range flow.SortedKeys(props) {
		p, ok := c.Property(k)
		if !ok {
			errs = append(errs, field.Error{Path: "properties." + k, Message: fmt.Sprintf("unknown property (collection %s has: %s)", c.Name, strings.Join(c.propertyNames(), ", "))})
			continue
		}
		if props[k] == nil {
			continue
		}
		if msg := p.check(props[k]); msg != "" {
			errs = append(errs, field.Error{Path: "properties." + k, Message: msg})
		}
	}
	for _, p := range c.Properties {
		if p.Required && props[p.Name] == nil {
			errs = append(errs, field.Error{Path: "properties." + p.Name, Message: "is required"})
		}
	}
	if len(errs) == 0 {
		if b, _ := json.Marshal(props); len(b) > MaxRecordBytes {
			errs = append(errs, field.Error{Path: "properties", Message: fmt.Sprintf("a record is limited to %d bytes of JSON, this one has %d", MaxRecordBytes, len(b))})
		}
	}
	return errs
}

// check returns why v does not fit the property, or "".
func (p *Property) check(v any) string {
	switch p.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return "must be a string, got " + kindOf(v)
		}
		if n := len([]rune(s)); n > MaxStringChars {
			return fmt.Sprintf("must be at most %d characters long", MaxStringChars)
		}
	case TypeNumber:
		f, ok := number(v)
		if !ok {
			return "must be a number, got " + kindOf(v)
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "must be a finite number"
		}
	case TypeBoolean:
		if _, ok := v.(bool); !ok {
			return "must be true or false, got " + kindOf(v)
		}
	case TypeEnum:
		s, ok := v.(string)
		if !ok || !slices.Contains(p.Options, s) {
			return "must be one of: " + strings.Join(p.Options, ", ")
		}
	case TypeDatetime:
		s, ok := v.(string)
		if !ok {
			return "must be an RFC 3339 date-time string such as 2026-03-01T12:00:00Z, got " + kindOf(v)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Sprintf("must be an RFC 3339 date-time such as 2026-03-01T12:00:00Z, got %q", s)
		}
	}
	return ""
}

// normalize returns v as stored: numbers as float64 (what JSON gives back).
func (p *Property) normalize(v any) any {
	if p.Type == TypeNumber {
		if f, ok := number(v); ok {
			return f
		}
	}
	return v
}

// coerce turns a value that finds a record (a lookup's, a URL's text) into
// the property's type: text is parsed for numbers and booleans, a number
// written as text for strings. Datetimes stay strings.
func (p *Property) coerce(v any) (any, error) {
	s, isStr := v.(string)
	switch p.Type {
	case TypeNumber:
		if f, ok := number(v); ok {
			return f, nil
		}
		if isStr {
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f, nil
			}
			return nil, fmt.Errorf("must be a number, got %q", s)
		}
		return nil, fmt.Errorf("must be a number, got %s", kindOf(v))
	case TypeBoolean:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if b, err := strconv.ParseBool(s); isStr && err == nil {
			return b, nil
		}
		return nil, fmt.Errorf("must be true or false, got %s", kindOf(v))
	case TypeDatetime:
		if !isStr {
			return nil, fmt.Errorf("must be an RFC 3339 date-time string, got %s", kindOf(v))
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, fmt.Errorf("must be an RFC 3339 date-time such as 2026-03-01T12:00:00Z, got %q", s)
		}
		return s, nil
	}
	if isStr {
		return s, nil
	}
	if f, ok := number(v); ok {
		// A number where the property holds text (a phone number sent as
		// a number): its text.
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	}
	return nil, fmt.Errorf("must be a string, got %s", kindOf(v))
}

// keyText is a unique value as record_keys holds it: the string, a number
// in its shortest form, a datetime in UTC (equal instants collide).
func (p *Property) keyText(v any) (string, error) {
	c, err := p.coerce(v)
	if err != nil {
		return "", err
	}
	switch t := c.(type) {
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(t), nil
	case string:
		if p.Type == TypeDatetime {
			tm, _ := time.Parse(time.RFC3339Nano, t)
			return tm.UTC().Format(time.RFC3339Nano), nil
		}
		return t, nil
	}
	return "", fmt.Errorf("cannot be a key")
}

func number(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case float32:
		return float64(t), true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case int32:
		return float64(t), true
	case uint64:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	}
	return 0, false
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	if _, ok := number(v); ok {
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

func joinPath(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func rulePattern(rule string) string {
	p, ok := field.RulePattern(rule)
	if !ok {
		panic("store: flow has no rule " + rule)
	}
	return p
}

// propertyTypes are the property types, in the order the docs list them.
var propertyTypes = []string{TypeString, TypeNumber, TypeBoolean, TypeEnum, TypeDatetime}

// FieldRules are the collection's rules in validate-tag syntax, built from
// the constants check uses, for the JSON Schema and the reference (check
// itself is hand-written: its messages name collections' own terms).
func (*Collection) FieldRules() map[string]string {
	return map[string]string{
		"name":                   "required,flowid",
		"description":            fmt.Sprintf("max=%d", MaxDescriptionChars),
		"properties":             fmt.Sprintf("required,min=1,max=%d", MaxProperties),
		"properties.name":        "required,stepid",
		"properties.type":        "required,oneof=" + strings.Join(propertyTypes, " "),
		"properties.description": fmt.Sprintf("max=%d", MaxDescriptionChars),
		"properties.options":     fmt.Sprintf("dive,min=1,max=%d", MaxOptionChars),
	}
}

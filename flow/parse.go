package flow

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// Parse maps parts of a trigger request to typed values. Each field is read
// from its place (a header by name, a query or body path), checked against
// its type, and stored as trigger.<alias> (the alias defaults to the last
// path segment). The raw body, headers and query stay readable too.
type Parse struct {
	Headers []ParseField `json:"headers,omitempty" validate:"max=100,dive"`
	Query   []ParseField `json:"query,omitempty" validate:"max=100,dive"`
	Body    []ParseField `json:"body,omitempty" validate:"max=200,dive"`
}

// ParseField is one mapped value.
type ParseField struct {
	// Name is a header's name (headers only).
	Name string `json:"name,omitempty" validate:"omitempty,header"`
	// Path is a gjson path (query and body): order.id, items.0.sku.
	Path  string `json:"path,omitempty" validate:"max=200"`
	Alias string `json:"alias,omitempty" validate:"omitempty,stepid"`
	// Type is string, number, boolean or enum; empty keeps any JSON value.
	Type    string   `json:"type,omitempty" validate:"omitempty,oneof=string number boolean enum"`
	Options []string `json:"options,omitempty" validate:"max=200"`
	// Required makes a missing value a 422; otherwise it is null.
	Required bool `json:"required,omitempty"`
}

// Field types.
const (
	TypeString  = "string"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeEnum    = "enum"
)

// reservedTriggerNames are the raw parts of trigger data; aliases cannot
// shadow them.
var reservedTriggerNames = map[string]bool{"body": true, "headers": true, "query": true}

// aliasOf is the name a field is stored under.
func (f ParseField) aliasOf() string {
	if f.Alias != "" {
		return f.Alias
	}
	src := f.Path
	if src == "" {
		src = f.Name
	}
	if i := strings.LastIndexAny(src, ".|"); i >= 0 {
		src = src[i+1:]
	}
	return src
}

func (p *Parse) check(errs *errorList) {
	seen := map[string]string{}
	for _, part := range []struct {
		name   string
		fields []ParseField
	}{{"headers", p.Headers}, {"query", p.Query}, {"body", p.Body}} {
		for i, f := range part.fields {
			at := indexPath("trigger.parse."+part.name, i)
			if part.name == "headers" && f.Name == "" {
				errs.add(at+".name", "is required")
			}
			if part.name != "headers" && f.Path == "" {
				errs.add(at+".path", "is required")
			}
			if part.name != "headers" && f.Name != "" {
				errs.add(at+".name", "applies to headers only; use path")
			}
			if f.Type == TypeEnum && len(f.Options) == 0 {
				errs.add(at+".options", "an enum needs its options")
			}
			if f.Type != TypeEnum && len(f.Options) > 0 {
				errs.add(at+".options", "apply to type enum only")
			}
			alias := f.aliasOf()
			switch {
			case !stepIDPattern.MatchString(alias):
				errs.add(at+".alias", "the value is stored as trigger.%s, which is not an identifier; set an alias", alias)
			case reservedTriggerNames[alias]:
				errs.add(at+".alias", "%q is reserved for the raw %s; choose another alias", alias, alias)
			case seen[alias] != "":
				errs.add(at+".alias", "alias %q is already used by %s", alias, seen[alias])
			default:
				seen[alias] = at
			}
		}
	}
}

// ParseError is a value that does not fit its field, at a path such as
// body.order.total or headers.X-Count.
type ParseError = FieldError

// Apply reads every field from a request's parts and returns the values by
// alias, or every problem (each with its path) when any value does not fit.
// body is the raw JSON body; headers are keyed by lowercase name; query is
// the nested query structure (NestQuery).
func (p *Parse) Apply(body []byte, headers map[string]string, query map[string]any) (map[string]any, []FieldError) {
	out := map[string]any{}
	var errs []FieldError
	for _, f := range p.Headers {
		v, ok := headers[strings.ToLower(f.Name)]
		var val any
		if ok {
			val = v
		}
		errs = f.apply("headers."+f.Name, val, ok, true, out, errs)
	}
	if len(p.Query) > 0 {
		qjson, _ := json.Marshal(query)
		for _, f := range p.Query {
			r := gjson.GetBytes(qjson, f.Path)
			errs = f.apply("query."+f.Path, r.Value(), r.Exists(), true, out, errs)
		}
	}
	for _, f := range p.Body {
		r := gjson.GetBytes(body, f.Path)
		errs = f.apply("body."+f.Path, jsonValue(r), r.Exists(), false, out, errs)
	}
	return out, errs
}

// jsonValue is gjson's value with numbers as float64, like encoding/json.
func jsonValue(r gjson.Result) any {
	if !r.Exists() {
		return nil
	}
	var v any
	if err := json.Unmarshal([]byte(r.Raw), &v); err != nil {
		return r.Value()
	}
	return v
}

// apply checks one value. Header and query values are text, so for them a
// number or boolean type parses the text; body values must already be of
// the JSON type.
func (f ParseField) apply(path string, v any, exists, text bool, out map[string]any, errs []FieldError) []FieldError {
	alias := f.aliasOf()
	if !exists || v == nil {
		if f.Required {
			return append(errs, FieldError{Path: path, Message: "is required"})
		}
		out[alias] = nil
		return errs
	}
	switch f.Type {
	case "":
		out[alias] = v
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return append(errs, FieldError{Path: path, Message: "must be a string, got " + describeValue(v)})
		}
		out[alias] = s
	case TypeNumber:
		switch t := v.(type) {
		case float64:
			out[alias] = t
		case string:
			n, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
			if !text || err != nil {
				return append(errs, FieldError{Path: path, Message: fmt.Sprintf("must be a number, got %s", quoteValue(v))})
			}
			out[alias] = n
		default:
			return append(errs, FieldError{Path: path, Message: "must be a number, got " + describeValue(v)})
		}
	case TypeBoolean:
		switch t := v.(type) {
		case bool:
			out[alias] = t
		case string:
			b, err := strconv.ParseBool(t)
			if !text || err != nil || (t != "true" && t != "false") {
				return append(errs, FieldError{Path: path, Message: fmt.Sprintf("must be true or false, got %s", quoteValue(v))})
			}
			out[alias] = b
		default:
			return append(errs, FieldError{Path: path, Message: "must be true or false, got " + describeValue(v)})
		}
	case TypeEnum:
		s, ok := v.(string)
		if !ok || !contains(f.Options, s) {
			return append(errs, FieldError{Path: path, Message: fmt.Sprintf("must be one of %s, got %s", strings.Join(f.Options, ", "), quoteValue(v))})
		}
		out[alias] = s
	}
	return errs
}

func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return strconv.Quote(s)
	}
	return describeValue(v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MaxQueryIndex bounds array indexes in query keys (a[999999]=1 must not
// allocate a million elements).
const MaxQueryIndex = 1000

// NestQuery turns query parameters into a JSON structure: a.b=1 and a[b]=1
// make {"a":{"b":"1"}}, a[0].b=1 makes {"a":[{"b":"1"}]}, and a repeated plain
// key makes an array. Keys are applied in sorted order, so the result does
// not depend on the order of parameters in the URL except for repeated keys,
// which keep theirs.
func NestQuery(q url.Values) (map[string]any, error) {
	root := map[string]any{}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		segs, err := querySegments(k)
		if err != nil {
			return nil, err
		}
		vals := q[k]
		var v any = vals[0]
		if len(vals) > 1 {
			arr := make([]any, len(vals))
			for i, s := range vals {
				arr[i] = s
			}
			v = arr
		}
		if _, err := assign(root, segs, v, k); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// querySegment is a name or an array index.
type querySegment struct {
	name  string
	index int // -1 for a name
}

func querySegments(key string) ([]querySegment, error) {
	var segs []querySegment
	bad := func() ([]querySegment, error) {
		return nil, fmt.Errorf("query parameter %q: malformed key (use a.b, a[b] or a[0].b)", key)
	}
	s := key
	for s != "" {
		switch s[0] {
		case '.':
			if len(segs) == 0 {
				return bad()
			}
			s = s[1:]
			if s == "" || s[0] == '.' || s[0] == '[' {
				return bad()
			}
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 || len(segs) == 0 {
				return bad()
			}
			inner := s[1:end]
			s = s[end+1:]
			if n, err := strconv.Atoi(inner); err == nil {
				if n < 0 || n > MaxQueryIndex {
					return nil, fmt.Errorf("query parameter %q: index %d out of range (0 to %d)", key, n, MaxQueryIndex)
				}
				segs = append(segs, querySegment{index: n})
			} else if inner == "" {
				return bad()
			} else {
				segs = append(segs, querySegment{name: inner, index: -1})
			}
			continue
		}
		end := strings.IndexAny(s, ".[")
		if end < 0 {
			end = len(s)
		}
		if end == 0 {
			return bad()
		}
		segs = append(segs, querySegment{name: s[:end], index: -1})
		s = s[end:]
	}
	if len(segs) == 0 {
		return bad()
	}
	return segs, nil
}

// assign stores v at segs below cur and returns the new cur: arrays may
// grow (and move), objects and arrays are created on the way.
func assign(cur any, segs []querySegment, v any, key string) (any, error) {
	conflict := fmt.Errorf("query parameter %q conflicts with another parameter's structure", key)
	if len(segs) == 0 {
		if cur != nil {
			return nil, conflict
		}
		return v, nil
	}
	seg := segs[0]
	if seg.index < 0 {
		m, ok := cur.(map[string]any)
		if cur == nil {
			m, ok = map[string]any{}, true
		}
		if !ok {
			return nil, conflict
		}
		child, err := assign(m[seg.name], segs[1:], v, key)
		if err != nil {
			return nil, err
		}
		m[seg.name] = child
		return m, nil
	}
	arr, ok := cur.([]any)
	if cur != nil && !ok {
		return nil, conflict
	}
	for len(arr) <= seg.index {
		arr = append(arr, nil)
	}
	child, err := assign(arr[seg.index], segs[1:], v, key)
	if err != nil {
		return nil, err
	}
	arr[seg.index] = child
	return arr, nil
}

// DerivePaths lists the paths of an example JSON value, for building parse
// rules: {"a":1,"b":{"c":2}} gives a, b, b.c; arrays give their first
// element's paths (items, items.0, items.0.sku).
func DerivePaths(v any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, k := range SortedKeys(t) {
				p := escapePathKey(k)
				if prefix != "" {
					p = prefix + "." + p
				}
				out = append(out, p)
				walk(p, t[k])
			}
		case []any:
			if len(t) > 0 {
				p := prefix + ".0"
				out = append(out, p)
				walk(p, t[0])
			}
		}
	}
	walk("", v)
	return out
}

// escapePathKey escapes gjson's special characters in an object key.
func escapePathKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		if strings.ContainsRune(".*?|#@\\!=<>%", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

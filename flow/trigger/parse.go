package trigger

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/tidwall/gjson"
)

// Parse maps parts of a trigger request to typed values. Each field is read
// from its place (a header by name, a query or body path), checked against
// its type, and stored as trigger.<alias> (the alias defaults to the last
// path segment). The raw body, headers and query stay readable too.
type Parse struct {
	Headers []ParseField `json:"headers,omitempty" validate:"max=100,dive" doc:"Headers to map, by name."`
	Query   []ParseField `json:"query,omitempty" validate:"max=100,dive" doc:"Query parameters to map, by path (nested: query[0].a)."`
	Body    []ParseField `json:"body,omitempty" validate:"max=200,dive" doc:"Body values to map, by gjson path."`
}

// ParseField is one mapped value.
type ParseField struct {
	// Name is a header's name (headers only).
	Name string `json:"name,omitempty" validate:"omitempty,header" doc:"A header's name (headers only)."`
	// Path is a gjson path (query and body): order.id, items.0.sku.
	Path  string `json:"path,omitempty" validate:"max=200" doc:"A gjson path (query and body): order.id, items.0.sku."`
	Alias string `json:"alias,omitempty" validate:"omitempty,stepid" doc:"The name the value is read as: trigger.<alias>. Default: the last path segment."`
	// Type is string, number, boolean or enum; empty keeps any JSON value.
	Type    string   `json:"type,omitempty" validate:"omitempty,oneof=string number boolean enum" doc:"The type the value must have (a wrong one is a 422 naming the path); empty keeps any JSON value. There is no datetime type: dates stay strings."`
	Options []string `json:"options,omitempty" validate:"max=200" doc:"An enum's allowed values."`
	// Required makes a missing value a 422; otherwise it is null.
	Required bool `json:"required,omitempty" doc:"Makes a missing value a 422; otherwise it is null."`
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

func (p *Parse) check(errs *field.List) {
	seen := map[string]string{}
	for _, part := range []struct {
		name   string
		fields []ParseField
	}{{"headers", p.Headers}, {"query", p.Query}, {"body", p.Body}} {
		for i, f := range part.fields {
			at := field.IndexPath("trigger.parse."+part.name, i)
			if part.name == "headers" && f.Name == "" {
				errs.Add(at+".name", "is required")
			}
			if part.name != "headers" && f.Path == "" {
				errs.Add(at+".path", "is required")
			}
			if part.name != "headers" && f.Name != "" {
				errs.Add(at+".name", "applies to headers only; use path")
			}
			if f.Type == TypeEnum && len(f.Options) == 0 {
				errs.Add(at+".options", "an enum needs its options")
			}
			if f.Type != TypeEnum && len(f.Options) > 0 {
				errs.Add(at+".options", "apply to type enum only")
			}
			alias := f.aliasOf()
			switch {
			case !field.IsIdentifier(alias):
				errs.Add(at+".alias", "the value is stored as trigger.%s, which is not an identifier; set an alias", alias)
			case reservedTriggerNames[alias]:
				errs.Add(at+".alias", "%q is reserved for the raw %s; choose another alias", alias, alias)
			case seen[alias] != "":
				errs.Add(at+".alias", "alias %q is already used by %s", alias, seen[alias])
			default:
				seen[alias] = at
			}
		}
	}
}

// ParseError is a value that does not fit its field, at a path such as
// body.order.total or headers.X-Count.
type ParseError = field.Error

// Apply reads every field from a request's parts and returns the values by
// alias, or every problem (each with its path) when any value does not fit.
// body is the raw JSON body; headers are keyed by lowercase name; query is
// the nested query structure (NestQuery).
func (p *Parse) Apply(body []byte, headers map[string]string, query map[string]any) (map[string]any, []field.Error) {
	out := map[string]any{}
	var errs []field.Error
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
func (f ParseField) apply(path string, v any, exists, text bool, out map[string]any, errs []field.Error) []field.Error {
	alias := f.aliasOf()
	if !exists || v == nil {
		if f.Required {
			return append(errs, field.Error{Path: path, Message: "is required"})
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
			return append(errs, field.Error{Path: path, Message: "must be a string, got " + expression.DescribeValue(v)})
		}
		out[alias] = s
	case TypeNumber:
		switch t := v.(type) {
		case float64:
			out[alias] = t
		case string:
			n, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
			if !text || err != nil {
				return append(errs, field.Error{Path: path, Message: fmt.Sprintf("must be a number, got %s", quoteValue(v))})
			}
			out[alias] = n
		default:
			return append(errs, field.Error{Path: path, Message: "must be a number, got " + expression.DescribeValue(v)})
		}
	case TypeBoolean:
		switch t := v.(type) {
		case bool:
			out[alias] = t
		case string:
			b, err := strconv.ParseBool(t)
			if !text || err != nil || (t != "true" && t != "false") {
				return append(errs, field.Error{Path: path, Message: fmt.Sprintf("must be true or false, got %s", quoteValue(v))})
			}
			out[alias] = b
		default:
			return append(errs, field.Error{Path: path, Message: "must be true or false, got " + expression.DescribeValue(v)})
		}
	case TypeEnum:
		s, ok := v.(string)
		if !ok || !slices.Contains(f.Options, s) {
			return append(errs, field.Error{Path: path, Message: fmt.Sprintf("must be one of %s, got %s", strings.Join(f.Options, ", "), quoteValue(v))})
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
	return expression.DescribeValue(v)
}

package capture

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
)

// The rules of capture: pure functions, no clock, no I/O.

// Arm bounds: requests per arm, and how long an arm lasts.
const (
	MaxCount   = 100
	DefaultFor = 10 * time.Minute
	MaxFor     = 24 * time.Hour
	// Redacted replaces the value of a header that carries a credential
	// or a signature.
	Redacted   = "<redacted>"
	maxTextLen = 64 << 10
)

// ArmError is an arm request refused: Code is "malformed_json" (not the
// JSON asked for) or "invalid_request" (a value out of bounds, at Path).
type ArmError struct {
	Code, Path, Message string
}

func (e *ArmError) Error() string { return e.Message }

// ParseArm reads an arm request's body, {"count": n, "for": "10m"}, each
// optional (an empty body arms for one request, for DefaultFor).
func ParseArm(raw []byte) (count int, d time.Duration, err *ArmError) {
	req := struct {
		Count int    `json:"count"`
		For   string `json:"for"`
	}{Count: 1}
	if len(strings.TrimSpace(string(raw))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return 0, 0, &ArmError{Code: "malformed_json", Message: "send {\"count\": n, \"for\": \"10m\"}: " + err.Error()}
		}
	}
	if req.Count < 1 || req.Count > MaxCount {
		return 0, 0, &ArmError{Code: "invalid_request", Path: "count", Message: fmt.Sprintf("count must be 1 to %d", MaxCount)}
	}
	d = DefaultFor
	if req.For != "" {
		fd, err := field.ParseDuration(req.For)
		if err != nil || fd.Std() < time.Second || fd.Std() > MaxFor {
			return 0, 0, &ArmError{Code: "invalid_request", Path: "for", Message: "for must be a duration from 1s to 24h, such as 10m"}
		}
		d = fd.Std()
	}
	return req.Count, d, nil
}

// RequestOf is what a capture keeps of a request: its headers by lowercase
// name with credentials and signatures redacted (and the trigger's own
// auth header, auth), its query nested as a trigger reads it, and its body
// as JSON, else as text (at most 64 KiB), else as a note of its size.
func RequestOf(method, contentType string, h http.Header, q url.Values, raw []byte, auth *trigger.TriggerAuth) Request {
	req := Request{Method: method, ContentType: contentType, Headers: RedactHeaders(h, auth), Query: map[string]any{}}
	if nested, err := trigger.NestQuery(q); err == nil {
		req.Query = nested
	}
	var body any
	switch {
	case len(strings.TrimSpace(string(raw))) == 0:
	case json.Unmarshal(raw, &body) == nil:
		req.Body = body
	case utf8.Valid(raw):
		req.BodyText = string(raw[:min(len(raw), maxTextLen)])
	default:
		req.BodyText = fmt.Sprintf("<%d bytes of binary data>", len(raw))
	}
	return req
}

// secretHeaderWords mark headers that carry credentials or signatures.
var secretHeaderWords = []string{"authorization", "cookie", "signature", "token", "secret", "password", "api-key", "apikey", "x-hub-signature", "webhook-signature", "auth"}

// RedactHeaders keeps a request's headers by lowercase name, with the
// values of credential and signature headers (and the trigger's own auth
// header) replaced by Redacted.
func RedactHeaders(h http.Header, auth *trigger.TriggerAuth) map[string]string {
	own := map[string]bool{}
	if auth != nil && auth.HMAC != nil {
		own[strings.ToLower(auth.HMAC.Header)] = true
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		out[lk] = strings.Join(vs, ", ")
		if own[lk] {
			out[lk] = Redacted
			continue
		}
		for _, w := range secretHeaderWords {
			if strings.Contains(lk, w) {
				out[lk] = Redacted
				break
			}
		}
	}
	return out
}

// Field is one path of a captured request with its JSON type.
type Field struct {
	In   string `json:"in"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// Rule is a suggested parse rule of a trigger (path for the body and the
// query, name for a header).
type Rule struct {
	Path string `json:"path,omitempty"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// Paths is what a capture tells of its request's shape: every path of
// the body (BodyPaths), every path of the body, query and headers with its
// JSON type (Fields, never nil), and parse rules for the scalar ones
// (Suggested, by section: the trigger's parse section, ready to edit).
type Paths struct {
	BodyPaths []string
	Fields    []Field
	Suggested map[string][]Rule
}

// PathsOf is the shape of a captured request: body scalars become typed
// rules, query strings rules by path, and x- headers that are not
// redacted rules by name.
func PathsOf(req Request) Paths {
	p := Paths{BodyPaths: []string{}, Fields: []Field{}, Suggested: map[string][]Rule{"body": {}, "query": {}, "headers": {}}}
	walkTyped(req.Body, "", func(path, typ string) {
		p.Fields = append(p.Fields, Field{In: "body", Path: path, Type: typ})
		p.BodyPaths = append(p.BodyPaths, path)
		if parseType, ok := scalarRule(typ); ok {
			p.Suggested["body"] = append(p.Suggested["body"], Rule{Path: path, Type: parseType})
		}
	})
	walkTyped(req.Query, "", func(path, typ string) {
		p.Fields = append(p.Fields, Field{In: "query", Path: path, Type: typ})
		if typ == "string" {
			p.Suggested["query"] = append(p.Suggested["query"], Rule{Path: path})
		}
	})
	for _, h := range flow.SortedKeys(req.Headers) {
		p.Fields = append(p.Fields, Field{In: "headers", Path: h, Type: "string"})
		if strings.HasPrefix(h, "x-") && req.Headers[h] != Redacted {
			p.Suggested["headers"] = append(p.Suggested["headers"], Rule{Name: h})
		}
	}
	return p
}

// scalarRule maps a JSON type to a parse rule type.
func scalarRule(typ string) (string, bool) {
	switch typ {
	case "string", "number", "boolean":
		return typ, true
	}
	return "", false
}

// walkTyped calls fn for every path of v (as trigger.DerivePaths lists them)
// with its JSON type: object, array, string, number, boolean or null.
func walkTyped(v any, prefix string, fn func(path, typ string)) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := trigger.DerivePaths(map[string]any{k: nil})[0]
			if prefix != "" {
				p = prefix + "." + p
			}
			fn(p, jsonType(t[k]))
			walkTyped(t[k], p, fn)
		}
	case []any:
		if len(t) > 0 {
			p := prefix + ".0"
			fn(p, jsonType(t[0]))
			walkTyped(t[0], p, fn)
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

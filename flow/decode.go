package flow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"go.yaml.in/yaml/v3"

	"github.com/hookflow/hookflow/flow/field"
)

// Decode reads a flow from JSON, strictly: unknown fields are errors. It
// then validates the flow. All problems, from decoding and validation, come
// back together in one *ValidationError, each with its path; a flow with any
// problem is not returned.
func Decode(data []byte) (*Flow, error) {
	var errs field.List
	f := &Flow{}
	decodeStrict(data, f, "", &errs)
	if len(errs) > 0 {
		// Keep going: validation finds the rest (decode problems inside
		// steps are reported there too).
		if verr := Validate(f); verr != nil {
			if ve, ok := verr.(*ValidationError); ok {
				errs = append(errs, ve.Errors...)
			}
		}
		return nil, invalid(errs)
	}
	if err := Validate(f); err != nil {
		return nil, err
	}
	return f, nil
}

// DecodeYAML reads a flow from YAML (as people write files), by converting
// it to JSON first so both spellings follow exactly the same rules. It reads
// YAML 1.2: only true and false are booleans, so a key or value such as y,
// no or on stays a string (YAML 1.1 would silently turn it into a boolean).
func DecodeYAML(data []byte) (*Flow, error) {
	js, err := YAMLToJSON(data)
	if err != nil {
		return nil, &ValidationError{Errors: []field.Error{*err}}
	}
	return Decode(js)
}

// YAMLToJSON reads a YAML 1.2 document and writes it as JSON, refusing what
// JSON cannot hold, with the path: the one YAML reader for every file people
// write (flows, collections), so all follow the same rules.
func YAMLToJSON(data []byte) ([]byte, *field.Error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &field.Error{Message: "malformed YAML: " + err.Error()}
	}
	doc, err := jsonCompatible(doc, "")
	if err != nil {
		return nil, err
	}
	js, merr := json.Marshal(doc)
	if merr != nil {
		return nil, &field.Error{Message: "YAML holds a value JSON cannot: " + merr.Error()}
	}
	return js, nil
}

// jsonCompatible turns YAML's maps with non-string keys into JSON objects
// (keys written as text) and refuses what JSON cannot hold.
func jsonCompatible(v any, path string) (any, *field.Error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := jsonCompatible(e, field.JoinPath(path, k))
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			ks := fmt.Sprint(k)
			c, err := jsonCompatible(e, field.JoinPath(path, ks))
			if err != nil {
				return nil, err
			}
			out[ks] = c
		}
		return out, nil
	case []any:
		for i, e := range t {
			c, err := jsonCompatible(e, field.IndexPath(path, i))
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return nil, &field.Error{Path: path, Message: "must be a finite number"}
		}
	}
	return v, nil
}

// Clone returns a deep copy (through JSON, the same way the workflow gets
// its snapshot), so a caller can keep a flow while another edits its copy.
func (f *Flow) Clone() (*Flow, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("flow: clone %q: %w", f.ID, err)
	}
	out := &Flow{}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("flow: clone %q: %w", f.ID, err)
	}
	return out, nil
}

// marshalJSON writes JSON without HTML escaping: flows render text for
// machines, where "<" should stay "<".
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

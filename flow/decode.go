package flow

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// Decode reads a flow from JSON, strictly: unknown fields are errors. It
// then validates the flow. All problems, from decoding and validation, come
// back together in one *ValidationError, each with its path; a flow with any
// problem is not returned.
func Decode(data []byte) (*Flow, error) {
	var errs errorList
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
		return nil, dedupe(errs).err()
	}
	if err := Validate(f); err != nil {
		return nil, err
	}
	return f, nil
}

// DecodeYAML reads a flow from YAML (as people write files), by converting
// it to JSON first so both spellings follow exactly the same rules.
func DecodeYAML(data []byte) (*Flow, error) {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, &ValidationError{Errors: []FieldError{{Message: "malformed YAML: " + err.Error()}}}
	}
	return Decode(js)
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

func dedupe(l errorList) errorList {
	seen := map[FieldError]bool{}
	out := l[:0:0]
	for _, e := range l {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
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

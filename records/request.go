package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

// The rules of the admin API's record requests: pure functions over what
// a request carries, the HTTP part (media type, size, status) left to api.

// ErrMalformedWrite is a record write's body that is not a JSON object.
var ErrMalformedWrite = fmt.Errorf(`the body must be a JSON object: {"properties": {...}}`)

// DecodeWrite reads a record write's body, {"properties": {...}}: its
// properties, or every field that is wrong (unknown fields, properties
// missing or not an object), or ErrMalformedWrite.
func DecodeWrite(raw []byte) (map[string]any, []field.Error, error) {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, nil, ErrMalformedWrite
	}
	var errs []field.Error
	for _, k := range flow.SortedKeys(body) {
		if k != "properties" {
			errs = append(errs, field.Error{Path: k, Message: `unknown field (a record is written as {"properties": {...}})`})
		}
	}
	var props map[string]any
	if p, ok := body["properties"]; !ok {
		errs = append(errs, field.Error{Path: "properties", Message: "is required"})
	} else if err := json.Unmarshal(p, &props); err != nil || props == nil {
		errs = append(errs, field.Error{Path: "properties", Message: "must be an object of property values"})
	}
	if len(errs) > 0 {
		return nil, errs, nil
	}
	return props, nil, nil
}

// ListQuery is a page of a collection's records as GET .../records asks
// for it: pageSize (1 to MaxQueryLimit, default DefaultQueryLimit),
// nextPageToken, and filter (a JSON object of property values). A refusal
// names the query parameter at fault (query.pageSize, query.filter).
func ListQuery(pageSize, nextPageToken, filter string) (Query, *field.Error) {
	q := Query{Limit: DefaultQueryLimit, After: nextPageToken}
	if pageSize != "" {
		n, err := strconv.Atoi(pageSize)
		if err != nil || n < 1 || n > MaxQueryLimit {
			return Query{}, &field.Error{Path: "query.pageSize", Message: fmt.Sprintf("pageSize must be 1 to %d", MaxQueryLimit)}
		}
		q.Limit = n
	}
	if filter != "" {
		dec := json.NewDecoder(bytes.NewReader([]byte(filter)))
		if err := dec.Decode(&q.Filter); err != nil || q.Filter == nil || dec.More() {
			return Query{}, &field.Error{Path: "query.filter", Message: `filter must be a JSON object of property values, such as {"plan":"pro"}`}
		}
	}
	return q, nil
}

package records

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow/field"
)

func TestDecodeWriteTakesPropertiesAndNamesEveryWrongField(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		props map[string]any
		errs  []field.Error
		err   error
	}{
		{"properties", `{"properties": {"email": "a@x.test", "visits": 2}}`, map[string]any{"email": "a@x.test", "visits": 2.0}, nil, nil},
		{"empty properties are a write of nothing", `{"properties": {}}`, map[string]any{}, nil, nil},
		{"not JSON", `{`, nil, nil, ErrMalformedWrite},
		{"not an object", `[1]`, nil, nil, ErrMalformedWrite},
		{"null", `null`, nil, nil, ErrMalformedWrite},
		{"properties missing", `{}`, nil, []field.Error{{Path: "properties", Message: "is required"}}, nil},
		{"properties not an object", `{"properties": [1]}`, nil, []field.Error{{Path: "properties", Message: "must be an object of property values"}}, nil},
		{"properties null", `{"properties": null}`, nil, []field.Error{{Path: "properties", Message: "must be an object of property values"}}, nil},
		{"unknown fields, sorted, and properties missing: all at once", `{"z": 1, "a": 2}`, nil, []field.Error{
			{Path: "a", Message: `unknown field (a record is written as {"properties": {...}})`},
			{Path: "z", Message: `unknown field (a record is written as {"properties": {...}})`},
			{Path: "properties", Message: "is required"},
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			props, errs, err := DecodeWrite([]byte(c.body))
			require.Equal(t, c.err, err)
			require.Equal(t, c.errs, errs)
			require.Equal(t, c.props, props)
		})
	}
}

func TestListQueryReadsPageSizeTokenAndFilter(t *testing.T) {
	sizeErr := &field.Error{Path: "query.pageSize", Message: "pageSize must be 1 to 1000"}
	filterErr := &field.Error{Path: "query.filter", Message: `filter must be a JSON object of property values, such as {"plan":"pro"}`}
	cases := []struct {
		name                    string
		pageSize, token, filter string
		want                    Query
		err                     *field.Error
	}{
		{"nothing asked: the default page", "", "", "", Query{Limit: DefaultQueryLimit}, nil},
		{"a page size, a token and a filter", "10", "tok", `{"plan":"pro"}`, Query{Limit: 10, After: "tok", Filter: map[string]any{"plan": "pro"}}, nil},
		{"the largest page", "1000", "", "", Query{Limit: 1000}, nil},
		{"a page of 0 is refused", "0", "", "", Query{}, sizeErr},
		{"a page over the limit is refused", "1001", "", "", Query{}, sizeErr},
		{"a page size that is no number is refused", "ten", "", "", Query{}, sizeErr},
		{"a filter that is no JSON is refused", "", "", `{plan`, Query{}, filterErr},
		{"a filter that is not an object is refused", "", "", `["pro"]`, Query{}, filterErr},
		{"a filter of null is refused", "", "", `null`, Query{}, filterErr},
		{"two objects are refused", "", "", `{"a":1}{"b":2}`, Query{}, filterErr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := ListQuery(c.pageSize, c.token, c.filter)
			require.Equal(t, c.err, err)
			require.Equal(t, c.want, q)
		})
	}
}

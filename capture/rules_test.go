package capture

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow/trigger"
)

func TestParseArmTakesCountAndForWithinTheirBounds(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		count int
		d     time.Duration
		err   *ArmError
	}{
		{"an empty body arms for one request, ten minutes", "", 1, DefaultFor, nil},
		{"blank is empty", "  \n", 1, DefaultFor, nil},
		{"count and for", `{"count": 5, "for": "1h"}`, 5, time.Hour, nil},
		{"the bounds themselves", `{"count": 100, "for": "24h"}`, 100, 24 * time.Hour, nil},
		{"a second is the shortest", `{"for": "1s"}`, 1, time.Second, nil},
		{"count 0 is refused at count", `{"count": 0}`, 0, 0, &ArmError{Code: "invalid_request", Path: "count", Message: "count must be 1 to 100"}},
		{"count over 100 is refused", `{"count": 101}`, 0, 0, &ArmError{Code: "invalid_request", Path: "count", Message: "count must be 1 to 100"}},
		{"for over a day is refused at for", `{"for": "25h"}`, 0, 0, &ArmError{Code: "invalid_request", Path: "for", Message: "for must be a duration from 1s to 24h, such as 10m"}},
		{"for under a second is refused", `{"for": "500ms"}`, 0, 0, &ArmError{Code: "invalid_request", Path: "for", Message: "for must be a duration from 1s to 24h, such as 10m"}},
		{"for that is no duration is refused", `{"for": "soon"}`, 0, 0, &ArmError{Code: "invalid_request", Path: "for", Message: "for must be a duration from 1s to 24h, such as 10m"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			count, d, err := ParseArm([]byte(c.body))
			require.Equal(t, c.err, err)
			require.Equal(t, c.count, count)
			require.Equal(t, c.d, d)
		})
	}
	for _, body := range []string{`{"count": 1, "until": "x"}`, `{"count": "2"}`, `[1]`, `{`} {
		_, _, err := ParseArm([]byte(body))
		require.NotNil(t, err, body)
		require.Equal(t, "malformed_json", err.Code, body)
		require.True(t, strings.HasPrefix(err.Message, `send {"count": n, "for": "10m"}: `), err.Message)
	}
}

func TestRedactHeadersHidesCredentialsSignaturesAndTheTriggersOwnHeader(t *testing.T) {
	h := http.Header{
		"Content-Type": {"application/json"}, "Authorization": {"Bearer x"}, "Cookie": {"a=b"},
		"X-Hub-Signature-256": {"sha256=..."}, "Webhook-Signature": {"v1,..."}, "X-Api-Key": {"k"},
		"X-Shop": {"one", "two"}, "X-Sig": {"hmac"},
	}
	got := RedactHeaders(h, &trigger.TriggerAuth{HMAC: &trigger.HMACAuth{Header: "X-Sig"}})
	require.Equal(t, map[string]string{
		"content-type": "application/json", "authorization": Redacted, "cookie": Redacted,
		"x-hub-signature-256": Redacted, "webhook-signature": Redacted, "x-api-key": Redacted,
		"x-shop": "one, two", "x-sig": Redacted,
	}, got)
	require.Equal(t, "hmac", RedactHeaders(http.Header{"X-Sig": {"hmac"}}, nil)["x-sig"], "another trigger's header is kept")
}

func TestRequestOfKeepsTheBodyAsJSONElseTextElseItsSize(t *testing.T) {
	q := url.Values{"a[b]": {"1"}}
	cases := []struct {
		name     string
		raw      []byte
		body     any
		bodyText string
	}{
		{"no body", nil, nil, ""},
		{"JSON", []byte(`{"n": 1}`), map[string]any{"n": 1.0}, ""},
		{"text", []byte("a=1&b=2"), nil, "a=1&b=2"},
		{"text is cut at 64 KiB", []byte(strings.Repeat("x", 70<<10)), nil, strings.Repeat("x", 64<<10)},
		{"binary is a note of its size", []byte{0xff, 0xfe, 0x00}, nil, "<3 bytes of binary data>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := RequestOf("POST", "text/plain", http.Header{"X-A": {"1"}}, q, c.raw, nil)
			require.Equal(t, "POST", req.Method)
			require.Equal(t, "text/plain", req.ContentType)
			require.Equal(t, map[string]string{"x-a": "1"}, req.Headers)
			require.Equal(t, map[string]any{"a": map[string]any{"b": "1"}}, req.Query, "nested as a trigger reads it")
			require.Equal(t, c.body, req.Body)
			require.Equal(t, c.bodyText, req.BodyText)
		})
	}
}

func TestPathsOfTypesEveryPathAndSuggestsRulesForScalars(t *testing.T) {
	req := Request{
		Body:    map[string]any{"order": map[string]any{"id": "o1", "total": 9.5, "paid": true, "note": nil}, "items": []any{map[string]any{"sku": "s"}}},
		Query:   map[string]any{"shop": "x", "page": map[string]any{"n": "2"}},
		Headers: map[string]string{"x-shop": "x", "x-token": Redacted, "content-type": "application/json"},
	}
	p := PathsOf(req)
	require.Equal(t, []string{"items", "items.0", "items.0.sku", "order", "order.id", "order.note", "order.paid", "order.total"}, p.BodyPaths)
	require.Contains(t, p.Fields, Field{In: "body", Path: "order.total", Type: "number"})
	require.Contains(t, p.Fields, Field{In: "body", Path: "order.note", Type: "null"})
	require.Contains(t, p.Fields, Field{In: "body", Path: "items", Type: "array"})
	require.Contains(t, p.Fields, Field{In: "query", Path: "page", Type: "object"})
	require.Contains(t, p.Fields, Field{In: "headers", Path: "content-type", Type: "string"})
	require.Equal(t, []Rule{{Path: "items.0.sku", Type: "string"}, {Path: "order.id", Type: "string"}, {Path: "order.paid", Type: "boolean"}, {Path: "order.total", Type: "number"}}, p.Suggested["body"])
	require.Equal(t, []Rule{{Path: "page.n"}, {Path: "shop"}}, p.Suggested["query"])
	require.Equal(t, []Rule{{Name: "x-shop"}}, p.Suggested["headers"], "x- headers only, never a redacted one")

	empty := PathsOf(Request{})
	require.Equal(t, []string{}, empty.BodyPaths)
	require.Equal(t, []Field{}, empty.Fields, "never null in the answer")
	require.Equal(t, map[string][]Rule{"body": {}, "query": {}, "headers": {}}, empty.Suggested)
}

package flow_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
)

// HTTP.Check's rules (the ones validator tags cannot say), branch by
// branch; validate_test.go runs them inside whole flows.
func TestHTTPCheck(t *testing.T) {
	const absolute = "must be an absolute http(s) URL (https unless the worker allowlists the host)"
	ok := "https://example.com/orders"
	fe := func(path, msg string) field.Error { return field.Error{Path: path, Message: msg} }
	body := func(b flow.HTTPBody) *flow.HTTPBody { return &b }
	cases := []struct {
		name string
		h    flow.HTTP
		want []field.Error
	}{
		// Where the request goes.
		{"a step with a whole https URL is fine", flow.HTTP{Method: "POST", URL: ok}, nil},
		{"a step with an http URL is fine here (the worker's allowlist decides)", flow.HTTP{Method: "POST", URL: "http://127.0.0.1:8080/x"}, nil},
		{"a step with baseUrl alone is fine (it is a whole URL)", flow.HTTP{Method: "POST", BaseURL: "https://example.com/"}, nil},
		{"a step with baseUrl and path is fine", flow.HTTP{Method: "POST", BaseURL: "https://example.com/", Path: "orders"}, nil},
		{"a step with neither url nor baseUrl needs url", flow.HTTP{Method: "POST"}, []field.Error{fe("url", "is required (or baseUrl with path)")}},
		{"a step with path alone needs url", flow.HTTP{Method: "POST", Path: "orders"}, []field.Error{fe("url", "is required (or baseUrl with path)")}},
		{"a step with url and baseUrl sets both", flow.HTTP{Method: "POST", URL: ok, BaseURL: "https://example.com/"}, []field.Error{fe("url", "set url, or baseUrl with path, not both")}},
		{"a step with url and path sets both", flow.HTTP{Method: "POST", URL: ok, Path: "x"}, []field.Error{fe("url", "set url, or baseUrl with path, not both")}},
		{"a step with an ftp URL is refused", flow.HTTP{Method: "POST", URL: "ftp://example.com/x"}, []field.Error{fe("url", absolute)}},
		{"a step with a relative URL is refused", flow.HTTP{Method: "POST", URL: "/orders"}, []field.Error{fe("url", absolute)}},
		{"a step with a URL without a host is refused", flow.HTTP{Method: "POST", URL: "https://"}, []field.Error{fe("url", absolute)}},
		{"a step with a URL that does not parse is refused", flow.HTTP{Method: "POST", URL: "https://example.com/%zz"}, []field.Error{fe("url", absolute)}},
		{"a step with a baseUrl that does not parse is refused under baseUrl", flow.HTTP{Method: "POST", BaseURL: "https://exa mple.com/", Path: "x"}, []field.Error{fe("baseUrl", absolute)}},
		{"a step whose URL starts with a template is left to run time", flow.HTTP{Method: "POST", URL: "{{ vars.endpoint }}"}, nil},
		{"a step whose host is a template is left to run time", flow.HTTP{Method: "POST", URL: "https://{{ vars.host }}/x"}, nil},
		{"a step with a template past its host is still checked, and passes", flow.HTTP{Method: "POST", URL: "https://example.com/{{ trigger.id }}"}, nil},

		// A destination's step.
		{"a destination's step with path and query only is fine", flow.HTTP{Method: "POST", Destination: "crm", Path: "deals", Query: map[string]string{"a": "1"}}, nil},
		{"a destination's step with no path is fine", flow.HTTP{Method: "POST", Destination: "crm"}, nil},
		{"a destination's step may not set url", flow.HTTP{Method: "POST", Destination: "crm", URL: ok}, []field.Error{
			fe("url", "is the destination's (crm): a step with a destination sets path and query only"),
		}},
		{"a destination's step may not set baseUrl, nor its own auth", flow.HTTP{Method: "POST", Destination: "crm", BaseURL: "nope", Auth: &flow.HTTPAuth{Type: flow.AuthBearer, TokenSecret: "t"}}, []field.Error{
			fe("baseUrl", "is the destination's (crm): a step with a destination sets path and query only"),
			fe("auth", "is the destination's (crm): a step with a destination cannot set its own"),
			fe("baseUrl", absolute),
		}},

		// The body.
		{"a keyValue body with fields is fine", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "keyValue", Fields: map[string]any{"a": 1}})}, nil},
		{"a keyValue body without fields is refused", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "keyValue"})}, []field.Error{fe("body.fields", "keyValue needs fields")}},
		{"a raw body without its template is refused", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "raw"})}, []field.Error{fe("body.raw", "raw needs a JSON template")}},
		{"a raw body that is not JSON is refused", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "raw", Raw: `{"a":`})}, []field.Error{fe("body.raw", "is not valid JSON")}},
		{"a raw body that is JSON is fine", flow.HTTP{Method: "PUT", URL: ok, Body: body(flow.HTTPBody{Mode: "raw", Raw: `{"a":[1,2]}`})}, nil},
		{"a raw body with a template is left to render (checked then)", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "raw", Raw: `{"a": {{ trigger.body.a }}`})}, nil},
		{"a GET with a raw body is refused: GET sends query parameters", flow.HTTP{Method: "GET", URL: ok, Body: body(flow.HTTPBody{Mode: "raw", Raw: `{}`})}, []field.Error{
			fe("body.mode", "GET sends its data as query parameters: use all or keyValue"),
		}},
		{"a GET with a keyValue body is fine", flow.HTTP{Method: "GET", URL: ok, Body: body(flow.HTTPBody{Mode: "keyValue", Fields: map[string]any{"q": "x"}})}, nil},
		{"fields outside mode keyValue are refused", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "all", Fields: map[string]any{"a": 1}})}, []field.Error{
			fe("body.fields", "apply to mode keyValue only"),
		}},
		{"raw outside mode raw is refused, beside keyValue's missing fields", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "keyValue", Raw: `{}`})}, []field.Error{
			fe("body.fields", "keyValue needs fields"),
			fe("body.raw", "applies to mode raw only"),
		}},
		{"a record body with a template is fine", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "record", Record: "{{ steps.find.outputs.record }}"})}, nil},
		{"a record body without one sends the enrolled record: fine", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "record"})}, nil},
		{"a record that is no template is refused", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "record", Record: "steps.find.outputs.record"})}, []field.Error{
			fe("body.record", "is a template yielding a record, such as {{ steps.find.outputs.record }}"),
		}},
		{"a record outside mode record is refused (and must be a template)", flow.HTTP{Method: "POST", URL: ok, Body: body(flow.HTTPBody{Mode: "all", Record: "x"})}, []field.Error{
			fe("body.record", "applies to mode record only"),
			fe("body.record", "is a template yielding a record, such as {{ steps.find.outputs.record }}"),
		}},

		// Auth: each type names what it is missing.
		{"basic auth without user and password names both", flow.HTTP{Method: "POST", URL: ok, Auth: &flow.HTTPAuth{Type: flow.AuthBasic}}, []field.Error{
			fe("auth.username", "is required for auth type basic"), fe("auth.passwordSecret", "is required for auth type basic"),
		}},
		{"basic auth with both is fine", flow.HTTP{Method: "POST", URL: ok, Auth: &flow.HTTPAuth{Type: flow.AuthBasic, Username: "u", PasswordSecret: "p"}}, nil},
		{"bearer auth without its token is refused", flow.HTTP{Method: "POST", URL: ok, Auth: &flow.HTTPAuth{Type: flow.AuthBearer}}, []field.Error{fe("auth.tokenSecret", "is required for auth type bearer")}},
		{"apiKey auth without name, place and value names all three", flow.HTTP{Method: "POST", URL: ok, Auth: &flow.HTTPAuth{Type: flow.AuthAPIKey}}, []field.Error{
			fe("auth.name", "is required for auth type apiKey"), fe("auth.in", "is required for auth type apiKey"), fe("auth.valueSecret", "is required for auth type apiKey"),
		}},
		{"signature auth without version and secret names both", flow.HTTP{Method: "POST", URL: ok, Auth: &flow.HTTPAuth{Type: flow.AuthSignature}}, []field.Error{
			fe("auth.version", "is required for auth type signature"), fe("auth.secret", "is required for auth type signature"),
		}},
		{"an unknown auth type is the validator's to refuse, not Check's", flow.HTTP{Method: "POST", URL: ok, Auth: &flow.HTTPAuth{Type: "digest"}}, nil},

		// Outputs, in name order.
		{"outputs with identifiers and paths are fine", flow.HTTP{Method: "POST", URL: ok, Outputs: map[string]string{"trackingId": "tracking.id"}}, nil},
		{"outputs the step fills itself, bad names and empty paths are each refused, in name order", flow.HTTP{Method: "POST", URL: ok, Outputs: map[string]string{
			"statusCode": "x", "headers": "y", "body": "z", "a-b": "x", "empty": "",
		}}, []field.Error{
			fe("outputs.a-b", "an output name must be an identifier"),
			fe("outputs.body", `"body" is filled in by the step itself (statusCode, headers, body)`),
			fe("outputs.empty", "needs a gjson path into the response, such as tracking.id"),
			fe("outputs.headers", `"headers" is filled in by the step itself (statusCode, headers, body)`),
			fe("outputs.statusCode", `"statusCode" is filled in by the step itself (statusCode, headers, body)`),
		}},

		// Retry.
		{"a retry whose maximum interval is below its initial one is refused", flow.HTTP{Method: "POST", URL: ok, Retry: &flow.RetryPolicy{InitialInterval: field.Duration(time.Minute), MaximumInterval: field.Duration(time.Second)}}, []field.Error{
			fe("retry.maximumInterval", "must be at least initialInterval"),
		}},
		{"a retry whose intervals are equal is fine", flow.HTTP{Method: "POST", URL: ok, Retry: &flow.RetryPolicy{InitialInterval: field.Duration(time.Minute), MaximumInterval: field.Duration(time.Minute)}}, nil},
		{"a retry with only a maximum interval is left to the defaults", flow.HTTP{Method: "POST", URL: ok, Retry: &flow.RetryPolicy{MaximumInterval: field.Duration(time.Second)}}, nil},

		{"every problem of one step comes back at once", flow.HTTP{Method: "GET", URL: "ftp://x", BaseURL: "b", Body: body(flow.HTTPBody{Mode: "raw"}), Auth: &flow.HTTPAuth{Type: flow.AuthBearer}, Outputs: map[string]string{"body": "x"}}, []field.Error{
			fe("url", "set url, or baseUrl with path, not both"),
			fe("url", absolute),
			fe("baseUrl", absolute),
			fe("body.raw", "raw needs a JSON template"),
			fe("body.mode", "GET sends its data as query parameters: use all or keyValue"),
			fe("auth.tokenSecret", "is required for auth type bearer"),
			fe("outputs.body", `"body" is filled in by the step itself (statusCode, headers, body)`),
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, c.h.Check())
		})
	}
}

package flow_test

import (
	"errors"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
)

func TestDestinationDecodesStrictlyWithPaths(t *testing.T) {
	d, err := flow.DecodeDestination([]byte(`
name: crm
baseUrl: https://api.crm.example.com/v1/
auth: {type: apiKey, name: api_token, in: query, valueSecret: crm_key}
headers: {X-Source: hookflow}
timeouts: {connect: 2s, response: 10s}
retry: {initialInterval: 10s, giveUpAfter: 24h}
rateLimit: {perSecond: 5}
maxInFlight: 4
circuitBreaker: {failures: 5, probeInterval: 1m}
`), true)
	require.NoError(t, err)
	require.Equal(t, "crm", d.Name)
	u, err := d.Join("deals/42", url.Values{"a": {"1"}})
	require.NoError(t, err)
	require.Equal(t, "https://api.crm.example.com/v1/deals/42?a=1", u)

	_, err = flow.DecodeDestination([]byte(`
name: Bad Name
baseUrl: https://api.example.com/v1
auth: {type: bearer}
colour: red
rateLimit: {perSecond: 0}
headers: {X-A: "{{ trigger.body }}"}
`), true)
	var de *flow.DestinationError
	require.True(t, errors.As(err, &de), "%v", err)
	require.Len(t, de.Errors, 1, "unknown fields are reported first: %v", err)
	require.Equal(t, "colour", de.Errors[0].Path)

	_, err = flow.DecodeDestination([]byte(`{"name":"Bad Name","baseUrl":"https://api.example.com/v1","auth":{"type":"bearer"},"rateLimit":{"perSecond":0},"headers":{"X-A":"{{ x }}"}}`), false)
	require.True(t, errors.As(err, &de), "%v", err)
	paths := map[string]bool{}
	for _, fe := range de.Errors {
		paths[fe.Path] = true
	}
	for _, p := range []string{"name", "baseUrl", "auth.tokenSecret", "rateLimit.perSecond", "headers.X-A"} {
		require.True(t, paths[p], "missing %s in %v", p, err)
	}

	// Pipedrive's endings: a query parameter's value is a valid joint.
	d, err = flow.DecodeDestination([]byte(`{"name":"pd","baseUrl":"https://hooks.example.com/in?event="}`), false)
	require.NoError(t, err)
	u, err = d.Join("deal.added", nil)
	require.NoError(t, err)
	require.Equal(t, "https://hooks.example.com/in?event=deal.added", u)
}

func TestHTTPStepWithDestination(t *testing.T) {
	f, err := flow.DecodeYAML([]byte(`
id: dest-ok
steps:
  - id: send
    type: http
    method: POST
    destination: crm
    path: "deals/{{ trigger.body.id }}"
    query: {source: hookflow}
    body: {mode: all}
`))
	require.NoError(t, err)
	require.Equal(t, []flow.DestinationRef{{Path: "steps[0].destination", Name: "crm"}}, f.Destinations())
	errs := flow.CheckDestinations(f, func(string) bool { return false })
	require.Len(t, errs, 1)
	require.Equal(t, "steps[0].destination", errs[0].Path)

	s, _, _ := f.StepByID("send")
	req, err := s.Spec.(*flow.HTTP).Render(flow.NewEvaluator(), map[string]any{"trigger": map[string]any{"body": map[string]any{"id": 7.0}}})
	require.NoError(t, err)
	require.Equal(t, "crm", req.Destination)
	require.Equal(t, "deals/7", req.URL)
	require.Equal(t, []string{"hookflow"}, req.Query["source"])

	_, err = flow.DecodeYAML([]byte(`
id: dest-bad
steps:
  - {id: send, type: http, method: POST, destination: crm, url: "https://x.example.com/", auth: {type: bearer, tokenSecret: t}}
`))
	var ve *flow.ValidationError
	require.True(t, errors.As(err, &ve), "%v", err)
	paths := map[string]bool{}
	for _, fe := range ve.Errors {
		paths[fe.Path] = true
	}
	require.True(t, paths["steps[0].url"], "%v", err)
	require.True(t, paths["steps[0].auth"], "%v", err)
}

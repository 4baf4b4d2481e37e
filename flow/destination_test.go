package flow_test

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
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
	req, err := s.Spec.(*flow.HTTP).Render(expression.NewEvaluator(), map[string]any{"trigger": map[string]any{"body": map[string]any{"id": 7.0}}})
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

func TestDestinationLimitsAndFailureRateWithPaths(t *testing.T) {
	d, err := flow.DecodeDestination([]byte(`
name: crm
baseUrl: https://api.crm.example.com/v1/
limits: [{per: 1m, max: 100}, {per: 24h, max: 10000}]
circuitBreaker: {failures: 10, failureRate: 0.5, window: 1m, minRequests: 20, probeInterval: 30s}
`), true)
	require.NoError(t, err)
	require.Len(t, d.Limits, 2)
	require.Equal(t, time.Minute, d.Limits[0].Per.Std())
	require.EqualValues(t, 10000, d.Limits[1].Max)
	w := d.RateWindow()
	require.Equal(t, flow.FailureWindow{Rate: 0.5, Window: time.Minute, MinRequests: 20}, w)
	require.False(t, w.Trips(19, 19), "fewer than minRequests")
	require.True(t, w.Trips(20, 10))
	require.False(t, w.Trips(20, 9))
	at := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	require.Equal(t, time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC).UnixMilli(), d.Limits[0].WindowStart(at))
	require.Equal(t, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).UnixMilli(), d.Limits[1].WindowStart(at))

	// Defaults: a rate alone takes a 1m window and 20 requests.
	d, err = flow.DecodeDestination([]byte(`{"name":"x","baseUrl":"https://x.example.com/","circuitBreaker":{"failureRate":1}}`), false)
	require.NoError(t, err)
	require.Equal(t, flow.FailureWindow{Rate: 1, Window: time.Minute, MinRequests: 20}, d.RateWindow())
	d, err = flow.DecodeDestination([]byte(`{"name":"x","baseUrl":"https://x.example.com/","circuitBreaker":{"failureRate":1,"disabled":true}}`), false)
	require.NoError(t, err)
	require.Zero(t, d.RateWindow().Rate, "a disabled breaker has no window")

	_, err = flow.DecodeDestination([]byte(`
name: crm
baseUrl: https://api.crm.example.com/v1/
limits: [{per: 500ms, max: 0}, {per: 1500ms, max: 5}, {per: 1m, max: 1}, {per: 1m, max: 2}, {max: 3}]
circuitBreaker: {failureRate: 1.5, window: 100ms, minRequests: 0}
`), true)
	var de *flow.DestinationError
	require.True(t, errors.As(err, &de), "%v", err)
	paths := map[string]string{}
	for _, fe := range de.Errors {
		paths[fe.Path] = fe.Message
	}
	for _, p := range []string{"limits[0].per", "limits[0].max", "limits[1].per", "limits[3].per", "limits[4].per", "circuitBreaker.failureRate", "circuitBreaker.window"} {
		require.Contains(t, paths, p, "missing %s in %v", p, err)
	}
	require.Contains(t, paths["limits[3].per"], "repeats limits[2].per")
	t.Log(err)

	_, err = flow.DecodeDestination([]byte(`
name: crm
baseUrl: https://api.crm.example.com/v1/
limits: {per: 1m, max: 100}
circuitBreaker: {window: 1m, minRequests: 5}
`), true)
	require.True(t, errors.As(err, &de), "%v", err)
	require.Equal(t, "limits", de.Errors[0].Path, "%v", err)
	_, err = flow.DecodeDestination([]byte(`
name: crm
baseUrl: https://api.crm.example.com/v1/
limits: [{per: 1m, max: 100, burst: 3}]
`), true)
	require.True(t, errors.As(err, &de), "%v", err)
	require.Equal(t, "limits[0].burst", de.Errors[0].Path, "%v", err)
	_, err = flow.DecodeDestination([]byte(`
name: crm
baseUrl: https://api.crm.example.com/v1/
circuitBreaker: {window: 1m, minRequests: 5}
`), true)
	require.True(t, errors.As(err, &de), "%v", err)
	paths = map[string]string{}
	for _, fe := range de.Errors {
		paths[fe.Path] = fe.Message
	}
	require.Contains(t, paths["circuitBreaker.window"], "needs failureRate")
	require.Contains(t, paths["circuitBreaker.minRequests"], "needs failureRate")
}

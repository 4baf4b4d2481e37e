package flow

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
)

// TypeHTTP sends an HTTP request (a webhook) as a Temporal activity, retried
// durably by its retry policy.
const TypeHTTP = "http"

// HTTP is the send-webhook step.
//
//	{id: ship, type: http, method: POST, url: "https://shipping.example.com/orders",
//	 auth: {type: signature, version: v3, secret: shipping_secret},
//	 body: {mode: keyValue, fields: {orderId: "{{ trigger.orderId }}"}},
//	 outputs: {trackingId: tracking.id}}
type HTTP struct {
	Method string `json:"method" validate:"required,oneof=GET POST PUT PATCH DELETE" doc:"The request method. GET sends its data as query parameters."`
	// URL is the whole destination (a template). Or BaseURL plus Path,
	// joined with one slash (Pipedrive style).
	URL     string `json:"url,omitempty" validate:"max=4096" doc:"The whole destination URL (https unless the worker allowlists the host). Or baseUrl plus path." expr:"template"`
	BaseURL string `json:"baseUrl,omitempty" validate:"max=4096" doc:"A base URL that path is joined to with one slash." expr:"template"`
	Path    string `json:"path,omitempty" validate:"max=4096" doc:"Appended to baseUrl, or to the destination's base URL." expr:"template"`
	// Destination names an admin-defined destination (hookflow
	// destinations apply): its base URL, auth, headers, timeouts, retry
	// policy and limits apply; the step adds path, query, headers and body,
	// and may not set url, baseUrl or auth.
	Destination string `json:"destination,omitempty" validate:"omitempty,flowid" doc:"Names an admin-defined destination (hookflow destinations apply): its base URL, auth, headers, timeouts, retry policy and limits apply; the step adds path, query, headers and body, and may not set url, baseUrl or auth."`
	// Query parameters: static values or templates.
	Query   map[string]string `json:"query,omitempty" validate:"max=100" doc:"Query parameters: static values or templates." expr:"template"`
	Headers map[string]string `json:"headers,omitempty" validate:"max=100,dive,keys,header,endkeys,max=8192" doc:"Request headers: static values or templates." expr:"template"`
	Body    *HTTPBody         `json:"body,omitempty" doc:"What to send."`
	Auth    *HTTPAuth         `json:"auth,omitempty" doc:"How the request is authenticated. Secrets are names, resolved by the worker at send time."`
	// Timeouts per attempt: connect (default 3s) and the whole response
	// (default 30s).
	Timeouts *HTTPTimeouts `json:"timeouts,omitempty" doc:"Timeouts of one attempt."`
	// Retry overrides the default delivery policy (first retry after 1m,
	// x2, at most 8h apart, given up after 72h).
	Retry *RetryPolicy `json:"retry,omitempty" doc:"Overrides the delivery retry policy field by field. Network errors, timeouts, 5xx and 429 (after its Retry-After) are retried; other 4xx are not."`
	// Outputs names gjson paths picked from a JSON response; a path missing
	// from the response fails the step. Later steps read
	// steps.<id>.outputs.<name>, plus statusCode, headers and body.
	Outputs map[string]string `json:"outputs,omitempty" validate:"max=100" doc:"Named gjson paths picked from a JSON response; a path missing from the response fails the step. Later steps read steps.<id>.outputs.<name>, plus statusCode, headers and body."`
	// KeepResponseBytes bounds the response body kept for later steps
	// (steps.<id>.outputs.body) and in the run's history. Default: the
	// worker's limit (64 KiB) when an expression of the flow may read the
	// body or headers, else none; named outputs are read from the whole
	// body either way.
	KeepResponseBytes *int `json:"keepResponseBytes,omitempty" validate:"omitempty,min=0,max=1048576" doc:"Bounds the response body kept for later steps (steps.<id>.outputs.body) and in the run's history. Default: the worker's limit (64 KiB) when an expression of the flow may read the body or headers, else none; named outputs are read from the whole body either way."`
	// OnError continue lets the flow go on after a delivery that finally
	// failed; steps.<id>.status is then "failed" and steps.<id>.error says why.
	OnError string `json:"onError,omitempty" validate:"omitempty,oneof=fail continue" doc:"continue lets the flow go on after a delivery that finally failed; steps.<id>.status is then failed and steps.<id>.error says why."`
}

// HTTPBody says what to send.
type HTTPBody struct {
	// Mode: all sends every property of the data at hand (the trigger body;
	// inside a loop, the current item); keyValue sends Fields as a JSON
	// object; raw sends Raw, a template that must render to valid JSON;
	// record sends every property of a record (HubSpot's "include all
	// properties"): Record's, else the enrolled one (trigger.record).
	Mode   string         `json:"mode" validate:"required,oneof=all keyValue raw record" doc:"all sends every property of the data at hand (the trigger body; inside a loop, the current item); keyValue sends fields as a JSON object; raw sends raw, a template that must render to valid JSON; record sends every property of a record."`
	Fields map[string]any `json:"fields,omitempty" validate:"max=200" doc:"The object to send (mode keyValue): JSON values in which strings may be templates." expr:"template"`
	Raw    string         `json:"raw,omitempty" validate:"max=65536" doc:"A JSON template (mode raw) that must render to valid JSON." expr:"template"`
	// Record is a template yielding a record, such as
	// "{{ steps.find.outputs.record }}" (mode record).
	Record string `json:"record,omitempty" validate:"max=4096" doc:"A template yielding a record, such as {{ steps.find.outputs.record }} (mode record); default: the enrolled one (trigger.record)." expr:"template"`
}

// Auth types of an http step, and its signature versions: the names flows
// use, shared with the worker that applies them (package activities).
const (
	AuthBasic     = "basic"
	AuthBearer    = "bearer"
	AuthAPIKey    = "apiKey"
	AuthSignature = "signature"

	SignatureHubSpotV1        = "v1" // hex sha256(secret + body)
	SignatureHubSpotV2        = "v2" // hex sha256(secret + method + URI + body)
	SignatureHubSpotV3        = "v3" // base64 HMAC-SHA256(method + URI + body + timestamp)
	SignatureStandardWebhooks = "standardWebhooks"

	APIKeyInHeader = "header"
	APIKeyInQuery  = "query"
)

// HTTPAuth authenticates the request. Secrets are names, resolved by the
// worker at send time; their values never enter the flow or its history.
type HTTPAuth struct {
	Type string `json:"type" validate:"required,oneof=basic bearer apiKey signature" doc:"basic, bearer, apiKey (in a header or the query) or signature."`
	// basic
	Username       string `json:"username,omitempty" validate:"max=200" doc:"basic: the user name."`
	PasswordSecret string `json:"passwordSecret,omitempty" validate:"omitempty,secretname" doc:"basic: name of the secret holding the password."`
	// bearer
	TokenSecret string `json:"tokenSecret,omitempty" validate:"omitempty,secretname" doc:"bearer: name of the secret holding the token."`
	// apiKey: Name is the header or query parameter, In says which.
	Name        string `json:"name,omitempty" validate:"max=200" doc:"apiKey: the header or query parameter's name."`
	In          string `json:"in,omitempty" validate:"omitempty,oneof=header query" doc:"apiKey: where the key goes."`
	ValueSecret string `json:"valueSecret,omitempty" validate:"omitempty,secretname" doc:"apiKey: name of the secret holding the key."`
	// signature: v1, v2, v3 (HubSpot) or standardWebhooks.
	Version string `json:"version,omitempty" validate:"omitempty,oneof=v1 v2 v3 standardWebhooks" doc:"signature: v1 hex sha256(secret + body), v2 hex sha256(secret + method + URI + body), v3 base64 HMAC-SHA256(method + URI + body + timestamp) (HubSpot), or standardWebhooks."`
	Secret  string `json:"secret,omitempty" validate:"omitempty,secretname" doc:"signature: name of the signing secret."`
}

// check reports auth's missing fields under prefix (nil auth: none).
func (a *HTTPAuth) check(prefix string) []field.Error {
	if a == nil {
		return nil
	}
	var out []field.Error
	need := func(name, v string) {
		if v == "" {
			out = append(out, field.Error{Path: prefix + "." + name, Message: "is required for auth type " + a.Type})
		}
	}
	switch a.Type {
	case AuthBasic:
		need("username", a.Username)
		need("passwordSecret", a.PasswordSecret)
	case AuthBearer:
		need("tokenSecret", a.TokenSecret)
	case AuthAPIKey:
		need("name", a.Name)
		need("in", a.In)
		need("valueSecret", a.ValueSecret)
	case AuthSignature:
		need("version", a.Version)
		need("secret", a.Secret)
	}
	return out
}

// HTTPTimeouts bound one attempt.
type HTTPTimeouts struct {
	Connect  field.Duration `json:"connect,omitempty" validate:"omitempty,dmin=100ms,dmax=1m" doc:"Connecting to the host."`
	Response field.Duration `json:"response,omitempty" validate:"omitempty,dmin=100ms,dmax=10m" doc:"The whole response of one attempt."`
}

// RetryPolicy tunes delivery retries. Zero fields take the defaults.
type RetryPolicy struct {
	InitialInterval    field.Duration `json:"initialInterval,omitempty" validate:"omitempty,dmin=100ms" doc:"Wait before the first retry."`
	BackoffCoefficient float64        `json:"backoffCoefficient,omitempty" validate:"omitempty,min=1,max=10" doc:"Each wait is the previous one times this."`
	MaximumInterval    field.Duration `json:"maximumInterval,omitempty" validate:"omitempty,dmin=100ms" doc:"The longest wait between attempts."`
	// GiveUpAfter bounds all attempts together (schedule-to-close).
	GiveUpAfter     field.Duration `json:"giveUpAfter,omitempty" validate:"omitempty,dmin=1s,dmax=30d" doc:"Bounds all attempts together (schedule-to-close)."`
	MaximumAttempts int            `json:"maximumAttempts,omitempty" validate:"omitempty,min=1,max=1000" doc:"Bounds the number of attempts (default: no bound but giveUpAfter)."`
}

// Delivery defaults: the product's durable delivery guarantee.
const (
	DefaultConnectTimeout     = 3 * time.Second
	DefaultResponseTimeout    = 30 * time.Second
	DefaultInitialInterval    = time.Minute
	DefaultBackoffCoefficient = 2.0
	DefaultMaximumInterval    = 8 * time.Hour
	DefaultGiveUpAfter        = 72 * time.Hour
)

// EffectiveRetry is the step's policy with defaults filled in.
func (h *HTTP) EffectiveRetry() RetryPolicy {
	r := RetryPolicy{}
	if h.Retry != nil {
		r = *h.Retry
	}
	if r.InitialInterval == 0 {
		r.InitialInterval = field.Duration(DefaultInitialInterval)
	}
	if r.BackoffCoefficient == 0 {
		r.BackoffCoefficient = DefaultBackoffCoefficient
	}
	if r.MaximumInterval == 0 {
		r.MaximumInterval = field.Duration(DefaultMaximumInterval)
	}
	if r.GiveUpAfter == 0 {
		r.GiveUpAfter = field.Duration(DefaultGiveUpAfter)
	}
	return r
}

// EffectiveTimeouts are the per-attempt timeouts with defaults filled in.
func (h *HTTP) EffectiveTimeouts() (connect, response time.Duration) {
	connect, response = DefaultConnectTimeout, DefaultResponseTimeout
	if h.Timeouts != nil {
		if h.Timeouts.Connect != 0 {
			connect = h.Timeouts.Connect.Std()
		}
		if h.Timeouts.Response != 0 {
			response = h.Timeouts.Response.Std()
		}
	}
	return connect, response
}

// ContinuesOnError reports whether the flow goes on after this step fails.
func (h *HTTP) ContinuesOnError() bool { return h.OnError == "continue" }

// reservedOutputs are filled in by the step itself.
var reservedOutputs = map[string]bool{"statusCode": true, "headers": true, "body": true}

func init() {
	Register[HTTP](TypeHTTP, "send an HTTP request (webhook), retried durably")
}

var (
	_ Spec           = (*HTTP)(nil)
	_ Checker        = (*HTTP)(nil)
	_ ErrorContinuer = (*HTTP)(nil)
)

func (h *HTTP) Expressions() []ExprField {
	var out []ExprField
	for _, f := range []struct{ path, src string }{{"url", h.URL}, {"baseUrl", h.BaseURL}, {"path", h.Path}} {
		if expression.IsTemplate(f.src) {
			out = append(out, ExprField{Path: f.path, Source: f.src})
		}
	}
	for _, k := range SortedKeys(h.Query) {
		if expression.IsTemplate(h.Query[k]) {
			out = append(out, ExprField{Path: field.JoinPath("query", k), Source: h.Query[k]})
		}
	}
	for _, k := range SortedKeys(h.Headers) {
		if expression.IsTemplate(h.Headers[k]) {
			out = append(out, ExprField{Path: field.JoinPath("headers", k), Source: h.Headers[k]})
		}
	}
	if h.Body != nil {
		out = append(out, ValueTemplates("body.fields", toAnyMap(h.Body.Fields))...)
		if expression.IsTemplate(h.Body.Raw) {
			out = append(out, ExprField{Path: "body.raw", Source: h.Body.Raw})
		}
		if expression.IsTemplate(h.Body.Record) {
			out = append(out, ExprField{Path: "body.record", Source: h.Body.Record})
		}
	}
	return out
}

func toAnyMap(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

func (h *HTTP) Check() []field.Error {
	var out []field.Error
	add := func(path, msg string) { out = append(out, field.Error{Path: path, Message: msg}) }
	switch {
	case h.Destination != "":
		for _, f := range []struct{ path, v string }{{"url", h.URL}, {"baseUrl", h.BaseURL}} {
			if f.v != "" {
				add(f.path, "is the destination's ("+h.Destination+"): a step with a destination sets path and query only")
			}
		}
		if h.Auth != nil {
			add("auth", "is the destination's ("+h.Destination+"): a step with a destination cannot set its own")
		}
	case h.URL == "" && h.BaseURL == "":
		add("url", "is required (or baseUrl with path)")
	case h.URL != "" && (h.BaseURL != "" || h.Path != ""):
		add("url", "set url, or baseUrl with path, not both")
	case h.URL == "" && h.Path == "" && h.BaseURL != "":
		// baseUrl alone is a whole URL; fine.
	}
	for _, f := range []struct{ path, v string }{{"url", h.URL}, {"baseUrl", h.BaseURL}} {
		if f.v == "" || expression.IsTemplate(f.v[:min(len(f.v), 12)]) {
			continue // a template decides the scheme at run time
		}
		u, err := url.Parse(f.v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add(f.path, "must be an absolute http(s) URL (https unless the worker allowlists the host)")
		}
	}
	if h.Body != nil {
		b := h.Body
		switch b.Mode {
		case "keyValue":
			if len(b.Fields) == 0 {
				add("body.fields", "keyValue needs fields")
			}
		case "raw":
			if b.Raw == "" {
				add("body.raw", "raw needs a JSON template")
			} else if !expression.IsTemplate(b.Raw) && !json.Valid([]byte(b.Raw)) {
				add("body.raw", "is not valid JSON")
			}
			if h.Method == "GET" {
				add("body.mode", "GET sends its data as query parameters: use all or keyValue")
			}
		}
		if b.Mode != "keyValue" && len(b.Fields) > 0 {
			add("body.fields", "apply to mode keyValue only")
		}
		if b.Mode != "raw" && b.Raw != "" {
			add("body.raw", "applies to mode raw only")
		}
		if b.Mode != "record" && b.Record != "" {
			add("body.record", "applies to mode record only")
		}
		if b.Record != "" && !expression.IsTemplate(b.Record) {
			add("body.record", "is a template yielding a record, such as {{ steps.find.outputs.record }}")
		}
	}
	out = append(out, h.Auth.check("auth")...)
	for _, k := range SortedKeys(h.Outputs) {
		switch {
		case reservedOutputs[k]:
			add(field.JoinPath("outputs", k), fmt.Sprintf("%q is filled in by the step itself (statusCode, headers, body)", k))
		case !field.IsIdentifier(k):
			add(field.JoinPath("outputs", k), "an output name must be an identifier")
		case h.Outputs[k] == "":
			add(field.JoinPath("outputs", k), "needs a gjson path into the response, such as tracking.id")
		}
	}
	if r := h.Retry; r != nil && r.InitialInterval != 0 && r.MaximumInterval != 0 && r.MaximumInterval < r.InitialInterval {
		add("retry.maximumInterval", "must be at least initialInterval")
	}
	return out
}

// HTTPRequest is a rendered http step: what the delivery activity sends. It
// holds secret names, never values, so it can sit in workflow history.
type HTTPRequest struct {
	Method string `json:"method"`
	// URL is the whole URL; with Destination, the rendered path only,
	// which the worker appends to the destination's base URL when the
	// attempt runs, adding Query.
	URL         string              `json:"url"`
	Destination string              `json:"destination,omitempty"`
	Query       map[string][]string `json:"query,omitempty"`
	// DestinationVersion is the destination's version when the delivery
	// started: attempts use that one or a newer one.
	DestinationVersion int64             `json:"destinationVersion,omitempty"`
	Headers            map[string]string `json:"headers,omitempty"`
	// Body is the JSON to send; nil sends no body.
	Body            json.RawMessage   `json:"body,omitempty"`
	Auth            *HTTPAuth         `json:"auth,omitempty"`
	Outputs         map[string]string `json:"outputs,omitempty"`
	ConnectTimeout  time.Duration     `json:"connectTimeout"`
	ResponseTimeout time.Duration     `json:"responseTimeout"`
	// DeliveryID is sent as Idempotency-Key (and webhook-id); it stays the
	// same across every retry of one delivery.
	DeliveryID string `json:"deliveryId"`
	// KeepBody bounds the response body and headers returned (and so kept
	// in history): nil keeps up to the worker's limit, 0 keeps neither
	// (no later step reads them). Named outputs are read from the whole
	// body either way.
	KeepBody *int `json:"keepBody,omitempty"`
}

// Render evaluates the step's templates against env and builds the request.
// It is pure and deterministic (workflow code calls it); an error here is the
// flow's (a template that fails, raw JSON that is not JSON).
func (h *HTTP) Render(e *expression.Evaluator, env map[string]any) (*HTTPRequest, error) {
	str := func(at, src string) (string, error) {
		v, err := e.RenderString(src, env)
		if err != nil {
			return "", fmt.Errorf("%s: %w", at, err)
		}
		return expression.TextOf(v), nil
	}
	rawURL := h.URL
	var err error
	var u *url.URL
	switch {
	case h.Destination != "":
		// The base URL is the worker's to add, when the attempt runs.
		if rawURL, err = str("path", h.Path); err != nil {
			return nil, err
		}
		u = &url.URL{}
	case rawURL != "":
		if rawURL, err = str("url", h.URL); err != nil {
			return nil, err
		}
	default:
		base, err := str("baseUrl", h.BaseURL)
		if err != nil {
			return nil, err
		}
		path, err := str("path", h.Path)
		if err != nil {
			return nil, err
		}
		rawURL = base
		if path != "" {
			rawURL = strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
		}
	}
	if u == nil {
		u, err = url.Parse(rawURL)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, fmt.Errorf("url: %q is not an absolute http(s) URL", rawURL)
		}
	}
	q := u.Query()
	for _, k := range SortedKeys(h.Query) {
		v, err := str(field.JoinPath("query", k), h.Query[k])
		if err != nil {
			return nil, err
		}
		q.Add(k, v)
	}
	req := &HTTPRequest{Method: h.Method, Auth: h.Auth, Outputs: h.Outputs}
	req.ConnectTimeout, req.ResponseTimeout = h.EffectiveTimeouts()
	if len(h.Headers) > 0 {
		req.Headers = make(map[string]string, len(h.Headers))
		for _, k := range SortedKeys(h.Headers) {
			v, err := str(field.JoinPath("headers", k), h.Headers[k])
			if err != nil {
				return nil, err
			}
			req.Headers[k] = v
		}
	}
	if h.Body != nil {
		data, err := h.bodyData(e, env)
		if err != nil {
			return nil, err
		}
		if h.Method == "GET" {
			// GET carries its data as query parameters: top-level keys,
			// non-string values as JSON.
			m, ok := data.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("body: GET sends an object's properties as query parameters, got %s", expression.DescribeValue(data))
			}
			for _, k := range SortedKeys(m) {
				q.Add(k, expression.TextOf(m[k]))
			}
		} else {
			b, err := marshalJSON(data)
			if err != nil {
				return nil, fmt.Errorf("body: %w", err)
			}
			req.Body = b
		}
	}
	if h.Destination != "" {
		req.URL, req.Destination = rawURL, h.Destination
		if len(q) > 0 {
			req.Query = q
		}
		return req, nil
	}
	u.RawQuery = q.Encode()
	req.URL = u.String()
	return req, nil
}

func (h *HTTP) bodyData(e *expression.Evaluator, env map[string]any) (any, error) {
	switch h.Body.Mode {
	case "all":
		if item, ok := env[expression.EnvItem]; ok {
			return item, nil
		}
		if t, ok := env[expression.EnvTrigger].(map[string]any); ok {
			return t["body"], nil
		}
		return nil, nil
	case "keyValue":
		v, err := e.Render(toAnyMap(h.Body.Fields), env)
		if err != nil {
			return nil, fmt.Errorf("body.fields.%w", err)
		}
		return v, nil
	case "record":
		return h.recordProperties(e, env)
	}
	v, err := e.RenderString(h.Body.Raw, env)
	if err != nil {
		return nil, fmt.Errorf("body.raw: %w", err)
	}
	s, ok := v.(string)
	if !ok {
		// The whole template was one expression: its value is the JSON.
		return v, nil
	}
	var out any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("body.raw: the template rendered to invalid JSON: %v", err)
	}
	return out, nil
}

// recordProperties is the body of mode record: the properties of the record
// body.record yields, or of the enrolled record (trigger.record).
func (h *HTTP) recordProperties(e *expression.Evaluator, env map[string]any) (any, error) {
	var rec any
	if h.Body.Record != "" {
		v, err := e.RenderString(h.Body.Record, env)
		if err != nil {
			return nil, fmt.Errorf("body.record: %w", err)
		}
		if rec = v; rec == nil {
			return nil, fmt.Errorf("body.record: the template yielded null (no record found?)")
		}
	} else if t, ok := env[expression.EnvTrigger].(map[string]any); ok {
		rec = t[trigger.EnvRecord]
	}
	if rec == nil {
		return nil, fmt.Errorf("body: mode record has no record: the trigger enrolled none (trigger.enroll.record) and body.record is not set")
	}
	m, ok := rec.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("body.record: a record is an object with properties, got %s", expression.DescribeValue(rec))
	}
	props, ok := m["properties"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("body.record: a record is an object with properties, and this one has none")
	}
	return props, nil
}

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*HTTP) OutputsDoc() string {
	return "the named outputs, `statusCode`, `headers`, `body`"
}

// Package trigger is the part of the flow file format that says how events
// become runs: the incoming webhook's spec (mode, token, the immediate
// answer, auth, parsing into typed values, the idempotency key), the
// enrollment filter, flow control by key, and the schedules a flow also
// runs on; with the pure rules that read them at trigger time (NestQuery,
// Parse.Apply, FlowControl.RenderKey, EnrollRecord.EvalValue). Package
// flow holds it in Flow.Trigger and Flow.Schedules and validates it with
// the rest of a flow; the API and the feature packages (flowcontrol,
// schedules) read it.
//
// It imports flow/field and flow/expression, never flow: the vocabulary it
// shares with the steps is field's.
package trigger

import (
	"sort"

	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
)

// Mode says how a trigger answers its caller.
type Mode string

const (
	// ModeAsync answers at once with the trigger's configured response and
	// runs the flow in the background.
	ModeAsync Mode = "async"
	// ModeSync waits for the flow's Response step (or its end) and answers
	// with it.
	ModeSync Mode = "sync"
)

// Trigger configures the incoming webhook that starts the flow.
type Trigger struct {
	// Mode is async (default) or sync.
	Mode Mode `json:"mode,omitempty" validate:"omitempty,oneof=sync async" doc:"async answers at once with trigger.response and runs the flow in the background; sync waits for the flow's response step (or its end) and answers with it."`
	// Token is the secret part of the trigger URL (/hooks/{token}). A flow
	// file may fix it (development, examples); otherwise one is generated.
	// At least 22 URL-safe characters: 128 bits or more.
	Token string `json:"token,omitempty" validate:"omitempty,min=22,max=128,urltoken" doc:"The secret part of the trigger URL (/hooks/{token}). A flow file may fix it (development, examples); otherwise one is generated. At least 22 URL-safe characters: 128 bits or more."`
	// Response is what an async trigger answers at once (default 200 "ok").
	Response *TriggerResponse `json:"response,omitempty" doc:"What an async trigger answers at once. Async triggers only."`
	// Timeout is a sync trigger's budget: past it the caller gets 504 while
	// the flow goes on. Default 30s.
	Timeout field.Duration `json:"timeout,omitempty" validate:"omitempty,dmin=1s,dmax=5m" doc:"A sync trigger's budget: past it the caller gets the onTimeout answer while the flow goes on. Sync triggers only."`
	// OnTimeout is what a sync caller gets past Timeout: "504" (the
	// default: a timeout answer) or "accepted" (202 with a result URL
	// where the answer can be fetched later). Sync triggers only.
	OnTimeout string `json:"onTimeout,omitempty" validate:"omitempty,oneof=504 accepted" doc:"What a sync caller gets past timeout: 504 (a timeout answer) or accepted (202 with a result URL where the answer can be fetched later). Sync triggers only."`
	// Auth verifies the caller: basic auth or a request signature.
	Auth *TriggerAuth `json:"auth,omitempty" doc:"Verifies the caller: exactly one of basic, standardWebhooks, github or hmac."`
	// Parse maps headers, query parameters and body paths to typed values
	// (trigger.<alias>).
	Parse *Parse `json:"parse,omitempty" doc:"Maps headers, query parameters and body paths to typed values, read as trigger.<alias>."`
	// IdempotencyKey says where a delivery's event id is, so duplicates of
	// one event start one run. The Idempotency-Key header always works.
	IdempotencyKey *KeySource `json:"idempotencyKey,omitempty" doc:"Where a delivery's event id is (exactly one of header or body), so duplicates of one event start one run. The Idempotency-Key header always works."`
	// Enroll starts a run only when its condition holds on the trigger
	// data; otherwise the caller gets Enroll.Response and nothing starts.
	Enroll *Enroll `json:"enroll,omitempty" doc:"Starts a run only when its condition holds on the trigger data (and/or its record exists); otherwise the caller gets enroll.response and nothing starts."`
	// FlowControl groups events by a key and shapes how they become runs:
	// concurrency, throttle, debounce, batch or singleton (flowcontrol.go).
	FlowControl *FlowControl `json:"flowControl,omitempty" doc:"Groups events by a key and shapes how they become runs: concurrency (with FIFO per key) and/or throttle, or debounce, batch or singleton."`
}

// TriggerResponse is a configured answer: an async trigger's immediate one,
// or the answer to a request the enrollment filter turned away.
type TriggerResponse struct {
	Status  int               `json:"status,omitempty" validate:"omitempty,min=200,max=299" doc:"HTTP status of the answer."`
	Headers map[string]string `json:"headers,omitempty" validate:"max=50,dive,keys,header,endkeys,max=8192" doc:"Headers of the answer (static values)."`
	Body    any               `json:"body,omitempty" doc:"Body of the answer: a string is sent as text, anything else as JSON. Static: templates are not evaluated here."`
}

// An async trigger's immediate answer when it configures none.
const (
	DefaultAsyncStatus = 200
	DefaultAsyncBody   = "ok"
)

// An hmac trigger auth's hash and encoding when it sets none.
const (
	DefaultHMACAlgorithm = "sha256"
	DefaultHMACEncoding  = "hex"
)

// DefaultSyncTimeout is a sync trigger's budget when the flow sets none.
const DefaultSyncTimeout = field.Duration(30_000_000_000)

// DefaultSignatureTolerance is how old (or how far in the future) a signed
// request's timestamp may be: replay protection.
const DefaultSignatureTolerance = field.Duration(5 * 60_000_000_000)

// TriggerAuth holds exactly one way to verify the caller.
type TriggerAuth struct {
	Basic *BasicAuth `json:"basic,omitempty" doc:"HTTP basic auth: missing or wrong credentials get 401 with WWW-Authenticate."`
	// StandardWebhooks verifies webhook-id, webhook-timestamp and
	// webhook-signature (https://www.standardwebhooks.com); several
	// signatures in one header are accepted, for key rotation.
	StandardWebhooks *StandardWebhooksAuth `json:"standardWebhooks,omitempty" doc:"Verifies webhook-id, webhook-timestamp and webhook-signature (https://www.standardwebhooks.com); several signatures in one header are accepted, for key rotation."`
	// GitHub verifies X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>.
	GitHub *GitHubAuth `json:"github,omitempty" doc:"Verifies X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>."`
	// HMAC verifies a signature header of the operator's choosing.
	HMAC *HMACAuth `json:"hmac,omitempty" doc:"Verifies a signature header of the operator's choosing."`
}

// BasicAuth is HTTP basic auth; the password is a secret's name.
type BasicAuth struct {
	Username       string `json:"username" validate:"required,max=200,excludes=:" doc:"The user name the caller must send."`
	PasswordSecret string `json:"passwordSecret" validate:"required,secretname" doc:"Name of the secret holding the password (never the password itself)."`
}

// StandardWebhooksAuth: the secret holds "whsec_<base64 key>" (or the
// base64 key alone).
type StandardWebhooksAuth struct {
	Secret    string         `json:"secret" validate:"required,secretname" doc:"Name of the secret holding whsec_<base64 key> (or the base64 key alone)."`
	Tolerance field.Duration `json:"tolerance,omitempty" validate:"omitempty,dmin=1s,dmax=1h" doc:"How old (or how far in the future) the signed timestamp may be: replay protection."`
}

// GitHubAuth: the secret is the webhook's secret.
type GitHubAuth struct {
	Secret string `json:"secret" validate:"required,secretname" doc:"Name of the secret holding the webhook's secret."`
}

// HMACAuth is a generic header HMAC: Header holds Prefix + the encoded
// HMAC of the body, or, with TimestampHeader, of "<timestamp>.<body>".
type HMACAuth struct {
	Secret          string         `json:"secret" validate:"required,secretname" doc:"Name of the secret holding the HMAC key."`
	Header          string         `json:"header" validate:"required,header" doc:"The header holding prefix + the encoded HMAC of the body (or of <timestamp>.<body> with timestampHeader)."`
	Algorithm       string         `json:"algorithm,omitempty" validate:"omitempty,oneof=sha256 sha512 sha1" doc:"Hash of the HMAC."`
	Encoding        string         `json:"encoding,omitempty" validate:"omitempty,oneof=hex base64" doc:"How the HMAC is written in the header."`
	Prefix          string         `json:"prefix,omitempty" validate:"max=64" doc:"Text before the HMAC in the header, such as sha256=."`
	TimestampHeader string         `json:"timestampHeader,omitempty" validate:"omitempty,header" doc:"A header holding the request's timestamp (Unix seconds); the HMAC then covers <timestamp>.<body> and the timestamp must be within tolerance."`
	Tolerance       field.Duration `json:"tolerance,omitempty" validate:"omitempty,dmin=1s,dmax=1h" doc:"How old (or how far in the future) the timestamp may be (with timestampHeader)."`
}

// KeySource names where an event id is: a header or a body path.
type KeySource struct {
	Header string `json:"header,omitempty" validate:"omitempty,header" doc:"A request header holding the event id."`
	Body   string `json:"body,omitempty" validate:"max=200" doc:"A gjson path into the body holding the event id."`
}

// Enroll is a trigger's enrollment filter: a record that must exist, a
// condition, or both (the record is looked up first, so If can read
// trigger.record).
type Enroll struct {
	// If is a bare expression over trigger (body, headers, query and the
	// parsed aliases) that must yield true or false.
	If string `json:"if,omitempty" doc:"A bare expression over trigger (body, headers, query, the parsed aliases and record) that must yield true or false." expr:"expression"`
	// Record enrolls only requests whose record exists (enroll_record.go).
	Record *EnrollRecord `json:"record,omitempty" doc:"Enrolls only requests whose record exists: it is looked up before the run starts and read as trigger.record."`
	// Response answers a request that is not enrolled. Default: the async
	// answer (the caller cannot tell), or 200 {"enrolled": false} for sync.
	Response *TriggerResponse `json:"response,omitempty" doc:"Answers a request that is not enrolled. Default: the async answer (the caller cannot tell), or 200 {enrolled: false} for sync."`
}

// EffectiveMode is the trigger's mode, async when unset.
func (t Trigger) EffectiveMode() Mode {
	if t.Mode == "" {
		return ModeAsync
	}
	return t.Mode
}

// Values of Trigger.OnTimeout.
const (
	OnTimeoutGatewayTimeout = "504"
	OnTimeoutAccepted       = "accepted"
)

// EffectiveTimeout is the sync budget, DefaultSyncTimeout when unset.
func (t Trigger) EffectiveTimeout() field.Duration {
	if t.Timeout == 0 {
		return DefaultSyncTimeout
	}
	return t.Timeout
}

// ToleranceOr returns d, or DefaultSignatureTolerance when unset.
func ToleranceOr(d field.Duration) field.Duration {
	if d == 0 {
		return DefaultSignatureTolerance
	}
	return d
}

// Check holds the trigger to the rules struct tags cannot say (package
// flow runs the tags), with paths from the flow's root (trigger.auth).
func (t *Trigger) Check() []field.Error {
	var list field.List
	errs := &list
	mode := t.EffectiveMode()
	if mode == ModeAsync && t.Timeout != 0 {
		errs.Add("trigger.timeout", "applies to sync triggers only (trigger.mode: sync)")
	}
	if mode == ModeAsync && t.OnTimeout != "" {
		errs.Add("trigger.onTimeout", "applies to sync triggers only (trigger.mode: sync)")
	}
	if mode == ModeSync && t.Response != nil {
		errs.Add("trigger.response", "applies to async triggers only: a sync trigger answers with the flow's response step")
	}
	for _, r := range []struct {
		path string
		resp *TriggerResponse
	}{{"trigger.response", t.Response}, {"trigger.enroll.response", enrollResponse(t.Enroll)}} {
		if r.resp == nil {
			continue
		}
		for _, at := range templatePaths(r.path+".body", r.resp.Body) {
			errs.Add(at, "a configured answer is static: templates are not evaluated here")
		}
	}
	if a := t.Auth; a != nil {
		n := 0
		for _, set := range []bool{a.Basic != nil, a.StandardWebhooks != nil, a.GitHub != nil, a.HMAC != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			errs.Add("trigger.auth", "set exactly one of basic, standardWebhooks, github, hmac")
		}
	}
	if k := t.IdempotencyKey; k != nil && (k.Header == "") == (k.Body == "") {
		errs.Add("trigger.idempotencyKey", "set exactly one of header or body")
	}
	if p := t.Parse; p != nil {
		p.check(errs)
	}
	checkFlowControl(t, errs)
	if e := t.Enroll; e != nil {
		if e.If == "" && e.Record == nil {
			errs.Add("trigger.enroll", "set if (a condition), record (a record that must exist), or both")
		}
		if e.If != "" {
			if _, err := expression.CompileTrigger(e.If); err != nil {
				errs.Add("trigger.enroll.if", "expression `%s`: %s", expression.StripBraces(e.If), field.FirstLine(err.Error()))
			}
		}
		if e.Record != nil {
			e.Record.check(t, errs)
		}
	}
	return list
}

func enrollResponse(e *Enroll) *TriggerResponse {
	if e == nil {
		return nil
	}
	return e.Response
}

// templatePaths lists the paths of the template strings inside a JSON-like
// value, in document order.
func templatePaths(path string, v any) []string {
	var out []string
	switch t := v.(type) {
	case string:
		if expression.IsTemplate(t) {
			out = append(out, path)
		}
	case map[string]any:
		for _, k := range sortedKeys(t) {
			out = append(out, templatePaths(field.JoinPath(path, k), t[k])...)
		}
	case []any:
		for i, e := range t {
			out = append(out, templatePaths(field.IndexPath(path, i), e)...)
		}
	}
	return out
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FieldDefaults are the values the code fills in for unset fields, for the
// reference.
func (*Trigger) FieldDefaults() map[string]any {
	return map[string]any{
		"mode":                            ModeAsync,
		"timeout":                         DefaultSyncTimeout,
		"onTimeout":                       OnTimeoutGatewayTimeout,
		"response.status":                 DefaultAsyncStatus,
		"response.body":                   DefaultAsyncBody,
		"auth.standardWebhooks.tolerance": DefaultSignatureTolerance,
		"auth.hmac.algorithm":             DefaultHMACAlgorithm,
		"auth.hmac.encoding":              DefaultHMACEncoding,
		"auth.hmac.tolerance":             DefaultSignatureTolerance,
	}
}

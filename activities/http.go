// Package activities holds every step that does I/O, as methods on structs
// holding their dependencies, registered once on the worker. Today that is
// the http step's delivery.
package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/secrets"
	"github.com/hookflow/hookflow/telemetry"
)

// DefaultMaxKeptBody bounds the response body kept in the result (and so in
// history); outputs are read from the whole body, up to maxReadBody. The
// workflow's task byte budget counts it too, so it lives in contract.
const (
	DefaultMaxKeptBody = contract.DefaultMaxKeptBody
	maxReadBody        = 10 << 20
)

// Config holds the delivery activity's dependencies and limits.
type Config struct {
	Secrets secrets.Provider
	// Allow lists hosts reachable over http and at non-public addresses.
	Allow Allowlist
	// MaxKeptBody bounds the response body kept in history (default 64 KiB).
	MaxKeptBody int
	// Now is the signing clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
	// Telemetry counts attempts and, with tracing on, sends traceparent to
	// receivers (nil: neither).
	Telemetry *telemetry.Telemetry
	// Destinations finds the destinations http steps name (nil: such
	// deliveries fail, naming --store).
	Destinations DestinationLookup
	// FirstAttemptGate admits first attempts to destinations made by the
	// flow worker (nil: none is made there; they go to their queue).
	FirstAttemptGate FirstAttemptGate
}

// Deliverer sends http steps' requests: the delivery activity and the
// test action.
type Deliverer struct {
	cfg        Config
	transports sync.Map // connect timeout -> *http.Transport (pooled connections)
}

// NewDeliverer returns the delivery activities.
func NewDeliverer(cfg Config) *Deliverer {
	if cfg.Secrets == nil {
		cfg.Secrets = secrets.Default("")
	}
	if cfg.MaxKeptBody <= 0 {
		cfg.MaxKeptBody = DefaultMaxKeptBody
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Deliverer{cfg: cfg}
}

// UseDestinations sets where destinations are read, once the flow store is
// open, before the workers start; a Deliverer that has them keeps them.
func (h *Deliverer) UseDestinations(l DestinationLookup) {
	if h.cfg.Destinations == nil {
		h.cfg.Destinations = l
	}
}

// UseFirstAttemptGate sets the gate of first attempts to destinations,
// once the destination workers exist, before the workers start.
func (h *Deliverer) UseFirstAttemptGate(g FirstAttemptGate) {
	if h.cfg.FirstAttemptGate == nil {
		h.cfg.FirstAttemptGate = g
	}
}

// Deliver sends one attempt of a delivery. Temporal's retry policy makes the
// attempts; this classifies each outcome: 2xx succeeds, 4xx (but 429) and
// refused destinations fail for good, 429 asks to retry after Retry-After,
// 5xx and network errors retry.
func (h *Deliverer) Deliver(ctx context.Context, req flow.HTTPRequest) (*contract.Result, error) {
	attempt := int32(1)
	if activity.IsActivity(ctx) {
		// Attempts that parked at a destination's gate sent nothing.
		attempt = max(activity.GetInfo(ctx).Attempt-ParkedAttempts(ctx), 1)
	}
	start := time.Now()
	res, err := h.send(ctx, req, attempt)
	level, outcome, msg := slog.LevelInfo, "delivered", "delivered"
	if err != nil {
		level, outcome, msg = slog.LevelWarn, errorType(err), err.Error()
	}
	h.cfg.Telemetry.DeliveryAttempt(outcome, attempt, time.Since(start))
	dest := destination(req.URL)
	if req.Destination != "" {
		dest = "destination " + req.Destination
		if res != nil && res.URL != "" {
			dest = destination(res.URL)
		}
	}
	attrs := []any{"method", req.Method, "destination", dest, "deliveryId", req.DeliveryID, "attempt", attempt, "outcome", msg}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		attrs = append(attrs, "traceId", sc.TraceID().String())
	}
	h.cfg.Logger.Log(ctx, level, "delivery", attrs...)
	return res, err
}

// errorType is a failed attempt's error type (HTTPServerError, ...): a
// closed set, fit for a metric label.
func errorType(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() != "" {
		return ae.Type()
	}
	return "Error"
}

// Sent is a request as it went out, with secrets redacted: what the test
// action shows.
type Sent struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// Redacted stands in for a secret's value.
const Redacted = "<redacted>"

// Send performs one attempt outside Temporal (the test action) and also
// returns what was sent, redacted.
func (h *Deliverer) Send(ctx context.Context, req flow.HTTPRequest) (*contract.Result, *Sent, error) {
	sent := &Sent{Method: req.Method, URL: req.URL, Body: req.Body}
	res, err := h.sendWith(ctx, req, 1, sent)
	return res, sent, err
}

func (h *Deliverer) send(ctx context.Context, req flow.HTTPRequest, attempt int32) (*contract.Result, error) {
	return h.sendWith(ctx, req, attempt, nil)
}

func (h *Deliverer) sendWith(ctx context.Context, req flow.HTTPRequest, attempt int32, sent *Sent) (*contract.Result, error) {
	var destVersion int64
	if req.Destination != "" {
		// The destination as it is now: its base URL, auth and headers.
		if h.cfg.Destinations == nil {
			return nil, errNoDestinationStore
		}
		d, err := h.cfg.Destinations.Lookup(ctx, req.Destination, req.DestinationVersion)
		if err != nil {
			return nil, err
		}
		full, err := d.Def.Join(req.URL, req.Query)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrInvalidRequest, nil)
		}
		headers := make(map[string]string, len(d.Def.Headers)+len(req.Headers))
		for k, v := range d.Def.Headers {
			headers[k] = v
		}
		for k, v := range req.Headers {
			headers[k] = v
		}
		req.URL, req.Query, req.Headers, req.Auth, destVersion = full, nil, headers, d.Def.Auth, d.Version
		if sent != nil {
			sent.URL = full
		}
	}
	res, err := h.sendURL(ctx, req, attempt, sent, destVersion)
	if res != nil && req.Destination != "" {
		res.URL, res.DestinationVersion = req.URL, destVersion
	}
	return res, err
}

func (h *Deliverer) sendURL(ctx context.Context, req flow.HTTPRequest, attempt int32, sent *Sent, destVersion int64) (*contract.Result, error) {
	u, err := url.Parse(req.URL)
	if err != nil || u.Host == "" {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("url %q is not an absolute URL", req.URL), contract.ErrInvalidRequest, nil)
	}
	if u.Scheme != "https" && !h.cfg.Allow.hostAllowed(u.Hostname()) {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("destination %s uses %s: only https is allowed unless the worker allowlists the host (--allow-host)", u.Host, u.Scheme),
			contract.ErrDestinationRefused, nil)
	}
	body := []byte(req.Body)
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("build request: "+err.Error(), contract.ErrInvalidRequest, nil)
	}
	hr.Header.Set("User-Agent", "hookflow/1")
	if len(body) > 0 {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.DeliveryID != "" {
		hr.Header.Set("Idempotency-Key", req.DeliveryID)
	}
	for _, k := range flow.SortedKeys(req.Headers) {
		hr.Header.Set(k, req.Headers[k])
	}
	if err := h.authenticate(ctx, hr, req, body); err != nil {
		return nil, err
	}
	if sent != nil {
		*sent = redact(hr, req)
	}

	client := &http.Client{
		Transport: h.transport(req.ConnectTimeout),
		Timeout:   req.ResponseTimeout,
		// Webhooks are not redirected: following one could leave the
		// allowlisted destination, and a receiver that moved should be
		// re-configured, not guessed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx, span := h.cfg.Telemetry.StartClientSpan(ctx, hr)
	resp, err := client.Do(hr.WithContext(ctx))
	if err != nil {
		telemetry.EndSpan(span, 0, transportError(err))
		var refused *RefusedError
		if errors.As(err, &refused) {
			return nil, temporal.NewNonRetryableApplicationError(refused.Error(), contract.ErrDestinationRefused, nil, contract.Failure{Attempt: attempt, DestinationVersion: destVersion})
		}
		return nil, temporal.NewApplicationError(networkMessage(err), contract.ErrNetwork, contract.Failure{Attempt: attempt, DestinationVersion: destVersion})
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReadBody))
	telemetry.EndSpan(span, resp.StatusCode, transportError(err))
	if err != nil {
		return nil, temporal.NewApplicationError(networkMessage(err), contract.ErrNetwork, contract.Failure{Attempt: attempt, StatusCode: resp.StatusCode, DestinationVersion: destVersion})
	}
	if err := classify(resp, raw, attempt, destVersion); err != nil {
		return nil, err
	}
	res := &contract.Result{StatusCode: resp.StatusCode, Attempt: attempt}
	keep := h.cfg.MaxKeptBody
	if req.KeepBody != nil {
		keep = min(keep, *req.KeepBody)
	}
	if keep > 0 {
		// Only what a later step may read goes into history.
		res.Headers = responseHeaders(resp.Header)
		res.Body, res.BodyTruncated = keptBody(raw, keep)
	}
	if len(req.Outputs) > 0 {
		res.Outputs = map[string]any{}
		for _, name := range flow.SortedKeys(req.Outputs) {
			path := req.Outputs[name]
			r := gjson.GetBytes(raw, path)
			if !r.Exists() {
				return nil, temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("output %q: path %q is not in the response", name, path), contract.ErrOutputMissing, nil,
					contract.Failure{Attempt: attempt, StatusCode: resp.StatusCode, DestinationVersion: destVersion})
			}
			var v any
			if json.Unmarshal([]byte(r.Raw), &v) != nil {
				v = r.Value()
			}
			res.Outputs[name] = v
		}
	}
	return res, nil
}

func (h *Deliverer) transport(connect time.Duration) *http.Transport {
	if t, ok := h.transports.Load(connect); ok {
		return t.(*http.Transport)
	}
	t := &http.Transport{
		DialContext:           h.cfg.Allow.dialer(connect),
		TLSHandshakeTimeout:   connect,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		// Proxies from the environment would bypass the SSRF guard's view
		// of the destination.
		Proxy: nil,
	}
	actual, _ := h.transports.LoadOrStore(connect, t)
	return actual.(*http.Transport)
}

// classify maps a response status to success or the attempt's error.
func classify(resp *http.Response, raw []byte, attempt int32, destVersion int64) error {
	code := resp.StatusCode
	f := contract.Failure{StatusCode: code, Attempt: attempt, Body: snippet(raw), DestinationVersion: destVersion}
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests:
		msg := "receiver answered 429 Too Many Requests"
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return temporal.NewApplicationErrorWithOptions(fmt.Sprintf("%s; retrying after %s", msg, d), contract.ErrTooManyRequests,
				temporal.ApplicationErrorOptions{NextRetryDelay: d, Details: []any{f}})
		}
		return temporal.NewApplicationError(msg, contract.ErrTooManyRequests, f)
	case code >= 500:
		return temporal.NewApplicationError(fmt.Sprintf("receiver answered %d", code), contract.ErrHTTPServer, f)
	case code >= 300 && code < 400:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("receiver answered %d (redirects are not followed; Location: %s)", code, resp.Header.Get("Location")), contract.ErrHTTPRedirect, nil, f)
	}
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("receiver answered %d; not retried", code), contract.ErrHTTPClient, nil, f)
}

// retryAfter reads Retry-After as seconds or an HTTP-date (RFC 9110).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return max(time.Duration(n)*time.Second, time.Second), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), time.Second), true
	}
	return 0, false
}

// destination is what a log line shows of a URL: scheme, host and path.
// The query is left out: templates put trigger data there, and auth may
// too.
func destination(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<invalid url>"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// transportError is err without its URL (nil for nil), safe for a span.
func transportError(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(networkMessage(err))
}

// networkMessage describes a transport error without its URL: *url.Error
// quotes the whole URL, whose query may hold an API key added by auth.
func networkMessage(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out: " + err.Error()
	}
	return err.Error()
}

func snippet(b []byte) string {
	const n = 512
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// keptBody is the body as kept in history: JSON as its value when it fits,
// otherwise text cut at limit.
func keptBody(raw []byte, limit int) (any, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	if len(raw) <= limit {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			return v, false
		}
		return string(raw), false
	}
	return string(raw[:limit]), true
}

// responseHeaders flattens headers with lowercase names; cookies are
// credentials and are not kept.
func responseHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		if lk == "set-cookie" {
			continue
		}
		out[lk] = strings.Join(vs, ", ")
	}
	return out
}

// authenticate applies the step's auth, resolving secrets now. Errors name
// secrets, never values.
func (h *Deliverer) authenticate(ctx context.Context, hr *http.Request, req flow.HTTPRequest, body []byte) error {
	a := req.Auth
	if a == nil {
		return nil
	}
	secret := func(name string) ([]byte, error) {
		v, err := h.cfg.Secrets.Secret(ctx, name)
		if err != nil {
			return nil, temporal.NewApplicationError(fmt.Sprintf("secret %q is not available on this worker", name), contract.ErrSecretUnavailable)
		}
		return v, nil
	}
	switch a.Type {
	case flow.AuthBasic:
		pw, err := secret(a.PasswordSecret)
		if err != nil {
			return err
		}
		hr.SetBasicAuth(a.Username, string(pw))
	case flow.AuthBearer:
		tok, err := secret(a.TokenSecret)
		if err != nil {
			return err
		}
		hr.Header.Set("Authorization", "Bearer "+string(tok))
	case flow.AuthAPIKey:
		v, err := secret(a.ValueSecret)
		if err != nil {
			return err
		}
		if a.In == flow.APIKeyInQuery {
			q := hr.URL.Query()
			q.Set(a.Name, string(v))
			hr.URL.RawQuery = q.Encode()
		} else {
			hr.Header.Set(a.Name, string(v))
		}
	case flow.AuthSignature:
		key, err := secret(a.Secret)
		if err != nil {
			return err
		}
		uri := hr.URL.String()
		now := h.cfg.Now()
		switch a.Version {
		case flow.SignatureHubSpotV1:
			hr.Header.Set("X-HubSpot-Signature", hubSpotV1(key, body))
			hr.Header.Set("X-HubSpot-Signature-Version", "v1")
		case flow.SignatureHubSpotV2:
			hr.Header.Set("X-HubSpot-Signature", hubSpotV2(key, hr.Method, uri, body))
			hr.Header.Set("X-HubSpot-Signature-Version", "v2")
		case flow.SignatureHubSpotV3:
			sig, ts := hubSpotV3(key, hr.Method, uri, body, now)
			hr.Header.Set("X-HubSpot-Signature-v3", sig)
			hr.Header.Set("X-HubSpot-Request-Timestamp", ts)
		case flow.SignatureStandardWebhooks:
			sig, ts := standardWebhooks(key, req.DeliveryID, body, now)
			hr.Header.Set("webhook-id", req.DeliveryID)
			hr.Header.Set("webhook-timestamp", ts)
			hr.Header.Set("webhook-signature", sig)
		}
	}
	return nil
}

// redact describes the outgoing request with every secret replaced.
func redact(hr *http.Request, req flow.HTTPRequest) Sent {
	out := Sent{Method: hr.Method, Headers: map[string]string{}, Body: req.Body}
	u := *hr.URL
	hidden := map[string]bool{"authorization": true}
	if a := req.Auth; a != nil && a.Type == flow.AuthAPIKey {
		if a.In == flow.APIKeyInQuery {
			q := u.Query()
			q.Set(a.Name, Redacted)
			u.RawQuery = q.Encode()
		} else {
			hidden[strings.ToLower(a.Name)] = true
		}
	}
	out.URL = u.String()
	for k, vs := range hr.Header {
		v := strings.Join(vs, ", ")
		if hidden[strings.ToLower(k)] {
			v = Redacted
		}
		out.Headers[k] = v
	}
	return out
}

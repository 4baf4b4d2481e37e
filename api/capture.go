package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// Capture bounds: requests per arm, and how long an arm lasts.
const (
	MaxCaptureCount    = 100
	DefaultCaptureFor  = 10 * time.Minute
	MaxCaptureFor      = 24 * time.Hour
	HeaderCaptureID    = "Hookflow-Capture-Id"
	redacted           = "<redacted>"
	maxCapturedTextLen = 64 << 10
)

// captureArmer is implemented by the trigger cache (store.Cache): whether a
// flow's trigger URL may be armed, from memory.
type captureArmer interface {
	CaptureArmed(flowID string, now time.Time) bool
}

type captureRequest struct {
	Count int    `json:"count"`
	For   string `json:"for"`
}

// armCapture handles POST /api/v1/flows/{id}/capture: the flow's trigger
// URL records its next count requests (default 1, at most 100), for up to
// for (default 10m, at most 24h), instead of running the flow. Arming
// again replaces the earlier arm.
func (s *Management) armCapture(c *gin.Context) {
	req := captureRequest{Count: 1}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 4096))
	if err != nil {
		fail(c, newError(http.StatusRequestEntityTooLarge, "payload_too_large", "send {\"count\": n, \"for\": \"10m\"}"))
		return
	}
	if len(strings.TrimSpace(string(raw))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fail(c, newError(http.StatusBadRequest, "malformed_json", "send {\"count\": n, \"for\": \"10m\"}: "+err.Error()))
			return
		}
	}
	if req.Count < 1 || req.Count > MaxCaptureCount {
		e := newError(http.StatusUnprocessableEntity, "invalid_request", fmt.Sprintf("count must be 1 to %d", MaxCaptureCount))
		e.Path = "count"
		fail(c, e)
		return
	}
	d := DefaultCaptureFor
	if req.For != "" {
		fd, err := flow.ParseDuration(req.For)
		if err != nil || fd.Std() < time.Second || fd.Std() > MaxCaptureFor {
			e := newError(http.StatusUnprocessableEntity, "invalid_request", "for must be a duration from 1s to 24h, such as 10m")
			e.Path = "for"
			fail(c, e)
			return
		}
		d = fd.Std()
	}
	ctx := c.Request.Context()
	arm, err := s.cfg.Admin.Store.Captures().Arm(ctx, c.Param("id"), req.Count, time.Now().Add(d))
	if err != nil {
		s.failStore(c, err)
		return
	}
	s.cfg.Admin.refresh(ctx, s.log)
	c.JSON(http.StatusOK, gin.H{"flowId": arm.FlowID, "remaining": arm.Remaining, "until": arm.Until})
}

// listCaptures handles GET /api/v1/flows/{id}/captures: the recorded
// requests, newest first, and the arm still in force (null when none).
func (s *Management) listCaptures(c *gin.Context) {
	ctx := c.Request.Context()
	id := c.Param("id")
	if _, err := s.cfg.Admin.Store.Flows().Get(ctx, id); err != nil {
		s.failStore(c, err)
		return
	}
	list, err := s.cfg.Admin.Store.Captures().List(ctx, id)
	if err != nil {
		s.failStore(c, err)
		return
	}
	arm, err := s.cfg.Admin.Store.Captures().ArmOf(ctx, id)
	if err != nil {
		s.failStore(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"captures": list, "armed": arm})
}

// captured records the request instead of running the flow when the flow's
// trigger URL is armed. It runs right after the token lookup, before auth
// and body checks, so a sender's test event is seen even when it would be
// refused. The cache answers "not armed" from memory; only an armed flow
// costs a statement, and the store's conditional decrement decides.
func (s *Public) captured(c *gin.Context, entry *flow.Entry) bool {
	armer, ok := s.flows.(captureArmer)
	if !ok || s.cfg.Admin == nil || !armer.CaptureArmed(entry.Flow.ID, time.Now()) {
		return false
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		fail(c, newError(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("the body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes)))
		return true
	}
	req := store.CapturedRequest{Method: c.Request.Method, ContentType: c.GetHeader("Content-Type"),
		Headers: redactHeaders(c.Request.Header, entry.Flow.Trigger.Auth), Query: map[string]any{}}
	if q, err := flow.NestQuery(c.Request.URL.Query()); err == nil {
		req.Query = q
	}
	var body any
	switch {
	case len(strings.TrimSpace(string(raw))) == 0:
	case json.Unmarshal(raw, &body) == nil:
		req.Body = body
	case utf8.Valid(raw):
		req.BodyText = string(raw[:min(len(raw), maxCapturedTextLen)])
	default:
		req.BodyText = fmt.Sprintf("<%d bytes of binary data>", len(raw))
	}
	ctx := c.Request.Context()
	capture, ok, err := s.cfg.Admin.Store.Captures().Take(ctx, entry.Flow.ID, req)
	if err != nil {
		s.log.Error("record a capture", "flow", entry.Flow.ID, "error", err)
		e := newError(http.StatusServiceUnavailable, "unavailable", "the request could not be recorded; retry later")
		e.RetryAfter = "5"
		fail(c, e)
		return true
	}
	if !ok {
		// Spent or expired meanwhile: the flow runs as usual, from the
		// body already read.
		s.cfg.Admin.refresh(ctx, s.log)
		c.Request.Body = io.NopCloser(strings.NewReader(string(raw)))
		return false
	}
	c.Set(outcomeKey, "captured")
	c.Header(HeaderCaptureID, capture.ID)
	c.JSON(http.StatusAccepted, gin.H{"captured": true, "captureId": capture.ID, "detail": "recorded as a test event; the flow did not run"})
	return true
}

// secretHeaderWords mark headers that carry credentials or signatures.
var secretHeaderWords = []string{"authorization", "cookie", "signature", "token", "secret", "password", "api-key", "apikey", "x-hub-signature", "webhook-signature", "auth"}

// redactHeaders keeps a request's headers by lowercase name, with the
// values of credential and signature headers (and the trigger's own auth
// header) replaced by <redacted>.
func redactHeaders(h http.Header, auth *flow.TriggerAuth) map[string]string {
	own := map[string]bool{}
	if auth != nil && auth.HMAC != nil {
		own[strings.ToLower(auth.HMAC.Header)] = true
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		out[lk] = strings.Join(vs, ", ")
		if own[lk] {
			out[lk] = redacted
			continue
		}
		for _, w := range secretHeaderWords {
			if strings.Contains(lk, w) {
				out[lk] = redacted
				break
			}
		}
	}
	return out
}

// field is one path of a captured request with its JSON type.
type field struct {
	In   string `json:"in"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// capturePaths answers POST /api/v1/parse with {"capture": id}: every path
// of the capture's body, query and headers with its JSON type, and parse
// rules for the scalar ones (the trigger's parse section, ready to edit).
func (s *Management) capturePaths(c *gin.Context, id string) {
	if s.cfg.Admin == nil {
		e := newError(http.StatusNotFound, "not_found", "captures need the flow store")
		e.Path = "capture"
		fail(c, e)
		return
	}
	cp, err := s.cfg.Admin.Store.Captures().Get(c.Request.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		e := newError(http.StatusNotFound, "not_found", fmt.Sprintf("no capture has the id %q", id))
		e.Path = "capture"
		fail(c, e)
		return
	}
	if err != nil {
		s.failStore(c, err)
		return
	}
	var fields []field
	type rule struct {
		Path string `json:"path,omitempty"`
		Name string `json:"name,omitempty"`
		Type string `json:"type,omitempty"`
	}
	suggested := map[string][]rule{"body": {}, "query": {}, "headers": {}}
	bodyPaths := []string{}
	walkTyped(cp.Request.Body, "", func(p, typ string) {
		fields = append(fields, field{In: "body", Path: p, Type: typ})
		bodyPaths = append(bodyPaths, p)
		if parseType, ok := scalarRule(typ); ok {
			suggested["body"] = append(suggested["body"], rule{Path: p, Type: parseType})
		}
	})
	walkTyped(cp.Request.Query, "", func(p, typ string) {
		fields = append(fields, field{In: "query", Path: p, Type: typ})
		if typ == "string" {
			suggested["query"] = append(suggested["query"], rule{Path: p})
		}
	})
	names := flow.SortedKeys(cp.Request.Headers)
	for _, h := range names {
		fields = append(fields, field{In: "headers", Path: h, Type: "string"})
		if strings.HasPrefix(h, "x-") && cp.Request.Headers[h] != redacted {
			suggested["headers"] = append(suggested["headers"], rule{Name: h})
		}
	}
	c.JSON(http.StatusOK, gin.H{"source": "capture", "captureId": cp.ID, "flowId": cp.FlowID,
		"paths": bodyPaths, "fields": nonNilFields(fields), "suggestedParse": suggested})
}

func nonNilFields(f []field) []field {
	if f == nil {
		return []field{}
	}
	return f
}

// scalarRule maps a JSON type to a parse rule type.
func scalarRule(typ string) (string, bool) {
	switch typ {
	case "string", "number", "boolean":
		return typ, true
	}
	return "", false
}

// walkTyped calls fn for every path of v (as flow.DerivePaths lists them)
// with its JSON type: object, array, string, number, boolean or null.
func walkTyped(v any, prefix string, fn func(path, typ string)) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := flow.DerivePaths(map[string]any{k: nil})[0]
			if prefix != "" {
				p = prefix + "." + p
			}
			fn(p, jsonType(t[k]))
			walkTyped(t[k], p, fn)
		}
	case []any:
		if len(t) > 0 {
			p := prefix + ".0"
			fn(p, jsonType(t[0]))
			walkTyped(t[0], p, fn)
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

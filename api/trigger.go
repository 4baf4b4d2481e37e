package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/tidwall/gjson"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/telemetry"
)

// startTimeout bounds an async start: Temporal answers in milliseconds
// when healthy; past this the caller should retry later.
const startTimeout = 10 * time.Second

// HeaderIdempotencyKey makes duplicate deliveries of one event start one run.
const HeaderIdempotencyKey = "Idempotency-Key"

// trigger handles POST /hooks/{token}. Checks run cheapest first and all
// of them before the start, so a rejected request starts nothing:
// 404 token, 401 basic auth, 415 content type, 413 size, 401 signature,
// 400 JSON, 422 parsed values or idempotency key; then the enrollment filter.
func (s *Public) trigger(c *gin.Context) {
	entry, ok := s.flows.ByToken(c.Param("token"))
	defer s.countTrigger(c, entry)
	if !ok {
		httpapi.Fail(c, httpapi.NewError(http.StatusNotFound, "not_found", "no flow has this trigger URL"))
		return
	}
	if s.captured(c, entry) {
		return
	}
	f := entry.Flow
	tr := &f.Trigger
	ctx := c.Request.Context()
	if tr.Auth != nil && tr.Auth.Basic != nil {
		if e := s.auth.checkBasic(ctx, c.Request, tr.Auth.Basic); e != nil {
			httpapi.Fail(c, e)
			return
		}
	}
	raw, e := s.readBody(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	if tr.Auth != nil {
		if e := s.auth.checkSignature(ctx, c.Request, raw, tr.Auth, time.Now()); e != nil {
			httpapi.Fail(c, e)
			return
		}
	}
	data, e := triggerData(c.Request, raw, tr.Parse)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	eventID, keyPath, e := eventIDFrom(c.Request, raw, tr.IdempotencyKey)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	if tr.Enroll != nil {
		ok, e := s.enroll(ctx, f, data)
		if e != nil {
			httpapi.Fail(c, e)
			return
		}
		if !ok {
			c.Header(HeaderEnrolled, "false")
			c.Set(outcomeKey, telemetry.TriggerSkipped)
			writeConfigured(c, notEnrolledAnswer(tr))
			return
		}
	}
	if tr.FlowControl.Gathers() {
		s.gather(c, ctx, entry, eventID, data)
		return
	}

	opts := contract.StartOptions(f, entry.Version, eventID)
	in := contract.Input{Flow: f.Snapshot(), FlowVersion: entry.Version, Trigger: data, PublicURL: s.cfg.PublicURL, Engine: contract.CurrentEngine}
	c.Header(httpapi.HeaderExecutionID, opts.ID)
	key := idemKey{path: keyPath}
	if keyPath != "" {
		// The event id came from the request: remember what it was sent
		// with, so a reuse of the key for another payload is refused.
		key.digest = triggerDigest(data)
		in.Digest = key.digest
		opts.Memo = map[string]any{contract.MemoTriggerDigest: key.digest}
	}

	// The run must not depend on the caller staying connected: once the
	// request is accepted, the start (and the wait for a sync answer) use
	// a context detached from the request.
	dctx := context.WithoutCancel(ctx)
	var adm *admission
	if tr.FlowControl.Coordinated() {
		// Queued at its key before the run exists: arrival order, and a
		// full key refuses the event with nothing started (flowcontrol.go).
		actx, cancel := context.WithTimeout(dctx, startTimeout)
		a, e := s.admit(actx, f, opts.ID, data)
		cancel()
		if e != nil {
			httpapi.Fail(c, e)
			return
		}
		adm = a
		c.Header(HeaderFlowKey, contract.KeyForm(a.start.Key))
		if a.adm.Decision == contract.DecisionSkip {
			// A singleton's key is taken: nothing starts.
			c.Writer.Header().Del(httpapi.HeaderExecutionID)
			s.singletonSkipped(c, f, a)
			return
		}
		in.FlowKey, in.KeyAhead, in.KeyGranted = a.start.Key, a.adm.Ahead, a.adm.Decision == contract.DecisionRun
		opts = contract.StartOptions(f, entry.Version, eventID, contract.SearchAttrFlowKey.ValueSet(contract.KeyForm(a.start.Key)))
		opts.Memo = map[string]any{}
		if key.digest != "" {
			opts.Memo[contract.MemoTriggerDigest] = key.digest
		}
	}
	if tr.EffectiveMode() == trigger.ModeSync {
		s.triggerSync(c, dctx, entry, opts, in, key, adm)
		return
	}
	sctx, cancel := context.WithTimeout(dctx, startTimeout)
	defer cancel()
	// Eager start: when this process also runs a worker (hookflow dev), the
	// first workflow task comes back with the start instead of through
	// matching, while that worker holds fewer than its MaxEagerStarts such
	// tasks; past them, and where no local worker exists, the SDK sends a
	// plain start. Either way the answer waits only for the durable start.
	opts.EnableEagerStart = true
	if key.digest != "" {
		// A duplicate of a running or closed run (same id) must be seen,
		// to compare its payload: "already started" is an error rather
		// than the existing run. A first delivery costs nothing more.
		opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL
		opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	}
	_, err := s.Temporal.ExecuteWorkflow(sctx, opts, contract.WorkflowName, in)
	if err != nil {
		s.withdraw(sctx, adm, opts.ID)
	}
	if runID, dup := alreadyStarted(err); dup {
		// The same event again: the normal answer, unless the key was
		// reused for another payload.
		var reused bool
		if reused, err = s.keyReused(sctx, opts.ID, runID, key); reused {
			httpapi.Fail(c, keyReusedError(opts.ID, key.path))
			return
		}
	}
	if err != nil {
		httpapi.Fail(c, s.startError(f, opts.ID, err))
		return
	}
	c.Set(outcomeKey, telemetry.TriggerAccepted)
	writeConfigured(c, tr.Response)
}

// outcomeKey holds a trigger's outcome where its status alone does not tell
// (a sync flow's Response node may answer any status).
const outcomeKey = "hookflow.triggerOutcome"

// countTrigger records the trigger's outcome: the one set on c, else one
// read from the status (rejected_<4xx>, timeout, unavailable).
func (s *Public) countTrigger(c *gin.Context, entry *flow.Entry) {
	flowID, mode := "", "unknown"
	if entry != nil {
		flowID, mode = entry.Flow.ID, string(entry.Flow.Trigger.EffectiveMode())
	}
	outcome := c.GetString(outcomeKey)
	if outcome == "" {
		// A rejection is still an *httpapi.Error on c: the error middleware writes
		// it after this handler returns.
		status := c.Writer.Status()
		var e *httpapi.Error
		if last := c.Errors.Last(); last != nil && errors.As(last.Err, &e) {
			status = e.Status
		}
		switch {
		case status == http.StatusGatewayTimeout:
			outcome = telemetry.TriggerTimeout
		case status == http.StatusServiceUnavailable:
			outcome = telemetry.TriggerUnavailable
		default:
			outcome = fmt.Sprintf("rejected_%d", status)
		}
	}
	s.cfg.Telemetry.Trigger(flowID, mode, outcome)
}

func (s *Public) triggerSync(c *gin.Context, ctx context.Context, entry *flow.Entry, opts sdkclient.StartWorkflowOptions, in contract.Input, key idemKey, adm *admission) {
	budget := entry.Flow.Trigger.EffectiveTimeout().Std()
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	op := s.Temporal.NewWithStartWorkflowOperation(opts, contract.WorkflowName, in)
	// The update id is the run id (and the payload's digest): a duplicate
	// of the event while the run is open attaches to the first update and
	// gets its answer again. Another payload under the same key is a new
	// update, which the run's validator rejects.
	uo := sdkclient.UpdateWorkflowOptions{
		UpdateID:     opts.ID,
		UpdateName:   contract.UpdateResponse,
		WaitForStage: sdkclient.WorkflowUpdateStageCompleted,
	}
	if key.digest != "" {
		uo.UpdateID += "/" + key.digest
		uo.Args = []any{key.digest}
	}
	handle, err := s.Temporal.UpdateWithStartWorkflow(ctx, sdkclient.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions:          uo,
	})
	var resp contract.Response
	if err == nil {
		err = handle.Get(ctx, &resp)
	}
	reused := isKeyReusedRejection(err)
	if runID, dup := alreadyStarted(err); dup {
		// A closed run of the same event: it will not report at its key.
		s.withdraw(ctx, adm, opts.ID)
		// A duplicate of an event whose run has closed: answer from the
		// closed run's result, if it was the same payload.
		if reused, err = s.keyReused(ctx, opts.ID, runID, key); err == nil && !reused {
			resp, err = s.closedRunAnswer(ctx, opts.ID)
		}
	}
	if reused {
		httpapi.Fail(c, keyReusedError(opts.ID, key.path))
		return
	}
	if err != nil {
		if isTimeout(err) {
			if entry.Flow.Trigger.OnTimeout == trigger.OnTimeoutAccepted {
				s.acceptedLater(c, c.Param("token"), opts.ID)
				return
			}
			e := httpapi.NewError(http.StatusGatewayTimeout, "timeout", fmt.Sprintf("the flow did not answer within %s; it goes on running", budget))
			e.ExecutionID = opts.ID
			httpapi.Fail(c, e)
			return
		}
		httpapi.Fail(c, s.startError(entry.Flow, opts.ID, err))
		return
	}
	c.Set(outcomeKey, telemetry.TriggerAccepted)
	writeResponse(c, resp.Status, resp.Headers, resp.Body)
}

// closedRunAnswer is the answer a closed run gave (or would have given).
func (s *Public) closedRunAnswer(ctx context.Context, id string) (contract.Response, error) {
	var res contract.RunResult
	err := s.Temporal.GetWorkflow(ctx, id, "").Get(ctx, &res)
	switch {
	case err == nil && res.Response != nil:
		return *res.Response, nil
	case err == nil:
		return contract.Response{Status: http.StatusOK, Body: map[string]any{"status": "succeeded", "executionId": id}}, nil
	case isTimeout(err):
		return contract.Response{}, err
	}
	// The run failed: the same generic answer the live run gave.
	return contract.Response{Status: http.StatusInternalServerError, Body: map[string]any{"error": "the flow failed", "executionId": id}}, nil
}

// alreadyStarted tells whether err says the run id is taken, and by which
// run: a duplicate.
func alreadyStarted(err error) (runID string, ok bool) {
	var as *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &as) {
		return as.RunId, true
	}
	return "", false
}

// idemKey is where a request's idempotency key came from and the digest of
// its payload; both empty when the event id was generated.
type idemKey struct {
	path   string
	digest string
}

// triggerDigest identifies a trigger's payload: SHA-256 (hex) over the
// canonical JSON (sorted keys, Go's number formatting) of the parsed body
// and query, what the run sees of them. Headers are left out: signatures,
// timestamps and delivery ids differ between deliveries of one event.
func triggerDigest(data map[string]any) string {
	h := sha256.New()
	// Encoding a value decoded from JSON cannot fail.
	_ = json.NewEncoder(h).Encode([]any{data["body"], data["query"]})
	return hex.EncodeToString(h.Sum(nil))
}

// keyReused tells whether the run that holds a duplicate's id was started
// with another payload. A run without a digest (started before digests, or
// whose memo cannot be decoded) cannot tell: it counts as the same event.
func (s *Public) keyReused(ctx context.Context, id, runID string, key idemKey) (bool, error) {
	if key.digest == "" {
		return false, nil
	}
	d, err := s.Temporal.DescribeWorkflow(ctx, id, runID)
	if err != nil {
		return false, err
	}
	var digest string
	if err := d.GetMemoValue(contract.MemoTriggerDigest, &digest); err != nil {
		if !errors.Is(err, temporal.ErrNoData) {
			s.Log.Error("read the run's payload digest", "executionId", id, "error", err)
		}
		return false, nil
	}
	return digest != "" && digest != key.digest, nil
}

// isKeyReusedRejection tells whether err is the run's validator refusing an
// update with another payload's digest.
func isKeyReusedRejection(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.Type() == contract.ErrorTypeIdempotencyKeyReused
}

// keyReusedError answers a reused idempotency key with another payload, as
// the IETF Idempotency-Key draft and Stripe do: 422, nothing started or
// changed.
func keyReusedError(id, path string) *httpapi.Error {
	e := httpapi.NewError(http.StatusUnprocessableEntity, "idempotency_key_reused",
		"the idempotency key in "+path+" was already used by execution "+id+" with a different payload; resend that payload to get its answer, or use a new key for a new event")
	e.Path = path
	e.ExecutionID = id
	return e
}

// startError maps a failure to reach Temporal to 503: the caller did nothing
// wrong and may retry the same delivery (with its idempotency key).
func (s *Public) startError(f *flow.Flow, id string, err error) *httpapi.Error {
	if isTimeout(err) {
		e := httpapi.NewError(http.StatusServiceUnavailable, "unavailable", "the flow could not be started in time; retry later")
		e.RetryAfter = "5"
		return e
	}
	s.Log.Error("start flow", "flow", f.ID, "executionId", id, "error", err)
	e := httpapi.NewError(http.StatusServiceUnavailable, "unavailable", "the flow could not be started; retry later")
	e.RetryAfter = "5"
	return e
}

func isTimeout(err error) bool {
	var de *serviceerror.DeadlineExceeded
	var ue *sdkclient.WorkflowUpdateServiceTimeoutOrCanceledError
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &de) || errors.As(err, &ue)
}

// readBody checks the content type and reads the body within the limit.
func (s *Public) readBody(c *gin.Context) ([]byte, *httpapi.Error) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		e := httpapi.NewError(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be JSON with Content-Type: application/json")
		e.Path = "headers.Content-Type"
		return nil, e
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, httpapi.NewError(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("the body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes))
		}
		return nil, httpapi.NewError(http.StatusBadRequest, "bad_request", "the body could not be read")
	}
	return raw, nil
}

// triggerData parses the body and query and applies the parse rules. It
// returns what flows read as trigger: body, headers, query and one entry per
// parsed alias.
func triggerData(r *http.Request, raw []byte, parse *trigger.Parse) (map[string]any, *httpapi.Error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, httpapi.NewError(http.StatusBadRequest, "malformed_json", "the body is empty; send a JSON value")
	}
	var body any
	if err := json.Unmarshal(raw, &body); err != nil {
		detail := "the body is not valid JSON"
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			detail = fmt.Sprintf("the body is not valid JSON: %s (at byte %d)", syn.Error(), syn.Offset)
		}
		return nil, httpapi.NewError(http.StatusBadRequest, "malformed_json", detail)
	}
	query, err := trigger.NestQuery(r.URL.Query())
	if err != nil {
		e := httpapi.NewError(http.StatusBadRequest, "malformed_query", err.Error())
		e.Path = "query"
		return nil, e
	}
	headers := headerMap(r.Header)
	data := map[string]any{"body": body, "query": query}
	if parse != nil {
		parsed, errs := parse.Apply(raw, headers, query)
		if len(errs) > 0 {
			e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_trigger_data", errs[0].Error())
			e.Path = errs[0].Path
			e.Errors = errs
			return nil, e
		}
		for k, v := range parsed {
			data[k] = v
		}
	}
	hm := make(map[string]any, len(headers))
	for k, v := range headers {
		hm[k] = v
	}
	data["headers"] = hm
	return data, nil
}

// credentialHeaders carry the caller's credentials. They are checked by the
// trigger's auth and never become trigger data: trigger data is workflow
// input, stored in Temporal history.
var credentialHeaders = map[string]bool{"authorization": true, "proxy-authorization": true, "cookie": true}

// headerMap keys headers by lowercase name, without credentials; repeated
// headers are joined with ", " as RFC 9110 allows.
func headerMap(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		lk := strings.ToLower(k)
		if credentialHeaders[lk] {
			continue
		}
		out[lk] = strings.Join(vs, ", ")
	}
	return out
}

// eventIDFrom finds the event id: the trigger's configured key source, then
// the Idempotency-Key header, else a fresh id (UUIDv7: time-ordered, so run
// ids sort by arrival). keyPath names where the key was found, "" for a
// fresh id.
func eventIDFrom(r *http.Request, raw []byte, src *trigger.KeySource) (id, keyPath string, e *httpapi.Error) {
	key, path := "", "headers."+HeaderIdempotencyKey
	switch {
	case src != nil && src.Header != "":
		key, path = r.Header.Get(src.Header), "headers."+src.Header
	case src != nil && src.Body != "":
		path = "body." + src.Body
		if v := gjson.GetBytes(raw, src.Body); v.Exists() && v.Type != gjson.Null && !v.IsObject() && !v.IsArray() {
			key = v.String()
		}
	default:
		key = r.Header.Get(HeaderIdempotencyKey)
		if key == "" {
			return uuid.Must(uuid.NewV7()).String(), "", nil
		}
	}
	if key == "" {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "missing_idempotency_key", "this trigger takes each event's id from "+path+", and the request has none")
		e.Path = path
		return "", "", e
	}
	if len(key) > 200 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		e := httpapi.NewError(http.StatusBadRequest, "invalid_idempotency_key", "an idempotency key must be 1 to 200 characters without control characters")
		e.Path = path
		return "", "", e
	}
	return key, path, nil
}

// writeConfigured answers an async trigger with its configured response,
// 200 "ok" by default.
func writeConfigured(c *gin.Context, r *trigger.TriggerResponse) {
	if r == nil {
		writeResponse(c, trigger.DefaultAsyncStatus, nil, trigger.DefaultAsyncBody)
		return
	}
	status := r.Status
	if status == 0 {
		status = trigger.DefaultAsyncStatus
	}
	body := r.Body
	if body == nil {
		body = trigger.DefaultAsyncBody
	}
	writeResponse(c, status, r.Headers, body)
}

// hopByHop headers are the server's to set, never a flow's.
var hopByHop = map[string]bool{
	"connection": true, "content-length": true, "transfer-encoding": true,
	"keep-alive": true, "upgrade": true, "te": true, "trailer": true,
}

// writeResponse writes a flow's answer: a string body as text, anything
// else as JSON, unless the flow set Content-Type itself.
func writeResponse(c *gin.Context, status int, headers map[string]string, body any) {
	for k, v := range headers {
		if !hopByHop[strings.ToLower(k)] {
			c.Header(k, v)
		}
	}
	if body == nil {
		c.Status(status)
		return
	}
	ct := c.Writer.Header().Get("Content-Type")
	if s, ok := body.(string); ok {
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		c.Data(status, ct, []byte(s))
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		_ = c.Error(err)
		return
	}
	if ct == "" {
		ct = "application/json; charset=utf-8"
	}
	c.Data(status, ct, b)
}

package api

import (
	"context"
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
	"go.temporal.io/api/serviceerror"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/workflows"
)

// startTimeout bounds an async start: Temporal answers in milliseconds
// when healthy; past this the caller should retry later.
const startTimeout = 10 * time.Second

// HeaderIdempotencyKey makes duplicate deliveries of one event start one run.
const HeaderIdempotencyKey = "Idempotency-Key"

// trigger handles POST /hooks/{token}: it checks the request, turns it into
// trigger data and starts the flow. Every rejection happens before the start,
// so a rejected request starts nothing.
func (s *Server) trigger(c *gin.Context) {
	entry, ok := s.flows.ByToken(c.Param("token"))
	if !ok {
		fail(c, newError(http.StatusNotFound, "not_found", "no flow has this trigger URL"))
		return
	}
	data, apiErr := s.readTrigger(c)
	if apiErr != nil {
		fail(c, apiErr)
		return
	}
	eventID, apiErr := eventIDFrom(c)
	if apiErr != nil {
		fail(c, apiErr)
		return
	}
	f := entry.Flow
	opts := workflows.StartOptions(f, entry.Version, eventID)
	in := workflows.Input{Flow: f, FlowVersion: entry.Version, Trigger: data}
	c.Header(HeaderExecutionID, opts.ID)

	// The run must not depend on the caller staying connected: once the
	// request is accepted, the start (and the wait for a sync answer) use
	// a context detached from the request.
	ctx := context.WithoutCancel(c.Request.Context())
	if f.Trigger.EffectiveMode() == flow.ModeSync {
		s.triggerSync(c, ctx, entry, opts, in)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if _, err := s.temporal.ExecuteWorkflow(sctx, opts, workflows.WorkflowName, in); err != nil {
		fail(c, s.startError(f, opts.ID, err))
		return
	}
	writeConfigured(c, f.Trigger.Response)
}

func (s *Server) triggerSync(c *gin.Context, ctx context.Context, entry *flow.Entry, opts sdkclient.StartWorkflowOptions, in workflows.Input) {
	budget := entry.Flow.Trigger.EffectiveTimeout().Std()
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	op := s.temporal.NewWithStartWorkflowOperation(opts, workflows.WorkflowName, in)
	handle, err := s.temporal.UpdateWithStartWorkflow(ctx, sdkclient.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: sdkclient.UpdateWorkflowOptions{
			// The update id is the run id: a duplicate of the event
			// attaches to the first update and gets its answer again.
			UpdateID:     opts.ID,
			UpdateName:   workflows.UpdateResponse,
			WaitForStage: sdkclient.WorkflowUpdateStageCompleted,
		},
	})
	var resp workflows.Response
	if err == nil {
		err = handle.Get(ctx, &resp)
	}
	if err != nil {
		if isTimeout(err) {
			e := newError(http.StatusGatewayTimeout, "timeout", fmt.Sprintf("the flow did not answer within %s; it goes on running", budget))
			e.ExecutionID = opts.ID
			fail(c, e)
			return
		}
		fail(c, s.startError(entry.Flow, opts.ID, err))
		return
	}
	writeResponse(c, resp.Status, resp.Headers, resp.Body)
}

// startError maps a failure to reach Temporal to 503: the caller did nothing
// wrong and may retry the same delivery (with its idempotency key).
func (s *Server) startError(f *flow.Flow, id string, err error) *Error {
	if isTimeout(err) {
		e := newError(http.StatusServiceUnavailable, "unavailable", "the flow could not be started in time; retry later")
		e.RetryAfter = "5"
		return e
	}
	s.log.Error("start flow", "flow", f.ID, "executionId", id, "error", err)
	e := newError(http.StatusServiceUnavailable, "unavailable", "the flow could not be started; retry later")
	e.RetryAfter = "5"
	return e
}

func isTimeout(err error) bool {
	var de *serviceerror.DeadlineExceeded
	var ue *sdkclient.WorkflowUpdateServiceTimeoutOrCanceledError
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &de) || errors.As(err, &ue)
}

// readTrigger checks the content type and size, parses the JSON body and
// returns the trigger data flows read as trigger.body, trigger.headers and
// trigger.query.
func (s *Server) readTrigger(c *gin.Context) (map[string]any, *Error) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		e := newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be JSON with Content-Type: application/json")
		e.Path = "headers.Content-Type"
		return nil, e
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, newError(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("the body exceeds the limit of %d bytes", s.cfg.MaxBodyBytes))
		}
		return nil, newError(http.StatusBadRequest, "bad_request", "the body could not be read")
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil, newError(http.StatusBadRequest, "malformed_json", "the body is empty; send a JSON value")
	}
	var body any
	if err := json.Unmarshal(raw, &body); err != nil {
		detail := "the body is not valid JSON"
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			detail = fmt.Sprintf("the body is not valid JSON: %s (at byte %d)", syn.Error(), syn.Offset)
		}
		return nil, newError(http.StatusBadRequest, "malformed_json", detail)
	}
	return map[string]any{
		"body":    body,
		"headers": headerMap(c.Request.Header),
		"query":   queryMap(c.Request.URL.Query()),
	}, nil
}

// headerMap keys headers by lowercase name; repeated headers are joined with
// ", " as RFC 9110 allows.
func headerMap(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, vs := range h {
		out[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	return out
}

// queryMap keeps a single value as a string and repeated ones as an array.
func queryMap(q map[string][]string) map[string]any {
	out := make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) == 1 {
			out[k] = vs[0]
			continue
		}
		arr := make([]any, len(vs))
		for i, v := range vs {
			arr[i] = v
		}
		out[k] = arr
	}
	return out
}

// eventIDFrom takes the caller's idempotency key, or makes a fresh id (UUIDv7:
// time-ordered, so run ids sort by arrival).
func eventIDFrom(c *gin.Context) (string, *Error) {
	key := c.GetHeader(HeaderIdempotencyKey)
	if key == "" {
		return uuid.Must(uuid.NewV7()).String(), nil
	}
	if len(key) > 200 || strings.ContainsFunc(key, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		e := newError(http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key must be 1 to 200 visible ASCII characters")
		e.Path = "headers." + HeaderIdempotencyKey
		return "", e
	}
	return key, nil
}

// writeConfigured answers an async trigger with its configured response,
// 200 "ok" by default.
func writeConfigured(c *gin.Context, r *flow.TriggerResponse) {
	if r == nil {
		writeResponse(c, http.StatusOK, nil, "ok")
		return
	}
	status := r.Status
	if status == 0 {
		status = http.StatusOK
	}
	body := r.Body
	if body == nil {
		body = "ok"
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

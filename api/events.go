package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
)

// eventTimeout bounds the wait for a run to take or refuse an event.
const eventTimeout = 10 * time.Second

// sendEvent handles POST /api/v1/executions/{id}/events/{name}: the JSON
// body goes to the wait step waiting for that event (or the approval step
// of that id). The answer says which step took it: 200; 404 no such
// execution; 409 no step waits for it, its match refuses it, or the run
// has ended; 422 a body the step cannot take; 503 the run is handing over.
func (s *executionsAPI) sendEvent(c *gin.Context) {
	body, e := readEventBody(c, s.cfg.MaxBodyBytes)
	if e != nil {
		fail(c, e)
		return
	}
	id, name := c.Param("id"), c.Param("name")
	acc, e := s.deliverEvent(c.Request.Context(), id, contract.Event{Name: name, Body: body}, false)
	if e != nil {
		fail(c, e)
		return
	}
	c.JSON(http.StatusOK, gin.H{"accepted": true, "executionId": id, "event": name, "stepId": acc.StepID, "path": acc.Path})
}

// readEventBody reads a JSON body (empty: null), or a form's fields.
func readEventBody(c *gin.Context, limit int64) (any, *Error) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		return nil, newError(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("the body exceeds the limit of %d bytes", limit))
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch mt {
	case "application/json":
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, newError(http.StatusBadRequest, "malformed_json", "the body is not valid JSON")
		}
		return v, nil
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, newError(http.StatusBadRequest, "malformed_form", "the form body cannot be read")
		}
		out := map[string]any{}
		for k := range vals {
			out[k] = vals.Get(k)
		}
		return out, nil
	}
	e := newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the event as application/json")
	e.Path = "headers.Content-Type"
	return nil, e
}

// deliverEvent sends the event update and maps the run's answer. For a
// signed link (link true), a step no longer waiting is 410 Gone: the link
// was used, or its wait is over.
func (s *core) deliverEvent(ctx context.Context, id string, ev contract.Event, link bool) (*contract.EventAccepted, *Error) {
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	h, err := s.temporal.UpdateWorkflow(ctx, sdkclient.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: contract.UpdateEvent, Args: []any{ev},
		WaitForStage: sdkclient.WorkflowUpdateStageCompleted,
	})
	var acc contract.EventAccepted
	if err == nil {
		err = h.Get(ctx, &acc)
	}
	if err == nil {
		return &acc, nil
	}
	gone := func(detail string) *Error {
		if link {
			return newError(http.StatusGone, "gone", detail)
		}
		return newError(http.StatusConflict, "not_waiting", detail)
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		switch ae.Type() {
		case contract.ErrorTypeEventNotWaiting:
			if link {
				return nil, gone("this link was already used, or its step is no longer waiting")
			}
			return nil, gone(ae.Message())
		case contract.ErrorTypeEventNoMatch:
			return nil, newError(http.StatusConflict, "no_match", ae.Message())
		case contract.ErrorTypeEventInvalid:
			e := newError(http.StatusUnprocessableEntity, "invalid_event", ae.Message())
			e.Path = "body"
			return nil, e
		case contract.ErrorTypeHandingOver:
			e := newError(http.StatusServiceUnavailable, "unavailable", ae.Message())
			e.RetryAfter = "1"
			return nil, e
		}
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		// Unknown, or closed: a closed run answers Describe.
		if _, derr := s.temporal.DescribeWorkflowExecution(ctx, id, ""); derr == nil {
			return nil, gone("the execution has ended")
		}
		if link {
			return nil, gone("the execution no longer exists")
		}
		return nil, newError(http.StatusNotFound, "not_found", "no such execution")
	}
	if strings.Contains(err.Error(), "workflow execution already completed") {
		return nil, gone("the execution has ended")
	}
	return nil, s.temporalError(err)
}

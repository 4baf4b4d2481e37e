package httpapi

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

	sdkclient "go.temporal.io/sdk/client"

	"github.com/gin-gonic/gin"
	"github.com/hookflow/hookflow/contract"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"
)

// eventTimeout bounds the wait for a run to take or refuse an event.
const eventTimeout = 10 * time.Second

// DeliverEvent sends the event update and maps the run's answer. For a
// signed link (link true), a step no longer waiting is 410 Gone: the link
// was used, or its wait is over.
func (s *Core) DeliverEvent(ctx context.Context, id string, ev contract.Event, link bool) (*contract.EventAccepted, *Error) {
	ctx, cancel := context.WithTimeout(ctx, eventTimeout)
	defer cancel()
	h, err := s.Temporal.UpdateWorkflow(ctx, sdkclient.UpdateWorkflowOptions{
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
			return NewError(http.StatusGone, "gone", detail)
		}
		return NewError(http.StatusConflict, "not_waiting", detail)
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
			return nil, NewError(http.StatusConflict, "no_match", ae.Message())
		case contract.ErrorTypeEventInvalid:
			e := NewError(http.StatusUnprocessableEntity, "invalid_event", ae.Message())
			e.Path = "body"
			return nil, e
		case contract.ErrorTypeHandingOver:
			e := NewError(http.StatusServiceUnavailable, "unavailable", ae.Message())
			e.RetryAfter = "1"
			return nil, e
		}
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		// Unknown, or closed: a closed run answers Describe.
		if _, derr := s.Temporal.DescribeWorkflowExecution(ctx, id, ""); derr == nil {
			return nil, gone("the execution has ended")
		}
		if link {
			return nil, gone("the execution no longer exists")
		}
		return nil, NewError(http.StatusNotFound, "not_found", "no such execution")
	}
	if strings.Contains(err.Error(), "workflow execution already completed") {
		return nil, gone("the execution has ended")
	}
	return nil, s.TemporalError(err)
}

// ReadEventBody reads a JSON body (empty: null), or a form's fields.
func ReadEventBody(c *gin.Context, limit int64) (any, *Error) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		return nil, NewError(http.StatusRequestEntityTooLarge, "payload_too_large", fmt.Sprintf("the body exceeds the limit of %d bytes", limit))
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil, nil
	}
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch mt {
	case "application/json":
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, NewError(http.StatusBadRequest, "malformed_json", "the body is not valid JSON")
		}
		return v, nil
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, NewError(http.StatusBadRequest, "malformed_form", "the form body cannot be read")
		}
		out := map[string]any{}
		for k := range vals {
			out[k] = vals.Get(k)
		}
		return out, nil
	}
	e := NewError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the event as application/json")
	e.Path = "headers.Content-Type"
	return nil, e
}

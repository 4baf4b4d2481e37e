package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/recovery"
)

// Redelivery's routes; starting and listing redeliveries is package
// recovery's (Recoverer.Redeliver, Recoverer.Redeliveries).

// redeliver handles POST /api/v1/executions/{id}/deliveries/{deliveryId}/redeliver:
// the delivery's request, as the run scheduled it, is found in the run's
// history and sent again by a RedeliverWorkflow of its own (the same
// delivery activity and retry policy), linked to the run. The run is not
// touched, and may be closed. Nothing starts when the request is refused.
func (s *executionsAPI) redeliver(c *gin.Context) {
	id, dlv := c.Param("id"), c.Param("deliveryId")
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10))
	if err != nil {
		httpapi.Fail(c, httpapi.NewError(http.StatusRequestEntityTooLarge, "payload_too_large", "the body exceeds 64 KiB"))
		return
	}
	key, rerr := recovery.ParseRedeliverRequest(raw)
	if rerr != nil {
		status := http.StatusUnprocessableEntity
		if rerr.Code == "malformed_json" {
			status = http.StatusBadRequest
		}
		e := httpapi.NewError(status, rerr.Code, rerr.Message)
		e.Path = rerr.Path
		httpapi.Fail(c, e)
		return
	}
	started, runID, err := s.recoverer().Redeliver(c.Request.Context(), id, dlv, key)
	if err != nil {
		httpapi.Fail(c, s.redeliverFailure(id, err))
		return
	}
	s.Log.Info("redelivery started", "executionId", id, "deliveryId", dlv, "redelivery", started.ExecutionID, "runId", runID, "newKey", key == recovery.KeyNew)
	c.Header("Location", "/api/v1/executions/"+url.PathEscape(id))
	c.JSON(http.StatusAccepted, started)
}

// redeliverFailure maps a refused redelivery; a misconfigured deployment
// (a history it cannot decode, a namespace without the search attribute)
// is logged and is not the caller's fault.
func (s *executionsAPI) redeliverFailure(id string, err error) *httpapi.Error {
	var re *recovery.RedeliverError
	if !errors.As(err, &re) {
		return s.TemporalError(err)
	}
	switch {
	case errors.Is(err, recovery.ErrExecutionNotFound):
		return httpapi.NewError(http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, recovery.ErrNoDelivery):
		e := httpapi.NewError(http.StatusNotFound, "not_found", err.Error())
		e.Path = "deliveryId"
		return e
	case errors.Is(err, recovery.ErrTooManyRedeliveries):
		return httpapi.NewError(http.StatusConflict, "too_many_redeliveries", err.Error())
	case errors.Is(err, recovery.ErrUndecodable):
		s.Log.Error("decode a delivery's request from history", "executionId", id, "error", errors.Unwrap(err))
		return httpapi.NewError(http.StatusInternalServerError, "misconfigured", err.Error())
	case errors.Is(err, recovery.ErrNoSearchAttribute):
		s.Log.Error("start a redelivery", "error", errors.Unwrap(err))
		return httpapi.NewError(http.StatusInternalServerError, "misconfigured", err.Error())
	}
	return s.TemporalError(err)
}

// redeliveries lists an execution's redeliveries, oldest first.
func (s *executionsAPI) redeliveries(ctx context.Context, id string) ([]recovery.Redelivery, error) {
	return s.recoverer().Redeliveries(ctx, id, s.listPage)
}

// dataConverter decodes what the API reads from history and visibility.
func (s *executionsAPI) dataConverter() converter.DataConverter {
	if s.cfg.DataConverter != nil {
		return s.cfg.DataConverter
	}
	return converter.GetDefaultDataConverter()
}

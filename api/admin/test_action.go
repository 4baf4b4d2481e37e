package admin

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
)

// sampleData is what a test action renders a step against: the same names a
// run's expressions read.
type sampleData struct {
	Trigger map[string]any `json:"trigger"`
	Vars    map[string]any `json:"vars"`
	Steps   map[string]any `json:"steps"`
	// Item and Index stand in for a loop's variables.
	Item  any  `json:"item"`
	Index *int `json:"index"`
}

// testResult is the test action's answer.
type testResult struct {
	Request  *activities.Sent `json:"request,omitempty"`
	Response *contract.Result `json:"response,omitempty"`
	Error    *testError       `json:"error,omitempty"`
}

type testError struct {
	Type      string `json:"type"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// testStep handles POST /api/v1/flows/{id}/steps/{stepId}/test: it sends one
// http step once, against sample data, without retries and without starting
// or recording a run, and answers with the request (secrets redacted) and the
// response. A receiver's error is a result (200), not a failure of the call.
func (s *Management) testStep(c *gin.Context) {
	if s.cfg.Deliver == nil {
		httpapi.Fail(c, httpapi.NewError(http.StatusNotImplemented, "not_configured", "this API has no delivery configuration for test actions"))
		return
	}
	entry, ok := s.flows.ByID(c.Param("id"))
	if !ok {
		e := httpapi.NewError(http.StatusNotFound, "not_found", "no flow with id "+c.Param("id"))
		e.Path = "id"
		httpapi.Fail(c, e)
		return
	}
	step, at, ok := entry.Flow.StepByID(c.Param("stepId"))
	if !ok {
		e := httpapi.NewError(http.StatusNotFound, "not_found", "flow "+entry.Flow.ID+" has no step "+c.Param("stepId"))
		e.Path = "stepId"
		httpapi.Fail(c, e)
		return
	}
	h, ok := step.Spec.(*flow.HTTP)
	if !ok {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "not_testable", "only http steps can be tested; "+at+" is a "+step.Type+" step")
		e.Path = at
		httpapi.Fail(c, e)
		return
	}
	var sample sampleData
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sample); err != nil {
		httpapi.Fail(c, httpapi.NewError(http.StatusBadRequest, "malformed_json", `send sample data: {"trigger": {"body": ...}, "vars": {...}, "steps": {...}}: `+err.Error()))
		return
	}
	env := map[string]any{
		expression.EnvTrigger:   orEmpty(sample.Trigger),
		expression.EnvVars:      orEmpty(sample.Vars),
		expression.EnvSteps:     orEmpty(sample.Steps),
		expression.EnvExecution: map[string]any{"id": "test-action", "flowId": entry.Flow.ID, "flowVersion": entry.Version},
	}
	if sample.Index != nil || sample.Item != nil {
		env[expression.EnvItem] = sample.Item
		if sample.Index != nil {
			env[expression.EnvIndex] = *sample.Index
		} else {
			env[expression.EnvIndex] = 0
		}
	}
	req, err := h.Render(expression.NewEvaluator(), env)
	if err != nil {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "render_failed", "the step does not render with this sample data: "+err.Error())
		e.Path = at
		httpapi.Fail(c, e)
		return
	}
	// A fresh id per test: a receiver that deduplicates by delivery id
	// must not swallow the second test of a step.
	req.DeliveryID = "test_" + uuid.NewString()
	res, sent, err := s.cfg.Deliver.Send(c.Request.Context(), *req)
	out := testResult{Request: sent, Response: res}
	if err != nil {
		te := &testError{Type: "Error", Message: err.Error()}
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			te = &testError{Type: ae.Type(), Message: ae.Message(), Retryable: !ae.NonRetryable()}
		}
		out.Error = te
	}
	c.JSON(http.StatusOK, out)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

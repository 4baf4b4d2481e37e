package admin

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/api/httpapi"
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
	body, e := httpapi.ReadEventBody(c, s.cfg.MaxBodyBytes)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	id, name := c.Param("id"), c.Param("name")
	acc, e := s.DeliverEvent(c.Request.Context(), id, contract.Event{Name: name, Body: body}, false)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	c.JSON(http.StatusOK, gin.H{"accepted": true, "executionId": id, "event": name, "stepId": acc.StepID, "path": acc.Path})
}

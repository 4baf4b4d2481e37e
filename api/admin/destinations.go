package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// The admin API's destinations: routes, bodies and answers here; the
// store, its rules and the parked count are the destinations package's.

// dests is the destinations of the admin API's store.
func (s *adminCore) dests() *destinations.Store { return destinations.NewStore(s.cfg.Admin.Store) }

// routes are the destinations of the admin API: read scope for reads,
// write scope for changes, pausing and resuming.
func (s *destinationsAPI) routes(v1 *gin.RouterGroup, read, write gin.HandlerFunc) {
	v1.GET("/destinations", read, s.listDestinations)
	v1.POST("/destinations", write, s.createDestination)
	v1.GET("/destinations/:name", read, s.getDestination)
	v1.PUT("/destinations/:name", write, s.updateDestination)
	v1.DELETE("/destinations/:name", write, s.deleteDestination)
	v1.GET("/destinations/:name/versions", read, s.listDestinationVersions)
	v1.POST("/destinations/:name/pause", write, s.pauseDestination(true))
	v1.POST("/destinations/:name/resume", write, s.pauseDestination(false))
	v1.POST("/destinations/:name/reset-circuit", write, s.resetCircuit)
}

// destinationResource is a destination as the admin API shows it: its
// definition, state and the deliveries waiting in its task queue.
type destinationResource struct {
	*destinations.Destination
	TaskQueue string  `json:"taskQueue"`
	Parked    *parked `json:"parked,omitempty"`
	// Changed is set on updates: false when the definition was unchanged.
	Changed *bool `json:"changed,omitempty"`
}

// parked is what Temporal reports of a destination's task queue backlog:
// deliveries waiting for a poller (all of them while paused or open).
// Approximate, as Temporal's task queue statistics are.
type parked struct {
	Count     int64   `json:"count"`
	OldestAge string  `json:"oldestAge,omitempty"`
	Seconds   float64 `json:"oldestAgeSeconds"`
	Error     string  `json:"error,omitempty"`
}

func (s *destinationsAPI) destinationResource(ctx context.Context, d *destinations.Destination, withParked bool) destinationResource {
	r := destinationResource{Destination: d, TaskQueue: flow.DestinationTaskQueue(d.Name)}
	if withParked {
		r.Parked = s.parkedDeliveries(ctx, d.Name)
	}
	return r
}

// parkedDeliveries asks Temporal for the destination's task queue backlog
// (destinations.Backlog, which the worker's parked metric reads too).
func (s *destinationsAPI) parkedDeliveries(ctx context.Context, name string) *parked {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	b, err := destinations.Backlog(ctx, s.Temporal.WorkflowService(), s.namespaceName(ctx), name)
	if err != nil {
		s.Log.Warn("describe a destination's task queue", "destination", name, "error", err)
		return &parked{Error: "Temporal did not report the task queue's backlog"}
	}
	p := &parked{Count: b.Count}
	if b.OldestAge > 0 {
		p.OldestAge, p.Seconds = b.OldestAge.Round(time.Second).String(), b.OldestAge.Seconds()
	}
	return p
}

// namespaceName is the Temporal client's namespace: the SDK does not tell
// it, so a first tiny visibility query learns it (listPage).
func (s *adminCore) namespaceName(ctx context.Context) string {
	if ns := s.namespace.Load(); ns == nil {
		_, _ = s.listPage(ctx, &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1, Query: `WorkflowType = "hookflow.none"`})
	}
	if ns := s.namespace.Load(); ns != nil {
		return *ns
	}
	return "default"
}

func destinationError(err error) *httpapi.Error {
	var de *flow.DestinationError
	if errors.As(err, &de) {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_destination", de.Errors[0].Error())
		e.Path, e.Errors = de.Errors[0].Path, de.Errors
		return e
	}
	if errors.Is(err, store.ErrConflict) {
		return httpapi.NewError(http.StatusPreconditionFailed, "precondition_failed", err.Error()+"; GET the destination and retry with its ETag")
	}
	return storeError(err)
}

func (s *destinationsAPI) failDestination(c *gin.Context, err error) {
	s.failWith(c, destinationError(err), err)
}

// readDestination decodes a destination: JSON, or YAML with Content-Type
// application/yaml. Invalid: 422 with every error and its path.
func (s *destinationsAPI) readDestination(c *gin.Context) (*flow.Destination, *httpapi.Error) {
	raw, yamlDoc, e := s.readDefinitionBody(c, "destination")
	if e != nil {
		return nil, e
	}
	d, err := flow.DecodeDestination(raw, yamlDoc)
	if err != nil {
		return nil, destinationError(err)
	}
	return d, nil
}

func (s *destinationsAPI) listDestinations(c *gin.Context) {
	list, err := s.dests().List(c.Request.Context())
	if err != nil {
		s.failDestination(c, err)
		return
	}
	out := make([]destinationResource, len(list))
	for i, d := range list {
		out[i] = s.destinationResource(c.Request.Context(), d, false)
	}
	c.JSON(http.StatusOK, gin.H{"destinations": out})
}

func (s *destinationsAPI) createDestination(c *gin.Context) {
	d, e := s.readDestination(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	got, err := s.dests().Create(c.Request.Context(), d)
	if err != nil {
		s.failDestination(c, err)
		return
	}
	c.Header("ETag", etag(got.Version))
	c.Header("Location", "/api/v1/destinations/"+got.Name)
	c.JSON(http.StatusCreated, s.destinationResource(c.Request.Context(), got, false))
}

func (s *destinationsAPI) getDestination(c *gin.Context) {
	got, err := s.dests().Get(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.failDestination(c, err)
		return
	}
	c.Header("ETag", etag(got.Version))
	c.JSON(http.StatusOK, s.destinationResource(c.Request.Context(), got, true))
}

// updateDestination makes a new version. Deliveries read it when they
// start (retry policy, timeouts) and at each attempt (URL, auth, headers).
func (s *destinationsAPI) updateDestination(c *gin.Context) {
	version, e := ifMatch(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	d, e := s.readDestination(c)
	if e != nil {
		httpapi.Fail(c, e)
		return
	}
	if d.Name != c.Param("name") {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_destination", fmt.Sprintf("the definition's name %q differs from the URL's %q", d.Name, c.Param("name")))
		e.Path = "name"
		httpapi.Fail(c, e)
		return
	}
	got, changed, err := s.dests().Update(c.Request.Context(), d, version)
	if err != nil {
		s.failDestination(c, err)
		return
	}
	r := s.destinationResource(c.Request.Context(), got, false)
	r.Changed = &changed
	c.Header("ETag", etag(got.Version))
	c.JSON(http.StatusOK, r)
}

// deleteDestination refuses (409) while a stored flow sends to it.
func (s *destinationsAPI) deleteDestination(c *gin.Context) {
	name := c.Param("name")
	flows, err := s.cfg.Admin.Store.Flows().List(c.Request.Context())
	if err != nil {
		s.failDestination(c, err)
		return
	}
	if u, used := destinations.UsedBy(flows, name); used {
		e := httpapi.NewError(http.StatusConflict, "in_use", fmt.Sprintf("flow %q sends to destination %q (%s); change or delete the flow first", u.FlowID, name, u.Path))
		e.Path = "name"
		httpapi.Fail(c, e)
		return
	}
	if err := s.dests().Delete(c.Request.Context(), name); err != nil {
		s.failDestination(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *destinationsAPI) listDestinationVersions(c *gin.Context) {
	vs, err := s.dests().Versions(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.failDestination(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"versions": vs})
}

// pauseDestination pauses or resumes a destination. The body is optional:
// {"reason": "..."}.
func (s *destinationsAPI) pauseDestination(paused bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body struct {
			Reason string `json:"reason"`
		}
		raw, e := s.readAdminBody(c, "a pause request")
		if e != nil {
			httpapi.Fail(c, e)
			return
		}
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &body); err != nil {
				httpapi.Fail(c, httpapi.NewError(http.StatusBadRequest, "malformed_json", `the body, when sent, is {"reason": "..."}`))
				return
			}
		}
		if len(body.Reason) > 500 {
			e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_request", "reason must be at most 500 characters long")
			e.Path = "reason"
			httpapi.Fail(c, e)
			return
		}
		was := s.pausedBefore(c.Request.Context(), c.Param("name"))
		got, err := s.dests().Pause(c.Request.Context(), c.Param("name"), paused, body.Reason)
		if err != nil {
			s.failDestination(c, err)
			return
		}
		s.notifyPause(got, was) // notify.go
		s.Log.Info("destination", "destination", got.Name, "paused", paused)
		c.JSON(http.StatusOK, s.destinationResource(c.Request.Context(), got, true))
	}
}

// resetCircuit closes a destination's circuit by hand: parked deliveries
// go out at once, without waiting for a probe.
func (s *destinationsAPI) resetCircuit(c *gin.Context) {
	got, err := s.dests().ResetCircuit(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.failDestination(c, err)
		return
	}
	c.JSON(http.StatusOK, s.destinationResource(c.Request.Context(), got, true))
}

// checkDestinations refuses (422, each with its path) a flow whose http
// steps name destinations the store does not hold.
func (s *Management) checkDestinations(ctx context.Context, f *flow.Flow) *httpapi.Error {
	if len(f.Destinations()) == 0 {
		return nil
	}
	known, err := s.dests().Known(ctx, f)
	if err != nil {
		s.Log.Error("read destinations to check a flow", "error", err)
		e := httpapi.NewError(http.StatusServiceUnavailable, "unavailable", "the flow store could not be read to check the flow's destinations; retry later")
		e.RetryAfter = "5"
		return e
	}
	errs := flow.CheckDestinations(f, func(name string) bool { return known[name] })
	if len(errs) == 0 {
		return s.checkNotifySigns(ctx, f) // notify.go
	}
	e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_flow", errs[0].Error())
	e.Path, e.Errors = errs[0].Path, errs
	return e
}

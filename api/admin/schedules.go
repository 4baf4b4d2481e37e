package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/schedules"
	"github.com/hookflow/hookflow/store"
)

// schedulesAPI: a flow's schedules on Temporal Schedules (package
// schedules): kept in step with the store on every flow write, listed,
// paused, triggered and backfilled by operators, reconciled on demand.
type schedulesAPI struct{ *adminCore }

func (s *schedulesAPI) routes(v1 *gin.RouterGroup, read, write gin.HandlerFunc) {
	v1.GET("/flows/:id/schedules", read, s.listSchedules)
	v1.POST("/flows/:id/schedules/:scheduleId/pause", write, s.pauseSchedule(true))
	v1.POST("/flows/:id/schedules/:scheduleId/unpause", write, s.pauseSchedule(false))
	v1.POST("/flows/:id/schedules/:scheduleId/trigger", write, s.triggerSchedule)
	v1.POST("/flows/:id/schedules/:scheduleId/backfill", write, s.backfillSchedule)
	v1.POST("/schedules/reconcile", write, s.reconcile)
}

// haveTemporal answers 503 on an api built without a Temporal client
// (handler tests), once the request itself has been checked.
func (s *schedulesAPI) haveTemporal(c *gin.Context) bool {
	if s.Temporal == nil {
		httpapi.Fail(c, httpapi.NewError(http.StatusServiceUnavailable, "temporal_unavailable", "this api has no Temporal client: schedules live in Temporal"))
		return false
	}
	return true
}

// scheduleSync is what a flow write did to the flow's schedules.
type scheduleSync struct {
	Changes []schedules.Change `json:"changes"`
	// Error says the schedules could not be brought in step (Temporal did
	// not answer): the flow is saved, and the next write of the flow, an
	// api start or POST /api/v1/schedules/reconcile repairs them.
	Error string `json:"error,omitempty"`
}

func (s *adminCore) scheduleClient() *schedules.Client {
	return &schedules.Client{C: s.Temporal, DC: s.cfg.DataConverter}
}

func (s *adminCore) reconciler() *schedules.Reconciler {
	return &schedules.Reconciler{T: s.scheduleClient(), Settings: schedules.Settings{PublicURL: s.cfg.PublicURL}, Log: s.Log}
}

// syncSchedules brings the schedules of flow id in step after a write:
// rec is the flow now (nil: deleted), before its definition before the
// write (nil: none). Flows that have no schedules and had none cost
// nothing (and need no Temporal client).
func (s *adminCore) syncSchedules(ctx context.Context, id string, rec *store.Flow, before *flow.Flow) *scheduleSync {
	var also []string
	if before != nil {
		for _, e := range before.Schedules {
			also = append(also, schedules.ID(id, e.ID))
		}
	}
	if len(also) == 0 && (rec == nil || rec.Def == nil || len(rec.Def.Schedules) == 0) {
		return nil
	}
	if s.Temporal == nil {
		return &scheduleSync{Changes: []schedules.Change{}, Error: "no Temporal client: schedules are not kept in step by this api"}
	}
	changes, err := s.reconciler().SyncFlow(ctx, id, schedules.FromStore(rec), also...)
	out := &scheduleSync{Changes: changes}
	if out.Changes == nil {
		out.Changes = []schedules.Change{}
	}
	if err != nil {
		s.Log.Warn("schedules not in step after a flow write; an api start or POST /api/v1/schedules/reconcile repairs them", "flow", id, "error", err)
		out.Error = err.Error()
	}
	return out
}

func (s *schedulesAPI) reconcile(c *gin.Context) {
	if !s.haveTemporal(c) {
		return
	}
	var storeErr error
	changes, err := s.reconciler().ReconcileWith(c.Request.Context(), func(ctx context.Context) ([]schedules.Flow, error) {
		flows, err := schedules.StoredFlows(ctx, s.cfg.Admin.Store.Flows())
		storeErr = err
		return flows, err
	})
	if storeErr != nil {
		s.failStore(c, storeErr)
		return
	}
	if changes == nil {
		changes = []schedules.Change{}
	}
	if err != nil {
		// Some changes may have been made: say which, beside the error.
		e := s.TemporalError(err)
		s.Log.Warn("schedules reconcile", "error", err, "changed", len(changes))
		c.JSON(e.Status, gin.H{"error": e.Code, "detail": e.Detail, "changes": changes})
		return
	}
	c.JSON(http.StatusOK, gin.H{"changes": changes})
}

// storedFlow reads the flow of the route.
func (s *schedulesAPI) storedFlow(c *gin.Context) (*store.Flow, bool) {
	rec, err := s.cfg.Admin.Store.Flows().Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failStore(c, err)
		return nil, false
	}
	return rec, true
}

func (s *schedulesAPI) listSchedules(c *gin.Context) {
	rec, ok := s.storedFlow(c)
	if !ok || !s.haveTemporal(c) {
		return
	}
	infos, err := s.scheduleClient().Infos(c.Request.Context(), *schedules.FromStore(rec), schedules.Settings{PublicURL: s.cfg.PublicURL})
	if err != nil {
		httpapi.Fail(c, s.TemporalError(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"flowId": rec.ID, "version": rec.Version, "enabled": rec.Enabled, "schedules": infos})
}

// entry finds the route's schedule entry in the flow's current version.
func (s *schedulesAPI) entry(c *gin.Context) (*schedules.Desired, bool) {
	rec, ok := s.storedFlow(c)
	if !ok {
		return nil, false
	}
	for _, d := range schedules.Desire(*schedules.FromStore(rec), schedules.Settings{PublicURL: s.cfg.PublicURL}) {
		if d.Entry.ID == c.Param("scheduleId") {
			return &d, true
		}
	}
	httpapi.Fail(c, httpapi.NewError(http.StatusNotFound, "not_found", fmt.Sprintf("flow %q has no schedule %q", rec.ID, c.Param("scheduleId"))))
	return nil, false
}

// readBody decodes an optional JSON body into v.
func (s *schedulesAPI) readBody(c *gin.Context, what, shape string, v any) bool {
	raw, e := s.readAdminBody(c, what)
	if e != nil {
		httpapi.Fail(c, e)
		return false
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, v); err != nil {
			httpapi.Fail(c, httpapi.NewError(http.StatusBadRequest, "malformed_json", "the body, when sent, is "+shape))
			return false
		}
	}
	return true
}

// scheduleFailed maps a Temporal failure of an operator action: a
// schedule the store has but Temporal lacks is a 409 (a reconcile creates
// it).
func (s *schedulesAPI) scheduleFailed(c *gin.Context, d *schedules.Desired, err error) {
	if errors.Is(err, schedules.ErrNotFound) {
		httpapi.Fail(c, httpapi.NewError(http.StatusConflict, "schedule_missing", fmt.Sprintf("Temporal has no schedule %s yet; POST /api/v1/schedules/reconcile creates it", d.ID)))
		return
	}
	httpapi.Fail(c, s.TemporalError(err))
}

func (s *schedulesAPI) pauseSchedule(pause bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body struct {
			Note string `json:"note"`
		}
		if !s.readBody(c, "a pause request", `{"note": "..."}`, &body) {
			return
		}
		if len(body.Note) > 500 {
			e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_request", "note must be at most 500 characters long")
			e.Path = "note"
			httpapi.Fail(c, e)
			return
		}
		d, ok := s.entry(c)
		if !ok || !s.haveTemporal(c) {
			return
		}
		var err error
		if pause {
			err = s.scheduleClient().OperatorPause(c.Request.Context(), d.ID, body.Note)
		} else {
			note := body.Note
			if note == "" {
				note = "unpaused by an operator"
			}
			err = s.scheduleClient().Unpause(c.Request.Context(), d.ID, note)
		}
		if err != nil {
			s.scheduleFailed(c, d, err)
			return
		}
		s.Log.Info("schedule", "schedule", d.ID, "paused", pause, "note", body.Note)
		c.JSON(http.StatusOK, gin.H{"scheduleId": d.ID, "paused": pause})
	}
}

func (s *schedulesAPI) triggerSchedule(c *gin.Context) {
	var body struct {
		Overlap string `json:"overlap"`
	}
	if !s.readBody(c, "a trigger request", `{"overlap": "allowAll"}`, &body) {
		return
	}
	if !s.checkOverlap(c, body.Overlap) {
		return
	}
	d, ok := s.entry(c)
	if !ok {
		return
	}
	if !s.haveTemporal(c) {
		return
	}
	if body.Overlap != "" {
		d.Options.Overlap = schedules.Overlap(body.Overlap)
	}
	if err := s.scheduleClient().TriggerNow(c.Request.Context(), d); err != nil {
		s.scheduleFailed(c, d, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"scheduleId": d.ID, "triggered": true})
}

// MaxBackfillRuns bounds the runs one backfill may start (for an every
// entry, where it is known in advance).
const MaxBackfillRuns = 10_000

func (s *schedulesAPI) backfillSchedule(c *gin.Context) {
	var body struct {
		Start   time.Time `json:"start"`
		End     time.Time `json:"end"`
		Overlap string    `json:"overlap"`
	}
	if !s.readBody(c, "a backfill request", `{"start": "<RFC 3339>", "end": "<RFC 3339>", "overlap": "allowAll"}`, &body) {
		return
	}
	invalid := func(path, msg string) {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_request", path+" "+msg)
		e.Path = path
		httpapi.Fail(c, e)
	}
	switch {
	case body.Start.IsZero():
		invalid("start", "is required (RFC 3339)")
		return
	case body.End.IsZero():
		invalid("end", "is required (RFC 3339)")
		return
	case !body.End.After(body.Start):
		invalid("end", "must be after start")
		return
	}
	if !s.checkOverlap(c, body.Overlap) {
		return
	}
	d, ok := s.entry(c)
	if !ok {
		return
	}
	if every := d.Entry.Every.Std(); every > 0 && body.End.Sub(body.Start)/every > MaxBackfillRuns {
		invalid("end", fmt.Sprintf("makes a range of more than %d runs of every %s", MaxBackfillRuns, d.Entry.Every))
		return
	}
	if !s.haveTemporal(c) {
		return
	}
	if body.Overlap != "" {
		d.Options.Overlap = schedules.Overlap(body.Overlap)
	}
	if err := s.scheduleClient().Backfill(c.Request.Context(), d, body.Start, body.End); err != nil {
		s.scheduleFailed(c, d, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"scheduleId": d.ID, "start": body.Start, "end": body.End})
}

func (s *schedulesAPI) checkOverlap(c *gin.Context, p string) bool {
	switch p {
	case "", trigger.OverlapSkip, trigger.OverlapBufferOne, trigger.OverlapBufferAll, trigger.OverlapCancelOther, trigger.OverlapTerminateOther, trigger.OverlapAllowAll:
		return true
	}
	e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_request", "overlap must be one of: skip, bufferOne, bufferAll, cancelOther, terminateOther, allowAll")
	e.Path = "overlap"
	httpapi.Fail(c, e)
	return false
}

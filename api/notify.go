package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// pausedBefore is whether a destination was paused before a pause or
// resume request (nil when unknown: then the request notifies as if it
// changed the state).
func (s *Server) pausedBefore(ctx context.Context, name string) *bool {
	if s.cfg.Notify == nil || s.cfg.Notify.Global().Destination == "" {
		return nil
	}
	d, err := s.cfg.Admin.Store.GetDestination(ctx, name)
	if err != nil {
		return nil
	}
	return &d.State.Paused
}

// notifyPause emits destination.paused or destination.resumed when a
// request changed the state (pausing a paused destination tells no one).
// The notification is handed to Temporal in the background; its delivery
// is durable from there.
func (s *Server) notifyPause(d *store.Destination, was *bool) {
	if s.cfg.Notify == nil || (was != nil && *was == d.State.Paused) {
		return
	}
	if d.State.Paused {
		data := map[string]any{"reason": d.State.PauseReason}
		if d.State.PausedAt != nil {
			data["pausedAt"] = d.State.PausedAt
		}
		s.cfg.Notify.DestinationEvent(flow.EventDestinationPaused, d.Name, data)
		return
	}
	s.cfg.Notify.DestinationEvent(flow.EventDestinationResumed, d.Name, nil)
}

// checkNotifySigns refuses (422, notify.destination) a flow whose notify
// destination does not sign with Standard Webhooks: receivers of
// notifications verify webhook-signature.
func (s *Server) checkNotifySigns(ctx context.Context, f *flow.Flow) *Error {
	if f.Notify == nil || f.Notify.Destination == "" {
		return nil
	}
	d, err := s.cfg.Admin.Store.GetDestination(ctx, f.Notify.Destination)
	if err != nil {
		return nil // checked for existence just before; a race is the delivery's to report
	}
	if activities.SignsStandardWebhooks(d.Def) {
		return nil
	}
	fe := flow.FieldError{Path: "notify.destination", Message: fmt.Sprintf(
		"destination %q does not sign with Standard Webhooks; notifications need its auth to be {type: signature, version: standardWebhooks, secret: <name>}", d.Name)}
	e := newError(http.StatusUnprocessableEntity, "invalid_flow", fe.Error())
	e.Path, e.Errors = fe.Path, []flow.FieldError{fe}
	return e
}

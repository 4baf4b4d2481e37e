package admin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/notify"
)

// pausedBefore is a destination's state before a pause or resume request
// (nil when unknown: then the request notifies as if it changed the
// state).
func (s *destinationsAPI) pausedBefore(ctx context.Context, name string) *destinations.State {
	if s.cfg.Notify == nil || s.cfg.Notify.Global().Destination == "" {
		return nil
	}
	d, err := s.dests().Get(ctx, name)
	if err != nil {
		return nil
	}
	return &d.State
}

// notifyPause emits destination.paused or destination.resumed when a
// request changed the state (pausing a paused destination tells no one),
// at once. The workers emit the same event (its id derives from when the
// pause began) when they next read the state, so it is not lost if this
// process dies before Temporal takes it, and is delivered once.
func (s *destinationsAPI) notifyPause(d *destinations.Destination, was *destinations.State) {
	if s.cfg.Notify == nil {
		return
	}
	if ev, ok := destinations.PauseRequestEvent(d, was); ok {
		s.cfg.Notify.DestinationEvent(ev.Type, d.Name, ev.Since, ev.Data)
	}
}

// checkNotifySigns refuses (422, notify.destination) a flow whose notify
// destination does not sign with Standard Webhooks: receivers of
// notifications verify webhook-signature.
func (s *Management) checkNotifySigns(ctx context.Context, f *flow.Flow) *httpapi.Error {
	if f.Notify == nil || f.Notify.Destination == "" {
		return nil
	}
	d, err := s.dests().Get(ctx, f.Notify.Destination)
	if err != nil {
		return nil // checked for existence just before; a race is the delivery's to report
	}
	if notify.SignsStandardWebhooks(d.Def) {
		return nil
	}
	fe := field.Error{Path: "notify.destination", Message: fmt.Sprintf(
		"destination %q does not sign with Standard Webhooks; notifications need its auth to be {type: signature, version: standardWebhooks, secret: <name>}", d.Name)}
	e := httpapi.NewError(http.StatusUnprocessableEntity, "invalid_flow", fe.Error())
	e.Path, e.Errors = fe.Path, []field.Error{fe}
	return e
}

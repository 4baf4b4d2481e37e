package activities

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/telemetry"
)

// Notifier sends notifications: each event, for each destination that
// takes it (the flow's notify, the global setting), becomes a
// NotifyWorkflow whose id holds the event id, so a retried emit starts
// nothing twice. The workflow delivers it with the Deliver activity on
// the destination's task queue: its rate limit, pause, circuit breaker
// and retry policy apply, and the destination's standardWebhooks auth
// signs it at each attempt (webhook-id is the event id).
//
// Loop guard: an event about a destination is never sent to that
// destination, and notifications emit no events of their own (a
// notification that gives up is a failed NotifyWorkflow, not a
// delivery.gave_up).
type Notifier struct {
	client sdkclient.Client
	global flow.NotifySetting
	dests  DestinationStore
	log    *slog.Logger
	tel    *telemetry.Telemetry
	// retryFor bounds background retries of destination events while
	// Temporal does not take them.
	retryFor time.Duration
	// now and sleep are the retries' clock (time.Now, time.Sleep; tests
	// move a fake one).
	now   func() time.Time
	sleep func(time.Duration)
}

// NewNotifier returns a notifier starting workflows with c (nil: every
// emit does nothing). dests, when set, is read to skip destinations that
// do not exist and warn about ones that do not sign.
func NewNotifier(c sdkclient.Client, global flow.NotifySetting, dests DestinationStore, log *slog.Logger, tel *telemetry.Telemetry) *Notifier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{client: c, global: global, dests: dests, log: log.With("component", "notifications"), tel: tel, retryFor: 10 * time.Minute, now: time.Now, sleep: time.Sleep}
}

// Global is the global notify setting (the zero value when n is nil).
func (n *Notifier) Global() flow.NotifySetting {
	if n == nil {
		return flow.NotifySetting{}
	}
	return n.global
}

// Register registers the emit local activity on a flow worker; a nil
// *Notifier registers one that sends nothing, so runs that emit never
// fail for want of it.
func (n *Notifier) Register(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	if n == nil {
		n = NewNotifier(nil, flow.NotifySetting{}, nil, nil, nil)
	}
	r.RegisterActivityWithOptions(n.Emit, activity.RegisterOptions{Name: contract.EmitNotificationName})
}

// Emit is the local activity a run emits its events with: the flow's own
// notify and the global setting (unless the flow opts out). It returns
// how many destinations took it; an error (Temporal did not answer) is
// retried by the activity's policy, with the same event id.
func (n *Notifier) Emit(ctx context.Context, req contract.EmitRequest) (int, error) {
	return n.emit(ctx, req.Event, req.Flow, "")
}

// NewEventID is a fresh event id (destination events: one worker or one
// API request makes each transition, so a random id is unique; it is kept
// across the retries of its start and delivery).
func NewEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "evt_" + hex.EncodeToString(b)
}

// DestinationEventID is the id of the event typ about destination name
// for the state change that began at since: the same in every process.
func DestinationEventID(name, typ string, since time.Time) string {
	sum := sha256.Sum256([]byte(name + "\x00" + typ + "\x00" + strconv.FormatInt(since.UnixMilli(), 10)))
	return "evt_" + hex.EncodeToString(sum[:16])
}

// DestinationEvent emits an event about destination name (paused,
// resumed, circuit opened or closed) to the global setting: once at once
// (a few milliseconds: one start per destination), then, while Temporal
// does not answer, in the background for a while with the same event id.
// It returns the event id ("" when nothing takes it).
//
// since is when the state change the event reports began (the pause, or
// the open circuit, that is starting or ending): the event id derives
// from it, so every process that sees the change emits the same event and
// Temporal delivers it once (zero: a new id).
func (n *Notifier) DestinationEvent(typ, name string, since time.Time, data map[string]any) string {
	if n == nil || n.client == nil || !n.global.Wants(typ) {
		return ""
	}
	if data == nil {
		data = map[string]any{}
	}
	data["destination"] = name
	id := NewEventID()
	if !since.IsZero() {
		id = DestinationEventID(name, typ, since)
	}
	ev := contract.Notification{ID: id, Type: typ, Timestamp: n.now().UTC(), Data: data}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := n.emit(ctx, ev, nil, name)
	cancel()
	if err == nil {
		return ev.ID
	}
	go func() {
		deadline := n.now().Add(n.retryFor)
		for retry := 1; ; retry++ {
			n.sleep(emitRetryWait(retry))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := n.emit(ctx, ev, nil, name)
			cancel()
			if err == nil {
				return
			}
			if n.now().After(deadline) {
				n.log.Error("notification not handed to Temporal; given up", "event", typ, "eventId", ev.ID, "destination", name, "error", err)
				return
			}
		}
	}()
	return ev.ID
}

// emitRetryWait is the wait before the nth background retry of a
// destination event Temporal did not take: 1 s, doubling, at most 30 s.
func emitRetryWait(retry int) time.Duration {
	wait := time.Second
	for range retry - 1 {
		if wait >= 30*time.Second {
			break
		}
		wait *= 2
	}
	return min(wait, 30*time.Second)
}

// targets are the destinations that take an event, each once.
func (n *Notifier) targets(typ string, fn *flow.Notify, flowEvent bool) []string {
	var out []string
	if fn.Wants(typ) {
		out = append(out, fn.Destination)
	}
	if n.global.Wants(typ) && (!flowEvent || fn.GlobalAllowed()) && (len(out) == 0 || out[0] != n.global.Destination) {
		out = append(out, n.global.Destination)
	}
	return out
}

// Body is a notification as it is sent (Standard Webhooks' payload
// shape): type, timestamp (RFC 3339) and data.
func Body(ev contract.Notification) (json.RawMessage, error) {
	return json.Marshal(struct {
		Type      string         `json:"type"`
		Timestamp string         `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}{ev.Type, ev.Timestamp.UTC().Format(time.RFC3339Nano), ev.Data})
}

// NotifyWorkflowID is the id of the workflow that delivers an event to a
// destination: a second start of it is refused, so duplicates collapse.
func NotifyWorkflowID(destination, eventID string) string {
	return "hookflow-notify:" + destination + ":" + eventID
}

// emit starts the event's NotifyWorkflows; subject is the destination the
// event is about (never sent to it).
func (n *Notifier) emit(ctx context.Context, ev contract.Notification, fn *flow.Notify, subject string) (int, error) {
	if n == nil || n.client == nil {
		return 0, nil
	}
	body, err := Body(ev)
	if err != nil {
		return 0, fmt.Errorf("notification %s: %w", ev.Type, err)
	}
	sent := 0
	var errs []error
	for _, dest := range n.targets(ev.Type, fn, subject == "") {
		if dest == subject {
			// Telling a destination that it is paused or failing would
			// wait behind, or feed, the very state it reports.
			n.tel.Notification(ev.Type, telemetry.NotificationSkipped)
			n.log.Info("notification about the notify destination itself not sent to it", "event", ev.Type, "destination", dest)
			continue
		}
		if !n.destinationReady(ctx, ev, dest) {
			continue
		}
		_, err := n.client.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{
			ID:                    NotifyWorkflowID(dest, ev.ID),
			TaskQueue:             contract.TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
			StaticSummary:         ev.Type + " to " + dest,
		}, contract.NotifyWorkflowName, contract.NotifyInput{Destination: dest, EventID: ev.ID, Type: ev.Type, Body: body})
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		switch {
		case errors.As(err, &started):
			n.tel.Notification(ev.Type, telemetry.NotificationDuplicate)
			sent++
		case err != nil:
			n.tel.Notification(ev.Type, telemetry.NotificationError)
			errs = append(errs, fmt.Errorf("notification %s to %s: %w", ev.Type, dest, err))
		default:
			n.tel.Notification(ev.Type, telemetry.NotificationStarted)
			n.log.Info("notification", "event", ev.Type, "eventId", ev.ID, "destination", dest)
			sent++
		}
	}
	return sent, errors.Join(errs...)
}

// destinationReady reads the destination, when a store is at hand: one
// that does not exist is skipped (logged), one that does not sign with
// Standard Webhooks is warned about and sent to anyway (a notification is
// not dropped for it). A store that does not answer is not a reason to
// skip.
func (n *Notifier) destinationReady(ctx context.Context, ev contract.Notification, dest string) bool {
	if n.dests == nil {
		return true
	}
	d, err := n.dests.Get(ctx, dest)
	switch {
	case errors.Is(err, store.ErrNotFound):
		n.tel.Notification(ev.Type, telemetry.NotificationNoTarget)
		n.log.Error("notification not sent: its destination does not exist", "event", ev.Type, "eventId", ev.ID, "destination", dest)
		return false
	case err == nil && !SignsStandardWebhooks(d.Def):
		n.log.Warn("notify destination does not sign with Standard Webhooks (auth: {type: signature, version: standardWebhooks, secret: ...}); sent unsigned", "destination", dest)
	}
	return true
}

// SignsStandardWebhooks tells whether a destination signs what it sends
// as Standard Webhooks: what receivers of notifications verify.
func SignsStandardWebhooks(d *flow.Destination) bool {
	return d != nil && d.Auth != nil && d.Auth.Type == flow.AuthSignature && d.Auth.Version == flow.SignatureStandardWebhooks
}

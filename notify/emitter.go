package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/telemetry"
)

// Emitter sends notifications: each event, for each destination that
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
type Emitter struct {
	client   sdkclient.Client
	global   flow.NotifySetting
	dests    Destinations
	log      *slog.Logger
	tel      *telemetry.Telemetry
	retryFor time.Duration
	now      func() time.Time
	sleep    func(time.Duration)
}

// Destinations is where notify destinations are read (*destinations.Store).
type Destinations = destinations.Getter

// Config is an Emitter's. Only Client is needed for it to send anything.
type Config struct {
	// Client starts the NotifyWorkflows (nil: every emit does nothing).
	Client sdkclient.Client
	// Global is the global notify setting (--notify, --notify-events).
	Global flow.NotifySetting
	// Destinations, when set, is read to skip destinations that do not
	// exist and warn about ones that do not sign.
	Destinations Destinations
	Log          *slog.Logger
	Telemetry    *telemetry.Telemetry
	// RetryFor bounds background retries of destination events while
	// Temporal does not take them (0: DefaultRetryFor).
	RetryFor time.Duration
	// Now and Sleep are the retries' clock (nil: time.Now, time.Sleep;
	// tests move a fake one).
	Now   func() time.Time
	Sleep func(time.Duration)
}

// DefaultRetryFor is how long a destination event Temporal does not take
// is retried in the background.
const DefaultRetryFor = 10 * time.Minute

// New returns an Emitter as cfg says.
func New(cfg Config) *Emitter {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryFor <= 0 {
		cfg.RetryFor = DefaultRetryFor
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = time.Sleep
	}
	return &Emitter{
		client: cfg.Client, global: cfg.Global, dests: cfg.Destinations,
		log: cfg.Log.With("component", "notifications"), tel: cfg.Telemetry,
		retryFor: cfg.RetryFor, now: cfg.Now, sleep: cfg.Sleep,
	}
}

// Global is the global notify setting (the zero value when n is nil).
func (n *Emitter) Global() flow.NotifySetting {
	if n == nil {
		return flow.NotifySetting{}
	}
	return n.global
}

// Register registers the emit local activity on a flow worker; a nil
// *Emitter registers one that sends nothing, so runs that emit never
// fail for want of it.
func (n *Emitter) Register(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	if n == nil {
		n = New(Config{})
	}
	r.RegisterActivityWithOptions(n.Emit, activity.RegisterOptions{Name: contract.EmitNotificationName})
}

// Emit is the local activity a run emits its events with: the flow's own
// notify and the global setting (unless the flow opts out). It returns
// how many destinations took it; an error (Temporal did not answer) is
// retried by the activity's policy, with the same event id.
func (n *Emitter) Emit(ctx context.Context, req contract.EmitRequest) (int, error) {
	return n.emit(ctx, req.Event, req.Flow, "")
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
func (n *Emitter) DestinationEvent(typ, name string, since time.Time, data map[string]any) string {
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
	go n.retry(ev, name)
	return ev.ID
}

// retry hands a destination event Temporal did not take over again, with
// RetryWait between attempts, until it is taken or retryFor has passed.
func (n *Emitter) retry(ev contract.Notification, subject string) {
	deadline := n.now().Add(n.retryFor)
	for retry := 1; ; retry++ {
		n.sleep(RetryWait(retry))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := n.emit(ctx, ev, nil, subject)
		cancel()
		if err == nil {
			return
		}
		if n.now().After(deadline) {
			n.log.Error("notification not handed to Temporal; given up", "event", ev.Type, "eventId", ev.ID, "destination", subject, "error", err)
			return
		}
	}
}

// emit starts the event's NotifyWorkflows; subject is the destination the
// event is about (never sent to it).
func (n *Emitter) emit(ctx context.Context, ev contract.Notification, fn *flow.Notify, subject string) (int, error) {
	if n == nil || n.client == nil {
		return 0, nil
	}
	body, err := Body(ev)
	if err != nil {
		return 0, fmt.Errorf("notification %s: %w", ev.Type, err)
	}
	sent := 0
	var errs []error
	for _, dest := range Targets(n.global, fn, ev.Type, subject == "") {
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
			ID:                    WorkflowID(dest, ev.ID),
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
func (n *Emitter) destinationReady(ctx context.Context, ev contract.Notification, dest string) bool {
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

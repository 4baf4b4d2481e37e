package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// notifyVersion gates the commands runs emit their events with: runs
// recorded before notifications existed replay on their old path.
const notifyVersion = "notify-events"

// NotifyWorkflow delivers one notification to one destination: the
// Deliver activity on the destination's task queue, scheduled with the
// destination's retry policy and timeouts (so its rate limit, pause and
// circuit breaker apply, and the 72-hour give-up clock). The destination's
// auth, standardWebhooks for notify destinations, signs each attempt with
// webhook-id = the event id; the secret is resolved by the worker, never
// here. It emits no event of its own: a notification that gives up fails
// this workflow, and that is all.
func NotifyWorkflow(ctx workflow.Context, in contract.NotifyInput) error {
	pol, err := resolveDestination(ctx, in.Destination)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrorTypeStepFailed, nil)
	}
	eff := (&flow.HTTP{Method: "POST"}).WithDestination(pol.Retry, pol.Timeouts)
	none := 0
	req := flow.HTTPRequest{
		Method: "POST", Destination: in.Destination, DestinationVersion: pol.Version,
		Body: in.Body, DeliveryID: in.EventID, KeepBody: &none,
	}
	req.ConnectTimeout, req.ResponseTimeout = eff.EffectiveTimeouts()
	ao := ActivityOptionsFor(eff)
	ao.TaskQueue = flow.DestinationTaskQueue(in.Destination)
	ao.Summary = in.Type + " to " + in.Destination
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, ao), contract.DeliverName, req).Get(ctx, nil)
}

// eventID is a run event's id: unique per run and occurrence, the same
// when the emit is retried or replayed.
func eventID(ctx workflow.Context, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(workflow.GetInfo(ctx).WorkflowExecution.RunID))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return "evt_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// emit hands a run's event to the emit local activity, which starts one
// NotifyWorkflow per destination that takes it (the flow's notify, the
// worker's global setting); with neither it does nothing. A failure to
// emit (Temporal unreachable for an hour) is logged, never the run's.
func (r *run) emit(ctx workflow.Context, typ string, data map[string]any, idParts ...string) {
	if workflow.GetVersion(ctx, notifyVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	if r.in.Flow != nil {
		data["flowId"] = r.in.Flow.ID
	}
	info := workflow.GetInfo(ctx)
	data["flowVersion"] = r.in.FlowVersion
	data["executionId"] = info.WorkflowExecution.ID
	data["runId"] = info.WorkflowExecution.RunID
	ev := contract.Notification{ID: eventID(ctx, append([]string{typ}, idParts...)...), Type: typ, Timestamp: now(ctx), Data: data}
	var fn *flow.Notify
	if r.in.Flow != nil {
		fn = r.in.Flow.Notify
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
		Summary:                "notify " + typ,
	})
	if err := workflow.ExecuteLocalActivity(lctx, contract.EmitNotificationName, contract.EmitRequest{Event: ev, Flow: fn}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("notification not emitted", "event", typ, "eventId", ev.ID, "error", err)
	}
}

// notifyRunFailed emits run.failed for a run that ends failed (not one
// cancelled: someone did that on purpose). err is the run's error; the
// context is disconnected, so a run failing on cancellation still emits.
func (r *run) notifyRunFailed(ctx workflow.Context, err error) {
	var ce *temporal.CanceledError
	if err == nil || errors.As(err, &ce) {
		return
	}
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	data := map[string]any{"error": err.Error()}
	var se *stepError
	if errors.As(err, &se) {
		data["stepId"], data["stepPath"] = se.id, se.path
	}
	r.emit(dctx, flow.EventRunFailed, data)
}

// notifyDelivery emits delivery.gave_up (retries ran out: giveUpAfter or
// maximumAttempts) or delivery.failed (the receiver refused it for good:
// not retried) for a delivery whose activity failed; prior counts the
// attempts made before the activity's (a local first attempt). A
// cancelled delivery emits nothing.
func (r *run) notifyDelivery(ctx workflow.Context, s *flow.Step, req *flow.HTTPRequest, prior int32, err error) {
	typ := ""
	// deliveryRetryState (firstattempt.go) also reads a local first
	// attempt's failure, which is no ActivityError.
	switch deliveryRetryState(err) {
	case enumspb.RETRY_STATE_TIMEOUT, enumspb.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED:
		typ = flow.EventDeliveryGaveUp
	case enumspb.RETRY_STATE_NON_RETRYABLE_FAILURE:
		typ = flow.EventDeliveryFailed
	default:
		// No retry state (the SDK's test environment): read the cause.
		var appErr *temporal.ApplicationError
		var te *temporal.TimeoutError
		switch {
		case errors.As(err, &appErr) && appErr.NonRetryable():
			typ = flow.EventDeliveryFailed
		case errors.As(err, &te):
			typ = flow.EventDeliveryGaveUp
		default:
			return
		}
	}
	msg := err.Error()
	if cause := errors.Unwrap(err); cause != nil {
		msg = cause.Error()
	}
	data := map[string]any{"stepId": s.ID, "deliveryId": req.DeliveryID, "method": req.Method, "error": msg}
	var appErr *temporal.ApplicationError
	var f contract.Failure
	if errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&f) == nil {
		data["attempts"] = f.Attempt + prior
		if f.StatusCode != 0 {
			data["statusCode"] = f.StatusCode
		}
	}
	if req.Destination != "" {
		data["destination"], data["path"] = req.Destination, req.URL
		if req.DestinationVersion != 0 {
			data["destinationVersion"] = req.DestinationVersion
		}
	} else {
		data["url"] = withoutQuery(req.URL)
	}
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	r.emit(dctx, typ, data, req.DeliveryID)
}

// withoutQuery is scheme, host and path: templates put trigger data in
// the query, which an operator's channel need not see.
func withoutQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

package workflows

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runHTTP) }

// runHTTP renders the request in workflow code (templates are
// deterministic) and delivers it: a first attempt as a local activity of
// the flow worker when the worker allows it, then (or else) as an activity
// on the webhook task queue, where Temporal's retry policy is the delivery
// guarantee (firstattempt.go).
func runHTTP(ctx workflow.Context, r *run, s *flow.Step, h *flow.HTTP, at position) (map[string]any, error) {
	req, err := h.Render(r.eval, at.env)
	if err != nil {
		return nil, err
	}
	r.Deliveries++
	// Numbered from the chain's first run: ids stay unique and stable
	// across continue-as-new.
	req.DeliveryID = deliveryID(workflow.GetInfo(ctx).FirstRunID, r.Deliveries)
	req.KeepBody = r.keepBody(s.ID, h)
	d := &contract.Delivery{Method: req.Method, URL: req.URL, Body: req.Body, DeliveryID: req.DeliveryID, Destination: req.Destination}
	at.record.Delivery = d

	ao := ActivityOptionsFor(h)
	var pol *contract.DestinationPolicy
	if h.Destination != "" {
		// The destination's retry policy and timeouts as they are now;
		// its URL, auth and headers the worker adds at each attempt.
		pol, err = resolveDestination(ctx, h.Destination)
		if err != nil {
			d.LastError = err.Error()
			return nil, err
		}
		d.DestinationVersion, req.DestinationVersion = pol.Version, pol.Version
		eff := h.WithDestination(pol.Retry, pol.Timeouts)
		req.ConnectTimeout, req.ResponseTimeout = eff.EffectiveTimeouts()
		ao = ActivityOptionsFor(eff)
		ao.TaskQueue = flow.DestinationTaskQueue(h.Destination)
	}
	ao.Summary = summary(req)
	var plan *sendPlan
	if r.in.Engine >= contract.EngineTaskBudget {
		// taskbudget.go: a request Temporal cannot record fails the step;
		// a send waits for a workflow task with room for it (and stops
		// there, unmade, when the run hands over meanwhile).
		if plan, err = r.planSend(ctx, req, pol); err != nil {
			var ss *suspendStep
			if !errors.As(err, &ss) {
				d.LastError = err.Error()
			}
			return nil, err
		}
	}
	var res contract.Result
	// firstattempt.go: a local first attempt, handed over to ao's queue
	// when it fails; prior counts the attempts made before the activity's.
	prior, err := r.deliver(ctx, req, pol, ao, plan, &res)
	if err != nil {
		// The delivery failed for good (or was cancelled): the one place.
		r.notifyDelivery(ctx, s, req, prior, err) // notify.go: delivery.gave_up, delivery.failed
		var df *deliveryFailure
		if errors.As(err, &df) && df.state == enumspb.RETRY_STATE_TIMEOUT {
			d.Attempts, d.LastError = 1, "gave up: "+df.Error()
			var f contract.Failure
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.Type() == contract.ErrDestinationParked {
				d.Attempts = 0 // the destination's gate refused it: nothing was sent
			}
			if errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(&f) == nil {
				d.StatusCode = f.StatusCode
			}
			return nil, fmt.Errorf("delivery %s %s gave up after %s: %v", req.Method, req.URL, ao.ScheduleToCloseTimeout, df.err)
		}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) {
			var f contract.Failure
			if appErr.HasDetails() && appErr.Details(&f) == nil {
				d.StatusCode, d.Attempts = f.StatusCode, f.Attempt+prior
				if f.DestinationVersion != 0 {
					d.DestinationVersion = f.DestinationVersion
				}
			}
			d.LastError = appErr.Error()
			return nil, fmt.Errorf("delivery %s %s failed: %s", req.Method, req.URL, appErr.Error())
		}
		var te *temporal.TimeoutError
		if errors.As(err, &te) {
			d.LastError = "gave up: " + te.Error()
			return nil, fmt.Errorf("delivery %s %s gave up after %s: %v", req.Method, req.URL, ao.ScheduleToCloseTimeout, te)
		}
		d.LastError = err.Error()
		return nil, err
	}
	d.StatusCode, d.Attempts = res.StatusCode, res.Attempt+prior
	if res.URL != "" {
		d.URL, d.DestinationVersion = res.URL, res.DestinationVersion
	}
	out := map[string]any{"statusCode": res.StatusCode, "headers": res.Headers, "body": res.Body}
	for _, k := range flow.SortedKeys(res.Outputs) {
		out[k] = res.Outputs[k]
	}
	return out, nil
}

// ActivityOptionsFor is how a delivery is scheduled: the step's retry policy
// (defaults: first retry after 1m, x2, at most 8h apart, given up after 72h)
// and per-attempt timeouts.
func ActivityOptionsFor(h *flow.HTTP) workflow.ActivityOptions {
	rp := h.EffectiveRetry()
	connect, response := h.EffectiveTimeouts()
	return workflow.ActivityOptions{
		TaskQueue:              contract.WebhookTaskQueue,
		ScheduleToCloseTimeout: rp.GiveUpAfter.Std(),
		// One attempt: connecting, then the whole response, plus margin
		// for the worker's own work.
		StartToCloseTimeout: connect + response + 5*time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    rp.InitialInterval.Std(),
			BackoffCoefficient: rp.BackoffCoefficient,
			MaximumInterval:    rp.MaximumInterval.Std(),
			MaximumAttempts:    int32(rp.MaximumAttempts),
		},
	}
}

// keepBody is how much of the response the activity returns into history:
// the step's setting, else the worker's limit when an expression may read
// the body or headers, else none.
func (r *run) keepBody(id string, h *flow.HTTP) *int {
	if h.KeepResponseBytes != nil {
		return h.KeepResponseBytes
	}
	if r.readsBody == nil {
		r.readsBody = map[string]bool{}
	}
	reads, ok := r.readsBody[id]
	if !ok {
		reads = r.in.Flow.ReadsResponse(id)
		r.readsBody[id] = reads
	}
	if reads {
		return nil
	}
	none := 0
	return &none
}

// deliveryID is stable across the retries of one delivery (it is part of
// the activity's input) and unique per delivery of a run.
func deliveryID(runID string, n int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", runID, n)))
	return "dlv_" + hex.EncodeToString(sum[:16])
}

// resolveDestination reads a destination's version, retry policy and
// timeouts (a local activity: the flow worker reads the flow store; the
// answer is recorded, so replay is deterministic).
func resolveDestination(ctx workflow.Context, name string) (*contract.DestinationPolicy, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
		Summary:                "resolve destination " + name,
	})
	var pol contract.DestinationPolicy
	if err := workflow.ExecuteLocalActivity(lctx, contract.ResolveDestinationName, name).Get(ctx, &pol); err != nil {
		var ae *temporal.ApplicationError
		if errors.As(err, &ae) {
			return nil, fmt.Errorf("destination %s: %s", name, ae.Message())
		}
		return nil, fmt.Errorf("destination %s: %w", name, err)
	}
	return &pol, nil
}

// summary is what the Web UI shows for the activity: method, host and path.
func summary(req *flow.HTTPRequest) string {
	if req.Destination != "" {
		return req.Method + " " + req.Destination + ": " + req.URL
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		return req.Method
	}
	return req.Method + " " + u.Host + u.Path
}

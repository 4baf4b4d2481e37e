package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/telemetry"
)

// HeaderFlowKey names, in the answer to a flow-controlled trigger, the key
// the event was queued or gathered under (as in its coordinator's or
// gather workflow's id: a key longer than 200 characters or holding
// control characters as sha256:<hex>).
const HeaderFlowKey = "Hookflow-Flow-Key"

// gatherAttempts bounds the hand-overs of one event: a gather workflow
// that completes (idle) or continues as new between the start and the
// update makes Temporal abort the update; the next attempt finds or starts
// the key's next workflow.
const gatherAttempts = 3

// gather hands an event of a debounced or batched flow to its key's gather
// workflow (Update-With-Start: the workflow is started when the key has
// none) and answers the trigger's configured response once the event is in
// the workflow's history. No run exists yet, so no execution id is
// answered. The update id is the event id (and, when the caller named it,
// the payload's digest): a retried delivery while the update is known
// attaches to it; the workflow dedupes the rest, and refuses the id reused
// for another payload (422, as for a single run).
func (s *Public) gather(c *gin.Context, ctx context.Context, entry *flow.Entry, eventID string, data map[string]any) {
	f := entry.Flow
	key, err := f.Trigger.FlowControl.RenderKey(data)
	if err != nil {
		s.Log.Info("the flow-control key did not render: the event joins the flow's empty key", "flow", f.ID, "error", err)
		key = ""
	}
	id := contract.GatherID(f.ID, key)
	// The hand-over must not depend on the caller staying connected.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
	defer cancel()
	opts := sdkclient.StartWorkflowOptions{
		ID:        id,
		TaskQueue: contract.KeyTaskQueue,
		// One gather workflow per key: join the running one, start a new
		// one after an idle one completed.
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			contract.SearchAttrFlowID.ValueSet(f.ID),
			contract.SearchAttrFlowKey.ValueSet(contract.KeyForm(key)),
		),
		StaticSummary: fmt.Sprintf("%s: %s", f.ID, f.Trigger.FlowControl.FlowControlSummary()),
		StaticDetails: fmt.Sprintf("hookflow gathers the events of flow `%s` for key `%s` (%s); query %s for what is pending", f.ID, contract.KeyForm(key), f.Trigger.FlowControl.Kind(), contract.QueryGather),
	}
	ev := contract.GatherEvent{EventID: eventID, Trigger: data, Flow: f.Snapshot(), FlowVersion: entry.Version, PublicURL: s.cfg.PublicURL}
	updateID := eventID
	keyPath := idempotencyKeyPath(c, &f.Trigger)
	if keyPath != "" {
		// The event id came from the request: the same payload again is
		// the same update (Temporal answers it as the first time); another
		// payload is another update, which the workflow's validator
		// refuses if it knows the id.
		ev.Digest = triggerDigest(data)
		updateID += "/" + ev.Digest
	}
	for attempt := 1; ; attempt++ {
		op := s.Temporal.NewWithStartWorkflowOperation(opts, contract.GatherWorkflowName, contract.GatherStart{FlowID: f.ID, Key: key})
		var handle sdkclient.WorkflowUpdateHandle
		handle, err = s.Temporal.UpdateWithStartWorkflow(ctx, sdkclient.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op,
			UpdateOptions: sdkclient.UpdateWorkflowOptions{
				UpdateID:     updateID,
				UpdateName:   contract.UpdateGather,
				Args:         []any{ev},
				WaitForStage: sdkclient.WorkflowUpdateStageCompleted,
			},
		})
		var acc contract.GatherAccepted
		if err == nil {
			err = handle.Get(ctx, &acc)
		}
		if err == nil || !gatherClosed(err) || attempt == gatherAttempts {
			break
		}
		s.Log.Info("the key's gather workflow closed before taking the event; handing it over again", "flow", f.ID, "gatherId", id, "attempt", attempt, "error", err)
	}
	if isKeyReusedRejection(err) {
		e := httpapi.NewError(http.StatusUnprocessableEntity, "idempotency_key_reused",
			"the idempotency key in "+keyPath+" was already used by an event of this flow's key with a different payload; resend that payload, or use a new key for a new event")
		e.Path = keyPath
		httpapi.Fail(c, e)
		return
	}
	if err != nil {
		httpapi.Fail(c, s.startError(f, id, err))
		return
	}
	c.Header(HeaderFlowKey, contract.KeyForm(key))
	c.Set(outcomeKey, telemetry.TriggerAccepted)
	writeConfigured(c, f.Trigger.Response)
}

// gatherClosed tells whether an update failed because the gather workflow
// closed (completed when idle, or continued as new) before taking it.
// Temporal's history service retries such an Update-With-Start once
// itself, then answers Aborted (service/history/api/multioperation:
// "workflow update was aborted by closing workflow"); without that retry
// enabled, the same message comes as NotFound. A plain update to a
// workflow that just completed is NotFound "workflow execution already
// completed". (An update in flight when the workflow continues as new is
// aborted as Unavailable, which the SDK retries itself.)
func gatherClosed(err error) bool {
	var aborted *serviceerror.Aborted
	var notFound *serviceerror.NotFound
	return errors.As(err, &aborted) || errors.As(err, &notFound)
}

// idempotencyKeyPath is where the request's event id came from, as
// eventIDFrom found it; "" when it was generated (a fresh id is never
// reused).
func idempotencyKeyPath(c *gin.Context, tr *trigger.Trigger) string {
	switch src := tr.IdempotencyKey; {
	case src != nil && src.Header != "":
		return "headers." + src.Header
	case src != nil && src.Body != "":
		return "body." + src.Body
	case c.GetHeader(HeaderIdempotencyKey) != "":
		return "headers." + HeaderIdempotencyKey
	}
	return ""
}

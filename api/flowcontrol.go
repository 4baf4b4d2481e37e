package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/flowcontrol"
	"github.com/hookflow/hookflow/telemetry"
)

// keyFullRetryAfter is the Retry-After, in seconds, of a 429 for a key
// whose queue is full: it drains at the flow's own pace.
const keyFullRetryAfter = "30"

// admission is an event queued at its key before its run starts.
type admission struct {
	start contract.CoordinatorStart
	adm   contract.Admission
}

// admit queues the run id at its key's coordinator (starting it if need
// be), in arrival order, before the run is started: a full queue refuses
// the event (429) with nothing started. The run itself reports ready once
// it exists (workflows/permit.go).
func (s *Public) admit(ctx context.Context, f *flow.Flow, runID string, data map[string]any) (*admission, *httpapi.Error) {
	fc := f.Trigger.FlowControl
	key, err := fc.RenderKey(data)
	if err != nil {
		s.Log.Info("flow-control key did not render on a request; the flow's empty key", "flow", f.ID, "error", err)
	}
	a := &admission{start: contract.CoordinatorStart{FlowID: f.ID, Key: key, Rules: flowcontrol.RulesOf(fc)}}
	msg := contract.ReadyMsg{ID: runID, Rules: a.start.Rules}
	// The admission is retried while the coordinator cannot take it yet:
	// it completed (idle) or continues as new between the request and the
	// update, has its most updates in flight (history.maxInFlightUpdates),
	// or the task holding the update failed (a signal raced its close).
	// Each of these leaves no admission behind; the update id (the run id)
	// and the queue's own dedupe make a retry of a taken one harmless.
	backoff := 10 * time.Millisecond
	for {
		op := s.Temporal.NewWithStartWorkflowOperation(flowcontrol.CoordinatorStartOptions(f.ID, key), contract.CoordinatorWorkflowName,
			flowcontrol.CoordinatorInput{CoordinatorStart: a.start})
		var h sdkclient.WorkflowUpdateHandle
		h, err = s.Temporal.UpdateWithStartWorkflow(ctx, sdkclient.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op,
			UpdateOptions: sdkclient.UpdateWorkflowOptions{
				UpdateID:     runID,
				UpdateName:   contract.UpdateAdmit,
				Args:         []any{msg},
				WaitForStage: sdkclient.WorkflowUpdateStageCompleted,
			},
		})
		if err == nil {
			err = h.Get(ctx, &a.adm)
		}
		if err == nil || !admissionRetryable(err) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
			backoff = min(2*backoff, 500*time.Millisecond)
			continue
		}
		break
	}
	var ae *temporal.ApplicationError
	switch {
	case err == nil:
		return a, nil
	case errors.As(err, &ae) && ae.Type() == contract.ErrorTypeKeyFull:
		e := httpapi.NewError(http.StatusTooManyRequests, "key_queue_full",
			fmt.Sprintf("key %q of this flow has %d events waiting, its most (trigger.flowControl.maxWaiting); nothing was started: retry later", key, fc.EffectiveMaxWaiting()))
		e.Path = "trigger.flowControl.key"
		e.RetryAfter = keyFullRetryAfter
		return nil, e
	}
	return nil, s.startError(f, runID, err)
}

// admissionRetryable tells the coordinator's passing states apart from
// real failures (see admit).
func admissionRetryable(err error) bool {
	var (
		nf  *serviceerror.NotFound
		re  *serviceerror.ResourceExhausted
		un  *serviceerror.Unavailable
		wnr *serviceerror.WorkflowNotReady
	)
	return errors.As(err, &nf) || errors.As(err, &re) || errors.As(err, &un) || errors.As(err, &wnr)
}

// HeaderRunningExecutionID names the execution holding a singleton's key
// on the answer to an event it skipped.
const HeaderRunningExecutionID = "Hookflow-Running-Execution-Id"

// singletonSkipped answers an event a singleton turned away at its
// admission, with nothing started: a sync caller gets 409
// already_running; an async caller the trigger's usual answer (the event
// was taken, and deliberately not run: a sender would retry a 409).
func (s *Public) singletonSkipped(c *gin.Context, f *flow.Flow, a *admission) {
	c.Header(HeaderRunningExecutionID, a.adm.By)
	c.Set(outcomeKey, telemetry.TriggerSkipped)
	if f.Trigger.EffectiveMode() == trigger.ModeSync {
		writeResponse(c, http.StatusConflict, nil, map[string]any{
			"error": "already_running", "detail": "this event's key is taken: " + a.adm.Reason, "runningExecutionId": a.adm.By})
		return
	}
	writeConfigured(c, f.Trigger.Response)
}

// withdraw takes an admitted run that will not start (its start failed, or
// found a closed run of the same event) out of its key's queue. Best
// effort: the coordinator finds such a run absent after
// flowcontrol.ReadyGrace anyway.
func (s *Public) withdraw(ctx context.Context, a *admission, runID string) {
	if a == nil || a.adm.Known || a.adm.Done {
		return
	}
	err := s.Temporal.SignalWorkflow(ctx, contract.CoordinatorID(a.start.FlowID, a.start.Key), "", contract.SignalWithdraw,
		contract.ReadyMsg{ID: runID})
	if err != nil {
		s.Log.Info("withdraw from a flow-control key; the coordinator will find the run absent", "flow", a.start.FlowID, "executionId", runID, "error", err)
	}
}

package recovery

import (
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/contract"
)

// eventKind is what the resume rule sees of a history event.
type eventKind int

const (
	taskCompleted         eventKind = iota + 1 // a workflow task completed
	activityScheduled                          // Task scheduled it; Delivery if it is one
	activityCompleted                          // of the activity scheduled at Scheduled
	activityFailed                             // failed or timed out; of Scheduled
	firstAttemptDelivered                      // a delivery's first attempt that delivered, or was cancelled in flight
	firstAttemptRefused                        // a first attempt refused for good (a 4xx), run by Task
	childStarted                               // a child run initiated
)

// event is a history event reduced to what the resume rule needs.
type event struct {
	ID        int64
	Kind      eventKind
	Task      int64 // activityScheduled, firstAttemptRefused: the workflow task that scheduled or ran it
	Scheduled int64 // activityCompleted, activityFailed: the activity's scheduled event
	Delivery  bool  // activityScheduled: a delivery
}

// reduce is ev as the resume rule sees it; false for an event it ignores.
// A delivery's first attempt runs locally in the flow worker: its marker
// is recorded when the workflow task that ran it completed.
func reduce(dc converter.DataConverter, ev *historypb.HistoryEvent) (event, bool) {
	e := event{ID: ev.GetEventId()}
	switch {
	case ev.GetWorkflowTaskCompletedEventAttributes() != nil:
		e.Kind = taskCompleted
	case ev.GetActivityTaskScheduledEventAttributes() != nil:
		a := ev.GetActivityTaskScheduledEventAttributes()
		e.Kind, e.Task, e.Delivery = activityScheduled, a.GetWorkflowTaskCompletedEventId(), a.GetActivityType().GetName() == contract.DeliverName
	case ev.GetActivityTaskCompletedEventAttributes() != nil:
		e.Kind, e.Scheduled = activityCompleted, ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()
	case ev.GetActivityTaskFailedEventAttributes() != nil:
		e.Kind, e.Scheduled = activityFailed, ev.GetActivityTaskFailedEventAttributes().GetScheduledEventId()
	case ev.GetActivityTaskTimedOutEventAttributes() != nil:
		e.Kind, e.Scheduled = activityFailed, ev.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId()
	case ev.GetMarkerRecordedEventAttributes() != nil:
		m := ev.GetMarkerRecordedEventAttributes()
		_, failed, ok := contract.FirstAttemptOf(dc, m)
		switch {
		case !ok:
			return e, false
		case failed && m.GetFailure().GetApplicationFailureInfo().GetNonRetryable():
			// Refused for good: the delivery ended here. Any other
			// failure was handed over to an activity.
			e.Kind, e.Task = firstAttemptRefused, m.GetWorkflowTaskCompletedEventId()
		case !failed, m.GetFailure().GetCanceledFailureInfo() != nil:
			// Delivered, or cancelled while in flight (a branch beside it
			// failed): it may have been delivered.
			e.Kind = firstAttemptDelivered
		default:
			return e, false
		}
	case ev.GetStartChildWorkflowExecutionInitiatedEventAttributes() != nil:
		e.Kind = childStarted
	default:
		return e, false
	}
	return e, true
}

// resumePointOf is the resume rule: the workflow task to reset execution id
// to, from its status and its history's events in order, and a note for the
// caller. For a failed run, the task that scheduled the last delivery that
// failed or timed out; for a run stopped from outside (terminated, timed
// out, canceled), its last completed task. A run that failed in its own
// logic (an expression, an end step) would fail the same way again, and one
// that stopped before its first task has nothing to keep: refused. So is a
// point after which deliveries that succeeded would be sent again or child
// runs started again, unless allowResend.
func resumePointOf(id string, status enumspb.WorkflowExecutionStatus, events []event, allowResend bool) (int64, string, error) {
	scheduledBy := map[int64]int64{} // activity scheduled event -> its workflow task
	delivery := map[int64]bool{}     // scheduled events of deliveries
	var lastTask, failedTask int64
	var failedDelivery bool
	var delivered []int64 // deliveries that succeeded: scheduled events, first attempts' markers
	var children []int64  // events that started child runs
	for _, e := range events {
		switch e.Kind {
		case taskCompleted:
			lastTask = e.ID
		case activityScheduled:
			scheduledBy[e.ID], delivery[e.ID] = e.Task, e.Delivery
		case activityCompleted:
			if delivery[e.Scheduled] {
				delivered = append(delivered, e.Scheduled)
			}
		case activityFailed:
			failedTask, failedDelivery = scheduledBy[e.Scheduled], true
		case firstAttemptRefused:
			failedTask, failedDelivery = e.Task, true
		case firstAttemptDelivered:
			delivered = append(delivered, e.ID)
		case childStarted:
			children = append(children, e.ID)
		}
	}
	point, note := lastTask, "continues from where the run was stopped"
	switch {
	case status == enumspb.WORKFLOW_EXECUTION_STATUS_FAILED && failedDelivery && failedTask > 0:
		point, note = failedTask, "continues from the step whose delivery failed; it is sent again with the same Idempotency-Key"
	case status == enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return 0, "", recoveryError(ErrNotResumable, ErrTypeNotResumable,
			"%s failed in its own logic (no delivery failed): resuming would fail the same way; fix the flow and rerun it on the current version", id)
	case lastTask == 0:
		return 0, "", recoveryError(ErrNotResumable, ErrTypeNotResumable, "%s stopped before its first step ran: rerun it", id)
	}
	// Everything after the reset point runs again: deliveries that
	// succeeded there (side by side with the failed one) would be sent
	// again, child runs begun there started again.
	resent, restarted := 0, 0
	for _, s := range delivered {
		if s > point {
			resent++
		}
	}
	for _, c := range children {
		if c > point {
			restarted++
		}
	}
	if resent+restarted > 0 {
		if !allowResend {
			return 0, "", recoveryError(ErrNotResumable, ErrTypeNotResumable,
				"resuming %s would send again %d delivery(s) that succeeded beside the failed one (with their same Idempotency-Key) and start again %d child run(s): pass allowResend to accept, or redeliver the failed send alone",
				id, resent, restarted)
		}
		note += fmt.Sprintf("; %d delivery(s) that succeeded beside it are sent again with their same Idempotency-Key, %d child run(s) start again (allowResend)", resent, restarted)
	}
	return point, note, nil
}

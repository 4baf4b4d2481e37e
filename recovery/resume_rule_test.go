package recovery

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/hookflow/hookflow/contract"
)

func TestTheResumeRuleChoosesItsResetPointFromTheHistory(t *testing.T) {
	const (
		failed     = enumspb.WORKFLOW_EXECUTION_STATUS_FAILED
		terminated = enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
	)
	task := func(id int64) event { return event{ID: id, Kind: taskCompleted} }
	deliver := func(id, task int64) event { return event{ID: id, Kind: activityScheduled, Task: task, Delivery: true} }
	for _, tc := range []struct {
		name        string
		status      enumspb.WorkflowExecutionStatus
		events      []event
		allowResend bool
		point       int64
		note        string // a part of the note, or of the refusal
		refused     bool
	}{{
		name:   "a failed delivery activity resumes from the task that scheduled it",
		status: failed,
		events: []event{task(4), deliver(5, 4), {ID: 7, Kind: activityFailed, Scheduled: 5}, task(10)},
		point:  4, note: "continues from the step whose delivery failed",
	}, {
		name:   "a timed out delivery on a later step resumes from that step, keeping what was delivered before it",
		status: failed,
		events: []event{task(4), deliver(5, 4), {ID: 7, Kind: activityCompleted, Scheduled: 5}, task(10), deliver(11, 10), {ID: 13, Kind: activityFailed, Scheduled: 11}},
		point:  10, note: "continues from the step whose delivery failed; it is sent again",
	}, {
		name:   "a first attempt refused for good (a 4xx) resumes from the task that ran it",
		status: failed,
		events: []event{task(4), task(8), {ID: 9, Kind: firstAttemptRefused, Task: 8}, task(12)},
		point:  8, note: "continues from the step whose delivery failed",
	}, {
		name:    "a delivery that succeeded beside the failed one refuses the resume without allowResend",
		status:  failed,
		events:  []event{task(4), deliver(5, 4), deliver(6, 4), {ID: 8, Kind: activityCompleted, Scheduled: 6}, {ID: 9, Kind: activityFailed, Scheduled: 5}},
		refused: true, note: "would send again 1 delivery(s) that succeeded beside the failed one (with their same Idempotency-Key) and start again 0 child run(s): pass allowResend",
	}, {
		name:        "with allowResend the delivery beside the failed one is sent again, and the note says so",
		status:      failed,
		events:      []event{task(4), deliver(5, 4), deliver(6, 4), {ID: 8, Kind: activityCompleted, Scheduled: 6}, {ID: 9, Kind: activityFailed, Scheduled: 5}},
		allowResend: true,
		point:       4, note: "; 1 delivery(s) that succeeded beside it are sent again with their same Idempotency-Key, 0 child run(s) start again (allowResend)",
	}, {
		name:    "a first attempt delivered beside a refused one refuses the resume without allowResend",
		status:  failed,
		events:  []event{task(4), {ID: 5, Kind: firstAttemptDelivered}, {ID: 6, Kind: firstAttemptRefused, Task: 4}},
		refused: true, note: "would send again 1 delivery(s)",
	}, {
		name:    "a child run started after the reset point refuses the resume without allowResend",
		status:  terminated,
		events:  []event{task(4), {ID: 5, Kind: childStarted}},
		refused: true, note: "start again 1 child run(s)",
	}, {
		name:   "a terminated run continues from its last task",
		status: terminated,
		events: []event{task(4), deliver(5, 4), {ID: 7, Kind: activityCompleted, Scheduled: 5}, task(10)},
		point:  10, note: "continues from where the run was stopped",
	}, {
		name:    "a run that failed in its own logic is refused: it would fail the same way",
		status:  failed,
		events:  []event{task(4), deliver(5, 4), {ID: 7, Kind: activityCompleted, Scheduled: 5}, task(10)},
		refused: true, note: "f:e1 failed in its own logic (no delivery failed)",
	}, {
		name:    "a run stopped before its first step is refused: there is nothing to keep",
		status:  terminated,
		events:  nil,
		refused: true, note: "f:e1 stopped before its first step ran: rerun it",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			point, note, err := resumePointOf("f:e1", tc.status, tc.events, tc.allowResend)
			if tc.refused {
				require.True(t, errors.Is(err, ErrNotResumable), "got %v", err)
				require.Contains(t, err.Error(), tc.note)
				var re *RecoveryError
				require.True(t, errors.As(err, &re))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.point, point)
			require.Contains(t, note, tc.note)
		})
	}
}

// TestAFirstAttemptsMarkerCountsForTheResumeOnlyWhenItEndedTheDelivery:
// a retryable failure was handed over to an activity, which its own events
// tell; a 4xx ended the delivery; a cancelled one may have been delivered.
func TestAFirstAttemptsMarkerCountsForTheResumeOnlyWhenItEndedTheDelivery(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	marker := func(activityType string, f *failurepb.Failure) *historypb.HistoryEvent {
		data, err := dc.ToPayloads(map[string]string{"activityType": activityType})
		require.NoError(t, err)
		return &historypb.HistoryEvent{EventId: 9, Attributes: &historypb.HistoryEvent_MarkerRecordedEventAttributes{
			MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{
				MarkerName: contract.LocalActivityMarker, WorkflowTaskCompletedEventId: 8,
				Details: map[string]*commonpb.Payloads{"data": data}, Failure: f,
			}}}
	}
	app := func(nonRetryable bool) *failurepb.Failure {
		return &failurepb.Failure{Message: "HTTP 4xx or 5xx", FailureInfo: &failurepb.Failure_ApplicationFailureInfo{ApplicationFailureInfo: &failurepb.ApplicationFailureInfo{NonRetryable: nonRetryable}}}
	}
	cancelled := &failurepb.Failure{Message: "canceled", FailureInfo: &failurepb.Failure_CanceledFailureInfo{CanceledFailureInfo: &failurepb.CanceledFailureInfo{}}}

	got, ok := reduce(dc, marker(contract.DeliverFirstName, app(true)))
	require.True(t, ok)
	require.Equal(t, event{ID: 9, Kind: firstAttemptRefused, Task: 8}, got, "refused for good: the delivery ended in the task that ran it")

	_, ok = reduce(dc, marker(contract.DeliverFirstName, app(false)))
	require.False(t, ok, "a retryable failure was handed over to an activity")

	got, ok = reduce(dc, marker(contract.DeliverFirstName, cancelled))
	require.True(t, ok)
	require.Equal(t, firstAttemptDelivered, got.Kind, "cancelled in flight: it may have been delivered")

	got, ok = reduce(dc, marker(contract.DeliverFirstName, nil))
	require.True(t, ok)
	require.Equal(t, firstAttemptDelivered, got.Kind)

	_, ok = reduce(dc, marker("some.other.lookup", app(true)))
	require.False(t, ok, "another local activity's marker is not a delivery")
}

package recovery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// TestARedeliverySendsTheRequestAndScheduleHistoryRecordedForItsDelivery:
// a delivery activity's scheduled event and a local first attempt's marker
// both give the request (its response kept by nothing) and the schedule.
func TestARedeliverySendsTheRequestAndScheduleHistoryRecordedForItsDelivery(t *testing.T) {
	dc := converter.GetDefaultDataConverter()
	keep := 4096
	req := flow.HTTPRequest{Method: "POST", URL: "http://127.0.0.1:1/hook", DeliveryID: "d1", KeepBody: &keep, Outputs: map[string]string{"id": "body.id"}}
	input, err := dc.ToPayloads(req)
	require.NoError(t, err)
	scheduled := &historypb.HistoryEvent{EventId: 5, Attributes: &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{
		ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
			ActivityType: &commonpb.ActivityType{Name: contract.DeliverName}, Input: input,
			ScheduleToCloseTimeout: durationpb.New(time.Hour), StartToCloseTimeout: durationpb.New(30 * time.Second),
			RetryPolicy: &commonpb.RetryPolicy{InitialInterval: durationpb.New(time.Second), BackoffCoefficient: 2, MaximumAttempts: 5},
		}}}

	in, found, err := SendIn(dc, "f:e1", "d1", scheduled)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "f:e1", in.ExecutionID)
	require.Equal(t, "d1", in.Request.DeliveryID)
	require.Equal(t, 0, *in.Request.KeepBody, "nothing reads a redelivery's response")
	require.Nil(t, in.Request.Outputs)
	require.Equal(t, time.Hour, in.ScheduleToCloseTimeout)
	require.Equal(t, 30*time.Second, in.StartToCloseTimeout)
	require.Equal(t, int32(5), in.RetryPolicy.MaximumAttempts)
	require.Equal(t, time.Second, in.RetryPolicy.InitialInterval)

	_, found, err = SendIn(dc, "f:e1", "d2", scheduled)
	require.NoError(t, err)
	require.False(t, found, "another delivery's send")

	fa := contract.FirstAttempt{Request: req, Schedule: contract.Schedule{ScheduleToClose: time.Minute, StartToClose: 10 * time.Second, MaximumAttempts: 3}}
	data, err := dc.ToPayloads(map[string]string{"activityType": contract.DeliverFirstName})
	require.NoError(t, err)
	result, err := dc.ToPayloads(contract.Result{StatusCode: 200, FirstAttempt: &fa})
	require.NoError(t, err)
	marker := &historypb.HistoryEvent{EventId: 9, Attributes: &historypb.HistoryEvent_MarkerRecordedEventAttributes{
		MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{
			MarkerName: contract.LocalActivityMarker, WorkflowTaskCompletedEventId: 8,
			Details: map[string]*commonpb.Payloads{"data": data, "result": result},
		}}}
	in, found, err = SendIn(dc, "f:e1", "d1", marker)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, time.Minute, in.ScheduleToCloseTimeout)
	require.Equal(t, int32(3), in.RetryPolicy.MaximumAttempts)
	require.Equal(t, 0, *in.Request.KeepBody)

	undecodable := &historypb.HistoryEvent{EventId: 5, Attributes: &historypb.HistoryEvent_ActivityTaskScheduledEventAttributes{
		ActivityTaskScheduledEventAttributes: &historypb.ActivityTaskScheduledEventAttributes{
			ActivityType: &commonpb.ActivityType{Name: contract.DeliverName},
			Input:        &commonpb.Payloads{Payloads: []*commonpb.Payload{{Metadata: map[string][]byte{converter.MetadataEncoding: []byte("binary/encrypted")}, Data: []byte("sealed")}}},
		}}}
	_, _, err = SendIn(dc, "f:e1", "d1", undecodable)
	require.ErrorContains(t, err, "decode a delivery's input", "payloads this converter cannot read are an error, not a missing delivery")
}

package recovery

import (
	"bytes"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// SendIn reads one event of execution id's history for the send of
// delivery dlv, to redeliver it: the ActivityTaskScheduled event of the
// delivery activity whose input has this delivery id, or the marker of a
// first attempt that ran locally in the flow worker (it holds the request
// and the schedule). Payloads are decoded with dc (they may be encrypted);
// an error is one dc cannot decode. The request's auth names secrets only.
func SendIn(dc converter.DataConverter, id, dlv string, ev *historypb.HistoryEvent) (in contract.RedeliverInput, found bool, err error) {
	fa, _, ok, err := contract.FirstAttemptOrError(dc, ev.GetMarkerRecordedEventAttributes())
	if err != nil {
		return in, false, fmt.Errorf("decode a local first attempt's marker: %w", err)
	}
	if ok && fa != nil && fa.Request.DeliveryID == dlv {
		return firstAttemptRedeliverInput(id, dlv, fa), true, nil
	}
	a := ev.GetActivityTaskScheduledEventAttributes()
	if a == nil || a.GetActivityType().GetName() != contract.DeliverName || !mayHold(a.GetInput(), dlv) {
		return in, false, nil
	}
	var req flow.HTTPRequest
	if err := dc.FromPayloads(a.GetInput(), &req); err != nil {
		return in, false, fmt.Errorf("decode a delivery's input: %w", err)
	}
	if req.DeliveryID != dlv {
		return in, false, nil
	}
	return redeliverInput(id, dlv, req, a), true, nil
}

// mayHold tells whether a delivery input may be the one with this id:
// plain JSON that does not contain it cannot (saves decoding every
// delivery of a long run); anything else (encrypted) is decoded to tell.
func mayHold(in *commonpb.Payloads, dlv string) bool {
	for _, p := range in.GetPayloads() {
		if string(p.GetMetadata()[converter.MetadataEncoding]) == converter.MetadataEncodingJSON && !bytes.Contains(p.GetData(), []byte(dlv)) {
			return false
		}
	}
	return true
}

// redeliverInput is the send to repeat, with the run's schedule for it: a
// redelivery retries as the step did.
func redeliverInput(id, dlv string, req flow.HTTPRequest, a *historypb.ActivityTaskScheduledEventAttributes) contract.RedeliverInput {
	// Nothing reads a redelivery's response: keep none of it in history,
	// and do not fail a delivered send for an output it lacks.
	none := 0
	req.KeepBody, req.Outputs = &none, nil
	in := contract.RedeliverInput{
		ExecutionID: id, DeliveryID: dlv, Request: req,
		ScheduleToCloseTimeout: a.GetScheduleToCloseTimeout().AsDuration(),
		StartToCloseTimeout:    a.GetStartToCloseTimeout().AsDuration(),
	}
	if rp := a.GetRetryPolicy(); rp != nil {
		in.RetryPolicy = &temporal.RetryPolicy{
			InitialInterval:        rp.GetInitialInterval().AsDuration(),
			BackoffCoefficient:     rp.GetBackoffCoefficient(),
			MaximumInterval:        rp.GetMaximumInterval().AsDuration(),
			MaximumAttempts:        rp.GetMaximumAttempts(),
			NonRetryableErrorTypes: rp.GetNonRetryableErrorTypes(),
		}
	}
	return in
}

// firstAttemptRedeliverInput is redeliverInput for a delivery whose first
// attempt ran locally (and may have ended there): the request and
// schedule its marker recorded.
func firstAttemptRedeliverInput(id, dlv string, fa *contract.FirstAttempt) contract.RedeliverInput {
	none := 0
	req := fa.Request
	req.KeepBody, req.Outputs = &none, nil
	sc := fa.Schedule
	return contract.RedeliverInput{
		ExecutionID: id, DeliveryID: dlv, Request: req,
		ScheduleToCloseTimeout: sc.ScheduleToClose,
		StartToCloseTimeout:    sc.StartToClose,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: sc.InitialInterval, BackoffCoefficient: sc.BackoffCoefficient,
			MaximumInterval: sc.MaximumInterval, MaximumAttempts: sc.MaximumAttempts,
		},
	}
}

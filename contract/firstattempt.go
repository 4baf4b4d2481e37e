package contract

import (
	"time"

	historypb "go.temporal.io/api/history/v1"

	"github.com/hookflow/hookflow/flow"
	"go.temporal.io/sdk/converter"
)

// DeliverFirstName is a delivery's first attempt as a local activity of the
// flow worker (stable: histories' markers name it). Its failures are the
// delivery activity's, plus ErrFirstAttemptCut.
const DeliverFirstName = "hookflow.DeliverFirst"

// ErrFirstAttemptCut: the first attempt ran into the flow worker's budget
// (the receiver was slower than the flow worker waits, though within the
// step's own timeouts). The request may have reached the receiver; the
// delivery hands over to the webhook task queue at once.
const ErrFirstAttemptCut = "FirstAttemptBudgetExceeded"

// FirstAttempt is the local first attempt's input: the request, and the
// budget that bounds its connect and response timeouts.
type FirstAttempt struct {
	Request flow.HTTPRequest `json:"request"`
	Budget  time.Duration    `json:"budget"`
	// Schedule is how the webhook queue would send it (and does, when
	// the first attempt fails): recorded with the attempt, so a
	// redelivery or a resume finds the request and its schedule in
	// history as they do in a delivery activity's scheduled event.
	Schedule Schedule `json:"schedule"`
}

// Schedule is a delivery activity's timeouts and retry policy.
type Schedule struct {
	ScheduleToClose    time.Duration `json:"scheduleToClose"`
	StartToClose       time.Duration `json:"startToClose"`
	InitialInterval    time.Duration `json:"initialInterval"`
	BackoffCoefficient float64       `json:"backoffCoefficient"`
	MaximumInterval    time.Duration `json:"maximumInterval"`
	MaximumAttempts    int32         `json:"maximumAttempts,omitempty"`
}

// LocalActivityMarker is the marker name the SDK records a local
// activity's outcome under.
const LocalActivityMarker = "LocalActivity"

// FirstAttemptOf reads a local first attempt's marker: its input (the
// request and its schedule), and whether it failed. ok is false for any
// other marker, or one dc cannot decode.
func FirstAttemptOf(dc converter.DataConverter, m *historypb.MarkerRecordedEventAttributes) (in *FirstAttempt, failed, ok bool) {
	in, failed, ok, _ = FirstAttemptOrError(dc, m)
	return in, failed, ok
}

// FirstAttemptOrError is FirstAttemptOf, telling a local activity's marker
// dc cannot decode (payloads encrypted with keys it lacks) by an error.
func FirstAttemptOrError(dc converter.DataConverter, m *historypb.MarkerRecordedEventAttributes) (in *FirstAttempt, failed, ok bool, err error) {
	if m.GetMarkerName() != LocalActivityMarker {
		return nil, false, false, nil
	}
	var data struct {
		ActivityType string `json:"activityType"`
	}
	if err := dc.FromPayloads(m.GetDetails()["data"], &data); err != nil {
		return nil, false, false, err
	}
	if data.ActivityType != DeliverFirstName {
		return nil, false, false, nil
	}
	in, failed, ok = firstAttemptIn(dc, m)
	return in, failed, ok, nil
}

func firstAttemptIn(dc converter.DataConverter, m *historypb.MarkerRecordedEventAttributes) (in *FirstAttempt, failed, ok bool) {
	if f := m.GetFailure(); f != nil {
		var fl Failure
		for ; f != nil; f = f.GetCause() {
			if d := f.GetApplicationFailureInfo().GetDetails(); d != nil && dc.FromPayloads(d, &fl) == nil && fl.FirstAttempt != nil {
				return fl.FirstAttempt, true, true
			}
		}
		return nil, true, true
	}
	var res Result
	if dc.FromPayloads(m.GetDetails()["result"], &res) != nil || res.FirstAttempt == nil {
		return nil, false, true
	}
	return res.FirstAttempt, false, true
}

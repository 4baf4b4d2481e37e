package contract

import (
	"time"

	"github.com/hookflow/hookflow/flow"
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

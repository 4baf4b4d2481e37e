package contract

// UpdateEvent delivers an event to a waiting wait or approval step. It is an
// update, not a signal, so the sender learns at once whether a step took the
// event: the validator refuses an event no step waits for (nothing is
// written to history), and the handler hands the event to its step.
const UpdateEvent = "hookflow.event"

// ApplicationError types of a refused event, for the API's answers.
const (
	// ErrorTypeEventNotWaiting: no step waits for this event (or the link's
	// step is no longer waiting: decided, timed out, or its link used).
	ErrorTypeEventNotWaiting = "EventNotWaiting"
	// ErrorTypeEventNoMatch: steps wait for the event's name, but its body
	// fails their match expression.
	ErrorTypeEventNoMatch = "EventNoMatch"
	// ErrorTypeEventInvalid: the body does not fit the step (an approval's
	// decision must be approved or rejected).
	ErrorTypeEventInvalid = "EventInvalid"
	// ErrorTypeHandingOver: the run is moving to a fresh history
	// (continue-as-new); the same event is accepted by the continuation.
	ErrorTypeHandingOver = "HandingOver"
)

// Event is the UpdateEvent argument: an event by name (the executions API),
// or by a signed link's claim (the API checked its signature and expiry).
type Event struct {
	Name string `json:"name,omitempty"`
	Body any    `json:"body,omitempty"`
	// Link, when set, names the exact step occurrence a signed link was
	// made for and the link's action.
	Link *EventLink `json:"link,omitempty"`
}

// EventLink is what a verified resume link says.
type EventLink struct {
	StepID     string `json:"stepId"`
	Occurrence int    `json:"occurrence"`
	Action     string `json:"action"`
}

// EventAccepted answers an accepted event: the step that took it.
type EventAccepted struct {
	StepID string `json:"stepId"`
	Path   string `json:"path"`
}

package flow

import (
	"regexp"
	"time"

	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
)

// TypeWait waits for a named event.
const TypeWait = "wait"

// DefaultWaitTimeout is how long a wait or an approval waits when it sets no
// timeout.
const DefaultWaitTimeout = 7 * 24 * time.Hour

var eventNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Wait pauses its branch until an event arrives: through the executions
// API (POST /api/v1/executions/{id}/events/{event}, with an API key) or
// through the step's signed resume URL, steps.<id>.resumeUrl, which needs
// no key, works once and expires with the wait. The event's JSON body
// becomes the step's outputs. match, when set, must be true for an event
// to be accepted (it reads event, the body, besides the usual names).
//
//   - id: confirm
//     type: wait
//     event: confirmed
//     match: event.orderId == trigger.body.id
//     timeout: 2d
//     onTimeout: continue                        # or fail (the default)
//     notify:                                    # runs once the wait is armed
//   - {id: mail, type: http, method: POST, url: "...", body: {mode: keyValue, fields: {link: "{{ steps.confirm.resumeUrl }}"}}}
//
// On a timeout with onTimeout: continue the step is skipped and its
// outputs are {timedOut: true}.
type Wait struct {
	Event     string         `json:"event" validate:"required" doc:"The event's name: it arrives through POST /api/v1/executions/{id}/events/{event} or the step's signed resume URL (steps.<id>.resumeUrl)."`
	Match     string         `json:"match,omitempty" doc:"A bare expression over event (the event's body) that must be true for an event to be accepted." expr:"expression"`
	Timeout   field.Duration `json:"timeout,omitempty" validate:"omitempty,dmin=1s,dmax=366d" doc:"How long to wait for the event."`
	OnTimeout string         `json:"onTimeout,omitempty" validate:"omitempty,oneof=continue fail" doc:"fail fails the step; continue skips it with outputs {timedOut: true}."`
	// Notify runs once the wait is armed, with steps.<id>.resumeUrl set:
	// the place to send the link to someone.
	Notify []Step `json:"notify,omitempty" doc:"Runs once the wait is armed, with steps.<id>.resumeUrl set: the place to send the link to someone."`
}

func init() {
	Register[Wait](TypeWait, "wait for a named event (API or signed resume URL), with a timeout")
}

var (
	_ Spec          = (*Wait)(nil)
	_ Container     = (*Wait)(nil)
	_ Checker       = (*Wait)(nil)
	_ Interruptible = (*Wait)(nil)
)

func (w *Wait) Branches() []Branch {
	return []Branch{{Path: "notify", Steps: w.Notify, SeesStep: true}}
}

func (w *Wait) Expressions() []ExprField {
	if w.Match == "" {
		return nil
	}
	return []ExprField{{Path: "match", Source: w.Match, Bare: true, Names: []string{expression.EnvEvent}}}
}

func (w *Wait) Check() []field.Error {
	if w.Event != "" && !eventNamePattern.MatchString(w.Event) {
		return []field.Error{{Path: "event", Message: "an event name is 1 to 64 letters, digits, _, . or - (it is part of the events URL)"}}
	}
	return nil
}

// EffectiveTimeout is how long the step waits.
func (w *Wait) EffectiveTimeout() time.Duration { return effectiveWaitTimeout(w.Timeout) }

// FailsOnTimeout reports whether a timeout fails the step (the default).
func (w *Wait) FailsOnTimeout() bool { return w.OnTimeout != "continue" }

func effectiveWaitTimeout(d field.Duration) time.Duration {
	if d == 0 {
		return DefaultWaitTimeout
	}
	return d.Std()
}

// WaitsDurably: a hand-over interrupts the wait; the continuation waits for
// the time left.
func (*Wait) WaitsDurably() {}

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Wait) OutputsDoc() string {
	return "the event's body; `{timedOut: true}` (skipped) on a timeout with onTimeout: continue"
}

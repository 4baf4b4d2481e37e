package flow

import (
	"time"

	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
)

// TypeDelay waits, durably: a Temporal timer, so the wait survives restarts.
const TypeDelay = "delay"

// MaxDelay bounds one delay; a longer wait is almost always a mistake in a
// flow definition (a unit typo).
const MaxDelay = 366 * 24 * time.Hour

// Delay waits for a duration or until a time.
//
//	{id: wait, type: delay, duration: 10m}
//	{id: wait, type: delay, until: "{{ trigger.body.sendAt }}"}   # RFC 3339
//
// A time in the past does not wait.
type Delay struct {
	Duration field.Duration `json:"duration,omitempty" validate:"omitempty,dmin=1ms,dmax=366d" doc:"How long to wait (a durable timer). Set duration or until."`
	// Until is a template yielding an RFC 3339 timestamp.
	Until string `json:"until,omitempty" doc:"A template yielding an RFC 3339 timestamp to wait until; a time in the past does not wait." expr:"template"`
}

func (d *Delay) Check() []field.Error {
	switch {
	case d.Duration == 0 && d.Until == "":
		return []field.Error{{Path: "duration", Message: "a delay needs duration (such as 10m) or until (an RFC 3339 time)"}}
	case d.Duration != 0 && d.Until != "":
		return []field.Error{{Path: "until", Message: "set duration or until, not both"}}
	}
	return nil
}

func init() {
	Register[Delay](TypeDelay, "durable wait for a duration or until a time")
}

var (
	_ Spec          = (*Delay)(nil)
	_ Checker       = (*Delay)(nil)
	_ Interruptible = (*Delay)(nil)
)

func (d *Delay) Expressions() []ExprField {
	if d.Until == "" {
		return nil
	}
	return []ExprField{{Path: "until", Source: d.Until}}
}

// ParseUntil reads a delay's rendered until value.
func ParseUntil(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case string:
		return time.Parse(time.RFC3339Nano, t)
	}
	return time.Time{}, &field.Error{Path: "until", Message: "must yield an RFC 3339 timestamp such as 2026-01-02T15:04:05Z, got " + expression.DescribeValue(v)}
}

// WaitsDurably: a hand-over interrupts the wait; the continuation waits for
// the time left.
func (*Delay) WaitsDurably() {}

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Delay) OutputsDoc() string {
	return "`until`"
}

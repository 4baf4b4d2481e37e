package trigger

import (
	"fmt"
	"strings"
	"time"

	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
)

// FlowControl shapes how a trigger's events become runs, per key: how many
// run at once, how often they start, and whether bursts are merged
// (package flowcontrol holds the rules; docs/flow-control.md the semantics).
type FlowControl struct {
	Key         string    `json:"key,omitempty" validate:"max=500" doc:"A template over trigger (body, headers, query, parsed aliases) naming the key events are grouped by, such as {{ trigger.body.customerId }}. Empty or absent: one key for the whole flow. A key that is one expression and finds no value (or fails) is the empty key; inside text a missing value is empty text."`
	Concurrency int       `json:"concurrency,omitempty" validate:"omitempty,min=1,max=1000" doc:"Runs of one key at once; the rest wait, first come first served (1: one at a time, in arrival order)."`
	Throttle    *Throttle `json:"throttle,omitempty" doc:"Starts of one key per period; the rest wait their turn, in arrival order."`
	Debounce    *Debounce `json:"debounce,omitempty" doc:"Runs once a key has been quiet for period (at most maxWait after its first event), with the last event. Async triggers only."`
	Batch       *Batch    `json:"batch,omitempty" doc:"One run per batch of a key's events, read as trigger.events: a batch closes at maxSize events or timeout after its first. Async triggers only."`
	Singleton   string    `json:"singleton,omitempty" validate:"omitempty,oneof=skip cancel" doc:"One run per key: skip (a new event while one runs is skipped; a sync caller gets 409 already_running) or cancel (a new event cancels the running one and runs)."`
	MaxWaiting  int       `json:"maxWaiting,omitempty" validate:"omitempty,min=1,max=10000" doc:"Events of one key that may wait (concurrency, throttle); past it the trigger answers 429 with Retry-After and starts nothing. Default 10000."`
}

// Throttle is a number of starts per period.
type Throttle struct {
	Limit int            `json:"limit" validate:"required,min=1,max=10000" doc:"Starts allowed per period."`
	Per   field.Duration `json:"per" validate:"required,dmin=1s,dmax=24h" doc:"The period, a sliding window."`
}

// Debounce waits for a quiet key.
type Debounce struct {
	Period  field.Duration `json:"period" validate:"required,dmin=100ms,dmax=24h" doc:"How long the key must be quiet before the run starts."`
	MaxWait field.Duration `json:"maxWait,omitempty" validate:"omitempty,dmin=100ms,dmax=168h" doc:"The longest a run waits after its first event, however busy the key (default: no bound)."`
}

// Batch gathers a key's events into one run.
type Batch struct {
	MaxSize int            `json:"maxSize" validate:"required,min=1,max=1000" doc:"Events per batch."`
	Timeout field.Duration `json:"timeout" validate:"required,dmin=100ms,dmax=24h" doc:"The longest a batch stays open after its first event."`
}

// Flow-control limits.
const (
	// DefaultMaxWaiting bounds a key's waiting events when maxWaiting is
	// unset. The coordinator carries their ids across continue-as-new,
	// inside Temporal's 2 MB payload limit.
	DefaultMaxWaiting = 10_000
	// MaxKeyLength is the longest key kept as it is; a longer one is
	// replaced by its digest (the coordinator's workflow id holds it).
	MaxKeyLength = 200
)

// EffectiveMaxWaiting is the key's bound on waiting events.
func (fc *FlowControl) EffectiveMaxWaiting() int {
	if fc.MaxWaiting == 0 {
		return DefaultMaxWaiting
	}
	return fc.MaxWaiting
}

// Gathers tells whether events are gathered (debounce or batch) before a
// run starts, rather than each starting its own run.
func (fc *FlowControl) Gathers() bool { return fc != nil && (fc.Debounce != nil || fc.Batch != nil) }

// Coordinated tells whether each run asks its key's coordinator before its
// first step (concurrency, throttle, singleton).
func (fc *FlowControl) Coordinated() bool {
	return fc != nil && (fc.Concurrency > 0 || fc.Throttle != nil || fc.Singleton != "")
}

// Kind names the shape, for logs, metrics and the Web UI.
func (fc *FlowControl) Kind() string {
	var parts []string
	if fc.Concurrency > 0 {
		parts = append(parts, "concurrency")
	}
	if fc.Throttle != nil {
		parts = append(parts, "throttle")
	}
	if fc.Debounce != nil {
		parts = append(parts, "debounce")
	}
	if fc.Batch != nil {
		parts = append(parts, "batch")
	}
	if fc.Singleton != "" {
		parts = append(parts, "singleton")
	}
	return strings.Join(parts, "+")
}

// RenderKey renders the key template on a request's trigger data. An empty
// template is the flow's one key (""). A template that fails on this
// request (a missing field) also gives "": such events share one key rather
// than being refused, and the error says why for the log.
func (fc *FlowControl) RenderKey(trigger map[string]any) (string, error) {
	if fc == nil || fc.Key == "" {
		return "", nil
	}
	r := EnrollRecord{Value: fc.Key}
	v, err := r.EvalValue(trigger)
	if err != nil {
		return "", err
	}
	return expression.TextOf(v), nil
}

// checkFlowControl holds a trigger's flow control to the combinations that
// have one meaning: concurrency and/or throttle, or debounce, batch or
// singleton alone. Debounce and batch gather events no caller waits for.
func checkFlowControl(t *Trigger, errs *field.List) {
	fc := t.FlowControl
	if fc == nil {
		return
	}
	const p = "trigger.flowControl"
	set := 0
	for _, on := range []bool{fc.Concurrency > 0 || fc.Throttle != nil, fc.Debounce != nil, fc.Batch != nil, fc.Singleton != ""} {
		if on {
			set++
		}
	}
	switch {
	case set == 0:
		errs.Add(p, "set one of concurrency, throttle, debounce, batch or singleton")
	case set > 1:
		errs.Add(p, "combines %s: only concurrency with throttle may be combined; debounce, batch and singleton each stand alone", fc.Kind())
	}
	if t.EffectiveMode() == ModeSync {
		if fc.Debounce != nil {
			errs.Add(p+".debounce", "applies to async triggers only: a sync caller cannot wait for a quiet period")
		}
		if fc.Batch != nil {
			errs.Add(p+".batch", "applies to async triggers only: a sync caller cannot wait for a batch")
		}
	}
	if d := fc.Debounce; d != nil && d.MaxWait != 0 && d.MaxWait < d.Period {
		errs.Add(p+".debounce.maxWait", "must be at least period (%s)", d.Period)
	}
	if fc.MaxWaiting != 0 && !fc.Coordinated() {
		errs.Add(p+".maxWaiting", "applies to concurrency, throttle and singleton, where events wait")
	}
	if fc.Key != "" {
		exprs, err := expression.TemplateExpressions(fc.Key)
		if err != nil {
			errs.Add(p+".key", "%v", err)
		}
		for _, e := range exprs {
			if _, err := expression.CompileTrigger(e); err != nil {
				errs.Add(p+".key", "{{ %s }}: %s", e, field.FirstLine(err.Error()))
			}
		}
	}
}

// FlowControlSummary describes a flow control in one line, for the Web UI
// and logs: "concurrency 1 per trigger.body.customerId".
func (fc *FlowControl) FlowControlSummary() string {
	var b strings.Builder
	switch {
	case fc.Singleton != "":
		b.WriteString(fmt.Sprintf("singleton (%s)", fc.Singleton))
	case fc.Debounce != nil:
		b.WriteString(fmt.Sprintf("debounce %s", fc.Debounce.Period))
	case fc.Batch != nil:
		b.WriteString(fmt.Sprintf("batch of %d within %s", fc.Batch.MaxSize, fc.Batch.Timeout))
	default:
		var parts []string
		if fc.Concurrency > 0 {
			parts = append(parts, fmt.Sprintf("concurrency %d", fc.Concurrency))
		}
		if t := fc.Throttle; t != nil {
			parts = append(parts, fmt.Sprintf("throttle %d per %s", t.Limit, time.Duration(t.Per)))
		}
		b.WriteString(strings.Join(parts, ", "))
	}
	if fc.Key != "" {
		b.WriteString(" per key " + expression.StripBraces(fc.Key))
	}
	return b.String()
}

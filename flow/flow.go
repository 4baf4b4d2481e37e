// Package flow defines hookflow's file formats for flows: the model, strict
// decoding from JSON and YAML, validation with paths, the step type
// registry (one file per step type), and the destination and notify specs
// flows refer to. The trigger's part of a flow (auth, parsing, flow
// control, enrollment, schedules) is package flow/trigger's, which Flow
// holds and Validate checks with the rest; the vocabulary both share
// (durations, problems at a path, the string rules) is flow/field's.
// Expressions and {{ }} templates are package flow/expression's;
// validation compiles them with it.
//
// It imports no Temporal package, so the API can decode and validate a flow
// without a worker, and everything here is deterministic: the interpreter in
// workflows/ runs the steps inside workflow code.
package flow

import (
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
)

// Flow is one user-defined flow: a trigger and a tree of steps.
type Flow struct {
	// ID is the stable identifier; it names runs (workflow ids) and search
	// attributes, so it is a lowercase slug.
	ID          string          `json:"id" validate:"required,flowid" doc:"Stable identifier of the flow: it names runs (workflow ids) and search attributes, so it is a lowercase slug."`
	Name        string          `json:"name,omitempty" validate:"max=200" doc:"Human name, shown in lists and the Web UI."`
	Description string          `json:"description,omitempty" validate:"max=2000" doc:"What the flow is for."`
	Trigger     trigger.Trigger `json:"trigger" doc:"The incoming webhook that starts the flow."`
	Steps       []Step          `json:"steps" validate:"required,min=1" doc:"The steps, run in order; branches hold their own step lists."`
	// Notify sends the flow's run and delivery events to a destination
	// (notify.go); validated by its struct rules.
	Notify *Notify `json:"notify,omitempty" doc:"Sends the flow's run and delivery events to a destination."`
	// Schedules run the flow on cron expressions or intervals too, as
	// Temporal Schedules (flow/trigger; kept in step by package schedules).
	Schedules []trigger.Schedule `json:"schedules,omitempty" validate:"max=20,dive" doc:"Runs the flow on cron expressions or intervals as well, as Temporal Schedules kept in step with the flow: its runs have trigger.mode schedule and trigger.scheduledAt."`
}

// Snapshot is the definition a run carries in its input (and so in
// Temporal's history): the flow without its trigger token, the secret part
// of its URL, which the run never needs.
func (f *Flow) Snapshot() *Flow {
	if f == nil || f.Trigger.Token == "" {
		return f
	}
	c := *f
	c.Trigger.Token = ""
	return &c
}

// Walk calls fn for every step of the tree in document order, with its path.
// It stops early when fn returns false.
func (f *Flow) Walk(fn func(path string, s *Step) bool) {
	walkSteps("steps", f.Steps, fn)
}

func walkSteps(prefix string, steps []Step, fn func(string, *Step) bool) bool {
	for i := range steps {
		p := field.IndexPath(prefix, i)
		if !fn(p, &steps[i]) {
			return false
		}
		if steps[i].Spec == nil {
			continue
		}
		for _, b := range Branches(steps[i].Spec) {
			if !walkSteps(p+"."+b.Path, b.Steps, fn) {
				return false
			}
		}
	}
	return true
}

// WalkSteps calls fn for every step of a step list and of the lists nested
// in it, in definition order.
func WalkSteps(steps []Step, fn func(*Step)) {
	walkSteps("", steps, func(_ string, s *Step) bool { fn(s); return true })
}

// StepByID finds a step anywhere in the tree.
func (f *Flow) StepByID(id string) (*Step, string, bool) {
	var found *Step
	var at string
	f.Walk(func(p string, s *Step) bool {
		if s.ID == id {
			found, at = s, p
			return false
		}
		return true
	})
	return found, at, found != nil
}

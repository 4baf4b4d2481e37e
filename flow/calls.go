package flow

import (
	"fmt"
	"strings"

	"github.com/hookflow/hookflow/flow/field"
)

// MaxCallDepth bounds how deep flows call flows: a run started by a trigger
// is at depth 1, the flow it calls at 2, and so on.
const MaxCallDepth = 5

// Caller is implemented by steps that run another flow. The call graph
// (CheckCalls) asks the spec; it never names a step type.
type Caller interface {
	// CalledFlow is the id of the flow the step runs.
	CalledFlow() string
}

// CallSite is one step of a flow that calls another flow.
type CallSite struct {
	// Path is the step's path plus ".flow", for error messages.
	Path   string
	Callee string
}

// Calls lists the flows a flow calls, in document order.
func (f *Flow) Calls() []CallSite {
	var out []CallSite
	f.Walk(func(p string, s *Step) bool {
		if c, ok := s.Spec.(Caller); ok && c.CalledFlow() != "" {
			out = append(out, CallSite{Path: p + ".flow", Callee: c.CalledFlow()})
		}
		return true
	})
	return out
}

// CheckCalls checks f's calls against the other flows, which lookup finds by
// id (the store, at apply time): every callee must exist, no chain of calls
// may lead back to a flow already in it (A calls B calls A), and no chain
// may be deeper than MaxCallDepth. f replaces any stored flow with its id.
// Errors carry the path of the call step in f that starts the bad chain.
func CheckCalls(f *Flow, lookup func(id string) (*Flow, bool)) []field.Error {
	get := func(id string) (*Flow, bool) {
		if id == f.ID {
			return f, true
		}
		return lookup(id)
	}
	var errs []field.Error
	for _, cs := range f.Calls() {
		if _, ok := get(cs.Callee); !ok {
			errs = append(errs, field.Error{Path: cs.Path, Message: fmt.Sprintf("no flow has the id %q", cs.Callee)})
			continue
		}
		if msg := checkChain([]string{f.ID}, cs.Callee, get); msg != "" {
			errs = append(errs, field.Error{Path: cs.Path, Message: fmt.Sprintf("calling %q %s", cs.Callee, msg)})
		}
	}
	return errs
}

// checkChain follows the calls of callee, reached through chain, and says
// what is wrong with the first bad chain it finds ("" when none is).
func checkChain(chain []string, callee string, get func(string) (*Flow, bool)) string {
	next := append(append([]string{}, chain...), callee)
	for _, id := range chain {
		if id == callee {
			return "makes a cycle: " + strings.Join(next, " → ")
		}
	}
	g, ok := get(callee)
	if !ok {
		return "reaches a flow that does not exist: " + strings.Join(next, " → ")
	}
	if len(next) > MaxCallDepth {
		return fmt.Sprintf("makes the chain %s, %d flows deep (at most %d)", strings.Join(next, " → "), len(next), MaxCallDepth)
	}
	for _, cs := range g.Calls() {
		if msg := checkChain(next, cs.Callee, get); msg != "" {
			return msg
		}
	}
	return ""
}

// CalleesFirst orders flows so that each comes after the flows of the batch
// it calls (applying them in this order creates callees before their
// callers). The order is otherwise kept; a cycle keeps its flows in their
// order (applying them then reports the cycle).
func CalleesFirst(flows []*Flow) []*Flow {
	byID := make(map[string]*Flow, len(flows))
	for _, f := range flows {
		byID[f.ID] = f
	}
	out := make([]*Flow, 0, len(flows))
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(f *Flow)
	visit = func(f *Flow) {
		if state[f.ID] != 0 {
			return
		}
		state[f.ID] = 1
		for _, cs := range f.Calls() {
			if g, ok := byID[cs.Callee]; ok {
				visit(g)
			}
		}
		state[f.ID] = 2
		out = append(out, f)
	}
	for _, f := range flows {
		visit(f)
	}
	return out
}

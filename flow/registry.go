package flow

import (
	"fmt"
	"reflect"
	"sort"
	"sync"

	"github.com/hookflow/hookflow/flow/field"
)

// Spec is the type-specific part of a step. Each step type is a struct whose
// pointer implements it, in a file of its own, registered with Register.
// What only some step types do is said by the optional interfaces below, so
// that generic code (validation, the interpreter) asks the spec instead of
// naming step types.
type Spec interface {
	// Expressions lists every expression and template the step holds, with
	// the path of the field (relative to the step) for error messages.
	Expressions() []ExprField
}

// Container is implemented by steps that hold nested step lists.
type Container interface {
	// Branches lists the nested step lists, in the order the interpreter
	// may run them.
	Branches() []Branch
}

// Checker is implemented by specs with rules that struct tags cannot say.
// Paths are relative to the step.
type Checker interface {
	Check() []field.Error
}

// ErrorContinuer is implemented by steps whose failure may be recorded
// (steps.<id>.status, steps.<id>.error) without failing the run.
type ErrorContinuer interface {
	ContinuesOnError() bool
}

// SyncOnly is implemented by steps that only a flow with a sync trigger may
// hold; the reason is the validation message elsewhere.
type SyncOnly interface {
	SyncOnlyReason() string
}

// Interruptible is implemented by steps that wait durably (a timer, an
// event): when the run hands over to a continuation, the wait is
// interrupted and the continuation waits for what is left. Other steps in
// flight (a delivery, a child run) finish first; until they have, waits go
// on waiting.
type Interruptible interface {
	WaitsDurably()
}

// Branches returns a step's nested step lists, nil for a leaf step.
func Branches(s Spec) []Branch {
	if c, ok := s.(Container); ok {
		return c.Branches()
	}
	return nil
}

// Branch is a nested step list.
type Branch struct {
	// Path relative to the step, e.g. "then" or "cases[1].steps".
	Path  string
	Steps []Step
	// Loop branches see the loop variables item and index.
	Loop bool
	// SeesStep: the branch runs while its step is under way (or after it
	// decided), so its steps may read steps.<id> of that step (a wait's
	// resumeUrl, an approval's decision).
	SeesStep bool
}

// ExprField is one expression or template of a step.
type ExprField struct {
	Path string
	// Source is the text: a bare expression (Bare) or a string that may
	// hold {{ }} templates.
	Source string
	Bare   bool
	// Names are names the expression may read besides the usual ones
	// (a wait's match reads event).
	Names []string
}

// Kind describes a registered step type.
type Kind struct {
	// Name is the stable type name used in flow files ("condition").
	Name string
	// Summary is one line for documentation and error messages.
	Summary string
	// SpecType is the spec's pointer type (*Condition).
	SpecType reflect.Type

	new func() Spec
}

// New returns an empty spec of this kind to decode into.
func (k Kind) New() Spec { return k.new() }

var (
	kindsMu     sync.RWMutex
	kinds       = map[string]Kind{}
	kindsByType = map[reflect.Type]Kind{}
)

// Register adds the step type whose spec is *T under a stable name:
//
//	func init() { Register[Condition](TypeCondition, "if/then/else on an expression") }
//
// It panics on an empty or duplicate name or spec type: both are programming
// errors caught at init.
func Register[T any, PT interface {
	*T
	Spec
}](name, summary string) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	t := reflect.TypeFor[PT]()
	if name == "" {
		panic("flow: Register needs a name")
	}
	if _, dup := kinds[name]; dup {
		panic(fmt.Sprintf("flow: step type %q registered twice", name))
	}
	if k, dup := kindsByType[t]; dup {
		panic(fmt.Sprintf("flow: spec %v registered twice (as %q and %q)", t, k.Name, name))
	}
	k := Kind{Name: name, Summary: summary, SpecType: t, new: func() Spec { return PT(new(T)) }}
	kinds[name] = k
	kindsByType[t] = k
}

// LookupKind returns the registered step type with that name.
func LookupKind(name string) (Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kinds[name]
	return k, ok
}

// KindOf returns the registered step type whose spec type is S.
func KindOf[S Spec]() (Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kindsByType[reflect.TypeFor[S]()]
	return k, ok
}

// Kinds returns every registered step type, sorted by name.
func Kinds() []Kind {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func kindNames() []string {
	ks := Kinds()
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = k.Name
	}
	return names
}

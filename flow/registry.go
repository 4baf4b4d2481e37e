package flow

import (
	"fmt"
	"sort"
	"sync"
)

// Spec is the type-specific part of a step. Each step type is a struct that
// implements it, in a file of its own, registered under a stable name.
type Spec interface {
	// Branches lists the step lists nested in this step, in the order the
	// interpreter may run them. Leaf steps return nil.
	Branches() []Branch
	// Expressions lists every expression and template the step holds, with
	// the path of the field (relative to the step) for error messages.
	Expressions() []ExprField
}

// Checker is implemented by specs with rules that struct tags cannot say.
// Paths are relative to the step.
type Checker interface {
	Check() []FieldError
}

// Branch is a nested step list.
type Branch struct {
	// Path relative to the step, e.g. "then" or "cases[1].steps".
	Path  string
	Steps []Step
	// Loop branches see the loop variables item and index.
	Loop bool
}

// ExprField is one expression or template of a step.
type ExprField struct {
	Path string
	// Source is the text: a bare expression (Bare) or a string that may
	// hold {{ }} templates.
	Source string
	Bare   bool
}

// Kind describes a registered step type.
type Kind struct {
	// Name is the stable type name used in flow files ("condition").
	Name string
	// Summary is one line for documentation and error messages.
	Summary string
	// New returns an empty spec to decode into.
	New func() Spec
}

var (
	kindsMu sync.RWMutex
	kinds   = map[string]Kind{}
)

// Register adds a step type. It panics on an empty or duplicate name: both
// are programming errors caught at init.
func Register(k Kind) {
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if k.Name == "" || k.New == nil {
		panic("flow: Register needs a name and a constructor")
	}
	if _, dup := kinds[k.Name]; dup {
		panic(fmt.Sprintf("flow: step type %q registered twice", k.Name))
	}
	kinds[k.Name] = k
}

// LookupKind returns the registered step type with that name.
func LookupKind(name string) (Kind, bool) {
	kindsMu.RLock()
	defer kindsMu.RUnlock()
	k, ok := kinds[name]
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

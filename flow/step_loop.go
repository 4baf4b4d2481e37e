package flow

// TypeLoop runs its steps once for each element of an array.
const TypeLoop = "loop"

// DefaultLoopMax is a loop's bound when it sets none; MaxLoopMax is the
// highest bound a flow may set. A loop over more elements fails rather than
// silently dropping some. History stays bounded at any size: the run
// continues as new before Temporal's limits, carrying the loop's place.
// MaxLoopConcurrency bounds the elements processed side by side.
const (
	DefaultLoopMax     = 1000
	MaxLoopMax         = 100_000
	MaxLoopConcurrency = 100
)

// Loop iterates over an array, one element at a time, in order.
//
//	{id: each, type: loop, over: "trigger.body.items", steps: [...]}
//
// Inside, item is the element and index its position. Later steps read
// steps.<id>.outputs.count.
type Loop struct {
	// Over is a bare expression that must yield an array.
	Over  string `json:"over" validate:"required" doc:"A bare expression that must yield an array; inside, item is the element and index its position." expr:"expression"`
	Steps []Step `json:"steps" validate:"required,min=1" doc:"Run for each element."`
	// Max bounds the number of elements (default 1000, at most 100,000).
	Max int `json:"max,omitempty" validate:"omitempty,min=1,max=100000" doc:"Bounds the number of elements."`
	// Concurrency is how many elements are processed side by side
	// (default 1: in order, one after the other; at most 100).
	Concurrency int `json:"concurrency,omitempty" validate:"omitempty,min=1,max=100" doc:"How many elements are processed side by side (1: in order, one after the other)."`
}

func init() {
	Register[Loop](TypeLoop, "run steps for each element of an array (bounded)")
}

var (
	_ Spec      = (*Loop)(nil)
	_ Container = (*Loop)(nil)
)

func (l *Loop) Branches() []Branch { return []Branch{{Path: "steps", Steps: l.Steps, Loop: true}} }

func (l *Loop) Expressions() []ExprField {
	return []ExprField{{Path: "over", Source: l.Over, Bare: true}}
}

// EffectiveConcurrency is how many elements run side by side.
func (l *Loop) EffectiveConcurrency() int {
	if l.Concurrency == 0 {
		return 1
	}
	return l.Concurrency
}

// Bound is the effective maximum number of elements.
func (l *Loop) Bound() int {
	if l.Max == 0 {
		return DefaultLoopMax
	}
	return l.Max
}

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Loop) OutputsDoc() string {
	return "`count`"
}

package flow

import "github.com/hookflow/hookflow/flow/field"

// TypeParallel runs several branches side by side.
const TypeParallel = "parallel"

// Parallel runs its branches concurrently and completes when all have. When
// one branch fails, the others are cancelled and the step fails.
//
//	{id: fanout, type: parallel, branches: [{steps: [...]}, {steps: [...]}]}
//
// Lanes holds the branches (the Go name differs only because Branches is
// the Spec method). A branch cannot read the steps of another branch (they run at the same
// time); steps after the parallel step read all of them.
type Parallel struct {
	Lanes []ParallelBranch `json:"branches" validate:"required,min=2,max=20,dive" doc:"The branches, run at the same time; a branch cannot read another's steps; steps after the parallel step read all of them."`
}

// ParallelBranch is one branch of a Parallel.
type ParallelBranch struct {
	Name  string `json:"name,omitempty" validate:"max=200" doc:"Labels the branch in the step log."`
	Steps []Step `json:"steps" validate:"required,min=1" doc:"The branch's steps."`
}

func init() {
	Register[Parallel](TypeParallel, "run branches concurrently; a failure cancels the others")
}

var (
	_ Spec      = (*Parallel)(nil)
	_ Container = (*Parallel)(nil)
)

func (p *Parallel) Branches() []Branch {
	out := make([]Branch, len(p.Lanes))
	for i, b := range p.Lanes {
		out[i] = Branch{Path: field.IndexPath("branches", i) + ".steps", Steps: b.Steps}
	}
	return out
}

func (p *Parallel) Expressions() []ExprField { return nil }

// OutputsDoc says what later steps read as steps.<id>.outputs.
func (*Parallel) OutputsDoc() string {
	return "`branches`"
}

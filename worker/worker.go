// Package worker builds the Temporal workers that run hookflow: the flow
// interpreter (FlowWorkflow) on its own task queue.
package worker

import (
	sdkclient "go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/workflows"
)

// Options tunes the flow worker. Zero values take the SDK's defaults.
type Options struct {
	// MaxConcurrentWorkflowTasks bounds workflow tasks processed at once.
	MaxConcurrentWorkflowTasks int
	// WorkflowPollers is the number of workflow task pollers.
	WorkflowPollers int
}

// New returns the flow interpreter worker, with FlowWorkflow registered
// once under its stable name. Start or Run it; Stop drains it.
func New(c sdkclient.Client, opts Options) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentWorkflowTasks,
		MaxConcurrentWorkflowTaskPollers:       opts.WorkflowPollers,
	})
	Register(w)
	return w
}

// Register registers hookflow's workflows on any registry (a worker, a
// replayer, or the SDK's test environment), so all three see the same names.
func Register(r interface {
	RegisterWorkflowWithOptions(any, workflow.RegisterOptions)
}) {
	r.RegisterWorkflowWithOptions(workflows.FlowWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
}

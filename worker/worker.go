// Package worker builds the Temporal workers that run hookflow: the flow
// interpreter (FlowWorkflow) on one task queue, and webhook deliveries on
// another, with their own limits, so slow receivers never starve flows.
package worker

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flowcontrol"
	"github.com/hookflow/hookflow/notify"
	"github.com/hookflow/hookflow/recovery"
	"github.com/hookflow/hookflow/telemetry"
	"github.com/hookflow/hookflow/workflows"
)

// Options tunes the workers. Zero values take the SDK's defaults.
type Options struct {
	// MaxConcurrentWorkflowTasks bounds workflow tasks processed at once.
	MaxConcurrentWorkflowTasks int
	// WorkflowPollers is the number of workflow task pollers.
	WorkflowPollers int
	// MaxEagerStarts bounds the async runs whose first workflow task came
	// back with their start (eager start, when the API runs in this
	// process) and is not processed yet; past it a start goes plain,
	// through matching, so a burst is accepted at the rate of bare starts
	// (0: no limit but the workflow-task slots, the SDK's own rule; below
	// 0: no eager start). Counted within MaxConcurrentWorkflowTasks. A
	// limit trades completion for acceptance: see DefaultMaxEagerStarts.
	MaxEagerStarts int
	// MaxConcurrentDeliveries bounds deliveries in flight on this worker.
	MaxConcurrentDeliveries int
	// DeliveriesPerSecond bounds deliveries started per second across all
	// workers of the webhook task queue (0: unlimited).
	DeliveriesPerSecond float64
	// StopTimeout is how long Stop lets running tasks finish after polling
	// stops; activities still running then see their context cancelled
	// and are retried elsewhere by their retry policy (0: SDK default).
	StopTimeout time.Duration
	// Records runs record steps against the flow store (nil: no store;
	// record steps then fail, naming --store).
	Records *activities.Records
	// Composition resolves call steps' callees in the flow store and signs
	// wait and approval links with the secret resume_key (nil: neither;
	// such steps then fail, naming what is missing).
	Composition *activities.Composition
	// Destinations resolves destinations for the flow worker (the local
	// activity a delivery to one starts with) and the delivery activity
	// (nil: no store; deliveries to destinations then fail, naming --store).
	Destinations *activities.Destinations
	// DestinationStates, when set, runs one worker per destination on its
	// own task queue with its limits, pausing and circuit breaker (the
	// flow store; nil: this process delivers to no destination).
	DestinationStates destinations.States
	// DestinationReload is how often destinations are read again
	// (default destinations.DefaultReload).
	DestinationReload time.Duration
	// DataConverter decodes what a bulk replay's resumes read from
	// history, as the client's does (nil: the SDK's default).
	DataConverter converter.DataConverter
	// Logger and Telemetry serve the destination workers (nil: none).
	Logger    *slog.Logger
	Telemetry *telemetry.Telemetry
	// DisableLocalFirstAttempt sends every delivery as an activity on the
	// webhook task queue. By default the flow workers make a delivery's
	// first attempt themselves, as a local activity (bounded by
	// FirstAttemptBudget and MaxConcurrentFirstAttempts), and hand it over
	// to the webhook queue when it fails. Deliveries to destinations, and
	// every delivery when DeliveriesPerSecond is set (the server enforces
	// it on the webhook queue), always go through their queue.
	DisableLocalFirstAttempt bool
	// FirstAttemptBudget bounds a local first attempt (default
	// workflows.DefaultFirstAttemptBudget); a receiver slower than that
	// gets the delivery again at once from the webhook queue.
	FirstAttemptBudget time.Duration
	// MaxConcurrentFirstAttempts bounds local first attempts in flight on
	// each flow worker (0: MaxConcurrentDeliveries, else the SDK default).
	MaxConcurrentFirstAttempts int
	// Notifier sends notifications: runs' events (a local activity of the
	// flow workers) and destinations paused, resumed, opened and closed
	// (the package notify emits them; destinations/events.go says which a
	// destination's state changes make; nil: none).
	Notifier *notify.Emitter
}

// Workers is the flow workers (async and sync runs) and the webhook
// worker, started and stopped together.
type Workers struct {
	Flows    sdkworker.Worker
	Sync     sdkworker.Worker
	Webhooks sdkworker.Worker
	// Keys polls flow control's per-key workflows (contract.KeyTaskQueue).
	Keys sdkworker.Worker
	// dests runs the destinations' workers (nil without a store).
	dests *destinations.Supervisor

	client  sdkclient.Client
	running atomic.Bool
	// eager limits the async flow worker's eager starts.
	eager *eagerLimit
}

// EagerStarts counts how the async flow worker answered eager starts so
// far (the bench reports the share a burst got).
func (w *Workers) EagerStarts() EagerStarts { return w.eager.counts() }

// New returns both workers, with FlowWorkflow and the delivery activity
// registered once each under their stable names.
func New(c sdkclient.Client, deliver *activities.Deliverer, opts Options) *Workers {
	flowsTuner, eager := flowTuner(opts.MaxConcurrentWorkflowTasks, maxLocalActivities(opts), opts.MaxEagerStarts)
	flows := newFlowWorker(c, contract.TaskQueue, deliver, opts, flowsTuner)
	// Sync runs poll a queue of their own with their own pollers and
	// slots: a caller waits for their answer, and a burst of async
	// triggers must not stand in front of it. (Update-With-Start has no
	// eager start: the limit there only mirrors the flow worker's.)
	syncTuner, _ := flowTuner(opts.MaxConcurrentWorkflowTasks, maxLocalActivities(opts), opts.MaxEagerStarts)
	sync := newFlowWorker(c, contract.SyncTaskQueue, deliver, opts, syncTuner)
	hooks := sdkworker.New(c, contract.WebhookTaskQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentDeliveries,
		TaskQueueActivitiesPerSecond:       opts.DeliveriesPerSecond,
		WorkerStopTimeout:                  opts.StopTimeout,
	})
	hooks.RegisterActivityWithOptions(deliver.Deliver, activity.RegisterOptions{Name: contract.DeliverName})
	w := &Workers{Flows: flows, Sync: sync, Webhooks: hooks, Keys: newKeyWorker(c, opts), client: c, eager: eager}
	if opts.DestinationStates != nil {
		if opts.Destinations != nil {
			deliver.UseDestinations(opts.Destinations)
		}
		w.dests = newDestinations(c, deliver, opts)
		// First attempts to destinations in the flow workers go through
		// the same gate, with the same counts, as their queue's.
		deliver.UseFirstAttemptGate(w.dests)
	}
	return w
}

// Start starts the workers.
func (w *Workers) Start() error {
	if err := w.Flows.Start(); err != nil {
		return err
	}
	if err := w.Sync.Start(); err != nil {
		w.Flows.Stop()
		return err
	}
	if err := w.Webhooks.Start(); err != nil {
		w.Sync.Stop()
		w.Flows.Stop()
		return err
	}
	if err := w.Keys.Start(); err != nil {
		w.Webhooks.Stop()
		w.Sync.Stop()
		w.Flows.Stop()
		return err
	}
	if w.dests != nil {
		w.dests.Start()
	}
	w.running.Store(true)
	return nil
}

// Stop stops polling and waits for running tasks (within StopTimeout). A
// second call does nothing.
func (w *Workers) Stop() {
	if !w.running.CompareAndSwap(true, false) {
		return
	}
	if w.dests != nil {
		w.dests.Stop()
	}
	w.Keys.Stop()
	w.Webhooks.Stop()
	w.Sync.Stop()
	w.Flows.Stop()
}

// Ready reports why the workers cannot take tasks: not started (or
// stopping), or Temporal unreachable. Nil means ready.
func (w *Workers) Ready(ctx context.Context) error {
	if !w.running.Load() {
		return errors.New("workers are not running")
	}
	if _, err := w.client.CheckHealth(ctx, &sdkclient.CheckHealthRequest{}); err != nil {
		return errors.New("temporal is unreachable")
	}
	return nil
}

// maxLocalActivities bounds a flow worker's local activities: deliveries'
// first attempts (and the short lookups beside the interpreter), apart
// from deliveries.
func maxLocalActivities(opts Options) int {
	if opts.MaxConcurrentFirstAttempts > 0 {
		return opts.MaxConcurrentFirstAttempts
	}
	return opts.MaxConcurrentDeliveries
}

// newFlowWorker is a worker for the interpreter's queue: FlowWorkflow and
// the activities that run beside it (record steps, callee resolution, the
// destination lookup, a bulk replay's actions).
func newFlowWorker(c sdkclient.Client, queue string, deliver *activities.Deliverer, opts Options, tuner sdkworker.WorkerTuner) sdkworker.Worker {
	fa := workflows.FirstAttempt{
		Enabled: !opts.DisableLocalFirstAttempt && opts.DeliveriesPerSecond <= 0 && deliver != nil,
		Budget:  opts.FirstAttemptBudget,
	}
	w := sdkworker.New(c, queue, sdkworker.Options{
		// Workflow-task slots (MaxConcurrentWorkflowTasks, of which
		// MaxEagerStarts for eager starts) and local activities.
		Tuner:                            tuner,
		MaxConcurrentWorkflowTaskPollers: opts.WorkflowPollers,
		WorkerStopTimeout:                opts.StopTimeout,
		Interceptors:                     []interceptor.WorkerInterceptor{workflows.FirstAttemptInterceptor(fa)},
	})
	Register(w)
	if deliver != nil {
		// A delivery's first attempt, as a local activity of this worker.
		w.RegisterActivityWithOptions(deliver.DeliverFirst, activity.RegisterOptions{Name: contract.DeliverFirstName})
	}
	// Record steps' activities run beside the interpreter: a few
	// statements on the flow store each.
	opts.Records.Register(w)
	opts.Composition.Register(w)
	opts.Destinations.Register(w)
	opts.Notifier.Register(w)
	// A bulk replay's reruns and resumes: the same code as the admin API.
	rec := &recovery.Recoverer{Client: c, DataConverter: opts.DataConverter}
	w.RegisterActivityWithOptions(rec.RerunActivity, activity.RegisterOptions{Name: contract.RerunName})
	w.RegisterActivityWithOptions(rec.ResumeActivity, activity.RegisterOptions{Name: contract.ResumeName})
	w.RegisterActivityWithOptions(rec.ListForReplay, activity.RegisterOptions{Name: contract.ListForReplayName})
	// Flow control: a run reaching its key's coordinator (a local
	// activity), and the coordinator's check of runs it waits for.
	fc := &flowcontrol.Activities{Client: c}
	w.RegisterActivityWithOptions(fc.SignalCoordinator, activity.RegisterOptions{Name: contract.SignalCoordinatorName})
	w.RegisterActivityWithOptions(fc.CheckRuns, activity.RegisterOptions{Name: contract.CheckRunsName})
	return w
}

// newKeyWorker is the worker for flow control's per-key workflows: the
// coordinators (and their check of the runs they wait for) and the gather
// workflows. Coordinators that started on the flows' queue before it
// existed finish there: the flow workers register every workflow too.
func newKeyWorker(c sdkclient.Client, opts Options) sdkworker.Worker {
	// Autoscaling pollers keep at least one poll open on the normal queue
	// as well as the sticky one. With a fixed count, sdk-go (v1.50.0,
	// internal_task_pollers.go getNextPollRequest) sends every poll to the
	// sticky queue while it reports a backlog: under a burst the admissions
	// to running coordinators keep it non-empty, and a new coordinator's
	// first task, always on the normal queue, waited there up to 10 s.
	w := sdkworker.New(c, contract.KeyTaskQueue, sdkworker.Options{
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentWorkflowTasks,
		WorkflowTaskPollerBehavior: sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{
			MaximumNumberOfPollers: opts.WorkflowPollers, // 0: the SDK's default
		}),
		WorkerStopTimeout: opts.StopTimeout,
	})
	w.RegisterWorkflowWithOptions(workflows.FlowControlWorkflow, workflow.RegisterOptions{Name: contract.CoordinatorWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.GatherWorkflow, workflow.RegisterOptions{Name: contract.GatherWorkflowName})
	fc := &flowcontrol.Activities{Client: c}
	w.RegisterActivityWithOptions(fc.CheckRuns, activity.RegisterOptions{Name: contract.CheckRunsName})
	return w
}

// Register registers hookflow's workflows on any registry (a worker, a
// replayer, or the SDK's test environment), so all three see the same names.
func Register(r interface {
	RegisterWorkflowWithOptions(any, workflow.RegisterOptions)
}) {
	r.RegisterWorkflowWithOptions(workflows.FlowWorkflow, workflow.RegisterOptions{Name: contract.WorkflowName})
	r.RegisterWorkflowWithOptions(workflows.RedeliverWorkflow, workflow.RegisterOptions{Name: contract.RedeliverWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.ReplayWorkflow, workflow.RegisterOptions{Name: contract.ReplayWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.NotifyWorkflow, workflow.RegisterOptions{Name: contract.NotifyWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.FlowControlWorkflow, workflow.RegisterOptions{Name: contract.CoordinatorWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.GatherWorkflow, workflow.RegisterOptions{Name: contract.GatherWorkflowName})
}

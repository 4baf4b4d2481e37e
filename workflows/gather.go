package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flowcontrol"
)

// GatherInput is GatherWorkflow's input: contract.GatherStart as the API
// starts it, plus the state a continue-as-new carries (nil at first).
type GatherInput struct {
	contract.GatherStart
	State *flowcontrol.GatherState `json:"state,omitempty"`
}

// Gather workflow tuning.
const (
	// gatherContinueAfter is how many events a gather run takes before it
	// continues as new (each event's payload is in its history), unless
	// Temporal suggests it sooner.
	gatherContinueAfter = 300
	// gatherMinIdle is how long an empty gather workflow waits for the
	// key's next event before it completes (at least its period or
	// timeout): a busy key keeps one workflow, an idle one costs nothing.
	gatherMinIdle = time.Minute
	// gatherRetryFirst and gatherRetryMax space the attempts to start a
	// run that could not start (Temporal refused the child).
	gatherRetryFirst = 5 * time.Second
	gatherRetryMax   = 5 * time.Minute
)

// GatherWorkflow gathers one key's events of a debounced or batched flow
// and starts one run per quiet period (debounce) or batch. The API hands
// each event over with Update-With-Start (UpdateGather); the handler only
// adds it to the state and returns, so the API answers as soon as the
// event is in this workflow's history. The main loop sleeps until the open
// window is due or a batch closes, then starts the run as a child on the
// flow's queue, abandoned (it outlives this workflow), and waits only for
// it to have started. The rules are flowcontrol.GatherState.
func GatherWorkflow(ctx workflow.Context, in GatherInput) error {
	st := in.State
	if st == nil {
		st = &flowcontrol.GatherState{Key: in.Key}
	}
	events := 0
	idle := gatherMinIdle
	changed := false
	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateGather, func(ctx workflow.Context, ev contract.GatherEvent) (contract.GatherAccepted, error) {
		r := st.Add(ev, workflow.Now(ctx))
		events++
		changed = true
		if fc := ev.Flow.Trigger.FlowControl; fc != nil && fc.Debounce != nil {
			idle = max(gatherMinIdle, fc.Debounce.Period.Std())
		} else if fc != nil && fc.Batch != nil {
			idle = max(gatherMinIdle, fc.Batch.Timeout.Std())
		}
		return contract.GatherAccepted{Duplicate: r.Duplicate, Pending: r.Pending}, nil
	}, workflow.UpdateHandlerOptions{
		// Validators do not run on replay.
		Validator: func(_ workflow.Context, ev contract.GatherEvent) error {
			if err := flowcontrol.CheckEvent(ev); err != nil {
				return temporal.NewNonRetryableApplicationError(err.Error(), "MalformedGatherEvent", nil)
			}
			if err := st.CheckReuse(ev); err != nil {
				return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrorTypeIdempotencyKeyReused, nil)
			}
			return nil
		},
		Description: "Takes one event of the key (its id, trigger data and flow snapshot) into the open window; answers at once. An event id taken before with another payload digest is refused.",
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandlerWithOptions(ctx, contract.QueryGather, func() (contract.GatherView, error) {
		return st.View(in.FlowID), nil
	}, workflow.QueryHandlerOptions{Description: "The key's open window (events, first and last, next flush), closed windows waiting to start, and the runs started."}); err != nil {
		return err
	}

	backoff := gatherRetryFirst
	for {
		if err := startDue(ctx, st, in, &backoff); err != nil {
			return err
		}
		if events >= gatherContinueAfter || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			drainHandlers(ctx)
			if st.FitCarry() {
				// The open window was too large to carry: it closed
				// early, and its run starts before the workflow goes on.
				continue
			}
			workflow.GetLogger(ctx).Info("continuing as new", "events", events, "historyLength", workflow.GetInfo(ctx).GetCurrentHistoryLength())
			return workflow.NewContinueAsNewError(ctx, contract.GatherWorkflowName, GatherInput{GatherStart: in.GatherStart, State: st})
		}
		now := workflow.Now(ctx)
		if st.Ready(now) {
			// A start failed (startDue waited its backoff): try again.
			continue
		}
		due := st.DueAt()
		if due.IsZero() {
			workflow.SetCurrentDetails(ctx, fmt.Sprintf("idle: %d run(s) started; waiting for the key's next event", st.Runs))
			changed = false
			arrived, err := workflow.AwaitWithTimeout(ctx, idle, func() bool { return changed })
			if err != nil {
				return err
			}
			// Quiet for the whole idle time: any event, even a
			// duplicate, starts it again.
			if !arrived && st.Empty() {
				drainHandlers(ctx)
				if st.Empty() {
					return nil
				}
			}
			continue
		}
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("%d event(s) gathered; next run at %s", st.Pending(), due.UTC().Format(time.RFC3339)))
		// Sleep until the window is due, waking early only when a batch
		// closed or it is time to continue as new. A debounce event moves
		// the due time later: the loop then sleeps again for the rest.
		if _, err := workflow.AwaitWithTimeout(ctx, due.Sub(now), func() bool {
			return len(st.Closed) > 0 || events >= gatherContinueAfter
		}); err != nil {
			return err
		}
	}
}

// startDue starts the run of every window that is due, oldest first; one
// that finds the run already there (a duplicate) counts as started. After
// a start Temporal refused it waits *backoff (doubling it) and returns, so
// the loop may continue as new before the next attempt.
func startDue(ctx workflow.Context, st *flowcontrol.GatherState, in GatherInput, backoff *time.Duration) error {
	for {
		run, ok := st.Flush(workflow.Now(ctx))
		if !ok {
			return nil
		}
		err := startGathered(ctx, in.Key, run)
		if err == nil || temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			st.Started()
			*backoff = gatherRetryFirst
			continue
		}
		workflow.GetLogger(ctx).Error("start the gathered run", "flow", in.FlowID, "eventId", run.EventID, "error", err)
		workflow.SetCurrentDetails(ctx, fmt.Sprintf("**the run of %d event(s) could not start**, retrying in %s: %s", run.Events, *backoff, err))
		if err := workflow.Sleep(ctx, *backoff); err != nil {
			return err
		}
		*backoff = min(2**backoff, gatherRetryMax)
		return nil
	}
}

// startGathered starts a window's run as a child, abandoned: the id, queue
// and search attributes a trigger's run gets (contract.StartOptions), plus
// the key. It returns once the child has started.
func startGathered(ctx workflow.Context, key string, run flowcontrol.Run) error {
	f := run.Flow
	opts := contract.StartOptions(f, run.FlowVersion, run.EventID)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            opts.ID,
		TaskQueue:             opts.TaskQueue,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: opts.WorkflowIDReusePolicy,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			contract.SearchAttrFlowID.ValueSet(f.ID),
			contract.SearchAttrFlowVersion.ValueSet(run.FlowVersion),
			contract.SearchAttrTriggerMode.ValueSet(string(f.Trigger.EffectiveMode())),
			contract.SearchAttrFlowKey.ValueSet(contract.KeyForm(key)),
		),
		StaticSummary: opts.StaticSummary,
		StaticDetails: fmt.Sprintf("%s; %s of %d event(s), key `%s`", opts.StaticDetails, f.Trigger.FlowControl.Kind(), run.Events, contract.KeyForm(key)),
	})
	fut := workflow.ExecuteChildWorkflow(cctx, contract.WorkflowName, contract.Input{
		Flow: f, FlowVersion: run.FlowVersion, Trigger: run.Trigger, PublicURL: run.PublicURL,
		Engine: contract.CurrentEngine,
	})
	return fut.GetChildWorkflowExecution().Get(ctx, nil)
}

// drainHandlers lets running update handlers return before the run closes
// or continues as new.
func drainHandlers(ctx workflow.Context) {
	dctx, cancel := workflow.NewDisconnectedContext(ctx)
	defer cancel()
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
}

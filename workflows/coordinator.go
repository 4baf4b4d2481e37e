package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flowcontrol"
)

// Coordinator tuning.
const (
	// coordinatorIdle is how long an empty coordinator stays open for the
	// key's next event before it completes (the next one starts it again).
	coordinatorIdle = time.Minute
	// coordinatorEventsPerRun bounds a coordinator run's history: it
	// continues as new after this many admissions, reports and releases.
	coordinatorEventsPerRun = 2000
)

// FlowControlWorkflow is a flow's key coordinator (flowcontrol.State holds
// its rules): the API admits each event's run in arrival order, the run
// reports ready, the coordinator sends it its decision (run, or skip), and
// the run releases its permit when it ends. It holds run ids, never
// payloads, and continues as new with its queue.
func FlowControlWorkflow(ctx workflow.Context, in flowcontrol.CoordinatorInput) error {
	st := in.State
	if st == nil {
		st = &flowcontrol.State{Rules: in.Rules}
	}
	// Counted from the state the run starts with: an update delivered
	// with the start runs its handler before the loop begins.
	c := &coordinator{st: st, in: in, counted: [2]int64{st.Queued, st.Queued - int64(len(st.Waiting))}}
	c.poke = workflow.NewBufferedChannel(ctx, 1)
	c.gone = workflow.NewBufferedChannel(ctx, 0)
	if err := workflow.SetUpdateHandlerWithOptions(ctx, contract.UpdateAdmit,
		func(ctx workflow.Context, m contract.ReadyMsg) (contract.Admission, error) {
			c.adopt(m.Rules)
			c.events++
			adm, d, err := st.AdmitAndDecide(m.ID, workflow.Now(ctx))
			c.pending = append(c.pending, d)
			c.poke.SendAsync(true)
			if err != nil {
				return adm, fullError(in.CoordinatorStart)
			}
			return adm, nil
		}, workflow.UpdateHandlerOptions{
			Validator: func(_ workflow.Context, m contract.ReadyMsg) error {
				if m.ID == "" {
					return errors.New("admission without a run id")
				}
				if st.CheckAdmit(m.ID) != nil {
					return fullError(in.CoordinatorStart)
				}
				return nil
			},
			Description: "Queues an event's run at this key, in arrival order, before the run starts; refused when the key's queue is full.",
		}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandlerWithOptions(ctx, contract.QueryKey, func() (contract.KeyView, error) {
		return st.View(in.FlowID, in.Key, workflow.Now(ctx)), nil
	}, workflow.QueryHandlerOptions{Description: "The key's running and waiting runs and its next throttle slot."}); err != nil {
		return err
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("flow control of `%s`, key `%s`", in.FlowID, in.Key))
	return c.loop(ctx)
}

func fullError(s contract.CoordinatorStart) error {
	return temporal.NewNonRetryableApplicationError(
		fmt.Sprintf("key %q of flow %s has its most waiting events (%d)", s.Key, s.FlowID, s.Rules.MaxWaiting),
		contract.ErrorTypeKeyFull, nil)
}

type coordinator struct {
	in     flowcontrol.CoordinatorInput
	st     *flowcontrol.State
	poke   workflow.Channel // an update changed the state
	gone   workflow.Channel // ids a decision could not reach, or a check found closed
	events int
	// inflight counts decisions and checks not yet answered: the
	// coordinator neither closes nor continues as new before they are.
	inflight int
	// pending are decisions an admission made for other runs, for the
	// loop to send.
	pending []flowcontrol.Decisions
	// counted is what the metrics have seen of Queued and of those left.
	counted [2]int64
	timerAt time.Time
	// lastActive is when the coordinator last took an admission, a
	// report or a release: it closes a quiet coordinatorIdle after.
	lastActive time.Time
	timer      workflow.Future
	stop       workflow.CancelFunc
}

// adopt takes the rules of the newest flow version that spoke to the key.
func (c *coordinator) adopt(r contract.KeyRules) {
	if r != (contract.KeyRules{}) {
		c.st.Rules = r
		c.in.Rules = r
	}
}

func (c *coordinator) loop(ctx workflow.Context) error {
	ready := workflow.GetSignalChannel(ctx, contract.SignalReady)
	release := workflow.GetSignalChannel(ctx, contract.SignalRelease)
	withdraw := workflow.GetSignalChannel(ctx, contract.SignalWithdraw)
	c.lastActive = workflow.Now(ctx)
	drain := func() bool {
		got := false
		defer func() {
			if got {
				c.lastActive = workflow.Now(ctx)
			}
		}()
		var m contract.ReadyMsg
		for ready.ReceiveAsync(&m) {
			c.adopt(m.Rules)
			c.st.Ready(m.ID, workflow.Now(ctx))
			c.events, got = c.events+1, true
		}
		for release.ReceiveAsync(&m) {
			c.st.Release(m.ID)
			c.events, got = c.events+1, true
		}
		for withdraw.ReceiveAsync(&m) {
			c.st.Withdraw(m.ID)
			c.events, got = c.events+1, true
		}
		var id string
		for c.gone.ReceiveAsync(&id) {
			c.st.Gone([]string{id})
			c.inflight--
			got = true
		}
		var b bool
		for c.poke.ReceiveAsync(&b) {
			got = true
		}
		return got
	}
	// Per-flow counters through the SDK's metrics handler (nothing on
	// replay): waiting = queued - left, summed over the flow's keys.
	metrics := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"flow": c.in.FlowID})
	queued, left := c.counted[0], c.counted[1]
	count := func() {
		q, l := c.st.Queued, c.st.Queued-int64(len(c.st.Waiting))
		if q > queued {
			metrics.Counter(MetricFlowControlQueued).Inc(q - queued)
		}
		if l > left {
			metrics.Counter(MetricFlowControlLeft).Inc(l - left)
		}
		queued, left = q, l
	}
	for {
		drain()
		for _, p := range c.pending {
			c.send(ctx, p)
		}
		c.pending = nil
		d := c.st.Decide(workflow.Now(ctx))
		c.send(ctx, d)
		count()
		limit := coordinatorEventsPerRun
		if c.in.ContinueAfter > 0 {
			limit = c.in.ContinueAfter
		}
		if c.events >= limit || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			if c.inflight == 0 && workflow.AllHandlersFinished(ctx) && !drain() {
				workflow.GetLogger(ctx).Info("flow control continuing as new", "waiting", len(c.st.Waiting), "running", len(c.st.Running))
				return workflow.NewContinueAsNewError(ctx, contract.CoordinatorWorkflowName,
					flowcontrol.CoordinatorInput{CoordinatorStart: c.in.CoordinatorStart, State: c.st, ContinueAfter: c.in.ContinueAfter})
			}
		}
		wake := d.WakeAt
		idle := c.st.Empty() && c.inflight == 0
		if idle {
			wake = c.lastActive.Add(coordinatorIdle)
		}
		c.setTimer(ctx, wake)
		sel := workflow.NewSelector(ctx)
		woke := false
		for _, ch := range []workflow.ReceiveChannel{ready, release, withdraw, c.gone, c.poke} {
			sel.AddReceive(ch, func(workflow.ReceiveChannel, bool) {})
		}
		if c.timer != nil {
			sel.AddFuture(c.timer, func(workflow.Future) { woke = true })
		}
		sel.Select(ctx)
		if woke {
			c.timer, c.timerAt = nil, time.Time{}
			quiet := !workflow.Now(ctx).Before(c.lastActive.Add(coordinatorIdle))
			if idle && quiet && !drain() && c.st.Empty() && c.inflight == 0 && workflow.AllHandlersFinished(ctx) {
				// Quiet for coordinatorIdle: the key's next event starts
				// a fresh coordinator.
				return nil
			}
		}
	}
}

// setTimer keeps one timer, at or before the earliest time the state
// needs a look. A timer already due sooner is kept (it fires early, and
// the loop sets the next): checks and the idle close move later with each
// event, and a timer cancelled and started again per event would cost two
// history events each time.
func (c *coordinator) setTimer(ctx workflow.Context, at time.Time) {
	if c.timer != nil && (at.IsZero() || !c.timerAt.After(at)) {
		return
	}
	if c.stop != nil {
		c.stop()
	}
	c.timer, c.timerAt, c.stop = nil, at, nil
	if at.IsZero() {
		return
	}
	d := at.Sub(workflow.Now(ctx))
	if d < time.Millisecond {
		d = time.Millisecond
	}
	tctx, cancel := workflow.WithCancel(ctx)
	c.timer, c.stop = workflow.NewTimer(tctx, d), cancel
}

// send carries out decisions: a signal to each run granted or skipped, a
// cancellation request to runs a newer event supersedes (singleton
// cancel), a check of runs late to report or holding long. A decision
// that cannot reach its run (it was terminated) frees its place.
func (c *coordinator) send(ctx workflow.Context, d flowcontrol.Decisions) {
	for _, id := range d.Grants {
		c.signal(ctx, id, contract.Decision{Decision: contract.DecisionRun})
	}
	for _, sk := range d.Skips {
		c.signal(ctx, sk.ID, contract.Decision{Decision: contract.DecisionSkip, By: sk.By, Reason: sk.Reason})
	}
	for _, id := range d.Cancels {
		f := workflow.RequestCancelExternalWorkflow(ctx, id, "")
		c.inflight++
		workflow.Go(ctx, func(ctx workflow.Context) {
			c.answered(ctx, id, f.Get(ctx, nil) != nil)
		})
	}
	if len(d.Check) > 0 {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
		})
		f := workflow.ExecuteActivity(actx, contract.CheckRunsName, d.Check)
		c.inflight++
		workflow.Go(ctx, func(ctx workflow.Context) {
			var res contract.CheckRunsResult
			_ = f.Get(ctx, &res)
			c.inflight--
			for _, id := range res.Gone {
				c.inflight++
				c.gone.Send(ctx, id)
			}
			c.poke.SendAsync(true)
		})
	}
}

func (c *coordinator) signal(ctx workflow.Context, id string, dec contract.Decision) {
	f := workflow.SignalExternalWorkflow(ctx, id, "", contract.SignalDecision, dec)
	c.inflight++
	workflow.Go(ctx, func(ctx workflow.Context) {
		// A run that is gone cannot take its permit: free it. (A skip that
		// cannot reach its run frees nothing, but is answered the same.)
		c.answered(ctx, id, f.Get(ctx, nil) != nil && dec.Decision == contract.DecisionRun)
	})
}

// answered ends an in-flight decision; gone hands the id back to the loop
// (which counts it as answered then).
func (c *coordinator) answered(ctx workflow.Context, id string, gone bool) {
	if gone {
		c.gone.Send(ctx, id)
		return
	}
	c.inflight--
	c.poke.SendAsync(true)
}

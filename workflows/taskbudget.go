package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// What one workflow task may carry. A task's completion goes to Temporal
// in one RespondWorkflowTaskCompleted request, which the frontend takes up
// to gRPC's 4 MiB; past that the SDK fails the task as
// GRPC_MESSAGE_TOO_LARGE and the server terminates the run
// ("GrpcMessageTooLarge"). Its events are then written in one batch that
// system.transactionSizeLimit bounds at 4 MiB, together with the events
// buffered while the task ran (activity completions: up to
// history.maximumBufferedEventsSizeInBytes, 2 MiB); past that the run is
// terminated too ("Transaction size exceeds limit."). Every send records
// its request there: a local first attempt in its marker (with the kept
// response), an activity in its schedule command. One hundred sends side
// by side, each with a ~42 KB body, crossed 4 MiB (measured).
const (
	// MaxSendBytesPerTask bounds the requests (and a local first attempt's
	// kept response) the sends of one workflow task carry: with the 2 MiB
	// of buffered events it leaves 1 MiB of the 4 MiB for the rest of the
	// task (its other commands, a continue-as-new's input is never in the
	// same task). A send past it waits for the next workflow task.
	MaxSendBytesPerTask = 1 << 20
	// MaxSendRequestBytes bounds one send's request: Temporal refuses a
	// payload over 2 MiB (limit.blobSize.error). The SDK checks that
	// before completing a workflow task and fails the task instead, at
	// every attempt (payload_limits.go, TMPRL1103): measured, a run whose
	// local first attempt carried 2.1 MB was still open 5 minutes later.
	// Such a send fails its step instead, naming the size. A send over
	// MaxSendBytesPerTask goes alone in its task, as an activity; the 64
	// KiB left below 2 MiB keep that task's batch, with 2 MiB of buffered
	// events, within the 4 MiB transaction.
	MaxSendRequestBytes = 2048<<10 - 64<<10
	// sendEnvelopeBytes is what a marker or a schedule command adds to a
	// request: the delivery id, schedule, summary, marker data, headers of
	// the kept response.
	sendEnvelopeBytes = 2 << 10
)

// sendPlace is where a send goes in the current workflow task.
type sendPlace int

const (
	// placeLocal: a local first attempt in this task.
	placeLocal sendPlace = iota
	// placeActivity: an activity scheduled in this task.
	placeActivity
	// placeNextTask: this task carries enough; wait for the next one.
	placeNextTask
)

func (p sendPlace) String() string {
	return [...]string{"local", "activity", "next task"}[p]
}

// placeSend is the byte budget of one workflow task: used is what the
// task's sends carry so far, request a send's request and kept its
// response as a local first attempt's marker keeps it. A local attempt
// carries both, an activity its request only. The first send of a task
// always goes (as an activity when it does not fit as a local attempt), so
// every send is made however large, up to MaxSendRequestBytes.
func placeSend(used, request, kept int, mayBeLocal bool) sendPlace {
	switch {
	case mayBeLocal && used+request+kept <= MaxSendBytesPerTask:
		return placeLocal
	case used == 0 || used+request <= MaxSendBytesPerTask:
		return placeActivity
	default:
		return placeNextTask
	}
}

// sendBytes is what a send carries into a task: its request's encoding
// plus the envelope, and the response a local first attempt keeps.
func sendBytes(req *flow.HTTPRequest) (request, kept int, err error) {
	b, err := json.Marshal(req)
	if err != nil {
		return 0, 0, err
	}
	kept = contract.DefaultMaxKeptBody
	if req.KeepBody != nil {
		kept = *req.KeepBody
	}
	return len(b) + sendEnvelopeBytes, kept, nil
}

// taskBytes is what the sends of the current workflow task carry.
func (r *run) taskBytes(ctx workflow.Context) int {
	if r.task.budgetAt != workflow.GetInfo(ctx).GetCurrentHistoryLength() {
		return 0
	}
	return r.task.budgetUsed
}

func (r *run) spend(ctx workflow.Context, n int) {
	if l := workflow.GetInfo(ctx).GetCurrentHistoryLength(); r.task.budgetAt != l {
		r.task.budgetAt, r.task.budgetUsed = l, 0
	}
	r.task.budgetUsed += n
}

// placeInTask finds a send its place (EngineTaskBudget): in this workflow
// task when it fits the budget, else in a later one; request and kept are
// its sendBytes. local says whether its first attempt may be local at all,
// and the answer whether it is. A send not yet made (mayStop)
// that waits while the run hands over stops there: the continuation makes
// it.
func (r *run) placeInTask(ctx workflow.Context, request, kept int, local, mayStop bool) (bool, error) {
	for {
		// A local attempt already completed in this task: the next goes as
		// an activity (firstattempt.go, deliver).
		l := local && !(r.task.localDone && r.task.localDoneAt == workflow.GetInfo(ctx).GetCurrentHistoryLength())
		switch placeSend(r.taskBytes(ctx), request, kept, l) {
		case placeLocal:
			r.spend(ctx, request+kept)
			return true, nil
		case placeActivity:
			r.spend(ctx, request)
			return false, nil
		}
		if err := r.awaitNextTask(ctx, mayStop); err != nil {
			return false, err
		}
		if mayStop && r.shouldSuspend(ctx) {
			return false, &suspendStep{at: &contract.StepCursor{}}
		}
	}
}

// awaitNextTask waits until a new workflow task runs: the sends of this
// one carry enough. One short timer per task brings it (shared by every
// send waiting in the task; on a disconnected context, so a cancelled
// loop element does not cancel it for the others); an earlier task (an
// activity completing) does too. A send not yet made also stops waiting
// when the run hands over.
func (r *run) awaitNextTask(ctx workflow.Context, mayStop bool) error {
	at := workflow.GetInfo(ctx).GetCurrentHistoryLength()
	if r.task.nextTask == nil || r.task.nextTaskAt != at {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		r.task.nextTask = workflow.NewTimerWithOptions(dctx, time.Millisecond, workflow.TimerOptions{
			Summary: fmt.Sprintf("next workflow task: this one carries %d KiB of sends", r.taskBytes(ctx)>>10),
		})
		r.task.nextTaskAt = at
	}
	timer := r.task.nextTask
	return workflow.Await(ctx, func() bool {
		return timer.IsReady() || workflow.GetInfo(ctx).GetCurrentHistoryLength() != at || (mayStop && r.handover.suspending)
	})
}

// sendPlan is how planSend placed a send: its first attempt local or not
// (with the worker's setting fa), and its request's size.
type sendPlan struct {
	fa      FirstAttempt
	local   bool
	request int
}

// planSend places a send in a workflow task with room for it: a request
// Temporal could not record fails; a send that waits while the run hands
// over stops there (*suspendStep), unmade.
func (r *run) planSend(ctx workflow.Context, req *flow.HTTPRequest, pol *contract.DestinationPolicy) (*sendPlan, error) {
	request, kept, err := sendBytes(req)
	if err != nil {
		return nil, err
	}
	if err := checkRequestSize(request); err != nil {
		return nil, err
	}
	p := &sendPlan{request: request}
	p.fa, p.local = firstAttemptFor(ctx, r.in.Engine, req, pol)
	if p.local, err = r.placeInTask(ctx, request, kept, p.local, true); err != nil {
		return nil, err
	}
	return p, nil
}

// checkRequestSize fails a send whose request Temporal could not record.
func checkRequestSize(request int) error {
	if request > MaxSendRequestBytes {
		return fmt.Errorf("the request is %d KiB, over the %d KiB one send may carry (Temporal keeps each request in the run's history, at most 2 MiB per payload): send less, or send a reference to the data", request>>10, MaxSendRequestBytes>>10)
	}
	return nil
}

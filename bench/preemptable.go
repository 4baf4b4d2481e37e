package bench

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	tokenspb "go.temporal.io/server/api/token/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hookflow/hookflow/contract"
)

// An experiment of issue #28 (bench only, not a hookflow setting): the
// history shard serializes its persistence operations through one
// semaphore, first come first served within a priority, and a start and a
// workflow task's completion are both API calls of the same priority. The
// frontend keeps a valid caller-type header from the request, and a
// "preemptable" call waits behind every API call at that semaphore. This
// interceptor marks the completions of every run but the floor's so. The
// priority is strict, so a sustained stream of starts can hold marked
// completions back past the SDK's 10 s call timeout: what the experiment
// is to measure (docs/performance.md, issue #28's section).
//
// taskTimeout, when set, is the workflow task timeout of hookflow's
// async starts (StartWorkflowExecution of its workflow type), so a
// completion held behind a burst's starts can wait longer than the 10 s
// default before its task times out.
func preemptableCompletions(st *completionStats, yield, taskTimeout time.Duration) grpc.DialOption {
	const method = "/temporal.api.workflowservice.v1.WorkflowService/RespondWorkflowTaskCompleted"
	const start = "/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution"
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, m string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if m == start && taskTimeout > 0 {
			if r, ok := req.(*workflowservice.StartWorkflowExecutionRequest); ok && r.GetWorkflowType().GetName() == contract.WorkflowName {
				r.WorkflowTaskTimeout = durationpb.New(taskTimeout)
			}
		}
		marked, plain := false, ctx
		if m == method {
			if r, ok := req.(*workflowservice.RespondWorkflowTaskCompletedRequest); ok {
				var tok tokenspb.Task
				// A workflow task's token names the run, not its type: the
				// floor's runs are told apart by their ids.
				if tok.Unmarshal(r.GetTaskToken()) == nil && tok.GetWorkflowId() != "" && !strings.HasPrefix(tok.GetWorkflowId(), "floor") {
					ctx = metadata.AppendToOutgoingContext(ctx, "caller-type", "preemptable")
					marked = true
					if tok.GetAttempt() > 1 {
						st.retried.Add(1)
					}
				}
			}
		}
		t0 := time.Now()
		var err error
		if marked && yield > 0 {
			// Yield to starts for at most yield, then ask again at the
			// API's priority, well inside the task's timeout.
			yctx, cancel := context.WithTimeout(ctx, yield)
			err = invoker(yctx, m, req, reply, cc, opts...)
			cancel()
			if status.Code(err) == codes.DeadlineExceeded && ctx.Err() == nil {
				st.fellBack.Add(1)
				err = invoker(plain, m, req, reply, cc, opts...)
			}
		} else {
			err = invoker(ctx, m, req, reply, cc, opts...)
		}
		if marked {
			st.calls.Add(1)
			st.waited.Add(int64(time.Since(t0)))
			if err != nil {
				st.failed.Add(1)
			}
		}
		return err
	})
}

// completionStats counts the marked completions: how many, how many
// failed (a task that timed out while its completion waited is no longer
// the run's), how many were of a task's second or later attempt, and
// their total time.
type completionStats struct {
	calls, failed, retried, waited, fellBack atomic.Int64
}

func (s *completionStats) String() string {
	n := s.calls.Load()
	mean := time.Duration(0)
	if n > 0 {
		mean = time.Duration(s.waited.Load() / n)
	}
	return fmt.Sprintf("%d completions marked preemptable: %d failed, %d of a retried task, %d asked again at the API's priority, mean %s", n, s.failed.Load(), s.retried.Load(), s.fellBack.Load(), mean.Round(time.Microsecond))
}

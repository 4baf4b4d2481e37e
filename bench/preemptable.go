package bench

import (
	"context"
	"strings"

	"go.temporal.io/api/workflowservice/v1"
	tokenspb "go.temporal.io/server/api/token/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// An experiment of issue #28 (bench only, not a hookflow setting): the
// history shard serializes its persistence operations through one
// semaphore, first come first served within a priority, and a start and a
// workflow task's completion are both API calls of the same priority. The
// frontend keeps a valid caller-type header from the request, and a
// "preemptable" call waits behind every API call at that semaphore. This
// interceptor marks the completions of every run but the floor's so. The
// priority is strict, so a sustained stream of starts can hold marked
// completions back past the workflow task timeout: what the experiment
// is to measure (docs/performance.md, issue #28's section).
func preemptableCompletions() grpc.DialOption {
	const method = "/temporal.api.workflowservice.v1.WorkflowService/RespondWorkflowTaskCompleted"
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, m string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if m == method {
			if r, ok := req.(*workflowservice.RespondWorkflowTaskCompletedRequest); ok {
				var tok tokenspb.Task
				// A workflow task's token names the run, not its type: the
				// floor's runs are told apart by their ids.
				if tok.Unmarshal(r.GetTaskToken()) == nil && tok.GetWorkflowId() != "" && !strings.HasPrefix(tok.GetWorkflowId(), "floor") {
					ctx = metadata.AppendToOutgoingContext(ctx, "caller-type", "preemptable")
				}
			}
		}
		return invoker(ctx, m, req, reply, cc, opts...)
	})
}

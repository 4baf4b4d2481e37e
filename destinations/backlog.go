package destinations

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/flow"
)

// Parked deliveries are Temporal's to count: they wait in the
// destination's task queue, not in hookflow.

// BacklogCount is what Temporal reports of a destination's task queue:
// deliveries waiting for a poller (all of them while it is paused, open
// or limited) and the oldest one's age. Approximate, as Temporal's task
// queue statistics are.
type BacklogCount struct {
	Count     int64
	OldestAge time.Duration
}

// Backlog asks Temporal for a destination's task queue backlog (one
// DescribeTaskQueue with its statistics): the parked deliveries the admin
// API shows and the worker's hookflow_destination_parked metric.
func Backlog(ctx context.Context, svc workflowservice.WorkflowServiceClient, namespace, name string) (BacklogCount, error) {
	resp, err := svc.DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
		Namespace:     namespace,
		TaskQueue:     &taskqueuepb.TaskQueue{Name: flow.DestinationTaskQueue(name), Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
		TaskQueueType: enumspb.TASK_QUEUE_TYPE_ACTIVITY,
		ReportStats:   true,
	})
	if err != nil {
		return BacklogCount{}, err
	}
	st := resp.GetStats()
	b := BacklogCount{Count: st.GetApproximateBacklogCount()}
	if age := st.GetApproximateBacklogAge().AsDuration(); age > 0 && b.Count > 0 {
		b.OldestAge = age
	}
	return b, nil
}

// ClientNamespace is a Temporal client's namespace. The SDK does not tell
// it, but fills it into a visibility request that names none: one tiny
// query (a workflow type that never runs) learns it.
func ClientNamespace(ctx context.Context, c sdkclient.Client) (string, error) {
	req := &workflowservice.ListWorkflowExecutionsRequest{PageSize: 1, Query: `WorkflowType = "hookflow.none"`}
	_, err := c.ListWorkflow(ctx, req)
	if ns := req.GetNamespace(); ns != "" {
		return ns, nil
	}
	if err == nil {
		err = errors.New("the Temporal client did not name its namespace")
	}
	return "", err
}

// Package executions says what an execution of a flow is, over Temporal's
// visibility: its workflow id, with the status of its current run.
//
// Visibility keeps one record per run. A resume (a reset) leaves the run it
// reset behind as a closed record of its own, and a long run that continued
// as new leaves one per link of its chain; listed as they are, one execution
// shows up several times, and a resumed execution that completed still
// matches a filter on "failed". The executions API and a bulk replay's
// selection therefore keep only the records that are their execution's
// current run.
package executions

import (
	"context"
	"errors"
	"sync"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
)

// Describer is the one client call Current needs (the SDK client has it).
type Describer interface {
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
}

// lookups bounds the describes Current makes at once.
const lookups = 8

// Current keeps, in their order, the records of infos that are their
// execution's current run. A running record is current without a lookup (a
// workflow id has at most one running run); a closed one is current when the
// execution's latest run is that run. An execution whose current run is gone
// (retention deleted it) is dropped. A workflow id listed twice keeps its
// first current record only.
func Current(ctx context.Context, d Describer, infos []*workflowpb.WorkflowExecutionInfo) ([]*workflowpb.WorkflowExecutionInfo, error) {
	current := make(map[string]string) // workflow id -> current run id ("" when gone)
	var ids []string
	for _, info := range infos {
		id := info.GetExecution().GetWorkflowId()
		if _, seen := current[id]; seen || info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue
		}
		current[id] = ""
		ids = append(ids, id)
	}
	if err := describeAll(ctx, d, ids, current); err != nil {
		return nil, err
	}
	kept := make([]*workflowpb.WorkflowExecutionInfo, 0, len(infos))
	listed := make(map[string]bool, len(infos))
	for _, info := range infos {
		id := info.GetExecution().GetWorkflowId()
		if listed[id] || !IsCurrent(info, current[id]) {
			continue
		}
		listed[id] = true
		kept = append(kept, info)
	}
	return kept, nil
}

// IsCurrent is the rule: a record is its execution's current run when it is
// running, or when its run id is the execution's latest run id.
func IsCurrent(info *workflowpb.WorkflowExecutionInfo, currentRunID string) bool {
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return true
	}
	return currentRunID != "" && info.GetExecution().GetRunId() == currentRunID
}

// describeAll fills current[id] with each id's latest run id, a few at once.
func describeAll(ctx context.Context, d Describer, ids []string, current map[string]string) error {
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, lookups)
	)
	for _, id := range ids {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			desc, err := d.DescribeWorkflowExecution(ctx, id, "")
			mu.Lock()
			defer mu.Unlock()
			var nf *serviceerror.NotFound
			switch {
			case errors.As(err, &nf):
				// Gone: nothing of it is current.
			case err != nil:
				if firstErr == nil {
					firstErr = err
				}
			default:
				current[id] = desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

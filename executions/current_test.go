package executions

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
)

const (
	running   = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	completed = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	failed    = enumspb.WORKFLOW_EXECUTION_STATUS_FAILED
	continued = enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
)

func record(id, run string, st enumspb.WorkflowExecutionStatus) *workflowpb.WorkflowExecutionInfo {
	return &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: run}, Status: st}
}

// latest answers a describe with the run id it holds for the workflow id;
// an id it does not hold is gone (NotFound); fail makes every call fail.
type latest struct {
	runs  map[string]string
	fail  error
	calls atomic.Int32
}

func (l *latest) DescribeWorkflowExecution(_ context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	l.calls.Add(1)
	if runID != "" {
		return nil, errors.New("Current must ask for the latest run (an empty run id)")
	}
	if l.fail != nil {
		return nil, l.fail
	}
	run, ok := l.runs[id]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: record(id, run, completed)}, nil
}

func TestIsCurrentKeepsRunningRecordsAndTheLatestRunOnly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		info    *workflowpb.WorkflowExecutionInfo
		current string
		want    bool
	}{
		{"a running record is current without a lookup", record("a", "r1", running), "", true},
		{"a closed record of the latest run is current", record("a", "r2", failed), "r2", true},
		{"the failed run a resume left behind is not", record("a", "r1", failed), "r2", false},
		{"a link of a continue-as-new chain is not", record("a", "r1", continued), "r3", false},
		{"a closed record of an execution that is gone is not", record("a", "r1", completed), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, IsCurrent(tc.info, tc.current))
		})
	}
}

func TestCurrentListsEachExecutionOnceByItsLatestRun(t *testing.T) {
	d := &latest{runs: map[string]string{"rs1": "r2", "bk1": "b1", "cn": "c3"}}
	got, err := Current(context.Background(), d, []*workflowpb.WorkflowExecutionInfo{
		record("rs1", "r2", completed), // resumed, then completed
		record("run", "x1", running),
		record("bk1", "b1", failed),
		record("rs1", "r1", failed),      // the run the resume reset
		record("cn", "c2", continued),    // a link of a chain
		record("cn", "c3", failed),       // its latest run
		record("gone", "g1", failed),     // deleted by retention since
		record("bk1", "b1", failed),      // listed twice (pages overlap)
		record("run", "x1", running),     // listed twice, running
		record("cn", "c1", continued),    // an older link
		record("cn", "c3", failed),       // again
		record("rs1", "r0", completed),   // an even older run
		record("bk1", "b0", failed),      // an older run of bk1
		record("other", "o1", completed), // gone too
	})
	require.NoError(t, err)
	var ids []string
	for _, info := range got {
		ids = append(ids, info.GetExecution().GetWorkflowId()+"/"+info.GetExecution().GetRunId())
	}
	require.Equal(t, []string{"rs1/r2", "run/x1", "bk1/b1", "cn/c3"}, ids)
	require.Equal(t, int32(5), d.calls.Load(), "one lookup per closed workflow id: rs1, bk1, cn, gone, other")
}

func TestCurrentFailsWhenALookupFails(t *testing.T) {
	d := &latest{fail: serviceerror.NewUnavailable("frontend down")}
	_, err := Current(context.Background(), d, []*workflowpb.WorkflowExecutionInfo{record("a", "r1", failed)})
	var un *serviceerror.Unavailable
	require.ErrorAs(t, err, &un)
}

func TestCurrentOfOnlyRunningRecordsLooksNothingUp(t *testing.T) {
	d := &latest{fail: errors.New("no lookup expected")}
	got, err := Current(context.Background(), d, []*workflowpb.WorkflowExecutionInfo{record("a", "r1", running), record("b", "r1", running)})
	require.NoError(t, err)
	require.Len(t, got, 2)
}

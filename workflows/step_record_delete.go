package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runRecordDelete) }

// runRecordDelete renders which record and deletes it as an activity; no
// such record is count 0, not a failure.
func runRecordDelete(ctx workflow.Context, r *run, s *flow.Step, spec *flow.RecordDelete, at position) (map[string]any, error) {
	w := contract.RecordWrite{Collection: spec.Collection}
	if err := r.renderTarget(&w, spec.RecordID, spec.Match, at.env); err != nil {
		return nil, err
	}
	w.IdempotencyKey = r.recordWriteKey(ctx)
	res, err := runRecordActivity(ctx, spec.Retry, "record.delete "+spec.Collection, contract.RecordDeleteName, w)
	if err != nil {
		return nil, err
	}
	var rec any
	if res.Record != nil {
		rec = res.Record
	}
	return map[string]any{"record": rec, "count": res.Count}, nil
}

package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runRecordUpdate) }

// runRecordUpdate renders which record and what to set, and updates it as
// an activity (merge: properties not listed stay).
func runRecordUpdate(ctx workflow.Context, r *run, s *flow.Step, spec *flow.RecordUpdate, at position) (map[string]any, error) {
	w := contract.RecordWrite{Collection: spec.Collection}
	if err := r.renderTarget(&w, spec.RecordID, spec.Match, at.env); err != nil {
		return nil, err
	}
	props, err := r.renderValues("properties", spec.Properties, at.env)
	if err != nil {
		return nil, err
	}
	w.Properties, w.IdempotencyKey = props, r.recordWriteKey(ctx)
	res, err := runRecordActivity(ctx, spec.Retry, "record.update "+spec.Collection, contract.RecordUpdateName, w)
	if err != nil {
		return nil, err
	}
	return map[string]any{"record": res.Record, "changed": res.Changed}, nil
}

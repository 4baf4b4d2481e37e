package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runRecordUpsert) }

// runRecordUpsert renders the unique value and the properties, and creates
// or updates the record as an activity.
func runRecordUpsert(ctx workflow.Context, r *run, s *flow.Step, spec *flow.RecordUpsert, at position) (map[string]any, error) {
	w := contract.RecordWrite{Collection: spec.Collection}
	if err := r.renderTarget(&w, "", spec.Match, at.env); err != nil {
		return nil, err
	}
	props, err := r.renderValues("properties", spec.Properties, at.env)
	if err != nil {
		return nil, err
	}
	w.Properties, w.IdempotencyKey = props, r.recordWriteKey(ctx)
	res, err := runRecordActivity(ctx, spec.Retry, "record.upsert "+spec.Collection+" by "+w.MatchProperty, contract.RecordUpsertName, w)
	if err != nil {
		return nil, err
	}
	return map[string]any{"record": res.Record, "created": res.Created, "changed": res.Changed}, nil
}

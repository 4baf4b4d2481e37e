package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runRecordCreate) }

// runRecordCreate renders the properties and creates the record as an
// activity; its idempotency key makes a retried attempt return the record
// the first one made.
func runRecordCreate(ctx workflow.Context, r *run, s *flow.Step, spec *flow.RecordCreate, at position) (map[string]any, error) {
	props, err := r.renderValues("properties", spec.Properties, at.env)
	if err != nil {
		return nil, err
	}
	w := contract.RecordWrite{Collection: spec.Collection, Properties: props, IdempotencyKey: r.recordWriteKey(ctx)}
	res, err := runRecordActivity(ctx, spec.Retry, "record.create "+spec.Collection, contract.RecordCreateName, w)
	if err != nil {
		return nil, err
	}
	return map[string]any{"record": res.Record, "created": true}, nil
}

package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

func init() { registerExecutor(runRecordFind) }

// runRecordFind renders the filter and queries the collection as an
// activity. A read needs no idempotency key.
func runRecordFind(ctx workflow.Context, r *run, s *flow.Step, spec *flow.RecordFind, at position) (map[string]any, error) {
	filter, err := r.renderValues("filter", spec.Filter, at.env)
	if err != nil {
		return nil, err
	}
	q := contract.RecordQuery{Collection: spec.Collection, Filter: filter, Sort: spec.Sort, Limit: spec.EffectiveLimit()}
	res, err := runRecordActivity(ctx, spec.Retry, "record.find "+spec.Collection, contract.RecordFindName, q)
	if err != nil {
		return nil, err
	}
	records := make([]any, len(res.Records))
	for i, rec := range res.Records {
		records[i] = rec
	}
	var first any
	if len(records) > 0 {
		first = records[0]
	}
	return map[string]any{"records": records, "record": first, "count": res.Count}, nil
}

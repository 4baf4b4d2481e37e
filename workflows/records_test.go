package workflows_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/store"
)

func recordStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "hookflow.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	c, err := records.DecodeCollection([]byte(`{name: contacts, properties: [{name: email, type: string, unique: true}, {name: plan, type: enum, options: [free, pro]}, {name: visits, type: number}]}`), true)
	require.NoError(t, err)
	_, err = records.Of(st).CreateCollection(ctx, c)
	require.NoError(t, err)
	return st
}

const recordStepsFlow = `
id: records
trigger: {}
steps:
  - {id: up, type: record.upsert, collection: contacts, match: {email: "{{ trigger.body.email }}"}, properties: {plan: free}}
  - {id: again, type: record.upsert, collection: contacts, match: {email: "{{ trigger.body.email }}"}, properties: {visits: 2}}
  - {id: other, type: record.create, collection: contacts, properties: {email: b@x.test, plan: pro}}
  - {id: upd, type: record.update, collection: contacts, recordId: "{{ steps.up.outputs.record.id }}", properties: {plan: pro}}
  - {id: find, type: record.find, collection: contacts, filter: {plan: pro}, sort: -email, limit: 1}
  - {id: del, type: record.delete, collection: contacts, match: {email: b@x.test}}
  - {id: gone, type: record.delete, collection: contacts, match: {email: b@x.test}}
  - id: out
    type: set
    values:
      created: "{{ steps.up.outputs.created }}"
      againCreated: "{{ steps.again.outputs.created }}"
      sameRecord: "{{ steps.again.outputs.record.id == steps.up.outputs.record.id }}"
      visits: "{{ steps.again.outputs.record.properties.visits }}"
      plan: "{{ steps.upd.outputs.record.properties.plan }}"
      found: "{{ steps.find.outputs.count }}"
      first: "{{ steps.find.outputs.record.properties.email }}"
      listed: "{{ len(steps.find.outputs.records) }}"
      deleted: "{{ steps.del.outputs.count }}"
      deletedAgain: "{{ steps.gone.outputs.count }}"
  - {id: end, type: end, message: "{{ toJSON(steps.out.outputs) }}"}
`

func TestRecordSteps(t *testing.T) {
	h := setup(t)
	st := recordStore(t)
	activities.NewRecords(records.Of(st), nil).Register(h.env)
	res, err := h.run(recordStepsFlow, map[string]any{"email": "a@x.test"})
	require.NoError(t, err)
	require.JSONEq(t, `{"created":true,"againCreated":false,"sameRecord":true,"visits":2,"plan":"pro","found":2,"first":"b@x.test","listed":1,"deleted":1,"deletedAgain":0}`, res.Message)
	page, err := records.Of(st).Find(context.Background(), "contacts", records.Query{Count: true})
	require.NoError(t, err)
	require.Equal(t, 1, page.Total)
	require.Equal(t, map[string]any{"email": "a@x.test", "plan": "pro", "visits": 2.0}, page.Records[0].Properties)
}

// The first attempt writes, then fails before returning (a worker lost
// after the commit): the retry, with the same idempotency key, returns the
// record the first attempt made. One record.
func TestRetriedRecordCreateMakesOneRecord(t *testing.T) {
	h := setup(t)
	st := recordStore(t)
	rec := activities.NewRecords(records.Of(st), nil)
	var keys []string
	h.env.RegisterActivityWithOptions(func(ctx context.Context, w contract.RecordWrite) (*contract.RecordResult, error) {
		keys = append(keys, w.IdempotencyKey)
		res, err := rec.Create(ctx, w)
		if activity.GetInfo(ctx).Attempt == 1 {
			return nil, errors.New("connection reset after the commit")
		}
		return res, err
	}, activity.RegisterOptions{Name: contract.RecordCreateName})
	res, err := h.run(`
id: once
trigger: {}
steps:
  - {id: add, type: record.create, collection: contacts, properties: {email: "{{ trigger.body.email }}"}}
  - {id: add2, type: record.create, collection: contacts, properties: {email: other@x.test}}
  - {id: end, type: end, message: "{{ steps.add.outputs.record.properties.email }}"}
`, map[string]any{"email": "a@x.test"})
	require.NoError(t, err)
	require.Equal(t, "a@x.test", res.Message)
	require.Len(t, keys, 4)
	require.Equal(t, keys[0], keys[1], "a retry carries its write's key")
	require.Equal(t, keys[2], keys[3])
	require.NotEqual(t, keys[0], keys[2], "each write has its own key")
	page, err := records.Of(st).Find(context.Background(), "contacts", records.Query{Count: true})
	require.NoError(t, err)
	require.Equal(t, 2, page.Total)
}

func TestRecordStepFailures(t *testing.T) {
	for name, tc := range map[string]struct {
		records *activities.Records
		step    string
		want    string
	}{
		"no store": {nil, `{id: add, type: record.create, collection: contacts, properties: {email: a@x.test}}`,
			"record steps need the flow store: start the worker with --store"},
		"wrong type": {nil, `{id: add, type: record.create, collection: contacts, properties: {email: a@x.test, visits: many}}`,
			"properties.visits: must be a number, got a string"},
		"no collection": {nil, `{id: add, type: record.find, collection: leads}`,
			`collection "leads" does not exist`},
		"no record": {nil, `{id: add, type: record.update, collection: contacts, match: {email: nobody@x.test}, properties: {plan: pro}}`,
			`collection "contacts" has no record with email "nobody@x.test"`},
	} {
		t.Run(name, func(t *testing.T) {
			h := setup(t)
			rec := tc.records
			if name != "no store" {
				rec = activities.NewRecords(records.Of(recordStore(t)), nil)
			}
			rec.Register(h.env)
			_, err := h.run("{id: fails, trigger: {}, steps: ["+tc.step+"]}", map[string]any{})
			var ae *temporal.ApplicationError
			require.True(t, errors.As(err, &ae), "%v", err)
			require.Contains(t, ae.Error(), tc.want)
		})
	}
}

package flow_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/trigger"
)

const recordFlow = `
id: contacts-sync
trigger:
  enroll:
    record: {collection: contacts, property: email, value: "{{ trigger.body.email }}"}
    if: trigger.record.properties.plan == "pro"
steps:
  - {id: add, type: record.create, collection: events, properties: {email: "{{ trigger.record.properties.email }}", kind: signup}}
  - {id: up, type: record.upsert, collection: contacts, match: {email: "{{ trigger.body.email }}"}, properties: {seen: true}, onError: continue}
  - {id: upd, type: record.update, collection: contacts, recordId: "{{ steps.up.outputs.record.id }}", properties: {plan: free}}
  - {id: find, type: record.find, collection: tickets, filter: {owner: "{{ steps.upd.outputs.record.id }}"}, sort: -createdAt, limit: 5}
  - {id: del, type: record.delete, collection: tickets, match: {ref: "{{ steps.find.outputs.record.properties.ref }}"}}
  - id: send
    type: http
    method: POST
    url: https://crm.example.com/contacts
    body: {mode: record}
  - id: sendFound
    type: http
    method: POST
    url: https://crm.example.com/tickets
    body: {mode: record, record: "{{ steps.find.outputs.record }}"}
`

func TestRecordStepsValidate(t *testing.T) {
	f, err := flow.DecodeYAML([]byte(recordFlow))
	require.NoError(t, err)
	require.Equal(t, "contacts", f.Trigger.Enroll.Record.Collection)
	find := f.Steps[3].Spec.(*flow.RecordFind)
	require.Equal(t, 5, find.EffectiveLimit())
	require.True(t, f.Steps[1].Spec.(flow.ErrorContinuer).ContinuesOnError())
	// The definition round-trips (a run's input is its JSON).
	b, err := json.Marshal(f)
	require.NoError(t, err)
	again, err := flow.Decode(b)
	require.NoError(t, err)
	require.Equal(t, f.Steps[4].Spec, again.Steps[4].Spec)

	_, err = flow.DecodeYAML([]byte(`
id: bad
trigger:
  enroll:
    record: {collection: Contacts, property: e-mail, value: "{{ trigger.body.email + }}"}
  parse:
    body: [{path: contact.record}]
steps:
  - {id: a, type: record.create, collection: contacts}
  - {id: b, type: record.update, collection: contacts, properties: {x: 1}}
  - {id: c, type: record.update, collection: contacts, recordId: "1", match: {email: x}, properties: {x: 1}}
  - {id: d, type: record.upsert, collection: contacts, match: {email: x, id: y}}
  - {id: e, type: record.find, collection: contacts, sort: "created at", limit: 500, filter: {"9x": 1}}
  - {id: f, type: record.delete, collection: contacts, recordId: "{{ steps.nope.outputs.id }}"}
  - {id: g, type: record.create, collection: contacts, properties: {x: 1}, colour: red}
  - {id: h, type: http, method: POST, url: "https://x.example.com", body: {mode: all, record: "{{ steps.e.outputs.record }}"}}
  - {id: i, type: http, method: POST, url: "https://x.example.com", body: {mode: record, record: "steps.e.outputs.record"}}
`))
	errs := fieldErrors(t, err)
	requireError(t, errs, "trigger.enroll.record.collection", "must be a collection's name")
	requireError(t, errs, "trigger.enroll.record.property", "must be a property name")
	requireError(t, errs, "trigger.enroll.record.value", "expression `trigger.body.email +`")
	requireError(t, errs, "trigger.parse.body[0].alias", "trigger.record holds the enrolled record")
	requireError(t, errs, "steps[0].properties", "is required")
	requireError(t, errs, "steps[1].match", "find the record by match")
	requireError(t, errs, "steps[2].recordId", "set recordId or match, not both")
	requireError(t, errs, "steps[3].match", "names one unique property")
	requireError(t, errs, "steps[4].sort", "is createdAt, updatedAt, id or a property name")
	requireError(t, errs, "steps[4].limit", "must be at most 100")
	requireError(t, errs, "steps[4].filter.9x", "a property name is an identifier")
	requireError(t, errs, "steps[5].recordId", "reads steps.nope, but no step has that id")
	requireError(t, errs, "steps[6].colour", "unknown field for a record.create step")
	requireError(t, errs, "steps[7].body.record", "applies to mode record only")
	requireError(t, errs, "steps[8].body.record", "is a template yielding a record")

	_, err = flow.DecodeYAML([]byte(`{id: bad, trigger: {enroll: {response: {status: 200}}}, steps: [{id: s, type: set, values: {a: 1}}]}`))
	requireError(t, fieldErrors(t, err), "trigger.enroll", "set if (a condition), record (a record that must exist), or both")
}

func TestEnrollRecordValue(t *testing.T) {
	data := map[string]any{"body": map[string]any{"email": "a@x.test", "n": 42.0}}
	for src, want := range map[string]any{
		"{{ trigger.body.email }}":         "a@x.test",
		"{{ trigger.body.n }}":             42.0,
		"id-{{ trigger.body.n }}":          "id-42",
		"{{ lower(\"A@X.test\") }}":        "a@x.test",
		"static@x.test":                    "static@x.test",
		"{{ trigger.body.email ?? \"\" }}": "a@x.test",
	} {
		got, err := (&trigger.EnrollRecord{Value: src}).EvalValue(data)
		require.NoError(t, err, src)
		require.Equal(t, want, got, src)
	}
	_, err := (&trigger.EnrollRecord{Value: "{{ trigger.body.missing }}"}).EvalValue(data)
	require.ErrorContains(t, err, "the value is empty")
}

func TestHTTPBodyModeRecord(t *testing.T) {
	f, err := flow.DecodeYAML([]byte(recordFlow))
	require.NoError(t, err)
	rec := func(email string) map[string]any {
		return map[string]any{"id": "r1", "collection": "contacts", "properties": map[string]any{"email": email, "plan": "pro"}}
	}
	env := map[string]any{
		expression.EnvTrigger: map[string]any{"body": map[string]any{"email": "a@x.test"}, "record": rec("a@x.test")},
		expression.EnvSteps:   map[string]any{"find": map[string]any{"outputs": map[string]any{"record": rec("found@x.test")}}},
	}
	e := expression.NewEvaluator()
	req, err := f.Steps[5].Spec.(*flow.HTTP).Render(e, env)
	require.NoError(t, err)
	require.JSONEq(t, `{"email":"a@x.test","plan":"pro"}`, string(req.Body), "the enrolled record's properties by default")
	req, err = f.Steps[6].Spec.(*flow.HTTP).Render(e, env)
	require.NoError(t, err)
	require.JSONEq(t, `{"email":"found@x.test","plan":"pro"}`, string(req.Body))

	env[expression.EnvTrigger] = map[string]any{"body": map[string]any{}}
	_, err = f.Steps[5].Spec.(*flow.HTTP).Render(e, env)
	require.ErrorContains(t, err, "mode record has no record")
	env[expression.EnvSteps] = map[string]any{"find": map[string]any{"outputs": map[string]any{"record": nil}}}
	_, err = f.Steps[6].Spec.(*flow.HTTP).Render(e, env)
	require.ErrorContains(t, err, "body.record: the template yielded null")
}

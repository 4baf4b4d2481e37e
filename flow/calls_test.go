package flow_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
)

func decodeOK(t *testing.T, y string) *flow.Flow {
	t.Helper()
	f, err := flow.DecodeYAML([]byte(y))
	require.NoError(t, err)
	return f
}

func TestCheckCallsFindsUnknownCalleesCyclesAndDepth(t *testing.T) {
	stored := map[string]*flow.Flow{
		"b": decodeOK(t, "id: b\nsteps: [{id: x, type: call, flow: a}]\n"),
		"c": decodeOK(t, "id: c\nsteps: [{id: x, type: set, values: {v: 1}}]\n"),
	}
	lookup := func(id string) (*flow.Flow, bool) { f, ok := stored[id]; return f, ok }

	a := decodeOK(t, "id: a\nsteps:\n  - {id: one, type: call, flow: c}\n  - {id: two, type: condition, if: 'true', then: [{id: back, type: call, flow: b}]}\n  - {id: three, type: call, flow: nope}\n")
	errs := flow.CheckCalls(a, lookup)
	require.Len(t, errs, 2)
	require.Equal(t, "steps[1].then[0].flow", errs[0].Path)
	require.Equal(t, `calling "b" makes a cycle: a → b → a`, errs[0].Message)
	require.Equal(t, "steps[2].flow", errs[1].Path)
	require.Equal(t, `no flow has the id "nope"`, errs[1].Message)

	self := decodeOK(t, "id: s\nsteps: [{id: me, type: call, flow: s, wait: false}]\n")
	require.Equal(t, `calling "s" makes a cycle: s → s`, flow.CheckCalls(self, lookup)[0].Message)

	// A chain of six flows is one too deep.
	for _, p := range [][2]string{{"d1", "d2"}, {"d2", "d3"}, {"d3", "d4"}, {"d4", "d5"}} {
		stored[p[0]] = decodeOK(t, "id: "+p[0]+"\nsteps: [{id: x, type: call, flow: "+p[1]+"}]\n")
	}
	stored["d5"] = decodeOK(t, "id: d5\nsteps: [{id: x, type: set, values: {v: 1}}]\n")
	require.Empty(t, flow.CheckCalls(stored["d1"], lookup))
	top := decodeOK(t, "id: top\nsteps: [{id: x, type: call, flow: d1}]\n")
	errs = flow.CheckCalls(top, lookup)
	require.Len(t, errs, 1)
	require.Contains(t, errs[0].Message, `calling "d1" makes the chain top → d1 → d2 → d3 → d4 → d5, 6 flows deep (at most 5)`)
}

func TestCompositionStepsValidate(t *testing.T) {
	ok := `
id: people
steps:
  - id: confirm
    type: wait
    event: confirmed
    match: event.orderId == trigger.body.id
    timeout: 2d
    onTimeout: continue
    notify: [{id: mail, type: set, values: {link: "{{ steps.confirm.resumeUrl }}"}}]
  - id: review
    type: approval
    approvers: [ops@example.com]
    onTimeout: approve
    notify: [{id: ask, type: set, values: {a: "{{ steps.review.approveUrl }}", r: "{{ steps.review.rejectUrl }}"}}]
    then: [{id: yes, type: output, values: {decision: "{{ steps.review.outputs.decision }}", by: "{{ steps.confirm.outputs.who }}"}}]
    else: [{id: no, type: call, flow: other, input: {why: "{{ steps.review.outputs.comment }}"}, wait: false}]
`
	_, err := flow.DecodeYAML([]byte(ok))
	require.NoError(t, err)

	bad := `
id: bad
steps:
  - {id: w, type: wait, event: "has space", match: "event.x ==", timeout: 400d, onTimeout: later}
  - {id: a, type: approval, onTimeout: maybe, then: [{id: t, type: set, values: {x: "{{ event.x }}"}}]}
  - {id: c, type: call, flow: Not_An_Id, wait: 3}
  - {id: o, type: output, values: {"1x": 1}}
  - {id: early, type: set, values: {x: "{{ steps.late.resumeUrl }}"}}
  - {id: late, type: wait, event: e}
`
	_, err = flow.DecodeYAML([]byte(bad))
	var ve *flow.ValidationError
	require.ErrorAs(t, err, &ve)
	got := map[string]string{}
	for _, e := range ve.Errors {
		got[e.Path] = e.Message
	}
	for _, p := range []string{"steps[0].event", "steps[0].match", "steps[0].timeout", "steps[0].onTimeout",
		"steps[1].onTimeout", "steps[1].then[0].values.x", "steps[2].flow", "steps[2].wait", "steps[3].values.1x", "steps[4].values.x"} {
		require.Contains(t, got, p, "errors: %v", ve.Errors)
	}
}

func TestCalleesFirst(t *testing.T) {
	a := decodeOK(t, "id: a\nsteps: [{id: x, type: call, flow: b}]\n")
	b := decodeOK(t, "id: b\nsteps: [{id: x, type: call, flow: c}]\n")
	c := decodeOK(t, "id: c\nsteps: [{id: x, type: set, values: {v: 1}}]\n")
	d := decodeOK(t, "id: d\nsteps: [{id: x, type: call, flow: elsewhere}]\n")
	var ids []string
	for _, f := range flow.CalleesFirst([]*flow.Flow{a, d, b, c}) {
		ids = append(ids, f.ID)
	}
	require.Equal(t, []string{"c", "b", "a", "d"}, ids)
}

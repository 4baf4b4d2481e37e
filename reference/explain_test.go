package reference_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
	"github.com/hookflow/hookflow/reference"
)

// Explain prints a field's entry (type, whether required, description,
// the code's default, the validation's limits, templates) and a step
// type's or an object's fields; unknown names are errors naming what is
// known.
func TestExplainPrintsTheReferenceEntry(t *testing.T) {
	d := func(x time.Duration) string { return reference.FormatDuration(field.Duration(x)) }
	for _, c := range []struct {
		query string
		want  string   // the whole output
		holds []string // or parts it must hold
	}{
		{query: "http.retry.initialInterval", want: "http.retry.initialInterval (duration, optional)\n" +
			"  Wait before the first retry.\n" +
			"  Default: " + d(flow.DefaultInitialInterval) + "\n" +
			"  Limits: at least 100ms\n"},
		{query: "record.find.retry.giveUpAfter", want: "record.find.retry.giveUpAfter (duration, optional)\n" +
			"  Bounds all attempts together (schedule-to-close).\n" +
			"  Default: " + d(flow.DefaultRecordGiveUpAfter) + "\n" +
			"  Limits: at least 1s; at most 30d\n"},
		{query: "switch.cases.if", want: "switch.cases.if (string, required)\n" +
			"  A bare expression that must yield true or false.\n" +
			"  Takes a bare expression.\n"},
		{query: "trigger.timeout", want: "trigger.timeout (duration, optional)\n" +
			"  A sync trigger's budget: past it the caller gets the onTimeout answer while the flow goes on. Sync triggers only.\n" +
			"  Default: " + d(trigger.DefaultSyncTimeout.Std()) + "\n" +
			"  Limits: at least 1s; at most 5m\n"},
		{query: "collection.properties.type", want: "collection.properties.type (string, required)\n" +
			"  The values' type; datetimes are RFC 3339 strings.\n" +
			"  Limits: one of: string, number, boolean, enum, datetime\n"},
		{query: "http.headers", holds: []string{"http.headers (map of string, optional)", "Takes {{ }} templates.", "keys: an HTTP header name", "each: at most 8192 characters"}},
		{query: "condition.then", holds: []string{"condition.then (list of steps, optional)", "Holds steps of any type"}},
		{query: "trigger.parse", holds: []string{"trigger.parse (object, optional)", "headers  list of object"}},
		{query: "record.find", holds: []string{"record.find: find records by their properties", "limit", "collection  string"}},
		{query: "destination.circuitBreaker", holds: []string{"failures", "probeInterval"}},
	} {
		var out bytes.Buffer
		require.NoError(t, reference.Explain(&out, c.query), c.query)
		if c.want != "" {
			require.Equal(t, c.want, out.String(), c.query)
		}
		for _, h := range c.holds {
			require.Contains(t, out.String(), h, c.query)
		}
	}
	var out bytes.Buffer
	require.ErrorContains(t, reference.Explain(&out, "sleep"), `nothing is named "sleep": start with a step type or a file kind (flow, trigger, destination, collection, approval`)
	require.ErrorContains(t, reference.Explain(&out, "http.retries"), `http has no field "retries"; its fields: http.id,`)
	require.Empty(t, out.String())
}

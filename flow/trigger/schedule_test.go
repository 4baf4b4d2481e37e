package trigger_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/trigger"
)

const scheduledSteps = `steps: [{id: s, type: set, values: {a: 1}}]
`

func TestValidSchedulesDecode(t *testing.T) {
	f, err := flow.DecodeYAML([]byte(`id: nightly
schedules:
  - {id: nightly, cron: "0 2 * * *", timezone: Europe/Berlin, jitter: 5m, overlap: bufferOne, catchupWindow: 1h, input: {full: true}}
  - {id: often, every: 15m, offset: 5m}
  - {id: daily, cron: "@daily"}
` + scheduledSteps))
	require.NoError(t, err)
	require.Len(t, f.Schedules, 3)
	require.Equal(t, "bufferOne", f.Schedules[0].EffectiveOverlap())
	require.Equal(t, "skip", f.Schedules[1].EffectiveOverlap())
	require.Equal(t, map[string]any{"full": true}, f.Schedules[0].Input)
}

func TestScheduleValidationNamesThePath(t *testing.T) {
	cases := []struct {
		name, entry, path, msg string
	}{
		{"a cron expression with six fields is refused", `{id: a, cron: "0 0 2 * * *"}`, "schedules[0].cron", "is not a cron expression"},
		{"a cron expression with a bad minute is refused", `{id: a, cron: "61 * * * *"}`, "schedules[0].cron", "is not a cron expression"},
		{"@every in cron points at every", `{id: a, cron: "@every 5m"}`, "schedules[0].cron", "use every:"},
		{"a TZ prefix points at timezone", `{id: a, cron: "TZ=UTC 0 2 * * *"}`, "schedules[0].cron", "use timezone:"},
		{"an unknown time zone is refused", `{id: a, cron: "0 2 * * *", timezone: Mars/Olympus}`, "schedules[0].timezone", "unknown time zone"},
		{"Local is not a time zone a server can agree on", `{id: a, cron: "0 2 * * *", timezone: Local}`, "schedules[0].timezone", "unknown time zone"},
		{"an interval under a second is refused", `{id: a, every: 500ms}`, "schedules[0].every", "at least 1s"},
		{"a negative interval is refused", `{id: a, every: -5s}`, "schedules[0].every", "at least 1s"},
		{"an offset as long as the interval is refused", `{id: a, every: 1m, offset: 1m}`, "schedules[0].offset", "less than every"},
		{"an offset on a cron is refused", `{id: a, cron: "* * * * *", offset: 1m}`, "schedules[0].offset", "only to every"},
		{"an unknown overlap policy is refused", `{id: a, every: 1m, overlap: queue}`, "schedules[0].overlap", "must be one of"},
		{"a catch-up window under 10s is refused", `{id: a, every: 1m, catchupWindow: 1s}`, "schedules[0].catchupWindow", "at least 10s"},
		{"neither cron nor every is refused", `{id: a}`, "schedules[0]", "exactly one of cron or every"},
		{"both cron and every are refused", `{id: a, cron: "* * * * *", every: 1m}`, "schedules[0]", "both cron and every"},
		{"an id that is not a slug is refused", `{id: "Nightly Run", every: 1m}`, "schedules[0].id", "lowercase id"},
		{"a bad duration is refused with its path", `{id: a, every: soon}`, "schedules[0].every", "invalid duration"},
		{"an unknown field is refused", `{id: a, every: 1m, at: noon}`, "schedules[0].at", "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := flow.DecodeYAML([]byte("id: f\nschedules:\n  - " + tc.entry + "\n" + scheduledSteps))
			requireFieldError(t, err, tc.path, tc.msg)
		})
	}
}

func TestTwoSchedulesWithOneIDAreRefused(t *testing.T) {
	_, err := flow.DecodeYAML([]byte("id: f\nschedules: [{id: a, every: 1m}, {id: a, every: 2m}]\n" + scheduledSteps))
	requireFieldError(t, err, "schedules[1].id", "duplicate schedule id")
}

func TestAResponseStepInAFlowWithOnlySchedulesIsRefused(t *testing.T) {
	_, err := flow.DecodeYAML([]byte(`id: f
schedules: [{id: a, every: 1m}]
steps: [{id: r, type: response, status: 200}]
`))
	requireFieldError(t, err, "steps[0]", "scheduled runs have no caller")
}

func requireFieldError(t *testing.T, err error, path, msg string) {
	t.Helper()
	var ve *flow.ValidationError
	require.True(t, errors.As(err, &ve), "want a validation error, got %v", err)
	for _, fe := range ve.Errors {
		if fe.Path == path && strings.Contains(fe.Message, msg) {
			return
		}
	}
	t.Fatalf("no error at %s containing %q in %v", path, msg, ve.Errors)
}

func TestACronExpressionParsesToTheValuesEachFieldMatches(t *testing.T) {
	bits := func(vs ...int) uint64 {
		var b uint64
		for _, v := range vs {
			b |= 1 << v
		}
		return b
	}
	span := func(from, to, step int) uint64 {
		var b uint64
		for v := from; v <= to; v += step {
			b |= 1 << v
		}
		return b
	}
	all := trigger.CronFields{span(0, 59, 1), span(0, 23, 1), span(1, 31, 1), span(1, 12, 1), span(0, 6, 1)}
	for _, tc := range []struct {
		expr string
		want trigger.CronFields
	}{
		{"* * * * *", all},
		{" 0 2 * * * ", trigger.CronFields{bits(0), bits(2), all.DayOfMonth, all.Month, all.DayOfWeek}},
		{"*/15 9-17 * * MON-FRI", trigger.CronFields{bits(0, 15, 30, 45), span(9, 17, 1), all.DayOfMonth, all.Month, span(1, 5, 1)}},
		{"30 4 1,15 JAN,jul 0", trigger.CronFields{bits(30), bits(4), bits(1, 15), bits(1, 7), bits(0)}},
		{"@daily", trigger.CronFields{bits(0), bits(0), all.DayOfMonth, all.Month, all.DayOfWeek}},
		{"@weekly", trigger.CronFields{bits(0), bits(0), all.DayOfMonth, all.Month, bits(0)}},
		{"@monthly", trigger.CronFields{bits(0), bits(0), bits(1), all.Month, all.DayOfWeek}},
		{"@yearly", trigger.CronFields{bits(0), bits(0), bits(1), bits(1), all.DayOfWeek}},
		{"@hourly", trigger.CronFields{bits(0), all.Hour, all.DayOfMonth, all.Month, all.DayOfWeek}},
	} {
		got, err := trigger.ParseCronFields(tc.expr)
		require.NoError(t, err, tc.expr)
		require.Equal(t, tc.want, got, tc.expr)
	}
	for _, bad := range []string{"", "@every 5m", "TZ=UTC 0 2 * * *", "0 25 * * *"} {
		_, err := trigger.ParseCronFields(bad)
		require.Error(t, err, bad)
	}
}

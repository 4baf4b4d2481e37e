package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

const scheduledUnitFlow = `{id: unit-sched, schedules: [{id: hourly, every: 1h}], steps: [{id: s, type: set, values: {x: 1}}]}`

func TestTheScheduleRoutesRefuseBadRequestsBeforeReachingTemporal(t *testing.T) {
	s := newAdminStack(t)
	// Saved without Temporal: the answer says the schedules are not in
	// step yet (an api start or a reconcile repairs them).
	rec := s.do(http.MethodPost, "/api/v1/flows", unitWriteKey, "application/yaml", scheduledUnitFlow, nil)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var created struct {
		ScheduleSync struct{ Error string } `json:"scheduleSync"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &created))
	require.Contains(t, created.ScheduleSync.Error, "no Temporal client")

	base := "/api/v1/flows/unit-sched/schedules/hourly"
	s.check(t, []refusal{
		{name: "a backfill without start", method: "POST", target: base + "/backfill", key: unitWriteKey, ct: "application/json", body: `{"end":"2020-01-01T00:00:00Z"}`, status: 422, code: "invalid_request", path: "start"},
		{name: "a backfill without end", method: "POST", target: base + "/backfill", key: unitWriteKey, ct: "application/json", body: `{"start":"2020-01-01T00:00:00Z"}`, status: 422, code: "invalid_request", path: "end"},
		{name: "a backfill that ends before it starts", method: "POST", target: base + "/backfill", key: unitWriteKey, ct: "application/json", body: `{"start":"2020-01-02T00:00:00Z","end":"2020-01-01T00:00:00Z"}`, status: 422, code: "invalid_request", path: "end"},
		{name: "a backfill of more runs than the bound", method: "POST", target: base + "/backfill", key: unitWriteKey, ct: "application/json", body: `{"start":"2000-01-01T00:00:00Z","end":"2030-01-01T00:00:00Z"}`, status: 422, code: "invalid_request", path: "end"},
		{name: "a backfill with an unknown overlap policy", method: "POST", target: base + "/backfill", key: unitWriteKey, ct: "application/json", body: `{"start":"2020-01-01T00:00:00Z","end":"2020-01-01T01:00:00Z","overlap":"queue"}`, status: 422, code: "invalid_request", path: "overlap"},
		{name: "a backfill whose body is not JSON", method: "POST", target: base + "/backfill", key: unitWriteKey, ct: "application/json", body: `{`, status: 400, code: "malformed_json"},
		{name: "a trigger with an unknown overlap policy", method: "POST", target: base + "/trigger", key: unitWriteKey, ct: "application/json", body: `{"overlap":"later"}`, status: 422, code: "invalid_request", path: "overlap"},
		{name: "a pause note that is too long", method: "POST", target: base + "/pause", key: unitWriteKey, ct: "application/json", body: `{"note":"` + longNote + `"}`, status: 422, code: "invalid_request", path: "note"},
		{name: "a schedule the flow does not have", method: "POST", target: "/api/v1/flows/unit-sched/schedules/nightly/trigger", key: unitWriteKey, status: 404, code: "not_found"},
		{name: "schedules of a flow that does not exist", method: "GET", target: "/api/v1/flows/nope/schedules", key: unitReadKey, status: 404, code: "not_found"},
		{name: "a pause with a read key", method: "POST", target: base + "/pause", key: unitReadKey, status: 403, code: "forbidden"},
		{name: "a checked request on an api without Temporal", method: "POST", target: base + "/trigger", key: unitWriteKey, status: 503, code: "temporal_unavailable"},
	})
}

var longNote = string(func() []byte {
	b := make([]byte, 501)
	for i := range b {
		b[i] = 'n'
	}
	return b
}())

package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/codec"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/store"
)

// Handler tests of the admin API's validation and error paths: the real
// handler (routing, middleware, keys) on a real SQLite store, without a
// Temporal server. Every case is refused before the API would reach
// Temporal, so the client is nil: a case that did reach it would panic
// into a 500, and fail. What needs Temporal is covered end to end in
// tests/.

const (
	unitWriteKey = "sk_unit_write_0123456789"
	unitReadKey  = "sk_unit_read_0123456789"
)

type adminStack struct {
	h     http.Handler
	store *store.Store
}

// newAdminStack serves the whole API on a fresh SQLite store holding one
// flow (an http step and a set step), the collection contacts and the
// destination crm.
func newAdminStack(t *testing.T) *adminStack {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "hookflow.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cache, err := store.NewCache(ctx, st, time.Hour, nil)
	require.NoError(t, err)
	keys, err := api.ParseAPIKeys("w:read,write:" + unitWriteKey + ";r:read:" + unitReadKey)
	require.NoError(t, err)
	cdc, err := codec.Parse("k:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	require.NoError(t, err)
	s := &adminStack{store: st, h: api.New(nil, cache, slog.New(slog.DiscardHandler), api.Config{
		Admin: &api.Admin{Store: st, Cache: cache}, APIKeys: keys,
		Deliver: activities.NewDeliverer(activities.Config{}),
		Codec:   &api.CodecEndpoint{Codec: cdc},
	}).Handler()}
	for _, seed := range []struct{ target, ct, body string }{
		{"/api/v1/flows", "application/json", `{"id":"unit-flow","trigger":{},"steps":[` +
			`{"id":"send","type":"http","method":"POST","url":"https://example.com/hook"},{"id":"s","type":"set","values":{"x":1}}]}`},
		{"/api/v1/collections", "application/yaml", `{name: contacts, properties: [{name: email, type: string, unique: true}, {name: plan, type: enum, options: [free, pro]}]}`},
		{"/api/v1/destinations", "application/yaml", `{name: crm, baseUrl: "https://crm.example.com/"}`},
	} {
		rec := s.do(http.MethodPost, seed.target, unitWriteKey, seed.ct, seed.body, nil)
		require.Equal(t, http.StatusCreated, rec.Code, "seed %s: %s", seed.target, rec.Body)
	}
	return s
}

func (s *adminStack) do(method, target, key, ct, body string, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

// refusal is a request the admin API must refuse, and the answer: status,
// the error code, and the path of what is wrong ("" where the whole
// request is: a route, a key).
type refusal struct {
	name           string
	method, target string
	key            string
	ct, body       string
	headers        map[string]string
	status         int
	code, path     string
}

func (s *adminStack) check(t *testing.T, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := s.do(tc.method, tc.target, tc.key, tc.ct, tc.body, tc.headers)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
			var e api.Error
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e), rec.Body.String())
			require.Equal(t, tc.code, e.Code, rec.Body.String())
			require.Equal(t, tc.path, e.Path, rec.Body.String())
			require.NotEmpty(t, e.Detail, "the error says what is wrong in a sentence")
			if len(e.Errors) > 0 {
				require.Equal(t, e.Path, e.Errors[0].Path, "path is the first of the errors")
			}
		})
	}
}

const validFlow = `{"id":"unit-flow","trigger":{},"steps":[{"id":"s","type":"set","values":{"x":2}}]}`

func TestAdminAPIRefusesBadFlowRequestsNamingWhatIsWrong(t *testing.T) {
	s := newAdminStack(t)
	w, r := unitWriteKey, unitReadKey
	s.check(t, []refusal{
		{name: "a request without a key is 401", method: "GET", target: "/api/v1/flows", status: 401, code: "unauthorized"},
		{name: "a key that is not configured is 401", method: "GET", target: "/api/v1/flows", key: "sk_unknown_0123456789", status: 401, code: "unauthorized"},
		{name: "a read key that writes is 403", method: "POST", target: "/api/v1/flows", key: r, ct: "application/json", body: validFlow, status: 403, code: "forbidden"},
		{name: "a read key that tests a step is 403", method: "POST", target: "/api/v1/flows/unit-flow/steps/send/test", key: r, ct: "application/json", body: `{}`, status: 403, code: "forbidden"},
		{name: "an unknown query parameter is 400 naming it", method: "GET", target: "/api/v1/flows?limit=5", key: r, status: 400, code: "unknown_parameter", path: "query.limit"},
		{name: "a flow sent as text/plain is 415 naming the content type", method: "POST", target: "/api/v1/flows", key: w, ct: "text/plain", body: validFlow, status: 415, code: "unsupported_media_type", path: "headers.Content-Type"},
		{name: "a flow that is not JSON is 422 saying where it breaks", method: "POST", target: "/api/v1/flows", key: w, ct: "application/json", body: `{"id": `, status: 422, code: "invalid_flow"},
		{name: "an invalid flow is 422 naming the first wrong field", method: "POST", target: "/api/v1/flows", key: w, ct: "application/json", body: `{"id":"Bad Id","trigger":{},"steps":[{"id":"s","type":"set","values":{"x":1}}]}`, status: 422, code: "invalid_flow", path: "id"},
		{name: "a flow sending to an unknown destination is 422 naming the step's field", method: "POST", target: "/api/v1/flows", key: w, ct: "application/json", body: `{"id":"unit-dest","trigger":{},"steps":[{"id":"send","type":"http","method":"POST","destination":"nope"}]}`, status: 422, code: "invalid_flow", path: "steps[0].destination"},
		{name: "a flow calling an unknown flow is 422 naming the call", method: "POST", target: "/api/v1/flows", key: w, ct: "application/json", body: `{"id":"unit-caller","trigger":{},"steps":[{"id":"c","type":"call","flow":"nope"}]}`, status: 422, code: "invalid_flow", path: "steps[0].flow"},
		{name: "a second flow with the same id is 409", method: "POST", target: "/api/v1/flows", key: w, ct: "application/json", body: validFlow, status: 409, code: "exists"},
		{name: "an unknown flow is 404", method: "GET", target: "/api/v1/flows/nope", key: r, status: 404, code: "not_found"},
		{name: "an If-Match that is not a version is 400 naming the header", method: "PUT", target: "/api/v1/flows/unit-flow", key: w, ct: "application/json", body: validFlow, headers: map[string]string{"If-Match": "yesterday"}, status: 400, code: "bad_if_match", path: "headers.If-Match"},
		{name: "an If-Match of an older version is 412", method: "PUT", target: "/api/v1/flows/unit-flow", key: w, ct: "application/json", body: validFlow, headers: map[string]string{"If-Match": `"v7"`}, status: 412, code: "precondition_failed"},
		{name: "a definition whose id differs from the URL's is 422 naming id", method: "PUT", target: "/api/v1/flows/other", key: w, ct: "application/json", body: validFlow, status: 422, code: "invalid_flow", path: "id"},
		{name: "a version that is not a number is 400 naming it", method: "GET", target: "/api/v1/flows/unit-flow/versions/first", key: r, status: 400, code: "bad_request", path: "version"},
		{name: "a version the flow does not have is 404", method: "GET", target: "/api/v1/flows/unit-flow/versions/9", key: r, status: 404, code: "not_found"},
		{name: "a capture of 0 requests is 422 naming count", method: "POST", target: "/api/v1/flows/unit-flow/capture", key: w, ct: "application/json", body: `{"count": 0}`, status: 422, code: "invalid_request", path: "count"},
		{name: "a capture for longer than a day is 422 naming for", method: "POST", target: "/api/v1/flows/unit-flow/capture", key: w, ct: "application/json", body: `{"for": "25h"}`, status: 422, code: "invalid_request", path: "for"},
		{name: "a capture request with an unknown field is 400", method: "POST", target: "/api/v1/flows/unit-flow/capture", key: w, ct: "application/json", body: `{"times": 3}`, status: 400, code: "malformed_json"},
		{name: "the captures of an unknown flow are 404", method: "GET", target: "/api/v1/flows/nope/captures", key: r, status: 404, code: "not_found"},
		{name: "parse with both a body and a url is 422", method: "POST", target: "/api/v1/parse", key: r, ct: "application/json", body: `{"body": {"a": 1}, "url": "https://x.test/?a=1"}`, status: 422, code: "invalid_request", path: "body"},
		{name: "parse of an unknown capture is 404 naming capture", method: "POST", target: "/api/v1/parse", key: r, ct: "application/json", body: `{"capture": "nope"}`, status: 404, code: "not_found", path: "capture"},
		{name: "parse with an unknown field is 400", method: "POST", target: "/api/v1/parse", key: r, ct: "application/json", body: `{"example": {}}`, status: 400, code: "malformed_json"},
		{name: "a test of a step of an unknown flow is 404 naming id", method: "POST", target: "/api/v1/flows/nope/steps/send/test", key: w, ct: "application/json", body: `{}`, status: 404, code: "not_found", path: "id"},
		{name: "a test of an unknown step is 404 naming stepId", method: "POST", target: "/api/v1/flows/unit-flow/steps/nope/test", key: w, ct: "application/json", body: `{}`, status: 404, code: "not_found", path: "stepId"},
		{name: "a test of a step that is not http is 422 naming the step", method: "POST", target: "/api/v1/flows/unit-flow/steps/s/test", key: w, ct: "application/json", body: `{}`, status: 422, code: "not_testable", path: "steps[1]"},
		{name: "a test with sample data of unknown fields is 400", method: "POST", target: "/api/v1/flows/unit-flow/steps/send/test", key: w, ct: "application/json", body: `{"trigger": {}, "extra": 1}`, status: 400, code: "malformed_json"},
		{name: "an unknown schema name is 404 naming name", method: "GET", target: "/api/v1/schemas/step.json", status: 404, code: "not_found", path: "name"},
		{name: "an unknown route is 404", method: "GET", target: "/api/v1/nope", key: r, status: 404, code: "not_found"},
	})
	// Nothing refused was saved.
	flows, err := s.store.Flows().List(context.Background())
	require.NoError(t, err)
	require.Len(t, flows, 1)
	require.Equal(t, int64(1), flows[0].Version)
}

func TestAdminAPIRefusesBadCollectionAndRecordRequestsNamingWhatIsWrong(t *testing.T) {
	s := newAdminStack(t)
	w, r := unitWriteKey, unitReadKey
	const recs = "/api/v1/collections/contacts/records"
	require.Equal(t, http.StatusCreated, s.do("POST", recs, w, "application/json", `{"properties": {"email": "a@x.test", "plan": "pro"}}`, nil).Code)
	s.check(t, []refusal{
		{name: "a collection sent as text/plain is 415 naming the content type", method: "POST", target: "/api/v1/collections", key: w, ct: "text/plain", body: `{}`, status: 415, code: "unsupported_media_type", path: "headers.Content-Type"},
		{name: "a collection with an unknown property type is 422 naming it", method: "POST", target: "/api/v1/collections", key: w, ct: "application/yaml", body: `{name: orders, properties: [{name: total, type: money}]}`, status: 422, code: "invalid_collection", path: "properties[0].type"},
		{name: "a definition whose name differs from the URL's is 422 naming name", method: "PUT", target: "/api/v1/collections/other", key: w, ct: "application/yaml", body: `{name: contacts, properties: [{name: email, type: string, unique: true}]}`, status: 422, code: "invalid_collection", path: "name"},
		{name: "an unknown collection is 404", method: "GET", target: "/api/v1/collections/nope", key: r, status: 404, code: "not_found"},
		{name: "a record sent as text/plain is 415 naming the content type", method: "POST", target: recs, key: w, ct: "text/plain", body: `{"properties": {}}`, status: 415, code: "unsupported_media_type", path: "headers.Content-Type"},
		{name: "a record that is not a JSON object is 400", method: "POST", target: recs, key: w, ct: "application/json", body: `[1]`, status: 400, code: "malformed_json"},
		{name: "a record without properties is 422 naming properties", method: "POST", target: recs, key: w, ct: "application/json", body: `{}`, status: 422, code: "invalid_record", path: "properties"},
		{name: "a record with a field beside properties is 422 naming it", method: "POST", target: recs, key: w, ct: "application/json", body: `{"id": "x", "properties": {}}`, status: 422, code: "invalid_record", path: "id"},
		{name: "a record with a value not among the options is 422 naming the property", method: "POST", target: recs, key: w, ct: "application/json", body: `{"properties": {"email": "b@x.test", "plan": "gold"}}`, status: 422, code: "invalid_record", path: "properties.plan"},
		{name: "a record taking a unique value already used is 409 naming the property", method: "POST", target: recs, key: w, ct: "application/json", body: `{"properties": {"email": "a@x.test"}}`, status: 409, code: "unique_conflict", path: "properties.email"},
		{name: "a page size of 0 is 400 naming it", method: "GET", target: recs + "?pageSize=0", key: r, status: 400, code: "bad_request", path: "query.pageSize"},
		{name: "a page size past the limit is 400 naming it", method: "GET", target: recs + "?pageSize=1001", key: r, status: 400, code: "bad_request", path: "query.pageSize"},
		{name: "a filter that is not a JSON object is 400 naming it", method: "GET", target: recs + "?filter=plan", key: r, status: 400, code: "bad_request", path: "query.filter"},
		{name: "a filter on an unknown property is 422 naming it", method: "GET", target: recs + `?filter={"age":3}`, key: r, status: 422, code: "invalid_record", path: "query.filter.age"},
		{name: "a record found by a property that is not unique is 422 naming the URL's part", method: "GET", target: recs + "/by/plan/pro", key: r, status: 422, code: "invalid_record", path: "path.property"},
		{name: "an unknown record is 404", method: "GET", target: recs + "/nope", key: r, status: 404, code: "not_found"},
	})
	page := s.do("GET", recs, r, "", "", nil)
	require.Equal(t, http.StatusOK, page.Code)
	var got struct{ Records []map[string]any }
	require.NoError(t, json.Unmarshal(page.Body.Bytes(), &got))
	require.Len(t, got.Records, 1, "nothing refused was written")
}

func TestAdminAPIRefusesBadDestinationRequestsNamingWhatIsWrong(t *testing.T) {
	s := newAdminStack(t)
	w, r := unitWriteKey, unitReadKey
	s.check(t, []refusal{
		{name: "a destination sent as text/plain is 415 naming the content type", method: "POST", target: "/api/v1/destinations", key: w, ct: "text/plain", body: `{}`, status: 415, code: "unsupported_media_type", path: "headers.Content-Type"},
		{name: "a destination with a field it does not have is 422 naming it", method: "POST", target: "/api/v1/destinations", key: w, ct: "application/yaml", body: `{name: billing, url: "https://b.example.com"}`, status: 422, code: "invalid_destination", path: "url"},
		{name: "a second destination with the same name is 409", method: "POST", target: "/api/v1/destinations", key: w, ct: "application/yaml", body: `{name: crm, baseUrl: "https://crm.example.com/"}`, status: 409, code: "exists"},
		{name: "a definition whose name differs from the URL's is 422 naming name", method: "PUT", target: "/api/v1/destinations/other", key: w, ct: "application/yaml", body: `{name: crm, baseUrl: "https://crm.example.com/"}`, status: 422, code: "invalid_destination", path: "name"},
		{name: "an unknown destination is 404", method: "GET", target: "/api/v1/destinations/nope", key: r, status: 404, code: "not_found"},
		{name: "a pause body that is not JSON is 400", method: "POST", target: "/api/v1/destinations/crm/pause", key: w, ct: "application/json", body: `reason`, status: 400, code: "malformed_json"},
		{name: "a pause reason over 500 characters is 422 naming reason", method: "POST", target: "/api/v1/destinations/crm/pause", key: w, ct: "application/json", body: `{"reason": "` + strings.Repeat("x", 501) + `"}`, status: 422, code: "invalid_request", path: "reason"},
		{name: "a read key that pauses is 403", method: "POST", target: "/api/v1/destinations/crm/pause", key: r, status: 403, code: "forbidden"},
	})
	got, err := destinations.NewStore(s.store).Get(context.Background(), "crm")
	require.NoError(t, err)
	require.False(t, got.State.Paused, "a refused pause changes nothing")
}

// The executions API's own checks come before any call to Temporal: with no
// Temporal client at all, each of these is answered, not a 500.
func TestAdminAPIRefusesBadExecutionRequestsBeforeAskingTemporal(t *testing.T) {
	s := newAdminStack(t)
	w, r := unitWriteKey, unitReadKey
	const window = `"filter": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"}`
	s.check(t, []refusal{
		{name: "a status filter that is not a status is 400 naming it", method: "GET", target: "/api/v1/flows/unit-flow/executions?status=done", key: r, status: 400, code: "bad_request", path: "query.status"},
		{name: "a page size past 1000 is 400 naming it", method: "GET", target: "/api/v1/flows/unit-flow/executions?pageSize=1001", key: r, status: 400, code: "bad_request", path: "query.pageSize"},
		{name: "a page size that is not a number is 400 naming it", method: "GET", target: "/api/v1/flows/unit-flow/executions?pageSize=ten", key: r, status: 400, code: "bad_request", path: "query.pageSize"},
		{name: "a page token this API did not give is 400 naming it", method: "GET", target: "/api/v1/flows/unit-flow/executions?nextPageToken=@@", key: r, status: 400, code: "bad_request", path: "query.nextPageToken"},
		{name: "a page token and its alias that differ are 400 naming the alias", method: "GET", target: "/api/v1/flows/unit-flow/executions?nextPageToken=YQ&pageToken=Yg", key: r, status: 400, code: "bad_request", path: "query.pageToken"},
		{name: "an unknown query parameter is 400 naming it", method: "GET", target: "/api/v1/flows/unit-flow/executions?pagetoken=YQ", key: r, status: 400, code: "unknown_parameter", path: "query.pagetoken"},
		{name: "a rerun body with an unknown field is 422 naming it", method: "POST", target: "/api/v1/executions/x/rerun", key: w, ct: "application/json", body: `{"versions": 2}`, status: 422, code: "invalid_body", path: "versions"},
		{name: "a rerun of version 0 is 422 naming version", method: "POST", target: "/api/v1/executions/x/rerun", key: w, ct: "application/json", body: `{"version": 0}`, status: 422, code: "invalid_body", path: "version"},
		{name: "a rerun body that is not JSON is 400", method: "POST", target: "/api/v1/executions/x/rerun", key: w, ct: "application/json", body: `{`, status: 400, code: "malformed_json"},
		{name: "a resume of a numbered version is 422 naming version", method: "POST", target: "/api/v1/executions/x/resume", key: w, ct: "application/json", body: `{"version": 2}`, status: 422, code: "invalid_body", path: "version"},
		{name: "a resume with allowResend that is not a boolean is 422 naming it", method: "POST", target: "/api/v1/executions/x/resume", key: w, ct: "application/json", body: `{"allowResend": "yes"}`, status: 422, code: "invalid_body", path: "allowResend"},
		{name: "a replay without a time range is 422 naming filter.from", method: "POST", target: "/api/v1/flows/unit-flow/replay", key: w, ct: "application/json", body: `{}`, status: 422, code: "invalid_filter", path: "filter.from"},
		{name: "a replay without an end is 422 naming filter.to", method: "POST", target: "/api/v1/flows/unit-flow/replay", key: w, ct: "application/json", body: `{"filter": {"from": "2026-01-01T00:00:00Z"}}`, status: 422, code: "invalid_filter", path: "filter.to"},
		{name: "a replay ending before it starts is 422 naming filter.to", method: "POST", target: "/api/v1/flows/unit-flow/replay", key: w, ct: "application/json", body: `{"filter": {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}}`, status: 422, code: "invalid_filter", path: "filter.to"},
		{name: "a replay over more than 31 days is 422 naming filter.to", method: "POST", target: "/api/v1/flows/unit-flow/replay", key: w, ct: "application/json", body: `{"filter": {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}}`, status: 422, code: "invalid_filter", path: "filter.to"},
		{name: "a replay of running executions is 422 naming the status", method: "POST", target: "/api/v1/flows/unit-flow/replay", key: w, ct: "application/json", body: `{"filter": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z", "status": ["failed", "running"]}}`, status: 422, code: "invalid_filter", path: "filter.status[1]"},
		{name: "a replay with an unknown action is 422 naming action", method: "POST", target: "/api/v1/flows/unit-flow/replay", key: w, ct: "application/json", body: `{"action": "restart", ` + window + `}`, status: 422, code: "invalid_filter", path: "action"},
		{name: "a replay faster than 100 per second is 422 naming perSecond", method: "POST", target: "/api/v1/flows/unit-flow/replay", key: w, ct: "application/json", body: `{"perSecond": 500, ` + window + `}`, status: 422, code: "invalid_filter", path: "perSecond"},
		{name: "a resume replay of the current version is 422 naming version", method: "POST", target: "/api/v1/flows/unit-flow/replay", key: w, ct: "application/json", body: `{"action": "resume", "version": "current", ` + window + `}`, status: 422, code: "invalid_filter", path: "version"},
		// No path yet: encoding/json does not say whose UnmarshalJSON
		// (time.Time's) failed.
		{name: "a replay with a time that is not RFC 3339 is 400", method: "POST", target: "/api/v1/flows/unit-flow/replay", key: w, ct: "application/json", body: `{"filter": {"from": "yesterday"}}`, status: 400, code: "malformed_json"},
		{name: "a replay id that is not a replay's is 404", method: "GET", target: "/api/v1/replays/unit-flow:1", key: r, status: 404, code: "not_found"},
		{name: "a cancel of a replay id that is not a replay's is 404", method: "POST", target: "/api/v1/replays/unit-flow:1/cancel", key: w, status: 404, code: "not_found"},
		{name: "an event sent as text/plain is 415 naming the content type", method: "POST", target: "/api/v1/executions/x/events/paid", key: w, ct: "text/plain", body: `paid`, status: 415, code: "unsupported_media_type", path: "headers.Content-Type"},
		{name: "an event that is not JSON is 400", method: "POST", target: "/api/v1/executions/x/events/paid", key: w, ct: "application/json", body: `{"paid":`, status: 400, code: "malformed_json"},
		{name: "a redelivery body that is not JSON is 400", method: "POST", target: "/api/v1/executions/x/deliveries/d/redeliver", key: w, ct: "application/json", body: `new`, status: 400, code: "malformed_json"},
		{name: "a redelivery body with an unknown field is 422 naming it", method: "POST", target: "/api/v1/executions/x/deliveries/d/redeliver", key: w, ct: "application/json", body: `{"key": "new"}`, status: 422, code: "invalid_request", path: "body.key"},
		{name: "a redelivery with an unknown key choice is 422 naming it", method: "POST", target: "/api/v1/executions/x/deliveries/d/redeliver", key: w, ct: "application/json", body: `{"idempotencyKey": "fresh"}`, status: 422, code: "invalid_request", path: "body.idempotencyKey"},
		{name: "a read key that cancels is 403", method: "POST", target: "/api/v1/executions/x/cancel", key: r, status: 403, code: "forbidden"},
		{name: "a codec body that is not payloads is 400 naming payloads", method: "POST", target: "/codec/decode", key: r, ct: "application/json", body: `{"payload": 1}`, status: 400, code: "malformed_json", path: "payloads"},
		{name: "a codec call without a key is 401", method: "POST", target: "/codec/decode", ct: "application/json", body: `{"payloads": []}`, status: 401, code: "unauthorized"},
	})
}

// The two parts serve alone what is theirs, and nothing of the other's:
// the public surface has no admin route, the admin API no trigger.
func TestThePublicSurfaceAndTheAdminAPIServeOnlyTheirOwnRoutes(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "hookflow.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	cache, err := store.NewCache(ctx, st, time.Hour, nil)
	require.NoError(t, err)
	keys, err := api.ParseAPIKeys("w:read,write:" + unitWriteKey)
	require.NoError(t, err)
	public := api.NewPublic(nil, cache, nil, api.PublicConfig{Admin: &api.Admin{Store: st, Cache: cache}}).Handler()
	admin := api.NewManagement(nil, cache, nil, api.Config{Admin: &api.Admin{Store: st, Cache: cache}, APIKeys: keys}).Handler()
	serve := func(h http.Handler, method, target string) (int, string) {
		req := httptest.NewRequest(method, target, strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+unitWriteKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var e api.Error
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return rec.Code, e.Detail
	}
	for _, target := range []string{"/api/v1/flows", "/api/v1/collections", "/api/v1/openapi.json"} {
		code, detail := serve(public, "GET", target)
		require.Equal(t, http.StatusNotFound, code, target)
		require.Contains(t, detail, "no such route", target)
		code, _ = serve(admin, "GET", target)
		require.Equal(t, http.StatusOK, code, target)
	}
	code, detail := serve(admin, "POST", "/hooks/tok-aaaaaaaaaaaaaaaaaaaaaaaa")
	require.Equal(t, http.StatusNotFound, code)
	require.Contains(t, detail, "no such route")
	code, detail = serve(public, "POST", "/hooks/tok-aaaaaaaaaaaaaaaaaaaaaaaa")
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "no flow has this trigger URL", detail)
	code, _ = serve(public, "GET", "/healthz")
	require.Equal(t, http.StatusOK, code)
}

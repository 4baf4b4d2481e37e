//go:build !nodev

package tests

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkclient "go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/worker"
)

// Records end to end (issue 18): collections and records through the admin
// API, record steps on a worker with the store, enrollment by record.

const contactsCollection = `
name: contacts
properties:
  - {name: email, type: string, unique: true, required: true}
  - {name: firstName, type: string}
  - {name: age, type: number}
  - {name: vip, type: boolean}
  - {name: plan, type: enum, options: [free, pro]}
  - {name: signedUpAt, type: datetime}
`

// recordsStack is an embedded Temporal server of its own, with a worker
// that has the flow store (the package's shared worker has none), the API
// on that store, and a store that loses the answer of the first attempt of
// each write to the "ledger" collection after committing it (a worker lost
// between the write and the activity's completion).
type recordsStack struct {
	*adminStack
	crash *crashAfterCommit
}

var (
	recordsOnce sync.Once
	recordsEnv  struct {
		client sdkclient.Client
		st     *store.Store
		crash  *crashAfterCommit
		url    string
		cache  *store.Cache
		err    error
	}
)

// setupRecords starts the records stack once for the package's tests (an
// embedded server takes seconds to start). Each test uses its own
// collections, values and flow ids.
func setupRecords(t *testing.T) *recordsStack {
	t.Helper()
	recordsOnce.Do(func() {
		srv, c, err := startStack("")
		if err != nil {
			recordsEnv.err = err
			return
		}
		st, err := openTestStore()
		if err != nil {
			recordsEnv.err = err
			return
		}
		crash := &crashAfterCommit{RecordStore: records.Of(st), collection: "ledger", seen: map[string]int{}}
		w := worker.New(c, testDeliverer(), worker.Options{Records: activities.NewRecords(crash, testLog)})
		if err := w.Start(); err != nil {
			recordsEnv.err = err
			return
		}
		cache, err := store.NewCache(context.Background(), st, time.Hour, testLog)
		if err != nil {
			recordsEnv.err = err
			return
		}
		h := httptest.NewServer(api.New(c, cache, testLog, testAPIConfig(&api.Admin{Store: st, Cache: cache})).Handler())
		// The server, worker and API live as long as the test process:
		// the package's tests share them.
		_ = srv
		recordsEnv.client, recordsEnv.st, recordsEnv.crash, recordsEnv.url, recordsEnv.cache = c, st, crash, h.URL, cache
	})
	require.NoError(t, recordsEnv.err)
	return &recordsStack{
		adminStack: &adminStack{stack: &stack{t: t, client: recordsEnv.client, url: recordsEnv.url}, store: recordsEnv.st, cache: recordsEnv.cache},
		crash:      recordsEnv.crash,
	}
}

// openTestStore is PostgreSQL (a fresh database) when
// HOOKFLOW_TEST_POSTGRES_DSN names a server, else SQLite in a temporary
// directory.
func openTestStore() (*store.Store, error) {
	dsn := os.Getenv("HOOKFLOW_TEST_POSTGRES_DSN")
	if dsn == "" {
		dir, err := os.MkdirTemp("", "hookflow-records-")
		if err != nil {
			return nil, err
		}
		return store.Open(context.Background(), filepath.Join(dir, "hookflow.db"))
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	db := fmt.Sprintf("hookflow_records_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + db); err != nil {
		return nil, err
	}
	base, query, _ := strings.Cut(dsn, "?")
	u := base[:strings.LastIndex(base, "/")+1] + db
	if query != "" {
		u += "?" + query
	}
	return store.Open(context.Background(), u)
}

// crashAfterCommit commits the first attempt of each write to one
// collection, then reports a failure instead of its result.
type crashAfterCommit struct {
	activities.RecordStore
	collection string
	mu         sync.Mutex
	seen       map[string]int // idempotency key -> attempts
}

func (c *crashAfterCommit) Write(ctx context.Context, w records.Write) (*records.WriteResult, error) {
	res, err := c.RecordStore.Write(ctx, w)
	if w.Collection != c.collection {
		return res, err
	}
	c.mu.Lock()
	c.seen[w.IdempotencyKey]++
	n := c.seen[w.IdempotencyKey]
	c.mu.Unlock()
	if n == 1 && err == nil {
		return nil, errors.New("connection reset by peer (after the commit)")
	}
	return res, err
}

func (c *crashAfterCommit) attempts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.seen {
		out[k] = v
	}
	return out
}

// collection creates a collection from YAML through the admin API.
func (s *adminStack) collection(yaml string) {
	s.t.Helper()
	a := s.call("POST", "/api/v1/collections", writeKey, "application/yaml", yaml)
	require.Equal(s.t, http.StatusCreated, a.status, a.body)
}

// flow creates a flow from YAML through the admin API and returns its
// trigger URL.
func (s *adminStack) flow(yaml string) string {
	s.t.Helper()
	a := s.call("POST", "/api/v1/flows", writeKey, "application/yaml", yaml)
	require.Equal(s.t, http.StatusCreated, a.status, a.body)
	return s.url + "/hooks/" + a.json(s.t)["token"].(string)
}

func (s *adminStack) records(collection string, filter string) []map[string]any {
	s.t.Helper()
	path := "/api/v1/collections/" + collection + "/records?pageSize=1000"
	if filter != "" {
		path += "&filter=" + url.QueryEscape(filter)
	}
	a := s.call("GET", path, readKey, "", "")
	require.Equal(s.t, http.StatusOK, a.status, a.body)
	var out []map[string]any
	for _, r := range a.json(s.t)["records"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

func TestRecordsAdminAPI(t *testing.T) {
	s := setupAdmin(t)

	// Collections: create (YAML or JSON), ETag, If-Match, unchanged apply.
	a := s.call("POST", "/api/v1/collections", writeKey, "application/yaml", contactsCollection)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	require.Equal(t, `"v1"`, a.header.Get("ETag"))
	require.Equal(t, "/api/v1/collections/contacts", a.header.Get("Location"))
	a = s.call("POST", "/api/v1/collections", writeKey, "application/yaml", contactsCollection)
	require.Equal(t, http.StatusConflict, a.status, a.body)
	a = s.call("PUT", "/api/v1/collections/contacts", writeKey, "application/yaml", contactsCollection, "If-Match", `"v1"`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, false, a.json(t)["changed"])
	a = s.call("PUT", "/api/v1/collections/contacts", writeKey, "application/yaml", contactsCollection+"  - {name: city, type: string}\n", "If-Match", `"v1"`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, true, a.json(t)["changed"])
	require.Equal(t, `"v2"`, a.header.Get("ETag"))
	a = s.call("PUT", "/api/v1/collections/contacts", writeKey, "application/yaml", contactsCollection, "If-Match", `"v1"`)
	require.Equal(t, http.StatusPreconditionFailed, a.status, a.body)
	a = s.call("POST", "/api/v1/collections", writeKey, "application/json", `{"name":"Bad","properties":[{"name":"a","type":"text"}]}`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "invalid_collection", a.json(t)["error"])
	require.Len(t, a.json(t)["errors"], 3)
	a = s.call("GET", "/api/v1/collections", readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Contains(t, a.body, `"name":"contacts"`)
	a = s.call("POST", "/api/v1/collections", readKey, "application/yaml", contactsCollection)
	require.Equal(t, http.StatusForbidden, a.status, "a read key cannot write")
	a = s.call("GET", "/api/v1/collections", "", "", "")
	require.Equal(t, http.StatusUnauthorized, a.status)

	// Records: typed validation on every write, each problem with its
	// path; nothing written.
	a = s.call("POST", "/api/v1/collections/contacts/records", writeKey, "application/json",
		`{"properties":{"email":"ann@x.test","age":"thirty","plan":"gold","colour":"red"}}`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	e := a.json(t)
	require.Equal(t, "invalid_record", e["error"])
	require.Equal(t, "properties.age", e["path"])
	require.Equal(t, "properties.age: must be a number, got a string", e["detail"])
	require.Len(t, e["errors"], 3)
	a = s.call("POST", "/api/v1/collections/contacts/records", writeKey, "application/json", `{"email":"ann@x.test"}`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "email", a.json(t)["path"])
	require.Empty(t, s.records("contacts", ""))

	a = s.call("POST", "/api/v1/collections/contacts/records", writeKey, "application/json",
		`{"properties":{"email":"ann@x.test","firstName":"Ann","age":30,"vip":true,"signedUpAt":"2026-03-01T12:00:00Z"}}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	ann := a.json(t)
	id := ann["id"].(string)
	require.Equal(t, "/api/v1/collections/contacts/records/"+id, a.header.Get("Location"))
	require.Equal(t, `"v1"`, a.header.Get("ETag"))

	// A unique value taken: 409 naming the property.
	a = s.call("POST", "/api/v1/collections/contacts/records", writeKey, "application/json", `{"properties":{"email":"ann@x.test"}}`)
	require.Equal(t, http.StatusConflict, a.status, a.body)
	require.Equal(t, "unique_conflict", a.json(t)["error"])
	require.Equal(t, "properties.email", a.json(t)["path"])
	require.Contains(t, a.json(t)["detail"], `unique property email: the value "ann@x.test" is already held by record `+id)

	a = s.call("GET", "/api/v1/collections/contacts/records/by/email/ann@x.test", readKey, "", "")
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, id, a.json(t)["id"])
	a = s.call("GET", "/api/v1/collections/contacts/records/by/age/30", readKey, "", "")
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "path.property", a.json(t)["path"])
	a = s.call("GET", "/api/v1/collections/contacts/records/by/email/bob@x.test", readKey, "", "")
	require.Equal(t, http.StatusNotFound, a.status, a.body)

	// PATCH merges (null removes), with If-Match; PUT replaces.
	a = s.call("PATCH", "/api/v1/collections/contacts/records/"+id, writeKey, "application/json", `{"properties":{"plan":"pro","vip":null}}`, "If-Match", `"v1"`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, map[string]any{"email": "ann@x.test", "firstName": "Ann", "age": 30.0, "plan": "pro", "signedUpAt": "2026-03-01T12:00:00Z"}, a.json(t)["properties"])
	a = s.call("PATCH", "/api/v1/collections/contacts/records/"+id, writeKey, "application/json", `{"properties":{"plan":"free"}}`, "If-Match", `"v1"`)
	require.Equal(t, http.StatusPreconditionFailed, a.status, a.body)
	a = s.call("PUT", "/api/v1/collections/contacts/records/"+id, writeKey, "application/json", `{"properties":{"email":"ann@x.test","age":31}}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, map[string]any{"email": "ann@x.test", "age": 31.0}, a.json(t)["properties"])

	// Upsert by unique property: 201, then 200 merging.
	a = s.call("PUT", "/api/v1/collections/contacts/records/by/email/bob@x.test", writeKey, "application/json", `{"properties":{"firstName":"Bob"}}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	bob := a.json(t)["id"].(string)
	a = s.call("PUT", "/api/v1/collections/contacts/records/by/email/bob@x.test", writeKey, "application/json", `{"properties":{"plan":"pro"}}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, bob, a.json(t)["id"])
	require.Equal(t, map[string]any{"email": "bob@x.test", "firstName": "Bob", "plan": "pro"}, a.json(t)["properties"])
	a = s.call("PUT", "/api/v1/collections/contacts/records/by/email/bob@x.test", writeKey, "application/json", `{"properties":{"age":"old"}}`)
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "properties.age", a.json(t)["path"])

	// List: filter by property equality, pages.
	for i := range 5 {
		a = s.call("POST", "/api/v1/collections/contacts/records", writeKey, "application/json", fmt.Sprintf(`{"properties":{"email":"p%d@x.test","plan":"pro"}}`, i))
		require.Equal(t, http.StatusCreated, a.status, a.body)
	}
	require.Len(t, s.records("contacts", `{"plan":"pro"}`), 6)
	require.Len(t, s.records("contacts", `{"email":"p3@x.test"}`), 1)
	var seen []string
	token := ""
	for {
		a = s.call("GET", "/api/v1/collections/contacts/records?pageSize=3&nextPageToken="+url.QueryEscape(token), readKey, "", "")
		require.Equal(t, http.StatusOK, a.status, a.body)
		for _, r := range a.json(t)["records"].([]any) {
			seen = append(seen, r.(map[string]any)["properties"].(map[string]any)["email"].(string))
		}
		if token = a.json(t)["nextPageToken"].(string); token == "" {
			break
		}
	}
	require.Equal(t, []string{"ann@x.test", "bob@x.test", "p0@x.test", "p1@x.test", "p2@x.test", "p3@x.test", "p4@x.test"}, seen)
	a = s.call("GET", "/api/v1/collections/contacts/records?filter="+url.QueryEscape(`{"age":"x"}`), readKey, "", "")
	require.Equal(t, http.StatusUnprocessableEntity, a.status, a.body)
	require.Equal(t, "query.filter.age", a.json(t)["path"])
	a = s.call("GET", "/api/v1/collections/contacts/records?filter=nope", readKey, "", "")
	require.Equal(t, http.StatusBadRequest, a.status, a.body)
	a = s.call("GET", "/api/v1/collections/contacts/records?plan=pro", readKey, "", "")
	require.Equal(t, http.StatusBadRequest, a.status, "an unknown query parameter")

	// A collection change the records break: 409, nothing changed.
	a = s.call("PUT", "/api/v1/collections/contacts", writeKey, "application/yaml", strings.Replace(contactsCollection, "{name: plan, type: enum, options: [free, pro]}", "{name: plan, type: enum, options: [free]}", 1))
	require.Equal(t, http.StatusConflict, a.status, a.body)
	require.Equal(t, "records_do_not_fit", a.json(t)["error"])
	require.Contains(t, a.json(t)["path"], ".properties.plan")

	a = s.call("DELETE", "/api/v1/collections/contacts/records/"+bob, writeKey, "", "")
	require.Equal(t, http.StatusNoContent, a.status, a.body)
	a = s.call("DELETE", "/api/v1/collections/contacts/records/"+bob, writeKey, "", "")
	require.Equal(t, http.StatusNotFound, a.status, a.body)
	a = s.call("DELETE", "/api/v1/collections/contacts", writeKey, "", "")
	require.Equal(t, http.StatusNoContent, a.status, a.body)
	a = s.call("GET", "/api/v1/collections/contacts/records", readKey, "", "")
	require.Equal(t, http.StatusNotFound, a.status, a.body)
}

// HubSpot's rule: a webhook enrolls only an existing record. An unknown
// email starts nothing and gets the enroll response; a known one starts a
// run that sees the record, and can send all its properties.
func TestEnrollmentByRecord(t *testing.T) {
	s := setupRecords(t)
	s.collection(strings.Replace(contactsCollection, "name: contacts", "name: enroll-contacts", 1))
	a := s.call("POST", "/api/v1/collections/enroll-contacts/records", writeKey, "application/json",
		`{"properties":{"email":"ann@x.test","firstName":"Ann","plan":"pro","age":30}}`)
	require.Equal(t, http.StatusCreated, a.status, a.body)
	annID := a.json(t)["id"].(string)

	syncURL := s.flow(`
id: rec-enroll-sync
trigger:
  mode: sync
  timeout: 20s
  enroll:
    record: {collection: enroll-contacts, property: email, value: "{{ lower(trigger.body.email) }}"}
steps:
  - {id: reply, type: response, body: {hello: "{{ trigger.record.properties.firstName }}", id: "{{ trigger.record.id }}", plan: "{{ trigger.record.properties.plan }}"}}
`)
	a = post(t, syncURL, "application/json", `{"email":"nobody@x.test"}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.JSONEq(t, `{"enrolled":false}`, a.body)
	require.Equal(t, "false", a.header.Get(api.HeaderEnrolled))
	require.Empty(t, a.header.Get(api.HeaderExecutionID), "nothing started")
	a = post(t, syncURL, "application/json", `{"email":"ANN@x.test"}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.JSONEq(t, `{"hello":"Ann","id":"`+annID+`","plan":"pro"}`, a.body)
	a = post(t, syncURL, "application/json", `{"name":"no email at all"}`)
	require.JSONEq(t, `{"enrolled":false}`, a.body, "a request without the value enrolls nothing")
	require.Equal(t, int64(1), s.settledCount("rec-enroll-sync", 1))

	// The run holds a snapshot: a later change of the record does not
	// reach a run already started (its input), and a removed record
	// enrolls nothing more.
	rcv := newReceiver(t, okJSON(`{"ok":true}`))
	asyncURL := s.flow(fmt.Sprintf(`
id: rec-enroll-async
trigger:
  response: {status: 202, body: {queued: true}}
  enroll:
    record: {collection: enroll-contacts, property: email, value: "{{ trigger.body.email }}"}
    if: trigger.record.properties.plan == "pro"
    response: {status: 202, body: {queued: false}}
steps:
  - {id: wait, type: delay, duration: 1s}
  - {id: push, type: http, method: POST, url: "%s/crm/contacts", body: {mode: record}}
`, rcv.URL))
	a = post(t, asyncURL, "application/json", `{"email":"ann@x.test"}`)
	require.Equal(t, http.StatusAccepted, a.status, a.body)
	require.JSONEq(t, `{"queued":true}`, a.body)
	runID := a.header.Get(api.HeaderExecutionID)
	a = s.call("PATCH", "/api/v1/collections/enroll-contacts/records/"+annID, writeKey, "application/json", `{"properties":{"firstName":"Annie"}}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	_, err := s.result(runID)
	require.NoError(t, err)
	hits := rcv.all()
	require.Len(t, hits, 1)
	require.JSONEq(t, `{"email":"ann@x.test","firstName":"Ann","plan":"pro","age":30}`, hits[0].body, "all properties of the record as it was enrolled")

	// The condition reads the record: a free plan is not enrolled.
	a = s.call("PATCH", "/api/v1/collections/enroll-contacts/records/"+annID, writeKey, "application/json", `{"properties":{"plan":"free"}}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	a = post(t, asyncURL, "application/json", `{"email":"ann@x.test"}`)
	require.JSONEq(t, `{"queued":false}`, a.body)
	require.Equal(t, "false", a.header.Get(api.HeaderEnrolled))
	a = s.call("DELETE", "/api/v1/collections/enroll-contacts/records/"+annID, writeKey, "", "")
	require.Equal(t, http.StatusNoContent, a.status, a.body)
	a = post(t, syncURL, "application/json", `{"email":"ann@x.test"}`)
	require.JSONEq(t, `{"enrolled":false}`, a.body)
	require.Equal(t, int64(1), s.settledCount("rec-enroll-async", 1))

	// A trigger naming a collection that does not exist is the operator's
	// fault: 500, nothing started.
	badURL := s.flow(`
id: rec-enroll-bad
trigger:
  enroll:
    record: {collection: no-such-collection, property: email, value: "{{ trigger.body.email }}"}
steps: [{id: s, type: set, values: {a: 1}}]
`)
	a = post(t, badURL, "application/json", `{"email":"ann@x.test"}`)
	require.Equal(t, http.StatusInternalServerError, a.status, a.body)
	require.Equal(t, "misconfigured", a.json(t)["error"])
}

// NocoBase-style data flow: upsert the contact, create a ticket, find its
// open tickets, send the newest one's properties, answer with counts.
func TestRecordStepsDataFlow(t *testing.T) {
	s := setupRecords(t)
	s.collection(strings.Replace(contactsCollection, "name: contacts", "name: data-contacts", 1))
	s.collection(`
name: data-tickets
properties:
  - {name: ref, type: string, unique: true, required: true}
  - {name: contact, type: string}
  - {name: status, type: enum, options: [open, closed]}
`)
	rcv := newReceiver(t, okJSON(`{"ok":true}`))
	hook := s.flow(fmt.Sprintf(`
id: rec-data
trigger: {mode: sync, timeout: 20s}
steps:
  - {id: contact, type: record.upsert, collection: data-contacts, match: {email: "{{ trigger.body.email }}"}, properties: {firstName: "{{ trigger.body.name }}"}}
  - {id: ticket, type: record.create, collection: data-tickets, properties: {ref: "{{ trigger.body.ref }}", contact: "{{ steps.contact.outputs.record.id }}", status: open}}
  - {id: open, type: record.find, collection: data-tickets, filter: {contact: "{{ steps.contact.outputs.record.id }}", status: open}, sort: -ref, limit: 1}
  - {id: push, type: http, method: POST, url: "%s/tickets", body: {mode: record, record: "{{ steps.open.outputs.record }}"}}
  - id: reply
    type: response
    body:
      contactCreated: "{{ steps.contact.outputs.created }}"
      openTickets: "{{ steps.open.outputs.count }}"
      listed: "{{ len(steps.open.outputs.records) }}"
      newest: "{{ steps.open.outputs.record.properties.ref }}"
`, rcv.URL))
	a := post(t, hook, "application/json", `{"email":"dana@x.test","name":"Dana","ref":"T-1"}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.JSONEq(t, `{"contactCreated":true,"openTickets":1,"listed":1,"newest":"T-1"}`, a.body)
	first := a.header.Get(api.HeaderExecutionID)
	a = post(t, hook, "application/json", `{"email":"dana@x.test","name":"Dana D.","ref":"T-2"}`)
	require.JSONEq(t, `{"contactCreated":false,"openTickets":2,"listed":1,"newest":"T-2"}`, a.body)
	second := a.header.Get(api.HeaderExecutionID)
	contacts := s.records("data-contacts", "")
	require.Len(t, contacts, 1)
	require.Equal(t, "Dana D.", contacts[0]["properties"].(map[string]any)["firstName"])
	hits := rcv.all()
	require.Len(t, hits, 2)
	require.JSONEq(t, `{"ref":"T-2","contact":"`+contacts[0]["id"].(string)+`","status":"open"}`, hits[1].body)

	// The runs replay against the current workflow code; with -record the
	// first is kept as a fixture (workflows/testdata/record_steps.json).
	for _, id := range []string{first, second} {
		_, err := s.result(id)
		require.NoError(t, err)
		h := history(t, s.stack, id)
		replayer := sdkworker.NewWorkflowReplayer()
		worker.Register(replayer)
		require.NoError(t, replayer.ReplayWorkflowHistory(nil, h), id)
		if *record && id == first {
			b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join("..", "workflows", "testdata", "record_steps.json"), b, 0o644))
		}
	}

	// A ticket ref already used: the create fails, naming the property;
	// the sync caller gets the generic failure.
	a = post(t, hook, "application/json", `{"email":"dana@x.test","name":"Dana","ref":"T-1"}`)
	require.Equal(t, http.StatusInternalServerError, a.status, a.body)
	_, err := s.result(a.json(t)["executionId"].(string))
	require.ErrorContains(t, err, `unique property ref: the value "T-1" is already held by record`)
}

// Two runs upserting the same unique value at once make one record.
func TestConcurrentUpsertsMakeOneRecord(t *testing.T) {
	s := setupRecords(t)
	s.collection(strings.Replace(contactsCollection, "name: contacts", "name: race-contacts", 1))
	hook := s.flow(`
id: rec-race
trigger: {}
steps:
  - {id: up, type: record.upsert, collection: race-contacts, match: {email: same@x.test}, properties: {age: "{{ trigger.body.n }}"}}
`)
	const runs = 6
	var wg sync.WaitGroup
	ids := make([]string, runs)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := post(t, hook, "application/json", fmt.Sprintf(`{"n":%d}`, i))
			require.Equal(t, http.StatusOK, a.status, a.body)
			ids[i] = a.header.Get(api.HeaderExecutionID)
		}()
	}
	wg.Wait()
	for _, id := range ids {
		_, err := s.result(id)
		require.NoError(t, err, id)
	}
	require.Len(t, s.records("race-contacts", ""), 1)
}

// A create whose first attempt committed but never reported back (the
// worker lost in between) is retried with the same idempotency key and
// finds its own write: one record, and the run goes on with it.
func TestRetriedCreateMakesOneRecord(t *testing.T) {
	s := setupRecords(t)
	s.collection(`
name: ledger
properties:
  - {name: ref, type: string, unique: true}
  - {name: amount, type: number}
`)
	hook := s.flow(`
id: rec-ledger
trigger: {mode: sync, timeout: 30s}
steps:
  - {id: entry, type: record.create, collection: ledger, properties: {ref: "{{ trigger.body.ref }}", amount: "{{ trigger.body.amount }}"}}
  - {id: reply, type: response, body: {id: "{{ steps.entry.outputs.record.id }}"}}
`)
	before := s.crash.attempts()
	a := post(t, hook, "application/json", `{"ref":"L-1","amount":12.5}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	recs := s.records("ledger", "")
	require.Len(t, recs, 1)
	require.Equal(t, recs[0]["id"], a.json(t)["id"], "the run goes on with the record its first attempt made")
	var retried int
	for k, n := range s.crash.attempts() {
		if before[k] == 0 && n == 2 {
			retried++
		}
	}
	require.Equal(t, 1, retried, "one write, attempted twice with one key")
}

// Bad input: a template that yields the wrong type fails the step, naming
// the path, and writes nothing.
func TestRecordStepBadInputWritesNothing(t *testing.T) {
	s := setupRecords(t)
	s.collection(strings.Replace(contactsCollection, "name: contacts", "name: bad-contacts", 1))
	hook := s.flow(`
id: rec-bad
trigger: {mode: sync, timeout: 20s}
steps:
  - {id: add, type: record.create, collection: bad-contacts, properties: {email: "{{ trigger.body.email }}", age: "{{ trigger.body.age }}"}}
`)
	a := post(t, hook, "application/json", `{"email":"eve@x.test","age":"old"}`)
	require.Equal(t, http.StatusInternalServerError, a.status, a.body)
	_, err := s.result(a.json(t)["executionId"].(string))
	require.ErrorContains(t, err, "properties.age: must be a number, got a string")
	require.Empty(t, s.records("bad-contacts", ""))
}

// The package's shared worker runs without a store: a record step fails at
// once, naming the setting, and every other step still runs.
func TestRecordStepWithoutStoreNamesTheSetting(t *testing.T) {
	s := setup(t, `
id: rec-nostore
trigger: {mode: sync, timeout: 20s, token: rec-nostore-token-000000000}
steps:
  - {id: find, type: record.find, collection: contacts, onError: continue}
  - {id: reply, type: response, body: {status: "{{ steps.find.status }}", error: "{{ steps.find.error }}"}}
`)
	a := post(t, s.hookURL("rec-nostore"), "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	require.Equal(t, "failed", a.json(t)["status"])
	require.Contains(t, a.json(t)["error"], "record steps need the flow store: start the worker with --store")
}

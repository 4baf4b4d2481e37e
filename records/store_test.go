package records_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

const contactsYAML = `
name: contacts
description: People we write to
properties:
  - {name: email, type: string, unique: true, required: true}
  - {name: crmId, type: number, unique: true}
  - {name: firstName, type: string}
  - {name: age, type: number}
  - {name: vip, type: boolean}
  - {name: plan, type: enum, options: [free, pro]}
  - {name: signedUpAt, type: datetime}
`

func contacts(t *testing.T, s *store.Store) *records.Collection {
	t.Helper()
	c, err := records.DecodeCollection([]byte(contactsYAML), true)
	require.NoError(t, err)
	got, err := records.Of(s).CreateCollection(context.Background(), c)
	require.NoError(t, err)
	return got
}

func write(t *testing.T, s *store.Store, w records.Write) *records.WriteResult {
	t.Helper()
	res, err := records.Of(s).Write(context.Background(), w)
	require.NoError(t, err)
	return res
}

func invalidPaths(t *testing.T, err error) []field.Error {
	t.Helper()
	var ie *records.InvalidError
	require.True(t, errors.As(err, &ie), "want *InvalidError, got %v", err)
	return ie.Errors
}

func TestDecodeCollectionReportsEveryProblem(t *testing.T) {
	_, err := records.DecodeCollection([]byte(`
name: Bad Name
colour: red
properties:
  - {name: email, type: string}
  - {name: email, type: text}
  - {name: plan, type: enum}
  - {name: ok, type: boolean, unique: true, size: 3}
`), true)
	require.Equal(t, []field.Error{
		{Path: "colour", Message: "unknown field (allowed: name, description, properties)"},
		{Path: "properties[3].size", Message: "unknown field (allowed: description, name, options, required, type, unique)"},
		{Path: "name", Message: "must be a lowercase name: a-z, 0-9, - and _, starting with a letter or digit, at most 64 characters"},
		{Path: "properties[1].name", Message: `duplicate property "email" (first at properties[0])`},
		{Path: "properties[1].type", Message: "must be one of: string, number, boolean, enum, datetime"},
		{Path: "properties[2].options", Message: "an enum needs its options"},
		{Path: "properties[3].unique", Message: "a boolean cannot be unique (two records at most)"},
	}, invalidPaths(t, err), "every problem at once")

	_, err = records.DecodeCollection([]byte(`
name: Bad Name
properties:
  - {name: email, type: string}
  - {name: email, type: text}
  - {name: plan, type: enum}
  - {name: 9lives, type: boolean, unique: true}
`), true)
	require.Equal(t, []field.Error{
		{Path: "name", Message: "must be a lowercase name: a-z, 0-9, - and _, starting with a letter or digit, at most 64 characters"},
		{Path: "properties[1].name", Message: `duplicate property "email" (first at properties[0])`},
		{Path: "properties[1].type", Message: "must be one of: string, number, boolean, enum, datetime"},
		{Path: "properties[2].options", Message: "an enum needs its options"},
		{Path: "properties[3].name", Message: "must be an identifier: letters, digits and _, not starting with a digit, at most 64 characters"},
		{Path: "properties[3].unique", Message: "a boolean cannot be unique (two records at most)"},
	}, invalidPaths(t, err))

	_, err = records.DecodeCollection([]byte(`{"name": "x", "properties": [{"name": "a", "type": "string"}]}`), false)
	require.Equal(t, []field.Error{{Path: "properties", Message: "at least one property must be unique (unique: true): records are found by it"}}, invalidPaths(t, err))
}

func TestRecordsAreTypedUniqueWrittenOnceAndQueryable(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()

			t.Run("collections: create, get, list, update, delete", func(t *testing.T) {
				s := open(t)
				c := contacts(t, s)
				require.Equal(t, int64(1), c.Version)
				require.Equal(t, []string{"email", "crmId"}, c.UniqueProperties())
				_, err := records.Of(s).CreateCollection(ctx, c)
				require.ErrorIs(t, err, store.ErrExists)

				// The same definition again: no version.
				got, changed, err := records.Of(s).UpdateCollection(ctx, c, 1)
				require.NoError(t, err)
				require.False(t, changed)
				require.Equal(t, int64(1), got.Version)

				c.Properties = append(c.Properties, records.Property{Name: "city", Type: records.TypeString})
				got, changed, err = records.Of(s).UpdateCollection(ctx, c, 1)
				require.NoError(t, err)
				require.True(t, changed)
				require.Equal(t, int64(2), got.Version)
				_, _, err = records.Of(s).UpdateCollection(ctx, c, 1)
				require.ErrorIs(t, err, store.ErrConflict, "a stale If-Match")

				list, err := records.Of(s).ListCollections(ctx)
				require.NoError(t, err)
				require.Len(t, list, 1)
				require.Len(t, list[0].Properties, 8)

				write(t, s, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"email": "a@x.test"}})
				require.NoError(t, records.Of(s).DeleteCollection(ctx, "contacts"))
				require.ErrorIs(t, records.Of(s).DeleteCollection(ctx, "contacts"), store.ErrNotFound)
				_, err = records.Of(s).GetCollection(ctx, "contacts")
				require.ErrorIs(t, err, store.ErrNotFound)
				// Recreated, it is empty.
				contacts(t, s)
				page, err := records.Of(s).Find(ctx, "contacts", records.Query{})
				require.NoError(t, err)
				require.Empty(t, page.Records)
			})

			t.Run("typed validation names each path and writes nothing", func(t *testing.T) {
				s := open(t)
				contacts(t, s)
				_, err := records.Of(s).Write(ctx, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{
					"email": "a@x.test", "age": "thirty", "vip": "yes", "plan": "gold", "signedUpAt": "yesterday", "colour": "red",
				}})
				require.Equal(t, []field.Error{
					{Path: "properties.age", Message: `must be a number, got a string`},
					{Path: "properties.colour", Message: "unknown property (collection contacts has: email, crmId, firstName, age, vip, plan, signedUpAt)"},
					{Path: "properties.plan", Message: "must be one of: free, pro"},
					{Path: "properties.signedUpAt", Message: `must be an RFC 3339 date-time such as 2026-03-01T12:00:00Z, got "yesterday"`},
					{Path: "properties.vip", Message: "must be true or false, got a string"},
				}, invalidPaths(t, err))
				_, err = records.Of(s).Write(ctx, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"firstName": "Ann"}})
				require.Equal(t, []field.Error{{Path: "properties.email", Message: "is required"}}, invalidPaths(t, err))
				page, err := records.Of(s).Find(ctx, "contacts", records.Query{Count: true})
				require.NoError(t, err)
				require.Equal(t, 0, page.Total)
				_, err = records.Of(s).Write(ctx, records.Write{Op: records.OpCreate, Collection: "nope", Properties: map[string]any{}})
				require.ErrorIs(t, err, store.ErrNotFound)
			})

			t.Run("create, get, update, replace, delete", func(t *testing.T) {
				s := open(t)
				contacts(t, s)
				res := write(t, s, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{
					"email": "ann@x.test", "crmId": 7, "age": 30, "vip": true, "signedUpAt": "2026-03-01T12:00:00+02:00", "firstName": nil,
				}})
				require.True(t, res.Created)
				rec := res.Record
				require.Len(t, rec.ID, 36)
				require.Equal(t, int64(1), rec.Version)
				require.Equal(t, map[string]any{"email": "ann@x.test", "crmId": 7.0, "age": 30.0, "vip": true, "signedUpAt": "2026-03-01T12:00:00+02:00"}, rec.Properties)

				for _, ref := range []records.RecordRef{{ID: rec.ID}, {Property: "email", Value: "ann@x.test"}, {Property: "crmId", Value: 7}, {Property: "crmId", Value: "7"}} {
					got, err := records.Of(s).Get(ctx, "contacts", ref)
					require.NoError(t, err, ref.String())
					require.Equal(t, rec.ID, got.ID)
				}
				_, err := records.Of(s).Get(ctx, "contacts", records.RecordRef{Property: "age", Value: 30})
				require.Equal(t, "property", invalidPaths(t, err)[0].Path, "only unique properties find a record")
				_, err = records.Of(s).Get(ctx, "contacts", records.RecordRef{Property: "email", Value: "bob@x.test"})
				require.ErrorIs(t, err, store.ErrNotFound)

				// Merge: listed properties change, null removes one.
				res = write(t, s, records.Write{Op: records.OpUpdate, Collection: "contacts", Ref: records.RecordRef{Property: "email", Value: "ann@x.test"},
					Properties: map[string]any{"plan": "pro", "vip": nil}})
				require.True(t, res.Changed)
				require.Equal(t, int64(2), res.Record.Version)
				require.Equal(t, map[string]any{"email": "ann@x.test", "crmId": 7.0, "age": 30.0, "plan": "pro", "signedUpAt": "2026-03-01T12:00:00+02:00"}, res.Record.Properties)
				// The same update again changes nothing: no version.
				res = write(t, s, records.Write{Op: records.OpUpdate, Collection: "contacts", Ref: records.RecordRef{ID: rec.ID}, Properties: map[string]any{"plan": "pro"}})
				require.False(t, res.Changed)
				require.Equal(t, int64(2), res.Record.Version)
				_, err = records.Of(s).Write(ctx, records.Write{Op: records.OpUpdate, Collection: "contacts", Ref: records.RecordRef{ID: rec.ID}, IfVersion: 1, Properties: map[string]any{"age": 31}})
				require.ErrorIs(t, err, store.ErrConflict)
				_, err = records.Of(s).Write(ctx, records.Write{Op: records.OpUpdate, Collection: "contacts", Ref: records.RecordRef{ID: rec.ID}, Properties: map[string]any{"age": true, "nope": nil}})
				require.Equal(t, []field.Error{
					{Path: "properties.age", Message: "must be a number, got a boolean"},
					{Path: "properties.nope", Message: "unknown property (collection contacts has: email, crmId, firstName, age, vip, plan, signedUpAt)"},
				}, invalidPaths(t, err))

				// Replace: only the given properties remain; the old unique
				// value is free again.
				res = write(t, s, records.Write{Op: records.OpReplace, Collection: "contacts", Ref: records.RecordRef{ID: rec.ID}, IfVersion: 2,
					Properties: map[string]any{"email": "ann@y.test"}})
				require.Equal(t, map[string]any{"email": "ann@y.test"}, res.Record.Properties)
				_, err = records.Of(s).Get(ctx, "contacts", records.RecordRef{Property: "crmId", Value: 7})
				require.ErrorIs(t, err, store.ErrNotFound)
				write(t, s, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"email": "ann@x.test", "crmId": 7}})

				res = write(t, s, records.Write{Op: records.OpDelete, Collection: "contacts", Ref: records.RecordRef{Property: "email", Value: "ann@y.test"}})
				require.True(t, res.Deleted)
				require.Equal(t, rec.ID, res.Record.ID)
				_, err = records.Of(s).Write(ctx, records.Write{Op: records.OpDelete, Collection: "contacts", Ref: records.RecordRef{ID: rec.ID}})
				require.ErrorIs(t, err, store.ErrNotFound)
			})

			t.Run("a unique conflict names the property", func(t *testing.T) {
				s := open(t)
				contacts(t, s)
				first := write(t, s, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"email": "a@x.test", "crmId": 1}})
				second := write(t, s, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"email": "b@x.test"}})
				_, err := records.Of(s).Write(ctx, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"email": "c@x.test", "crmId": 1.0}})
				var ue *records.UniqueError
				require.True(t, errors.As(err, &ue), "%v", err)
				require.ErrorIs(t, err, store.ErrExists)
				require.Equal(t, "crmId", ue.Property)
				require.Equal(t, first.Record.ID, ue.RecordID)
				_, err = records.Of(s).Write(ctx, records.Write{Op: records.OpUpdate, Collection: "contacts", Ref: records.RecordRef{ID: second.Record.ID}, Properties: map[string]any{"email": "a@x.test"}})
				require.True(t, errors.As(err, &ue))
				require.Equal(t, "email", ue.Property)
				require.Contains(t, err.Error(), `unique property email: the value "a@x.test" is already held by record `+first.Record.ID)
				// Datetimes are unique by instant.
				c := contacts2(t, s)
				write(t, s, records.Write{Op: records.OpCreate, Collection: c, Properties: map[string]any{"at": "2026-03-01T12:00:00Z"}})
				_, err = records.Of(s).Write(ctx, records.Write{Op: records.OpCreate, Collection: c, Properties: map[string]any{"at": "2026-03-01T14:00:00+02:00"}})
				require.ErrorIs(t, err, store.ErrExists)
			})

			t.Run("upsert creates, then merges", func(t *testing.T) {
				s := open(t)
				contacts(t, s)
				res := write(t, s, records.Write{Op: records.OpUpsert, Collection: "contacts", Ref: records.RecordRef{Property: "email", Value: "a@x.test"}, Properties: map[string]any{"age": 30}})
				require.True(t, res.Created)
				require.Equal(t, map[string]any{"email": "a@x.test", "age": 30.0}, res.Record.Properties)
				res = write(t, s, records.Write{Op: records.OpUpsert, Collection: "contacts", Ref: records.RecordRef{Property: "email", Value: "a@x.test"}, Properties: map[string]any{"plan": "pro", "email": "a@x.test"}})
				require.False(t, res.Created)
				require.True(t, res.Changed)
				require.Equal(t, map[string]any{"email": "a@x.test", "age": 30.0, "plan": "pro"}, res.Record.Properties)
				_, err := records.Of(s).Write(ctx, records.Write{Op: records.OpUpsert, Collection: "contacts", Ref: records.RecordRef{Property: "email", Value: "a@x.test"}, Properties: map[string]any{"email": "b@x.test"}})
				require.Equal(t, "properties.email", invalidPaths(t, err)[0].Path)
				_, err = records.Of(s).Write(ctx, records.Write{Op: records.OpUpsert, Collection: "contacts", Ref: records.RecordRef{Property: "age", Value: 3}})
				require.Equal(t, "property", invalidPaths(t, err)[0].Path)
			})

			t.Run("an idempotency key makes a retried write return its first result", func(t *testing.T) {
				s := open(t)
				contacts(t, s)
				w := records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"email": "a@x.test"}, IdempotencyKey: "run-1/1"}
				first := write(t, s, w)
				again := write(t, s, w)
				require.True(t, again.Replayed)
				require.Equal(t, first.Record.ID, again.Record.ID)
				// Later changes do not alter the retry's answer.
				write(t, s, records.Write{Op: records.OpUpdate, Collection: "contacts", Ref: records.RecordRef{ID: first.Record.ID}, Properties: map[string]any{"age": 3}})
				again = write(t, s, w)
				require.Equal(t, first.Record.Properties, again.Record.Properties)
				del := records.Write{Op: records.OpDelete, Collection: "contacts", Ref: records.RecordRef{ID: first.Record.ID}, IdempotencyKey: "run-1/2"}
				write(t, s, del)
				require.True(t, write(t, s, del).Deleted, "a retried delete of a deleted record succeeds")
				page, err := records.Of(s).Find(ctx, "contacts", records.Query{Count: true})
				require.NoError(t, err)
				require.Equal(t, 0, page.Total)

				// Keys expire after the longest retry; a write after that
				// is a new write.
				n, err := records.Of(s).PruneWrites(ctx, time.Now().Add(time.Minute))
				require.NoError(t, err)
				require.Equal(t, int64(2), n)
				require.False(t, write(t, s, w).Replayed)
			})

			t.Run("concurrent upserts and creates of one unique value make one record", func(t *testing.T) {
				s := open(t)
				contacts(t, s)
				var wg sync.WaitGroup
				errs := make(chan error, 16)
				for i := range 8 {
					wg.Add(2)
					go func() {
						defer wg.Done()
						_, err := records.Of(s).Write(ctx, records.Write{Op: records.OpUpsert, Collection: "contacts", Ref: records.RecordRef{Property: "email", Value: "same@x.test"},
							Properties: map[string]any{"age": i}})
						errs <- err
					}()
					go func() {
						defer wg.Done()
						_, err := records.Of(s).Write(ctx, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"email": "other@x.test", "age": i}})
						if err != nil && !errors.Is(err, store.ErrExists) {
							errs <- err
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					require.NoError(t, err)
				}
				page, err := records.Of(s).Find(ctx, "contacts", records.Query{Count: true})
				require.NoError(t, err)
				require.Equal(t, 2, page.Total)
			})

			t.Run("find: filters, sort, limit, count, pages", func(t *testing.T) {
				s := open(t)
				contacts(t, s)
				for i := range 7 {
					props := map[string]any{"email": fmt.Sprintf("p%d@x.test", i), "age": float64(20 + i%3), "vip": i%2 == 0}
					if i < 5 {
						props["plan"] = []string{"free", "pro"}[i%2]
					}
					write(t, s, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: props})
				}
				page, err := records.Of(s).Find(ctx, "contacts", records.Query{Filter: map[string]any{"vip": true, "age": 20}, Count: true})
				require.NoError(t, err)
				require.Equal(t, 2, page.Total) // p0, p6
				require.Equal(t, "p0@x.test", page.Records[0].Properties["email"])
				page, err = records.Of(s).Find(ctx, "contacts", records.Query{Filter: map[string]any{"email": "p3@x.test"}})
				require.NoError(t, err)
				require.Len(t, page.Records, 1)
				page, err = records.Of(s).Find(ctx, "contacts", records.Query{Filter: map[string]any{"plan": nil}, Count: true})
				require.NoError(t, err)
				require.Equal(t, 2, page.Total, "null finds records without the property")
				page, err = records.Of(s).Find(ctx, "contacts", records.Query{Filter: map[string]any{"vip": false}, Count: true})
				require.NoError(t, err)
				require.Equal(t, 3, page.Total)

				page, err = records.Of(s).Find(ctx, "contacts", records.Query{Sort: "-age", Limit: 3, Count: true})
				require.NoError(t, err)
				require.Equal(t, 7, page.Total)
				require.Len(t, page.Records, 3)
				require.Equal(t, []any{"p5@x.test", "p2@x.test", "p4@x.test"}, []any{page.Records[0].Properties["email"], page.Records[1].Properties["email"], page.Records[2].Properties["email"]})
				page, err = records.Of(s).Find(ctx, "contacts", records.Query{Sort: "plan"})
				require.NoError(t, err)
				require.Nil(t, page.Records[6].Properties["plan"], "records without the property come last")
				require.Equal(t, "free", page.Records[0].Properties["plan"])

				var seen []string
				next := ""
				for {
					page, err := records.Of(s).Find(ctx, "contacts", records.Query{Limit: 3, After: next})
					require.NoError(t, err)
					for _, r := range page.Records {
						seen = append(seen, r.Properties["email"].(string))
					}
					if next = page.Next; next == "" {
						break
					}
				}
				require.Equal(t, []string{"p0@x.test", "p1@x.test", "p2@x.test", "p3@x.test", "p4@x.test", "p5@x.test", "p6@x.test"}, seen)

				// A filtered count on a later page still counts every match.
				seen, next = nil, ""
				for {
					page, err := records.Of(s).Find(ctx, "contacts", records.Query{Filter: map[string]any{"vip": true}, Limit: 3, After: next, Count: true})
					require.NoError(t, err)
					require.Equal(t, 4, page.Total)
					for _, r := range page.Records {
						seen = append(seen, r.Properties["email"].(string))
					}
					if next = page.Next; next == "" {
						break
					}
				}
				require.Equal(t, []string{"p0@x.test", "p2@x.test", "p4@x.test", "p6@x.test"}, seen)

				// Values are arguments, never statement text.
				page, err = records.Of(s).Find(ctx, "contacts", records.Query{Filter: map[string]any{"firstName": "x' OR '1'='1"}, Count: true})
				require.NoError(t, err)
				require.Equal(t, 0, page.Total)
				require.Empty(t, page.Records)

				_, err = records.Of(s).Find(ctx, "contacts", records.Query{Filter: map[string]any{"age": "x", "nope": 1}, Sort: "colour"})
				require.Equal(t, []field.Error{
					{Path: "filter.age", Message: "must be a number, got a string"},
					{Path: "filter.nope", Message: "unknown property (collection contacts has: email, crmId, firstName, age, vip, plan, signedUpAt)"},
					{Path: "sort", Message: "sorts by createdAt, updatedAt, id or a property of collection contacts (email, crmId, firstName, age, vip, plan, signedUpAt), with - for descending"},
				}, invalidPaths(t, err))
			})

			t.Run("a collection change is checked against its records", func(t *testing.T) {
				s := open(t)
				c := contacts(t, s)
				write(t, s, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"email": "a@x.test", "age": 30, "firstName": "Ann"}})
				write(t, s, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"email": "b@x.test", "age": 30}})

				// age becomes a unique string: both records break it.
				next := *c
				next.Properties = append([]records.Property(nil), c.Properties...)
				next.Properties[3] = records.Property{Name: "age", Type: records.TypeString, Unique: true}
				_, _, err := records.Of(s).UpdateCollection(ctx, &next, 0)
				var fit *records.RecordsDoNotFitError
				require.True(t, errors.As(err, &fit), "%v", err)
				require.ErrorIs(t, err, records.ErrRecordsDoNotFit)
				require.Equal(t, 2, fit.Count)
				require.Contains(t, fit.Errors[0].Path, ".properties.age")
				got, err := records.Of(s).GetCollection(ctx, "contacts")
				require.NoError(t, err)
				require.Equal(t, int64(1), got.Version, "nothing changed")

				// firstName removed: its values go; a new unique property
				// is enforced from now on.
				next.Properties = []records.Property{c.Properties[0], c.Properties[3], {Name: "handle", Type: records.TypeString, Unique: true}}
				got, changed, err := records.Of(s).UpdateCollection(ctx, &next, 1)
				require.NoError(t, err)
				require.True(t, changed)
				require.Equal(t, int64(2), got.Version)
				rec, err := records.Of(s).Get(ctx, "contacts", records.RecordRef{Property: "email", Value: "a@x.test"})
				require.NoError(t, err)
				require.Equal(t, map[string]any{"email": "a@x.test", "age": 30.0}, rec.Properties)
				write(t, s, records.Write{Op: records.OpUpdate, Collection: "contacts", Ref: records.RecordRef{ID: rec.ID}, Properties: map[string]any{"handle": "ann"}})
				_, err = records.Of(s).Write(ctx, records.Write{Op: records.OpUpsert, Collection: "contacts", Ref: records.RecordRef{Property: "email", Value: "b@x.test"}, Properties: map[string]any{"handle": "ann"}})
				require.ErrorIs(t, err, store.ErrExists)
			})

			t.Run("lookup by unique value", func(t *testing.T) {
				s := open(t)
				contacts(t, s)
				res := write(t, s, records.Write{Op: records.OpCreate, Collection: "contacts", Properties: map[string]any{"email": "a@x.test", "crmId": 5}})
				rec, err := records.Of(s).Lookup(ctx, "contacts", "email", "a@x.test")
				require.NoError(t, err)
				require.Equal(t, res.Record.ID, rec.ID)
				rec, err = records.Of(s).Lookup(ctx, "contacts", "crmId", "5")
				require.NoError(t, err)
				require.Equal(t, res.Record.ID, rec.ID)
				_, err = records.Of(s).Lookup(ctx, "contacts", "email", "b@x.test")
				require.ErrorIs(t, err, store.ErrNotFound)
				_, err = records.Of(s).Lookup(ctx, "contacts", "age", 3)
				require.Equal(t, "property", invalidPaths(t, err)[0].Path)
				_, err = records.Of(s).Lookup(ctx, "contacts", "crmId", "abc")
				require.Equal(t, "value", invalidPaths(t, err)[0].Path)
				_, err = records.Of(s).Lookup(ctx, "nope", "email", "a@x.test")
				require.ErrorIs(t, err, store.ErrNotFound)

				// A write through this store is seen by the next lookup.
				write(t, s, records.Write{Op: records.OpUpdate, Collection: "contacts", Ref: records.RecordRef{ID: rec.ID}, Properties: map[string]any{"firstName": "Ann"}})
				rec, err = records.Of(s).Lookup(ctx, "contacts", "email", "a@x.test")
				require.NoError(t, err)
				require.Equal(t, "Ann", rec.Properties["firstName"])

				// The database does not answer (a cancelled context stands
				// in for a timeout): the last record found, marked stale.
				cancelled, cancel := context.WithCancel(ctx)
				cancel()
				rec, err = records.Of(s).Lookup(cancelled, "contacts", "email", "a@x.test")
				var stale *records.StaleError
				require.True(t, errors.As(err, &stale), "%v", err)
				require.Equal(t, "Ann", rec.Properties["firstName"])
				_, err = records.Of(s).Lookup(cancelled, "contacts", "email", "never-seen@x.test")
				require.Error(t, err)
				require.False(t, errors.Is(err, store.ErrNotFound), "an unreachable database is not a missing record")
			})
		})
	}
}

func contacts2(t *testing.T, s *store.Store) string {
	t.Helper()
	c, err := records.DecodeCollection([]byte(`{name: events, properties: [{name: at, type: datetime, unique: true}]}`), true)
	require.NoError(t, err)
	_, err = records.Of(s).CreateCollection(context.Background(), c)
	require.NoError(t, err)
	return c.Name
}

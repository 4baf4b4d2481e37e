package records

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/store"
)

// ErrRecordsDoNotFit is a collection change its existing records break (a
// type changed, a property made unique or required): nothing is changed.
var ErrRecordsDoNotFit = errors.New("the collection's records do not fit the new definition")

// ErrNoCollection is a collection that does not exist; it matches
// store.ErrNotFound too.
var ErrNoCollection error = noCollection{}

type noCollection struct{}

func (noCollection) Error() string        { return store.ErrNotFound.Error() }
func (noCollection) Is(target error) bool { return target == store.ErrNotFound }

// Record is one record of a collection. Properties are typed by the
// collection; Version counts its changes (ETag "v<version>").
type Record struct {
	ID         string         `json:"id"`
	Collection string         `json:"collection"`
	Properties map[string]any `json:"properties"`
	Version    int64          `json:"version"`
	CreatedAt  time.Time      `json:"createdAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
}

// Map is the record as expressions read it (trigger.record,
// steps.<id>.outputs.record): its JSON form.
func (r *Record) Map() map[string]any {
	if r == nil {
		return nil
	}
	props := r.Properties
	if props == nil {
		props = map[string]any{}
	}
	return map[string]any{
		"id": r.ID, "collection": r.Collection, "properties": props, "version": float64(r.Version),
		"createdAt": r.CreatedAt.Format(time.RFC3339Nano), "updatedAt": r.UpdatedAt.Format(time.RFC3339Nano),
	}
}

// RecordsDoNotFitError lists the records a collection change would break.
type RecordsDoNotFitError struct {
	Collection string
	Count      int
	Errors     []field.Error // the first few, at records.<id>.properties.<name>
}

func (e *RecordsDoNotFitError) Error() string {
	first := ""
	if len(e.Errors) > 0 {
		first = ": " + e.Errors[0].Error()
	}
	return fmt.Sprintf("collection %q: %d record(s) do not fit the new definition%s", e.Collection, e.Count, first)
}

func (e *RecordsDoNotFitError) Unwrap() error { return ErrRecordsDoNotFit }

// Store is the persistence of collections (typed definitions, versioned)
// and their records, with the unique keys a lookup finds a record by and
// the idempotency keys of record writes, on the store's one handle (the
// tables are made by the store's one migration sequence).
type Store struct {
	h *store.Handle
	// memory is the record lookup's (lookup.go).
	memory recordState
}

// storeKey names the one Store of a store.Store.
type storeKey struct{}

// Of is st's collections and records: one Store per store.Store, so the
// record lookup's memory sees every write made through this process.
func Of(st *store.Store) *Store {
	return st.Feature(storeKey{}, func(h *store.Handle) any { return &Store{h: h} }).(*Store)
}

// scanner is a row or rows.
type scanner interface{ Scan(...any) error }

// ---- collections ----

// CreateCollection stores a new collection at version 1.
func (s *Store) CreateCollection(ctx context.Context, c *Collection) (*Collection, error) {
	if errs := c.check(); len(errs) > 0 {
		return nil, &InvalidError{What: "collection", Errors: errs}
	}
	def, digest := c.definition()
	now := s.h.Now().UnixMilli()
	err := s.h.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := s.h.QueryRow(ctx, tx, `SELECT COUNT(*) FROM collections WHERE name = $1`, c.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("collection %q: %w", c.Name, store.ErrExists)
		}
		_, err := s.h.Exec(ctx, tx, `INSERT INTO collections (name, version, definition, digest, created_at, updated_at) VALUES ($1, 1, $2, $3, $4, $4)`, c.Name, def, digest, now)
		return err
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			return nil, fmt.Errorf("collection %q: %w", c.Name, store.ErrExists)
		}
		return nil, err
	}
	s.bump(c.Name)
	return s.GetCollection(ctx, c.Name)
}

// UpdateCollection replaces a collection's definition. ifVersion, when not
// zero, must be the current version (else store.ErrConflict). An unchanged
// definition makes no version. A change that only adds (properties, enum
// options, loosened rules) leaves records as they are; any other change is
// checked against every record in the same transaction: a property removed
// is removed from the records, and if a record no longer fits (a type
// changed, a property made unique or required) nothing changes
// (*RecordsDoNotFitError).
func (s *Store) UpdateCollection(ctx context.Context, c *Collection, ifVersion int64) (*Collection, bool, error) {
	if errs := c.check(); len(errs) > 0 {
		return nil, false, &InvalidError{What: "collection", Errors: errs}
	}
	def, digest := c.definition()
	now := s.h.Now().UnixMilli()
	changed := false
	err := s.h.Tx(ctx, func(tx *sql.Tx) error {
		old, curDigest, err := s.collectionTx(ctx, tx, c.Name)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != old.Version {
			return fmt.Errorf("collection %q is at version %d, not %d: %w", c.Name, old.Version, ifVersion, store.ErrConflict)
		}
		if digest == curDigest {
			return nil
		}
		changed = true
		if !additive(old, c) {
			if err := s.refit(ctx, tx, c, now); err != nil {
				return err
			}
		}
		res, err := s.h.Exec(ctx, tx, `UPDATE collections SET version = $1, definition = $2, digest = $3, updated_at = $4 WHERE name = $5 AND version = $6`,
			old.Version+1, def, digest, now, c.Name, old.Version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("collection %q changed concurrently: %w", c.Name, store.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if changed {
		s.bump(c.Name)
	}
	got, err := s.GetCollection(ctx, c.Name)
	return got, changed, err
}

// additive tells whether next only adds to prev: every property kept with
// its type and unique flag, no option removed, none newly required.
func additive(prev, next *Collection) bool {
	for _, p := range prev.Properties {
		q, ok := next.Property(p.Name)
		if !ok || q.Type != p.Type || q.Unique != p.Unique || (q.Required && !p.Required) {
			return false
		}
		for _, o := range p.Options {
			if !slices.Contains(q.Options, o) {
				return false
			}
		}
	}
	for _, q := range next.Properties {
		if _, ok := prev.Property(q.Name); !ok && q.Required {
			return false
		}
	}
	return true
}

// refit checks every record of the collection against its next definition
// and rewrites records and unique keys to match it.
func (s *Store) refit(ctx context.Context, tx *sql.Tx, next *Collection, now int64) error {
	rows, err := s.h.Query(ctx, tx, `SELECT id, properties FROM records WHERE collection = $1 ORDER BY id`, next.Name)
	if err != nil {
		return err
	}
	type rec struct {
		id      string
		props   map[string]any
		changed bool
	}
	var recs []rec
	for rows.Next() {
		var r rec
		var raw string
		if err := rows.Scan(&r.id, &raw); err != nil {
			rows.Close()
			return err
		}
		if err := json.Unmarshal([]byte(raw), &r.props); err != nil {
			rows.Close()
			return fmt.Errorf("record %s: stored properties: %w", r.id, err)
		}
		recs = append(recs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	fit := &RecordsDoNotFitError{Collection: next.Name}
	seen := map[string]string{} // property\x00value -> record id
	for i := range recs {
		r := &recs[i]
		for k := range r.props {
			if _, ok := next.Property(k); !ok {
				delete(r.props, k) // the property was removed
				r.changed = true
			}
		}
		errs := next.ValidateRecord(r.props)
		for _, u := range next.UniqueProperties() {
			v, ok := r.props[u]
			if !ok || v == nil {
				continue
			}
			p, _ := next.Property(u)
			text, err := p.keyText(v)
			if err != nil {
				continue // reported by ValidateRecord
			}
			if other, dup := seen[u+"\x00"+text]; dup {
				errs = append(errs, field.Error{Path: "properties." + u, Message: fmt.Sprintf("the value %s is also held by record %s; a unique property needs distinct values", describe(v), other)})
			}
			seen[u+"\x00"+text] = r.id
		}
		if len(errs) > 0 {
			fit.Count++
			for _, e := range errs {
				if len(fit.Errors) < 10 {
					fit.Errors = append(fit.Errors, field.Error{Path: "records." + r.id + "." + e.Path, Message: e.Message})
				}
			}
		}
	}
	if fit.Count > 0 {
		return fit
	}
	if _, err := s.h.Exec(ctx, tx, `DELETE FROM record_keys WHERE collection = $1`, next.Name); err != nil {
		return err
	}
	for _, r := range recs {
		if r.changed {
			b, _ := json.Marshal(r.props)
			if _, err := s.h.Exec(ctx, tx, `UPDATE records SET properties = $1, version = version + 1, updated_at = $2 WHERE collection = $3 AND id = $4`, string(b), now, next.Name, r.id); err != nil {
				return err
			}
		}
		if err := s.insertKeys(ctx, tx, next, r.id, r.props); err != nil {
			return err
		}
	}
	return nil
}

// GetCollection returns a collection.
func (s *Store) GetCollection(ctx context.Context, name string) (*Collection, error) {
	c, _, err := s.collectionTx(ctx, nil, name)
	return c, err
}

func (s *Store) collectionTx(ctx context.Context, q *sql.Tx, name string) (*Collection, string, error) {
	var def, digest string
	var version, created, updated int64
	err := s.h.QueryRow(ctx, q, `SELECT definition, digest, version, created_at, updated_at FROM collections WHERE name = $1`, name).Scan(&def, &digest, &version, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("collection %q: %w", name, ErrNoCollection)
	}
	if err != nil {
		return nil, "", err
	}
	c, err := scanCollection(def, version, created, updated)
	return c, digest, err
}

func scanCollection(def string, version, created, updated int64) (*Collection, error) {
	c := &Collection{}
	if err := json.Unmarshal([]byte(def), c); err != nil {
		return nil, fmt.Errorf("stored collection: %w", err)
	}
	c.Version = version
	c.CreatedAt, c.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return c, nil
}

// ListCollections returns every collection, sorted by name.
func (s *Store) ListCollections(ctx context.Context) ([]*Collection, error) {
	rows, err := s.h.Query(ctx, nil, `SELECT definition, version, created_at, updated_at FROM collections ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Collection
	for rows.Next() {
		var def string
		var version, created, updated int64
		if err := rows.Scan(&def, &version, &created, &updated); err != nil {
			return nil, err
		}
		c, err := scanCollection(def, version, created, updated)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteCollection removes a collection and all its records.
func (s *Store) DeleteCollection(ctx context.Context, name string) error {
	err := s.h.Tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM record_keys WHERE collection = $1`,
			`DELETE FROM record_writes WHERE collection = $1`,
			`DELETE FROM records WHERE collection = $1`,
		} {
			if _, err := s.h.Exec(ctx, tx, q, name); err != nil {
				return err
			}
		}
		res, err := s.h.Exec(ctx, tx, `DELETE FROM collections WHERE name = $1`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("collection %q: %w", name, ErrNoCollection)
		}
		return nil
	})
	if err == nil {
		s.bump(name)
	}
	return err
}

// ---- records ----

// Write operations on records.
const (
	OpCreate  = "create"  // a new record
	OpUpdate  = "update"  // merge properties into a record (null removes one)
	OpReplace = "replace" // replace a record's properties
	OpUpsert  = "upsert"  // merge into the record a unique value finds, or create it
	OpDelete  = "delete"
)

// RecordRef finds one record: by id, or by a unique property's value.
type RecordRef struct {
	ID       string `json:"id,omitempty"`
	Property string `json:"property,omitempty"`
	Value    any    `json:"value,omitempty"`
}

func (r RecordRef) String() string {
	if r.ID != "" {
		return "id " + r.ID
	}
	return r.Property + " " + describe(r.Value)
}

// Write is one change to a collection's records.
type Write struct {
	Op         string
	Collection string
	// Ref finds the record of update, replace, delete (id or unique
	// value) and upsert (a unique value).
	Ref        RecordRef
	Properties map[string]any
	// IfVersion, when not zero, must be the record's version (else
	// store.ErrConflict): update, replace and delete.
	IfVersion int64
	// IdempotencyKey makes a retried write do nothing more: the first
	// attempt's result is kept with the write, in its transaction, and a
	// write with the same key returns it.
	IdempotencyKey string
}

// WriteResult is a write's outcome.
type WriteResult struct {
	// Record is the record as written (as it was, for a delete).
	Record  *Record `json:"record"`
	Created bool    `json:"created,omitempty"`
	Deleted bool    `json:"deleted,omitempty"`
	// Changed is false when an update or upsert found the record already
	// as asked (no new version).
	Changed bool `json:"changed"`
	// Replayed: the idempotency key was used before; this is that
	// write's result, and nothing was written now.
	Replayed bool `json:"replayed,omitempty"`
}

// WriteKeyRetention is how long a write's idempotency key and result are
// kept: longer than any record step retries (giveUpAfter is at most 30d).
const WriteKeyRetention = 31 * 24 * time.Hour

// pruneEvery: one keyed write in this many also deletes expired keys.
const pruneEvery = 1000

// PruneWrites deletes the idempotency keys of writes made before
// before; it returns how many.
func (s *Store) PruneWrites(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.h.Exec(ctx, nil, `DELETE FROM record_writes WHERE created_at < $1`, before.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// errRetry asks Write to run the write again: a concurrent writer
// changed the record between its read and its write.
var errRetry = errors.New("record changed concurrently")

// Write applies one write in a transaction. A unique value already
// held by another record is a *UniqueError (matches store.ErrExists), properties
// that do not fit the collection an *InvalidError; a record or collection
// not found store.ErrNotFound. Writers racing for one unique value are
// serialized by the record_keys primary key: the loser runs again and sees
// the winner's record (an upsert then updates it).
func (s *Store) Write(ctx context.Context, w Write) (*WriteResult, error) {
	for attempt := 0; ; attempt++ {
		var res *WriteResult
		err := s.h.Tx(ctx, func(tx *sql.Tx) error {
			var err error
			res, err = s.write(ctx, tx, w)
			return err
		})
		var ue *UniqueError
		var ie *InvalidError
		switch {
		case err == nil:
			if !res.Replayed {
				s.bump(w.Collection)
			}
			if w.IdempotencyKey != "" && !res.Replayed && s.memory.keyedWrites.Add(1)%pruneEvery == 0 {
				// Best effort: the next write tries again.
				_, _ = s.PruneWrites(ctx, s.h.Now().Add(-WriteKeyRetention))
			}
			return res, nil
		case errors.As(err, &ue), errors.As(err, &ie), errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict):
			return nil, err
		case attempt < 8 && (errors.Is(err, errRetry) || store.IsUniqueViolation(err)):
			continue
		}
		return nil, err
	}
}

func (s *Store) write(ctx context.Context, tx *sql.Tx, w Write) (*WriteResult, error) {
	if w.IdempotencyKey != "" {
		var raw string
		err := s.h.QueryRow(ctx, tx, `SELECT result FROM record_writes WHERE idempotency_key = $1`, w.IdempotencyKey).Scan(&raw)
		if err == nil {
			var res WriteResult
			if err := json.Unmarshal([]byte(raw), &res); err != nil {
				return nil, fmt.Errorf("stored write %s: %w", w.IdempotencyKey, err)
			}
			res.Replayed = true
			return &res, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
	}
	c, _, err := s.collectionTx(ctx, tx, w.Collection)
	if err != nil {
		return nil, err
	}
	now := s.h.Now()
	var res *WriteResult
	switch w.Op {
	case OpCreate:
		var rec *Record
		if rec, err = s.create(ctx, tx, c, w.Properties, now); err == nil {
			res = &WriteResult{Record: rec, Created: true, Changed: true}
		}
	case OpUpdate, OpReplace:
		res, err = s.change(ctx, tx, c, w, now)
	case OpUpsert:
		res, err = s.upsert(ctx, tx, c, w, now)
	case OpDelete:
		res, err = s.remove(ctx, tx, c, w)
	default:
		return nil, fmt.Errorf("unknown record write %q", w.Op)
	}
	if err != nil {
		return nil, err
	}
	if w.IdempotencyKey != "" {
		b, err := json.Marshal(res)
		if err != nil {
			return nil, err
		}
		if _, err := s.h.Exec(ctx, tx, `INSERT INTO record_writes (idempotency_key, collection, result, created_at) VALUES ($1, $2, $3, $4)`,
			w.IdempotencyKey, c.Name, string(b), now.UnixMilli()); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// clean drops null values (absent) and normalizes numbers.
func clean(c *Collection, props map[string]any) map[string]any {
	out := make(map[string]any, len(props))
	for k, v := range props {
		if v == nil {
			continue
		}
		if p, ok := c.Property(k); ok {
			v = p.normalize(v)
		}
		out[k] = v
	}
	return out
}

func invalidRecord(errs []field.Error) error {
	return &InvalidError{What: "record", Errors: errs}
}

func (s *Store) create(ctx context.Context, tx *sql.Tx, c *Collection, props map[string]any, now time.Time) (*Record, error) {
	if errs := c.ValidateRecord(props); len(errs) > 0 {
		return nil, invalidRecord(errs)
	}
	props = clean(c, props)
	if err := s.checkUnique(ctx, tx, c, "", props); err != nil {
		return nil, err
	}
	rec := &Record{ID: uuid.Must(uuid.NewV7()).String(), Collection: c.Name, Properties: props, Version: 1,
		CreatedAt: time.UnixMilli(now.UnixMilli()).UTC(), UpdatedAt: time.UnixMilli(now.UnixMilli()).UTC()}
	b, _ := json.Marshal(props)
	if _, err := s.h.Exec(ctx, tx, `INSERT INTO records (collection, id, properties, version, created_at, updated_at) VALUES ($1, $2, $3, 1, $4, $4)`,
		c.Name, rec.ID, string(b), now.UnixMilli()); err != nil {
		return nil, err
	}
	if err := s.insertKeys(ctx, tx, c, rec.ID, props); err != nil {
		return nil, err
	}
	return rec, nil
}

// keyValue is one unique property's value as record_keys holds it.
type keyValue struct {
	property, text string
	value          any
}

// uniqueKeys are props' unique values (those set), as stored in record_keys.
func uniqueKeys(c *Collection, props map[string]any) ([]keyValue, error) {
	var out []keyValue
	for _, u := range c.UniqueProperties() {
		v, ok := props[u]
		if !ok || v == nil {
			continue
		}
		p, _ := c.Property(u)
		text, err := p.keyText(v)
		if err != nil {
			return nil, invalidRecord([]field.Error{{Path: "properties." + u, Message: err.Error()}})
		}
		out = append(out, keyValue{property: u, text: text, value: v})
	}
	return out, nil
}

// checkUnique finds another record holding one of props' unique values.
func (s *Store) checkUnique(ctx context.Context, tx *sql.Tx, c *Collection, self string, props map[string]any) error {
	keys, err := uniqueKeys(c, props)
	if err != nil {
		return err
	}
	for _, k := range keys {
		var other string
		err := s.h.QueryRow(ctx, tx, `SELECT record_id FROM record_keys WHERE collection = $1 AND property = $2 AND value = $3`, c.Name, k.property, k.text).Scan(&other)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case other != self:
			return &UniqueError{Collection: c.Name, Property: k.property, Value: k.value, RecordID: other}
		}
	}
	return nil
}

func (s *Store) insertKeys(ctx context.Context, tx *sql.Tx, c *Collection, id string, props map[string]any) error {
	keys, err := uniqueKeys(c, props)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := s.h.Exec(ctx, tx, `INSERT INTO record_keys (collection, property, value, record_id) VALUES ($1, $2, $3, $4)`, c.Name, k.property, k.text, id); err != nil {
			return err
		}
	}
	return nil
}

const (
	selectRecordColumns = `SELECT r.id, r.properties, r.version, r.created_at, r.updated_at`
	selectRecord        = selectRecordColumns + ` FROM records r`
)

func scanRecord(collection string, sc scanner) (*Record, error) {
	rec := &Record{Collection: collection}
	var raw string
	var created, updated int64
	if err := sc.Scan(&rec.ID, &raw, &rec.Version, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(raw), &rec.Properties); err != nil {
		return nil, fmt.Errorf("record %s: stored properties: %w", rec.ID, err)
	}
	rec.CreatedAt, rec.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return rec, nil
}

// find reads the record ref names; store.ErrNotFound when there is none.
func (s *Store) find(ctx context.Context, q *sql.Tx, c *Collection, ref RecordRef) (*Record, error) {
	var row *sql.Row
	if ref.ID != "" {
		row = s.h.QueryRow(ctx, q, selectRecord+` WHERE r.collection = $1 AND r.id = $2`, c.Name, ref.ID)
	} else {
		text, err := uniqueKey(c, ref.Property, ref.Value)
		if err != nil {
			return nil, err
		}
		row = s.h.QueryRow(ctx, q, selectRecord+` JOIN record_keys k ON k.collection = r.collection AND k.record_id = r.id
WHERE k.collection = $1 AND k.property = $2 AND k.value = $3`, c.Name, ref.Property, text)
	}
	rec, err := scanRecord(c.Name, row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("collection %q has no record with %s: %w", c.Name, ref, store.ErrNotFound)
	}
	return rec, err
}

// uniqueKey checks that property is a unique property of c and returns
// value's key text. Problems are *InvalidError at "property" or "value".
func uniqueKey(c *Collection, property string, value any) (string, error) {
	p, ok := c.Property(property)
	if !ok {
		return "", invalidRecord([]field.Error{{Path: "property", Message: fmt.Sprintf("collection %s has no property %q (it has: %s)", c.Name, property, strings.Join(c.propertyNames(), ", "))}})
	}
	if !p.Unique {
		return "", invalidRecord([]field.Error{{Path: "property", Message: fmt.Sprintf("%s is not a unique property of collection %s; records are found by one of: %s", property, c.Name, strings.Join(c.UniqueProperties(), ", "))}})
	}
	text, err := p.keyText(value)
	if err != nil {
		return "", invalidRecord([]field.Error{{Path: "value", Message: err.Error()}})
	}
	return text, nil
}

// change updates (merges) or replaces a record's properties.
func (s *Store) change(ctx context.Context, tx *sql.Tx, c *Collection, w Write, now time.Time) (*WriteResult, error) {
	cur, err := s.find(ctx, tx, c, w.Ref)
	if err != nil {
		return nil, err
	}
	if w.IfVersion != 0 && w.IfVersion != cur.Version {
		return nil, fmt.Errorf("record %s is at version %d, not %d: %w", cur.ID, cur.Version, w.IfVersion, store.ErrConflict)
	}
	return s.save(ctx, tx, c, cur, w.Properties, w.Op == OpReplace, now)
}

// save writes a record's next properties: merged into cur (null removes
// one) or replacing them. An unchanged record keeps its version.
func (s *Store) save(ctx context.Context, tx *sql.Tx, c *Collection, cur *Record, props map[string]any, replace bool, now time.Time) (*WriteResult, error) {
	next := map[string]any{}
	if !replace {
		maps.Copy(next, cur.Properties)
	}
	for k, v := range props {
		if v == nil {
			delete(next, k)
			continue
		}
		next[k] = v
	}
	// Unknown properties are reported even when null (a typo).
	check := maps.Clone(next)
	for k, v := range props {
		if v == nil {
			if _, ok := c.Property(k); !ok {
				check[k] = v
			}
		}
	}
	if errs := c.ValidateRecord(check); len(errs) > 0 {
		return nil, invalidRecord(errs)
	}
	next = clean(c, next)
	if reflect.DeepEqual(next, cur.Properties) {
		return &WriteResult{Record: cur}, nil
	}
	if err := s.checkUnique(ctx, tx, c, cur.ID, next); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(next)
	res, err := s.h.Exec(ctx, tx, `UPDATE records SET properties = $1, version = version + 1, updated_at = $2 WHERE collection = $3 AND id = $4 AND version = $5`,
		string(b), now.UnixMilli(), c.Name, cur.ID, cur.Version)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, errRetry
	}
	if _, err := s.h.Exec(ctx, tx, `DELETE FROM record_keys WHERE collection = $1 AND record_id = $2`, c.Name, cur.ID); err != nil {
		return nil, err
	}
	if err := s.insertKeys(ctx, tx, c, cur.ID, next); err != nil {
		return nil, err
	}
	out := *cur
	out.Properties, out.Version, out.UpdatedAt = next, cur.Version+1, time.UnixMilli(now.UnixMilli()).UTC()
	return &WriteResult{Record: &out, Changed: true}, nil
}

// upsert merges into the record holding the unique value, or creates it
// with the value set.
func (s *Store) upsert(ctx context.Context, tx *sql.Tx, c *Collection, w Write, now time.Time) (*WriteResult, error) {
	if w.Ref.Property == "" {
		return nil, invalidRecord([]field.Error{{Path: "property", Message: "an upsert finds its record by a unique property: " + strings.Join(c.UniqueProperties(), ", ")}})
	}
	if _, err := uniqueKey(c, w.Ref.Property, w.Ref.Value); err != nil {
		return nil, err
	}
	p, _ := c.Property(w.Ref.Property)
	matched, _ := p.coerce(w.Ref.Value) // uniqueKey checked it
	if v, ok := w.Properties[w.Ref.Property]; ok {
		if a, err := p.keyText(v); v == nil || err != nil || a != mustKey(p, matched) {
			return nil, invalidRecord([]field.Error{{Path: "properties." + w.Ref.Property, Message: fmt.Sprintf("differs from the value the upsert matches on (%s); change a unique value with an update", describe(matched))}})
		}
	}
	cur, err := s.find(ctx, tx, c, RecordRef{Property: w.Ref.Property, Value: matched})
	if errors.Is(err, store.ErrNotFound) {
		props := maps.Clone(w.Properties)
		if props == nil {
			props = map[string]any{}
		}
		props[w.Ref.Property] = matched
		rec, err := s.create(ctx, tx, c, props, now)
		var ue *UniqueError
		if errors.As(err, &ue) && ue.Property == w.Ref.Property {
			// Created by a concurrent writer since find: update it.
			return nil, errRetry
		}
		if err != nil {
			return nil, err
		}
		return &WriteResult{Record: rec, Created: true, Changed: true}, nil
	}
	if err != nil {
		return nil, err
	}
	return s.save(ctx, tx, c, cur, w.Properties, false, now)
}

func mustKey(p *Property, v any) string {
	s, _ := p.keyText(v)
	return s
}

func (s *Store) remove(ctx context.Context, tx *sql.Tx, c *Collection, w Write) (*WriteResult, error) {
	cur, err := s.find(ctx, tx, c, w.Ref)
	if err != nil {
		return nil, err
	}
	if w.IfVersion != 0 && w.IfVersion != cur.Version {
		return nil, fmt.Errorf("record %s is at version %d, not %d: %w", cur.ID, cur.Version, w.IfVersion, store.ErrConflict)
	}
	if _, err := s.h.Exec(ctx, tx, `DELETE FROM record_keys WHERE collection = $1 AND record_id = $2`, c.Name, cur.ID); err != nil {
		return nil, err
	}
	if _, err := s.h.Exec(ctx, tx, `DELETE FROM records WHERE collection = $1 AND id = $2`, c.Name, cur.ID); err != nil {
		return nil, err
	}
	return &WriteResult{Record: cur, Deleted: true, Changed: true}, nil
}

// Get reads one record by id or unique value.
func (s *Store) Get(ctx context.Context, collection string, ref RecordRef) (*Record, error) {
	c, err := s.GetCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	return s.find(ctx, nil, c, ref)
}

// Query selects records.
type Query struct {
	// Filter keeps records whose properties equal these values (null:
	// records without the property). Unique properties are looked up by
	// their index.
	Filter map[string]any
	// Sort is createdAt, updatedAt, id or a property, with a leading "-"
	// for descending; records without the property come last. Default:
	// id (creation order).
	Sort string
	// Limit bounds the records returned (default DefaultQueryLimit, at
	// most MaxQueryLimit).
	Limit int
	// After pages by keyset: records after this id (Sort must be empty).
	After string
	// Count also counts every record that matches.
	Count bool
}

// Page is a query's answer.
type Page struct {
	Records []*Record `json:"records"`
	// Total counts every match when the query asked (else -1).
	Total int `json:"total"`
	// Next is the After of the next page; empty on the last.
	Next string `json:"next,omitempty"`
}

// MaxQueryLimit bounds one query's records.
const MaxQueryLimit = 1000

// Find runs a query on a collection. Filters and sort name properties of
// the collection (else *InvalidError at filter.<name> or sort). Its SQL is
// built by findStatements (record_query.go).
func (s *Store) Find(ctx context.Context, collection string, q Query) (*Page, error) {
	c, err := s.GetCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	st, err := findStatements(s.h.Dialect(), c, q)
	if err != nil {
		return nil, err
	}
	page := &Page{Total: -1}
	if st.Count != "" {
		if err := s.h.QueryRow(ctx, nil, st.Count, st.CountArgs...).Scan(&page.Total); err != nil {
			return nil, err
		}
	}
	rows, err := s.h.Query(ctx, nil, st.Select, st.SelectArgs...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	page.Records = []*Record{}
	for rows.Next() {
		rec, err := scanRecord(c.Name, rows)
		if err != nil {
			return nil, err
		}
		page.Records = append(page.Records, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(page.Records) > st.Limit {
		page.Records = page.Records[:st.Limit]
		if q.Sort == "" {
			page.Next = page.Records[st.Limit-1].ID
		}
	}
	return page, nil
}

// Import adds many records to a collection in one transaction (a
// migration from another system, a benchmark's fixture): each is checked
// as a create is, and if any does not fit, or two share a unique value,
// nothing is written. It returns how many were added.
func (s *Store) Import(ctx context.Context, collection string, records []map[string]any) (int, error) {
	err := s.h.Tx(ctx, func(tx *sql.Tx) error {
		c, _, err := s.collectionTx(ctx, tx, collection)
		if err != nil {
			return err
		}
		now := s.h.Now()
		for i, props := range records {
			if _, err := s.create(ctx, tx, c, props, now); err != nil {
				var ie *InvalidError
				if errors.As(err, &ie) {
					for j := range ie.Errors {
						ie.Errors[j].Path = fmt.Sprintf("records[%d].%s", i, ie.Errors[j].Path)
					}
				}
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.bump(collection)
	return len(records), nil
}

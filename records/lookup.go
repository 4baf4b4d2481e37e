package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/store"
)

// LookupTimeout bounds one record lookup of a trigger's enrollment: an
// indexed point query answers in tens of microseconds on SQLite (see
// docs/performance.md); past this the database is in trouble, and the
// trigger answers from the last record it saw for that value, or asks the
// caller to retry.
const LookupTimeout = 250 * time.Millisecond

// collectionTTL is how long a lookup trusts a collection definition it read
// (writes through this process replace it at once).
const collectionTTL = 2 * time.Second

// maxKnownRecords bounds the records kept to answer lookups while the
// database is away.
const maxKnownRecords = 10_000

// recordState is the lookup's memory: collection definitions (short TTL)
// and the last record found per unique value, each stamped with its
// collection's generation, which every write through this process bumps.
type recordState struct {
	gens  sync.Map // collection name -> *atomic.Uint64
	mu    sync.Mutex
	colls map[string]cachedCollection
	known map[string]knownRecord
	// keyedWrites counts writes with an idempotency key (pruning).
	keyedWrites atomic.Int64
}

type cachedCollection struct {
	c   *Collection
	at  time.Time
	gen uint64
}

type knownRecord struct {
	rec *Record
	gen uint64
}

func (r *recordState) counter(name string) *atomic.Uint64 {
	g, ok := r.gens.Load(name)
	if !ok {
		g, _ = r.gens.LoadOrStore(name, new(atomic.Uint64))
	}
	return g.(*atomic.Uint64)
}

// bump marks a collection's cached state old: a write through this process
// is seen by its next lookup.
func (s *Store) bump(collection string) { s.memory.counter(collection).Add(1) }

// StaleError is returned with a record when the lookup could not reach the
// database in time and answered from the last record it found for that
// value. Err says why.
type StaleError struct{ Err error }

func (e *StaleError) Error() string {
	return "the record lookup answered from memory: " + e.Err.Error()
}
func (e *StaleError) Unwrap() error { return e.Err }

// Lookup finds the record of a collection whose unique property holds
// value, for a trigger's enrollment: an indexed point query within
// LookupTimeout, always current (a record written anywhere is seen by the
// next lookup). store.ErrNotFound when there is none; an *InvalidError when the
// property is not a unique property of the collection (path "property") or
// the value cannot be one of its values (path "value"). When the database
// does not answer in time the last record found for the value is returned
// with a *StaleError; without one, the error.
func (s *Store) Lookup(ctx context.Context, collection, property string, value any) (*Record, error) {
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	c, err := s.lookupCollection(ctx, collection)
	if err != nil {
		return nil, err
	}
	text, err := uniqueKey(c, property, value)
	if err != nil {
		return nil, err
	}
	key := collection + "\x00" + property + "\x00" + text
	gen := s.memory.counter(collection).Load()
	rec, err := scanRecord(c.Name, s.h.QueryRow(ctx, nil, selectRecord+` JOIN record_keys k ON k.collection = r.collection AND k.record_id = r.id
WHERE k.collection = $1 AND k.property = $2 AND k.value = $3`, c.Name, property, text))
	st := &s.memory
	switch {
	case err == nil:
		st.mu.Lock()
		if st.known == nil {
			st.known = map[string]knownRecord{}
		}
		if _, ok := st.known[key]; !ok && len(st.known) >= maxKnownRecords {
			for k := range st.known { // drop one, any
				delete(st.known, k)
				break
			}
		}
		st.known[key] = knownRecord{rec: rec, gen: gen}
		st.mu.Unlock()
		return rec, nil
	case errors.Is(err, sql.ErrNoRows):
		st.mu.Lock()
		delete(st.known, key)
		st.mu.Unlock()
		return nil, fmt.Errorf("collection %q has no record with %s %s: %w", collection, property, describe(value), store.ErrNotFound)
	}
	st.mu.Lock()
	k, ok := st.known[key]
	st.mu.Unlock()
	if ok && k.gen == s.memory.counter(collection).Load() {
		return k.rec, &StaleError{Err: err}
	}
	return nil, fmt.Errorf("record lookup in %q: %w", collection, err)
}

// lookupCollection is a collection's definition, read again after
// collectionTTL or a write through this process; while the database is
// away, the last one read.
func (s *Store) lookupCollection(ctx context.Context, name string) (*Collection, error) {
	st := &s.memory
	gen := st.counter(name).Load()
	st.mu.Lock()
	cc, ok := st.colls[name]
	st.mu.Unlock()
	if ok && cc.gen == gen && time.Since(cc.at) < collectionTTL {
		return cc.c, nil
	}
	c, err := s.GetCollection(ctx, name)
	if err != nil {
		if ok && !errors.Is(err, store.ErrNotFound) {
			return cc.c, nil
		}
		return nil, err
	}
	st.mu.Lock()
	if st.colls == nil {
		st.colls = map[string]cachedCollection{}
	}
	st.colls[name] = cachedCollection{c: c, at: time.Now(), gen: gen}
	st.mu.Unlock()
	return c, nil
}

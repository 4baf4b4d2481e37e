package store

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// Handle is the one database handle, for a feature package that keeps its
// persistence beside its rules (destinations/, records/, capture/): its
// tables are made by the one migration sequence here, its statements go
// through the same pool and dialect and are counted with the store's own
// (Queries).
type Handle struct{ d *db }

// Handle is the store's database handle.
func (s *Store) Handle() *Handle { return &Handle{d: s.db} }

// Postgres tells whether the database is PostgreSQL (else SQLite).
func (h *Handle) Postgres() bool { return h.d.dialect == dialectPostgres }

// Now is the store's clock (time.Now; SetClock in tests).
func (h *Handle) Now() time.Time { return h.d.now() }

// Exec runs a statement in tx, or on the pool when tx is nil.
func (h *Handle) Exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	return h.d.exec(ctx, h.on(tx), query, args...)
}

// Query runs a query in tx, or on the pool when tx is nil.
func (h *Handle) Query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	return h.d.query(ctx, h.on(tx), query, args...)
}

// QueryRow runs a one-row query in tx, or on the pool when tx is nil.
func (h *Handle) QueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	return h.d.queryRow(ctx, h.on(tx), query, args...)
}

// Tx runs fn in a transaction, committed when fn returns nil.
func (h *Handle) Tx(ctx context.Context, fn func(*sql.Tx) error) error { return h.d.tx(ctx, fn) }

// on is where a statement runs: a nil *sql.Tx must not reach sqlExec as
// a typed nil, so the pool is chosen here.
func (h *Handle) on(tx *sql.Tx) sqlExec {
	if tx == nil {
		return h.d.sql
	}
	return tx
}

// Dialect is the SQL dialect statements are written for: "sqlite" or
// "pgx" (PostgreSQL).
func (h *Handle) Dialect() string { return h.d.dialect }

// IsUniqueViolation tells whether err is a unique constraint's refusal,
// on either database.
func IsUniqueViolation(err error) bool { return isUniqueViolation(err) }

// IsForeignKeyViolation tells whether err is a foreign key's refusal, on
// either database.
func IsForeignKeyViolation(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "foreign key")
}

// Feature is the one value of a feature package on this store, made by
// mk at the first call with key (compared with ==): a feature that keeps
// state beside its tables (the record lookup's memory) has it once per
// store, however many callers ask for it.
func (s *Store) Feature(key any, mk func(*Handle) any) any {
	if v, ok := s.features.Load(key); ok {
		return v
	}
	v, _ := s.features.LoadOrStore(key, mk(s.Handle()))
	return v
}

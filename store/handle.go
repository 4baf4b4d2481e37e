package store

import (
	"context"
	"database/sql"
	"strings"
	"time"
)

// Handle is the one database handle as a feature package sees it: a
// package that keeps its own tables in this store's migration sequence
// (destinations/) runs its statements through it, so they share the
// connection pool, the dialect and the statement count.
type Handle struct{ d *db }

// Handle is the store's database handle, for feature packages.
func (s *Store) Handle() *Handle { return &Handle{d: s.db} }

// Querier is the database or a transaction.
type Querier = sqlExec

// SQL is the database (a Querier outside a transaction).
func (h *Handle) SQL() *sql.DB { return h.d.sql }

// Now is the store's clock (time.Now; SetClock in tests).
func (h *Handle) Now() time.Time { return h.d.now() }

// Exec, Query and QueryRow run a statement on q, counted in Queries.
func (h *Handle) Exec(ctx context.Context, q Querier, query string, args ...any) (sql.Result, error) {
	return h.d.exec(ctx, q, query, args...)
}

func (h *Handle) Query(ctx context.Context, q Querier, query string, args ...any) (*sql.Rows, error) {
	return h.d.query(ctx, q, query, args...)
}

func (h *Handle) QueryRow(ctx context.Context, q Querier, query string, args ...any) *sql.Row {
	return h.d.queryRow(ctx, q, query, args...)
}

// Tx runs fn in a transaction, committed when fn returns nil.
func (h *Handle) Tx(ctx context.Context, fn func(*sql.Tx) error) error { return h.d.tx(ctx, fn) }

// IsUniqueViolation tells whether err is a unique constraint's refusal,
// on either database.
func IsUniqueViolation(err error) bool { return isUniqueViolation(err) }

// IsForeignKeyViolation tells whether err is a foreign key's refusal, on
// either database.
func IsForeignKeyViolation(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "foreign key")
}

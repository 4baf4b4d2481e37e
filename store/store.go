// Package store is hookflow's own database: flows and their versions on
// SQLite (embedded default, pure Go) or PostgreSQL (several replicas),
// chosen by the DSN, and the one migration sequence of every feature's
// tables. Open migrates the one schema (goose, migrations/; it holds the
// tables of destinations/, records/ and capture/ too) and returns a Store:
// the one database handle, with one small type per kind of data it keeps
// itself (Flows); a feature package that keeps its own persistence
// (destinations/, records/, capture/) runs it on the Handle, and uses
// Feature for state it keeps once per store. Beside them: the API's
// trigger cache (Cache), which answers from memory while the database is
// slow or away.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // SQLite driver "sqlite", no cgo
)

//go:embed migrations/*.sql
var migrations embed.FS

// Errors matched with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrConflict is an update made against a version that is no longer
	// the current one (optimistic concurrency).
	ErrConflict = errors.New("version conflict")
)

// Store is the database: one handle and one migration sequence, shared by
// one small type per kind of data (Flows, and the feature packages' own
// through Handle). Each of those holds the same handle; none is embedded
// here, so each kind keeps its own methods.
type Store struct {
	db    *db
	flows *Flows
	// features are the feature packages' values (Feature).
	features sync.Map
}

// db is the handle every store type shares.
type db struct {
	sql *sql.DB
	// dialect is the driver's name: "sqlite" or "pgx" (PostgreSQL).
	dialect string
	now     func() time.Time
	// queries counts statements sent to the database: the trigger cache's
	// test proves a warm lookup sends none.
	queries atomic.Int64
}

// Drivers, which are also the SQL dialects the statements are written for.
const (
	dialectSQLite   = "sqlite"
	dialectPostgres = "pgx"
)

func newStore(d *db) *Store {
	return &Store{
		db:    d,
		flows: &Flows{db: d},
	}
}

// Flows are the flows and their versions.
func (s *Store) Flows() *Flows { return s.flows }

// Open opens the store named by dsn and migrates it: a postgres:// or
// postgresql:// URL for PostgreSQL, anything else is a SQLite file path
// (created, with its directory, if missing).
func Open(ctx context.Context, dsn string) (*Store, error) {
	driver, dialect, source := dialectSQLite, goose.DialectSQLite3, dsn
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		driver, dialect = dialectPostgres, goose.DialectPostgres
	} else {
		if err := os.MkdirAll(filepath.Dir(dsn), 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		// WAL lets readers run beside the writer; foreign keys make
		// deleting a flow delete its versions.
		source = "file:" + dsn + "?_pragma=journal_mode(wal)&_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)"
	}
	conn, err := sql.Open(driver, source)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if driver == dialectSQLite {
		conn.SetMaxOpenConns(1) // one writer; avoids SQLITE_BUSY between pooled connections
	}
	if err := conn.PingContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	var opts []goose.ProviderOption
	if driver == dialectPostgres {
		// Several replicas start at once on one database: an advisory
		// lock lets one migrate while the others wait, instead of two
		// racing through the same CREATE statements.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, conn, mustSub(migrations, "migrations"), opts...)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	return newStore(&db{sql: conn, dialect: driver, now: time.Now}), nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.sql.Close() }

// Queries is the number of statements sent so far.
func (s *Store) Queries() int64 { return s.db.queries.Load() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.sql.PingContext(ctx) }

func (d *db) exec(ctx context.Context, q sqlExec, query string, args ...any) (sql.Result, error) {
	d.queries.Add(1)
	return q.ExecContext(ctx, query, args...)
}

func (d *db) query(ctx context.Context, q sqlExec, query string, args ...any) (*sql.Rows, error) {
	d.queries.Add(1)
	return q.QueryContext(ctx, query, args...)
}

func (d *db) queryRow(ctx context.Context, q sqlExec, query string, args ...any) *sql.Row {
	d.queries.Add(1)
	return q.QueryRowContext(ctx, query, args...)
}

// sqlExec is the database or a transaction.
type sqlExec interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// tx runs fn in a transaction, committed when fn returns nil.
func (d *db) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

type scanner interface{ Scan(...any) error }

func isUniqueViolation(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "unique") || strings.Contains(msg, "duplicate key")
}

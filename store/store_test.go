package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// backends returns an opener per database: SQLite always, PostgreSQL when
// HOOKFLOW_TEST_POSTGRES_DSN names a server (.ci/run starts one). Each call
// opens an empty store.
func backends(t *testing.T) map[string]func(t *testing.T) *store.Store {
	out := map[string]func(t *testing.T) *store.Store{
		"sqlite": func(t *testing.T) *store.Store {
			s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "hookflow.db"))
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
	dsn := os.Getenv("HOOKFLOW_TEST_POSTGRES_DSN")
	if dsn == "" && os.Getenv("CI") != "" {
		t.Fatal("CI must test the PostgreSQL backend: HOOKFLOW_TEST_POSTGRES_DSN is not set (.ci/run starts one)")
	}
	if dsn == "" {
		t.Log("HOOKFLOW_TEST_POSTGRES_DSN not set: PostgreSQL backend not tested here (.ci/run sets it)")
		return out
	}
	out["postgres"] = func(t *testing.T) *store.Store {
		admin, err := sql.Open("pgx", dsn)
		require.NoError(t, err)
		db := fmt.Sprintf("hookflow_test_%d", time.Now().UnixNano())
		_, err = admin.Exec("CREATE DATABASE " + db)
		require.NoError(t, err)
		t.Cleanup(func() {
			_, _ = admin.Exec("DROP DATABASE " + db + " WITH (FORCE)")
			admin.Close()
		})
		s, err := store.Open(context.Background(), replaceDB(dsn, db))
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	return out
}

// replaceDB swaps the database name of a postgres:// URL.
func replaceDB(dsn, db string) string {
	base, query, _ := strings.Cut(dsn, "?")
	i := strings.LastIndex(base, "/")
	out := base[:i+1] + db
	if query != "" {
		out += "?" + query
	}
	return out
}

func def(t *testing.T, yaml string) *flow.Flow {
	t.Helper()
	f, err := flow.DecodeYAML([]byte(yaml))
	require.NoError(t, err)
	return f
}

func TestMigrationsRunOnceAndSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookflow.db")
	s, err := store.Open(context.Background(), path)
	require.NoError(t, err)
	_, err = s.Flows().Create(context.Background(), def(t, v1))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	s, err = store.Open(context.Background(), path)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.Flows().Get(context.Background(), "orders")
	require.NoError(t, err)
	require.Equal(t, int64(1), got.Version)
}

// TestReplicasMigrateAtOnce: API replicas starting together on a fresh
// PostgreSQL database all open the store (one migrates under an advisory
// lock, the others wait), where unlocked they raced through the same
// CREATE statements and one crashed.
func TestReplicasMigrateAtOnce(t *testing.T) {
	dsn := os.Getenv("HOOKFLOW_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI must test the PostgreSQL backend: HOOKFLOW_TEST_POSTGRES_DSN is not set")
		}
		t.Skip("HOOKFLOW_TEST_POSTGRES_DSN not set")
	}
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	db := fmt.Sprintf("hookflow_race_%d", time.Now().UnixNano())
	_, err = admin.Exec("CREATE DATABASE " + db)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE " + db + " WITH (FORCE)")
		admin.Close()
	})
	const replicas = 8
	errs := make(chan error, replicas)
	for range replicas {
		go func() {
			s, err := store.Open(context.Background(), replaceDB(dsn, db))
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range replicas {
		require.NoError(t, <-errs)
	}
}

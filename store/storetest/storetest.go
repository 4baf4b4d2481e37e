// Package storetest opens the store on each database its tests run
// against, for the tests of feature packages that keep their persistence
// on the store's handle (destinations/, records/, capture/): SQLite
// always, PostgreSQL when HOOKFLOW_TEST_POSTGRES_DSN is set (CI requires
// it).
package storetest

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

// Backends opens a fresh, migrated store per call, by database name;
// each is closed (and a PostgreSQL database dropped) when t ends.
func Backends(t *testing.T) map[string]func(t *testing.T) *store.Store {
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

// Flow decodes a flow from YAML.
func Flow(t *testing.T, yaml string) *flow.Flow {
	t.Helper()
	f, err := flow.DecodeYAML([]byte(yaml))
	require.NoError(t, err)
	return f
}

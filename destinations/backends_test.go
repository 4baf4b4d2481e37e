package destinations_test

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

	"github.com/hookflow/hookflow/store"
)

// backends opens a fresh store on SQLite, and on PostgreSQL when
// HOOKFLOW_TEST_POSTGRES_DSN names a server (CI sets it; the store
// package's tests open theirs the same way).
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
		db := fmt.Sprintf("hookflow_dest_test_%d", time.Now().UnixNano())
		_, err = admin.Exec("CREATE DATABASE " + db)
		require.NoError(t, err)
		t.Cleanup(func() {
			_, _ = admin.Exec("DROP DATABASE " + db + " WITH (FORCE)")
			admin.Close()
		})
		base, query, _ := strings.Cut(dsn, "?")
		u := base[:strings.LastIndex(base, "/")+1] + db
		if query != "" {
			u += "?" + query
		}
		s, err := store.Open(context.Background(), u)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	return out
}

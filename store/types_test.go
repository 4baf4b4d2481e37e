package store

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// maxMethods bounds each store type (#23: one small type per kind of
// data, none a god type).
const maxMethods = 25

func TestNoStoreTypeHasMoreThan25Methods(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	count := map[string]int{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil {
				continue
			}
			typ := fn.Recv.List[0].Type
			if star, ok := typ.(*ast.StarExpr); ok {
				typ = star.X
			}
			count[typ.(*ast.Ident).Name]++
		}
	}
	for _, typ := range []string{"Store", "Flows", "Handle"} {
		require.NotZero(t, count[typ], "%s has methods", typ)
	}
	for typ, n := range count {
		require.LessOrEqual(t, n, maxMethods, "store.%s has %d methods (exported and not)", typ, n)
	}
}

func TestEveryStoreTypeSharesTheOneHandle(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "hookflow.db"))
	require.NoError(t, err)
	defer st.Close()
	// Feature packages' types (destinations/, records/, capture/) share it
	// through Handle.
	for _, d := range []*db{st.Flows().db, st.Handle().d} {
		require.Same(t, st.db, d)
	}
	// Statements of every kind count on the one handle.
	before := st.Queries()
	_, err = st.Flows().List(ctx)
	require.NoError(t, err)
	require.NoError(t, st.Handle().QueryRow(ctx, nil, `SELECT COUNT(*) FROM collections`).Scan(new(int)))  // a feature's own (records/)
	require.NoError(t, st.Handle().QueryRow(ctx, nil, `SELECT COUNT(*) FROM destinations`).Scan(new(int))) // a feature's own (destinations/)
	var n int
	require.NoError(t, st.Handle().QueryRow(ctx, nil, `SELECT COUNT(*) FROM captures`).Scan(&n)) // a feature's own (capture/)
	require.Equal(t, before+4, st.Queries())
	// One migration sequence made every kind's tables on that handle (the
	// feature packages' too).
	for _, table := range []string{"flows", "flow_versions", "collections", "records", "record_keys", "destinations", "destination_state", "capture_arms", "captures"} {
		var n int
		require.NoError(t, st.db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1`, table).Scan(&n))
		require.Equal(t, 1, n, table)
	}
}

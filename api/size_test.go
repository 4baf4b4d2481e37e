package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// apiPackages are the API's packages by directory (from this one) and
// name: the public surface, the admin API, and what both share.
var apiPackages = map[string]string{".": "api", "admin": "admin", "httpapi": "httpapi"}

// methodSets counts, for each named type of the API's packages' non-test
// files (by "package.Type"), its methods: those declared on it plus those
// of the types it embeds, in its package or another of the API's (what a
// reader of the type has to know).
func methodSets(t *testing.T) map[string]int {
	t.Helper()
	fset := token.NewFileSet()
	files := map[*ast.File]string{}
	for dir, pkg := range apiPackages {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
			require.NoError(t, err)
			files[f] = pkg
		}
	}
	declared, embeds := map[string]int{}, map[string][]string{}
	for f, pkg := range files {
		name := func(e ast.Expr) string {
			if s, ok := e.(*ast.StarExpr); ok {
				e = s.X
			}
			switch e := e.(type) {
			case *ast.Ident:
				return pkg + "." + e.Name
			case *ast.SelectorExpr:
				if x, ok := e.X.(*ast.Ident); ok {
					return x.Name + "." + e.Sel.Name
				}
			}
			return ""
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv != nil {
					declared[name(d.Recv.List[0].Type)]++
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					ts, ok := spec.(*ast.TypeSpec)
					if !ok {
						continue
					}
					st, ok := ts.Type.(*ast.StructType)
					if !ok {
						continue
					}
					for _, field := range st.Fields.List {
						if len(field.Names) == 0 {
							embeds[pkg+"."+ts.Name.Name] = append(embeds[pkg+"."+ts.Name.Name], name(field.Type))
						}
					}
				}
			}
		}
	}
	var total func(string) int
	total = func(typ string) int {
		n := declared[typ]
		for _, e := range embeds[typ] {
			n += total(e)
		}
		return n
	}
	out := map[string]int{}
	for typ := range declared {
		out[typ] = total(typ)
	}
	for typ := range embeds {
		out[typ] = total(typ)
	}
	return out
}

// No type of the API grows past 50 methods (#23: no god types), and the
// public surface, what the internet talks to, stays the smaller part.
func TestNoAPITypeHasMoreThanFiftyMethodsAndThePublicSurfaceIsTheSmallerPart(t *testing.T) {
	sets := methodSets(t)
	for typ, n := range sets {
		require.LessOrEqual(t, n, 50, "%s has %d methods (with those it embeds): split it by feature", typ, n)
	}
	require.Greater(t, sets["api.Public"], 0)
	require.Greater(t, sets["admin.Management"], 0)
	require.Less(t, sets["api.Public"], sets["admin.Management"], "the public surface is the smaller part: Public %d, Management %d", sets["api.Public"], sets["admin.Management"])
	t.Logf("methods (with embedded): %v", sets)
}

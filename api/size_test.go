package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// methodSets counts, for each named type of the package's non-test files,
// its methods: those declared on it plus those of the types it embeds
// (what a reader of the type has to know).
func methodSets(t *testing.T) map[string]int {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	var files []*ast.File
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		require.NoError(t, err)
		files = append(files, f)
	}
	declared, embeds := map[string]int{}, map[string][]string{}
	name := func(e ast.Expr) string {
		if s, ok := e.(*ast.StarExpr); ok {
			e = s.X
		}
		if id, ok := e.(*ast.Ident); ok {
			return id.Name
		}
		return ""
	}
	for _, f := range files {
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
							embeds[ts.Name.Name] = append(embeds[ts.Name.Name], name(field.Type))
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
		require.LessOrEqual(t, n, 50, "api.%s has %d methods (with those it embeds): split it by feature", typ, n)
	}
	require.Greater(t, sets["Public"], 0)
	require.Less(t, sets["Public"], sets["Management"], "the public surface is the smaller part: Public %d, Management %d", sets["Public"], sets["Management"])
	t.Logf("methods (with embedded): %v", sets)
}

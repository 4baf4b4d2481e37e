// Package layering holds the check that imports run one way, down the
// layers of docs/development.md: cmd → api, worker → workflows, activities →
// feature packages → contract → flow → flow/trigger → flow/expression →
// flow/field → nothing of ours.
package layering

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/hookflow/hookflow/"

// layer of each package of the module (its path without the module). A
// package may import packages of a lower layer; within the features layer,
// each other (Go refuses cycles); nothing else of its own layer.
var layer = map[string]int{
	// the flow file format (flow) holds the trigger's part of it
	// (flow/trigger); both validate with the shared vocabulary
	// (flow/field) and the expression language (flow/expression), which
	// names paths and errors in that vocabulary
	"flow/field": -3, "flow/expression": -2, "flow/trigger": -1, "flow": 0, "contract": 1,
	// features: one job each, below the adapters
	"store": 2, "executions": 2, "namespace": 2, "secrets": 2, "telemetry": 2, "codec": 2,
	"devserver": 2, "reference": 2, "schedules": 2, "recovery": 2, "flowcontrol": 2, "destinations": 2,
	"notify": 2, "capture": 2, "records": 2, "store/storetest": 2,
	"workflows": 3, "activities": 3,
	"api": 4, "api/admin": 4, "api/httpapi": 4, "worker": 4,
	"cmd/hookflow": 5, "cmd/docgen": 5,
}

const featuresLayer = 2

// within orders the packages of one adapter: a package may import those
// listed for it, of its own layer, and no others of that layer. The API's
// two parts share api/httpapi below them; api composes both.
var within = map[string][]string{
	"api":       {"api/admin", "api/httpapi"},
	"api/admin": {"api/httpapi"},
}

// unchecked are the packages above every layer: they may import anything.
var unchecked = []string{"tests", "bench"}

// onlyImportedBy names packages only some others may import.
var onlyImportedBy = map[string][]string{
	// The interpreter is registered by the worker, nothing else.
	"workflows": {"worker"},
}

var root = func() string { r, _ := filepath.Abs(filepath.Join("..", "..")); return r }()

// imports lists, for each package of the module (by directory), the
// module's packages its non-test files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir // a module of its own (deploy/check)
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if _, ok := out[rel]; !ok {
			out[rel] = nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module) {
				out[rel] = append(out[rel], strings.TrimPrefix(p, module))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func isUnchecked(pkg string) bool {
	for _, u := range unchecked {
		if pkg == u || strings.HasPrefix(pkg, u+"/") {
			return true
		}
	}
	return false
}

// problems lists the imports that break the layering.
func problems(graph map[string][]string) []string {
	var out []string
	for pkg, deps := range graph {
		if isUnchecked(pkg) {
			continue
		}
		from, ok := layer[pkg]
		if !ok {
			out = append(out, pkg+": not placed in a layer (add it to layer in tests/layering)")
			continue
		}
		for _, dep := range deps {
			to, ok := layer[dep]
			switch {
			case !ok:
				out = append(out, pkg+" imports "+dep+", which is in no layer")
			case to > from || (to == from && from != featuresLayer && !contains(within[pkg], dep)):
				out = append(out, pkg+" imports "+dep+": an import back up (or across) the layers")
			}
			if allowed, ok := onlyImportedBy[dep]; ok && !contains(allowed, pkg) {
				out = append(out, pkg+" imports "+dep+": only "+strings.Join(allowed, ", ")+" may")
			}
		}
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestImportsRunDownTheLayers(t *testing.T) {
	graph := imports(t)
	if len(graph) < 10 {
		t.Fatalf("found only %d packages under %s: the walk is broken", len(graph), root)
	}
	for _, p := range problems(graph) {
		t.Error(p)
	}
}

// The check itself: each kind of bad import is caught.
func TestTheLayeringCheckCatchesEveryKindOfBadImport(t *testing.T) {
	for _, tc := range []struct {
		name  string
		graph map[string][]string
		want  string
	}{
		{"an import back up", map[string][]string{"activities": {"api"}}, "activities imports api: an import back up (or across) the layers"},
		{"an import across adapters", map[string][]string{"api": {"worker"}}, "api imports worker: an import back up (or across) the layers"},
		{"flow importing a feature", map[string][]string{"flow": {"secrets"}}, "flow imports secrets: an import back up (or across) the layers"},
		{"the interpreter imported outside the worker", map[string][]string{"cmd/hookflow": {"workflows"}}, "cmd/hookflow imports workflows: only worker may"},
		{"the expression language importing the flow format", map[string][]string{"flow/expression": {"flow"}}, "flow/expression imports flow: an import back up (or across) the layers"},
		{"the shared vocabulary importing the flow format", map[string][]string{"flow/field": {"flow"}}, "flow/field imports flow: an import back up (or across) the layers"},
		{"the trigger's spec importing the flow format", map[string][]string{"flow/trigger": {"flow"}}, "flow/trigger imports flow: an import back up (or across) the layers"},
		{"the shared vocabulary importing the trigger's spec", map[string][]string{"flow/field": {"flow/trigger"}}, "flow/field imports flow/trigger: an import back up (or across) the layers"},
		{"the shared vocabulary importing the expression language", map[string][]string{"flow/field": {"flow/expression"}}, "flow/field imports flow/expression: an import back up (or across) the layers"},
		{"the shared API plumbing importing a part of the API", map[string][]string{"api/httpapi": {"api/admin"}}, "api/httpapi imports api/admin: an import back up (or across) the layers"},
		{"the admin API importing the public surface", map[string][]string{"api/admin": {"api"}}, "api/admin imports api: an import back up (or across) the layers"},
		{"a part of the API importing the worker", map[string][]string{"api/admin": {"worker"}}, "api/admin imports worker: an import back up (or across) the layers"},
		{"a package in no layer", map[string][]string{"newthing": nil}, "newthing: not placed in a layer (add it to layer in tests/layering)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(tc.graph)
			if !contains(got, tc.want) {
				t.Fatalf("problems %q lack %q", got, tc.want)
			}
		})
	}
	if got := problems(map[string][]string{"flow": {"flow/trigger", "flow/field", "flow/expression"}, "flow/trigger": {"flow/field", "flow/expression"}, "store": {"secrets", "flow"}, "worker": {"workflows", "store"}, "tests": {"workflows"}, "api": {"api/admin", "api/httpapi"}, "api/admin": {"api/httpapi", "store"}}); len(got) != 0 {
		t.Fatalf("allowed imports refused: %q", got)
	}
}

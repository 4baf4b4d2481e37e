package reference

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/records"
)

// Problem is one thing wrong with a file: its path in the file ("" for
// the file as a whole) and what is wrong.
type Problem struct {
	File    string `json:"file"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// FileResult is one file checked.
type FileResult struct {
	File  string `json:"file"`
	Valid bool   `json:"valid"`
}

// Report is the outcome of checking files offline: what hookflow flows
// validate (and destinations, collections) prints.
type Report struct {
	Kind     string       `json:"kind"`
	Valid    bool         `json:"valid"`
	Files    []FileResult `json:"files"`
	Problems []Problem    `json:"problems"`
}

// CheckFiles validates a file, or every .yaml, .yml and .json file of a
// directory (not recursively, as apply reads them), as kind (flow,
// destination or collection), with hookflow's own validation: what the
// API runs on apply, but for the checks that need the server's state (a
// named destination, a called flow or a collection that exists only
// there). It also refuses two files defining the same name (and, for
// flows, the same trigger token), and calls between the flows checked
// that make a cycle or a chain too deep (a callee not among them is
// assumed to exist on the server, calling nothing). An error is a path that cannot be read
// or holds no such file; problems in files are in the report.
func CheckFiles(kind, path string) (*Report, error) {
	decode, ok := decoders[kind]
	if !ok {
		return nil, fmt.Errorf("cannot check %q files: the kinds are flow, destination and collection", kind)
	}
	paths, err := DefinitionFiles(path)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s holds no .yaml, .yml or .json %s file", path, kind)
	}
	r := &Report{Kind: kind, Files: []FileResult{}, Problems: []Problem{}}
	names := map[string]string{}  // name -> file defining it
	tokens := map[string]string{} // trigger token -> file
	flows := map[string]*flow.Flow{}
	fileOf := map[*flow.Flow]int{} // index in r.Files
	for _, p := range paths {
		before := len(r.Problems)
		add := func(path, msg string) { r.Problems = append(r.Problems, Problem{File: p, Path: path, Message: msg}) }
		data, err := os.ReadFile(p)
		switch {
		case !IsDefinitionFile(p):
			add("", "not a "+kind+" file (use .yaml, .yml or .json)")
		case err != nil:
			add("", err.Error())
		default:
			v, name, token, fes := decode(data, strings.ToLower(filepath.Ext(p)) != ".json")
			for _, fe := range fes {
				add(fe.Path, fe.Message)
			}
			if len(fes) > 0 {
				break
			}
			if prev, dup := names[name]; dup {
				add(nameField[kind], fmt.Sprintf("%s %q is already defined by %s", kind, name, prev))
			} else {
				names[name] = p
				if f, ok := v.(*flow.Flow); ok {
					flows[name] = f
					fileOf[f] = len(r.Files)
				}
			}
			if token != "" {
				if prev, dup := tokens[token]; dup {
					add("trigger.token", "is already used by "+prev)
				} else {
					tokens[token] = p
				}
			}
		}
		r.Files = append(r.Files, FileResult{File: p, Valid: len(r.Problems) == before})
	}
	lookup := func(id string) (*flow.Flow, bool) {
		if f, ok := flows[id]; ok {
			return f, true
		}
		return &flow.Flow{ID: id}, true
	}
	for _, id := range sortedKeys(flows) {
		f := flows[id]
		for _, fe := range flow.CheckCalls(f, lookup) {
			i := fileOf[f]
			r.Problems = append(r.Problems, Problem{File: r.Files[i].File, Path: fe.Path, Message: fe.Message})
			r.Files[i].Valid = false
		}
	}
	r.Valid = len(r.Problems) == 0
	return r, nil
}

var nameField = map[string]string{"flow": "id", "destination": "name", "collection": "name"}

// decoders run hookflow's validation of each kind and return the name
// (and a flow's trigger token), or every problem with its path.
var decoders = map[string]func(data []byte, yamlDoc bool) (v any, name, token string, problems []field.Error){
	"flow": func(data []byte, yamlDoc bool) (any, string, string, []field.Error) {
		var f *flow.Flow
		var err error
		if yamlDoc {
			f, err = flow.DecodeYAML(data)
		} else {
			f, err = flow.Decode(data)
		}
		var ve *flow.ValidationError
		if errors.As(err, &ve) {
			return nil, "", "", ve.Errors
		}
		if err != nil {
			return nil, "", "", []field.Error{{Message: err.Error()}}
		}
		return f, f.ID, f.Trigger.Token, nil
	},
	"destination": func(data []byte, yamlDoc bool) (any, string, string, []field.Error) {
		d, err := flow.DecodeDestination(data, yamlDoc)
		var de *flow.DestinationError
		if errors.As(err, &de) {
			return nil, "", "", de.Errors
		}
		if err != nil {
			return nil, "", "", []field.Error{{Message: err.Error()}}
		}
		return d, d.Name, "", nil
	},
	"collection": func(data []byte, yamlDoc bool) (any, string, string, []field.Error) {
		c, err := records.DecodeCollection(data, yamlDoc)
		var ie *records.InvalidError
		if errors.As(err, &ie) {
			return nil, "", "", ie.Errors
		}
		if err != nil {
			return nil, "", "", []field.Error{{Message: err.Error()}}
		}
		return c, c.Name, "", nil
	},
}

// DefinitionFiles is path itself, or the .yaml, .yml and .json files of the
// directory path (not recursively): the files `validate` and `apply` read.
func DefinitionFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() && IsDefinitionFile(e.Name()) {
			paths = append(paths, filepath.Join(path, e.Name()))
		}
	}
	return paths, nil
}

// IsDefinitionFile reports whether a file's extension is one a definition
// file may have.
func IsDefinitionFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// WriteText writes one line per problem (file: path: message), then a
// summary line.
func (r *Report) WriteText(w io.Writer) {
	for _, p := range r.Problems {
		if p.Path == "" {
			fmt.Fprintf(w, "%s: %s\n", p.File, p.Message)
			continue
		}
		fmt.Fprintf(w, "%s: %s: %s\n", p.File, p.Path, p.Message)
	}
	fmt.Fprintln(w, r.Summary())
}

// Summary is one line: how many files, how many problems in how many.
func (r *Report) Summary() string {
	bad := 0
	for _, f := range r.Files {
		if !f.Valid {
			bad++
		}
	}
	files := plural(len(r.Files), r.Kind+" file")
	switch {
	case r.Valid:
		return files + ": valid"
	case len(r.Files) == 1:
		return files + ": " + plural(len(r.Problems), "problem")
	}
	return fmt.Sprintf("%s: %s in %d of them", files, plural(len(r.Problems), "problem"), bad)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// WriteJSON writes the report as one JSON document, problems sorted by
// file then order found.
func (r *Report) WriteJSON(w io.Writer) error {
	sort.SliceStable(r.Problems, func(i, j int) bool { return r.Problems[i].File < r.Problems[j].File })
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

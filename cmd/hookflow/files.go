package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hookflow/hookflow/reference"
)

// readDefinitionFiles decodes a file, or every .yaml, .yml and .json file of
// a directory (not recursively), with decode (YAML or JSON by extension),
// reporting every problem of every file, and names defined twice, before
// anything is sent. what names the kind in errors ("collection"); the
// result is sorted by name.
func readDefinitionFiles[T any](path, what string, decode func(data []byte, yaml bool) (T, error), name func(T) string) ([]T, error) {
	paths, err := reference.DefinitionFiles(path)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s holds no .yaml, .yml or .json %s", path, what)
	}
	var out []T
	var errs []error
	seen := map[string]string{}
	for _, p := range paths {
		if !reference.IsDefinitionFile(p) {
			errs = append(errs, fmt.Errorf("%s: not a %s file (use .yaml, .yml or .json)", p, what))
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v, err := decode(data, strings.ToLower(filepath.Ext(p)) != ".json")
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		if prev, dup := seen[name(v)]; dup {
			errs = append(errs, fmt.Errorf("%s: %s %q is already defined by %s", p, what, name(v), prev))
			continue
		}
		seen[name(v)] = p
		out = append(out, v)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(out, func(i, j int) bool { return name(out[i]) < name(out[j]) })
	return out, nil
}

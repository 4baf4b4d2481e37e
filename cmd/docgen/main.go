// Command docgen writes the JSON Schemas (schemas/) and the reference
// (docs/reference/, but cli.md, which hookflow docs writes) from the code:
// make docs runs it from the repository's root. It imports no Temporal
// package, so it builds in seconds.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hookflow/hookflow/reference"
)

func main() {
	root := flag.String("root", ".", "the repository's root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	openAPI, err := os.ReadFile(filepath.Join(root, "api", "openapi.json"))
	if err != nil {
		return err
	}
	files, err := reference.Generate(openAPI)
	if err != nil {
		return err
	}
	for path, data := range files {
		full := filepath.Join(root, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

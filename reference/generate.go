package reference

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Generate returns every generated file by its path in the repository:
// schemas/*.json and docs/reference/*.md but cli.md (the CLI's tree lives
// in cmd/hookflow, which writes it with hookflow docs). openAPI is
// api/openapi.json, rendered as docs/reference/api.md.
func Generate(openAPI []byte) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, name := range Schemas {
		doc, _ := Schema(name)
		out["schemas/"+name+".json"] = doc
	}
	for name, page := range Pages() {
		out["docs/reference/"+name] = []byte(page)
	}
	api, err := APIMarkdown(openAPI)
	if err != nil {
		return nil, err
	}
	out["docs/reference/api.md"] = []byte(api)
	out["docs/reference/README.md"] = []byte(indexPage())
	return out, nil
}

func indexPage() string {
	var b strings.Builder
	b.WriteString("# Reference\n\n" + generated)
	b.WriteString(`Generated from the code, so it cannot drift from it: the file formats from the spec types
that decode and validate them (their json and validate tags, a doc tag per field, and the
defaults the code fills in), the CLI from its cobra commands, the HTTP API from
api/openapi.json. ` + "`make docs`" + ` writes these pages and the JSON Schemas; a test fails when the
committed files differ from what the code generates.

| Page | What |
|---|---|
| [flow.md](flow.md) | flow files: every field |
| [trigger.md](trigger.md) | a flow's trigger: modes, auth, parsing, idempotency, enrollment |
| [steps.md](steps.md) | every step type: fields, types, defaults, limits, templates |
| [destination.md](destination.md) | destination files |
| [collection.md](collection.md) | collection files |
| [cli.md](cli.md) | every hookflow command and flag |
| [api.md](api.md) | the HTTP API (from api/openapi.json) |

## JSON Schemas

` + "`schemas/flow.json`, `schemas/destination.json` and `schemas/collection.json`" + ` (JSON Schema draft
2020-12) are generated from the same types, and served by the API at
` + "`/api/v1/schemas/{flow,destination,collection}.json`" + ` (no API key needed). Name one in the
first line of a file and editors with the YAML language server (VS Code's YAML extension,
JetBrains IDEs, Neovim) complete and check it as you type:

` + "```yaml" + `
# yaml-language-server: $schema=../schemas/flow.json
id: new-order
` + "```" + `

For JSON files, map the schema in the editor's settings (VS Code: ` + "`json.schemas`" + ` with a
` + "`fileMatch`" + `): hookflow refuses unknown keys, ` + "`$schema`" + ` included.

The schema checks shapes, types, enums, required fields, lengths and patterns. It cannot check
expressions and templates, references between steps, durations against their limits, rules
between fields (url or baseUrl; a sync trigger's timeout) or, on apply, that named
destinations, called flows and collections exist: ` + "`hookflow flows validate`" + ` does.

## Checking files offline

` + "```sh" + `
hookflow flows validate -f examples/            # every error with its file and path; exit 1 if any
hookflow destinations validate -f destinations/
hookflow collections validate -f collections/ --format json   # for machines
` + "```" + `

These run hookflow's own validation (the same the API runs on apply) with no server and no API
key, for CI pipelines; calls between the flows checked are followed (cycles, depth). Checks that
need the server's state (a destination, a called flow or a collection that exists only there)
are left to apply.

## Explain

` + "`hookflow explain`" + ` prints one entry of this reference: a step type, a file kind or a field path.

` + "```sh" + `
hookflow explain http.retry
hookflow explain trigger.parse
hookflow explain record.find.limit
` + "```" + `
`)
	return b.String()
}

// APIMarkdown renders the HTTP API reference from openapi.json: every path
// and method with its summary, parameters and answers.
func APIMarkdown(openAPI []byte) (string, error) {
	var doc struct {
		Info struct {
			Title, Description string
		}
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		return "", fmt.Errorf("openapi.json: %w", err)
	}
	type param struct {
		Name, In, Description string
		Required              bool
	}
	type op struct {
		Summary, Description string
		Parameters           []param
		Responses            map[string]struct {
			Ref         string `json:"$ref"`
			Description string
		}
		Security *[]map[string]any
	}
	var b strings.Builder
	b.WriteString("# HTTP API\n\n" + generated)
	b.WriteString(cell(doc.Info.Description) + "\n\n")
	b.WriteString("The machine-readable document is served at `/api/v1/openapi.json` (and kept in api/openapi.json).\n\n")
	for _, path := range sortedKeys(doc.Paths) {
		ops := doc.Paths[path]
		var shared []param
		if raw, ok := ops["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				return "", fmt.Errorf("openapi.json: %s parameters: %w", path, err)
			}
		}
		methods := sortedKeys(ops)
		sort.SliceStable(methods, func(i, j int) bool { return methodOrder(methods[i]) < methodOrder(methods[j]) })
		for _, m := range methods {
			if m == "parameters" {
				continue
			}
			var o op
			if err := json.Unmarshal(ops[m], &o); err != nil {
				return "", fmt.Errorf("openapi.json: %s %s: %w", m, path, err)
			}
			fmt.Fprintf(&b, "## %s %s\n\n", strings.ToUpper(m), path)
			if o.Summary != "" {
				b.WriteString(cell(upperFirst(o.Summary)) + "\n\n")
			}
			if o.Description != "" {
				b.WriteString(cell(o.Description) + "\n\n")
			}
			params := append(append([]param{}, shared...), o.Parameters...)
			if len(params) > 0 {
				b.WriteString("| Parameter | In | Required | Description |\n|---|---|---|---|\n")
				for _, p := range params {
					req := ""
					if p.Required {
						req = "yes"
					}
					fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", p.Name, p.In, req, cell(p.Description))
				}
				b.WriteString("\n")
			}
			if len(o.Responses) > 0 {
				b.WriteString("| Status | Answer |\n|---|---|\n")
				for _, code := range sortedKeys(o.Responses) {
					r := o.Responses[code]
					desc := r.Description
					if desc == "" && r.Ref != "" {
						desc = "error: `{error, detail, path?}`"
					}
					fmt.Fprintf(&b, "| %s | %s |\n", code, cell(desc))
				}
				b.WriteString("\n")
			}
		}
	}
	return b.String(), nil
}

func methodOrder(m string) int {
	switch m {
	case "get":
		return 0
	case "post":
		return 1
	case "put":
		return 2
	case "patch":
		return 3
	case "delete":
		return 4
	}
	return 5
}

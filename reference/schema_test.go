package reference_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/reference"
)

// compileSchemas compiles the generated schemas with a draft 2020-12
// validator, which also checks each against the draft's meta-schema.
func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	out := map[string]*jsonschema.Schema{}
	for _, name := range reference.Schemas {
		doc, ok := reference.Schema(name)
		require.True(t, ok)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
		require.NoError(t, err)
		url := "https://hookflow.invalid/schemas/" + name + ".json"
		require.NoError(t, c.AddResource(url, v))
		s, err := c.Compile(url)
		require.NoError(t, err, name)
		out[name] = s
	}
	return out
}

// hookflowCheck runs hookflow's own validation of a file kind: what the
// API runs on apply and hookflow flows validate runs offline.
func hookflowCheck(kind string, data []byte, yamlDoc bool) error {
	switch kind {
	case "flow":
		if yamlDoc {
			_, err := flow.DecodeYAML(data)
			return err
		}
		_, err := flow.Decode(data)
		return err
	case "destination":
		_, err := flow.DecodeDestination(data, yamlDoc)
		return err
	case "collection":
		_, err := records.DecodeCollection(data, yamlDoc)
		return err
	}
	panic(kind)
}

func schemaCheck(t *testing.T, s *jsonschema.Schema, data []byte, yamlDoc bool) error {
	t.Helper()
	if yamlDoc {
		js, ferr := flow.YAMLToJSON(data)
		if ferr != nil {
			return ferr
		}
		data = js
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// kindOf says which file a document is by its top-level keys: a flow has
// id and steps, a destination name and baseUrl, a collection name and
// properties. Anything else (a step, a fragment) is not a whole file.
func kindOf(data []byte) string {
	var doc map[string]any
	if yaml.Unmarshal(data, &doc) != nil || doc == nil {
		return ""
	}
	has := func(keys ...string) bool {
		for _, k := range keys {
			if _, ok := doc[k]; !ok {
				return false
			}
		}
		return true
	}
	switch {
	case has("id", "steps"):
		return "flow"
	case has("name", "baseUrl"):
		return "destination"
	case has("name", "properties"):
		return "collection"
	}
	return ""
}

var fence = regexp.MustCompile("(?ms)^```(yaml|yml|json)[ \t]*\n(.*?)^```")

type document struct {
	where   string
	data    []byte
	yamlDoc bool
}

// documentedFiles lists the example files and every whole file shown in
// a YAML or JSON block of the README and docs/*.md.
func documentedFiles(t *testing.T) []document {
	t.Helper()
	var out []document
	examples, err := filepath.Glob("../examples/*")
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	for _, p := range examples {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		out = append(out, document{where: p, data: data, yamlDoc: filepath.Ext(p) != ".json"})
	}
	pages, err := filepath.Glob("../docs/*.md")
	require.NoError(t, err)
	for _, p := range append([]string{"../README.md"}, pages...) {
		text, err := os.ReadFile(p)
		require.NoError(t, err)
		for _, m := range fence.FindAllSubmatchIndex(text, -1) {
			line := bytes.Count(text[:m[0]], []byte("\n")) + 1
			lang := string(text[m[2]:m[3]])
			out = append(out, document{where: fmt.Sprintf("%s:%d", p, line), data: text[m[4]:m[5]], yamlDoc: lang != "json"})
		}
	}
	return out
}

// Every example file, and every whole flow, destination or collection file
// the README and docs/ show, passes both the JSON Schema and hookflow's own
// validation: the two agree on everything users are shown.
func TestEveryDocumentedFilePassesTheSchemaAndHookflowAlike(t *testing.T) {
	schemas := compileSchemas(t)
	checked := map[string]int{}
	for _, d := range documentedFiles(t) {
		kind := kindOf(d.data)
		if kind == "" {
			require.False(t, strings.HasPrefix(d.where, "../examples/"), "%s: an example that is not a whole flow, destination or collection file", d.where)
			continue
		}
		checked[kind]++
		hErr := hookflowCheck(kind, d.data, d.yamlDoc)
		sErr := schemaCheck(t, schemas[kind], d.data, d.yamlDoc)
		require.Equal(t, hErr == nil, sErr == nil, "%s: the schema and hookflow disagree on this %s:\nschema: %v\nhookflow: %v", d.where, kind, sErr, hErr)
		if hErr != nil {
			// A sketch (then: [...]) is refused by both, as it should be;
			// anything else shown to users must be a valid file.
			require.True(t, bytes.Contains(d.data, []byte("...")), "%s: this %s is refused by both: %v", d.where, kind, hErr)
			checked["sketch"]++
		}
	}
	t.Logf("checked %v", checked)
	require.NotZero(t, checked["flow"])
}

// Every example file names its schema in the modeline editors read.
func TestEveryExampleNamesItsSchema(t *testing.T) {
	examples, err := filepath.Glob("../examples/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	for _, p := range examples {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		kind := kindOf(data)
		first, _, _ := strings.Cut(string(data), "\n")
		require.Equal(t, "# yaml-language-server: $schema=../schemas/"+kind+".json", first, p)
	}
}

// Files in testdata/valid (edge cases: explicit zeros, YAML 1.2 strings,
// every field set) pass both the schema and hookflow.
func TestEdgeCaseFilesPassTheSchemaAndHookflow(t *testing.T) {
	schemas := compileSchemas(t)
	files, err := filepath.Glob("testdata/valid/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, p := range files {
		kind, _, _ := strings.Cut(filepath.Base(p), "-")
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, hookflowCheck(kind, data, true), "%s: hookflow refuses it", p)
		require.NoError(t, schemaCheck(t, schemas[kind], data, true), "%s: the schema refuses it", p)
	}
}

// Files in testdata/invalid are refused by both the schema and hookflow:
// <kind>-<what>.yaml.
func TestInvalidFilesAreRefusedByTheSchemaAndHookflow(t *testing.T) {
	schemas := compileSchemas(t)
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, p := range files {
		kind, _, _ := strings.Cut(filepath.Base(p), "-")
		require.Contains(t, reference.Schemas, kind, p)
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Error(t, hookflowCheck(kind, data, true), "%s: hookflow accepts it", p)
		require.Error(t, schemaCheck(t, schemas[kind], data, true), "%s: the schema accepts it", p)
	}
}

// Files in testdata/validate-only break rules the schema cannot state
// (expressions, references between steps, duration limits, rules between
// fields): the schema accepts them and hookflow refuses them. This is what
// the schemas' descriptions send people to hookflow flows validate for.
func TestWhatOnlyHookflowChecksIsWhatTheSchemaSays(t *testing.T) {
	schemas := compileSchemas(t)
	files, err := filepath.Glob("testdata/validate-only/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, p := range files {
		kind, _, _ := strings.Cut(filepath.Base(p), "-")
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NoError(t, schemaCheck(t, schemas[kind], data, true), "%s: the schema refuses it: move it to testdata/invalid", p)
		require.Error(t, hookflowCheck(kind, data, true), "%s: hookflow accepts it", p)
	}
}

// The duration pattern of the schemas accepts exactly what
// field.ParseDuration does.
func TestDurationPatternAgreesWithParseDuration(t *testing.T) {
	re := regexp.MustCompile(reference.DurationPattern)
	for _, s := range []string{
		"30s", "5m", "2h", "3d", "1d12h", "1h30m", "100ms", "1.5h", ".5s", "0", "0s", "1us", "1µs",
		" 5m ", "-5s", "+5s", "7d0s", "10d",
		"", "d", "3", "5 m", "5M", "1x", "3d5", "1h2d", "abc", "5m-", "d5m", "-3d", "3d-0", "1..5s", "3dd",
	} {
		_, err := field.ParseDuration(s)
		require.Equal(t, err == nil, re.MatchString(s), "%q: ParseDuration err=%v", s, err)
	}
}

// Every step type is in the flow schema, dispatched by its type, and a
// step's fields are closed: the schema refuses a field the type does not
// have, as hookflow does.
func TestTheFlowSchemaDispatchesStepsByType(t *testing.T) {
	doc, _ := reference.Schema("flow")
	var s struct {
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(doc, &s))
	for _, k := range flow.Kinds() {
		require.Contains(t, s.Defs, "step."+k.Name)
	}
	schemas := compileSchemas(t)
	base := "id: f\nsteps:\n  - id: a\n    type: %s\n    %s\n"
	for _, c := range []struct {
		typ, fields string
		ok          bool
	}{
		{"delay", "duration: 5m", true},
		{"delay", "until: '{{ trigger.body.at }}'", true},
		{"delay", "method: GET", false},       // http's field on a delay
		{"http", "duration: 5m", false},       // and the other way round
		{"nosuchtype", "duration: 5m", false}, // unknown type
	} {
		data := []byte(fmt.Sprintf(base, c.typ, c.fields))
		sErr := schemaCheck(t, schemas["flow"], data, true)
		hErr := hookflowCheck("flow", data, true)
		if c.typ == "http" && !c.ok {
			// hookflow also wants method and url; the point is the
			// unknown field, which both refuse.
			require.Contains(t, hErr.Error(), "duration")
		}
		require.Equal(t, c.ok, sErr == nil, "%s %s: schema: %v", c.typ, c.fields, sErr)
		require.Equal(t, c.ok, hErr == nil, "%s %s: hookflow: %v", c.typ, c.fields, hErr)
	}
}

// The committed schemas and reference pages are what the code generates
// (make docs writes them): CI fails when they drift.
func TestCommittedSchemasAndReferenceMatchTheCode(t *testing.T) {
	openAPI, err := os.ReadFile("../api/openapi.json")
	require.NoError(t, err)
	files, err := reference.Generate(openAPI)
	require.NoError(t, err)
	require.Contains(t, files, "schemas/flow.json")
	for _, path := range slices.Sorted(maps.Keys(files)) {
		got, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(path)))
		require.NoError(t, err, "%s is not committed: run make docs", path)
		require.Equal(t, string(files[path]), string(got), "%s differs from what the code generates: run make docs", path)
	}
}

package reference_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/reference"
)

// The text report is one line per problem, file: path: message, then a
// summary; the JSON report holds the same, per file and per problem.
func TestCheckFilesReportsEveryProblemWithItsFileAndPath(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	good := write("a-good.yaml", "id: good\nsteps: [{id: a, type: delay, duration: 5m}]\n")
	bad := write("b-bad.yaml", "id: bad\ntrigger: {mode: later}\nsteps: [{id: a, type: delay, duration: 5m, method: GET}]\n")
	dup := write("c-dup.json", `{"id": "good", "steps": [{"id": "a", "type": "delay", "duration": "5m"}]}`)
	broken := write("d-broken.yaml", "id: [unclosed\n")
	write("notes.txt", "not a flow file: skipped in a directory")

	for _, c := range []struct {
		name, kind, path string
		valid            bool
		text             string
	}{
		{"one valid file", "flow", good, true, "1 flow file: valid\n"},
		{"a directory", "flow", dir, false, "" +
			bad + ": steps[0].method: unknown field for a delay step (allowed: duration, id, name, type, until)\n" +
			bad + ": trigger.mode: must be one of: sync, async\n" +
			dup + ": id: flow \"good\" is already defined by " + good + "\n" +
			broken + ": malformed YAML: yaml: line 1: did not find expected ',' or ']'\n" +
			"4 flow files: 4 problems in 3 of them\n"},
		{"one invalid file", "flow", bad, false, "" +
			bad + ": steps[0].method: unknown field for a delay step (allowed: duration, id, name, type, until)\n" +
			bad + ": trigger.mode: must be one of: sync, async\n" +
			"1 flow file: 2 problems\n"},
		// flow.DecodeDestination reports unknown fields before the rest.
		{"a flow checked as a destination", "destination", good, false, "" +
			good + ": id: unknown field (allowed: auth, baseUrl, circuitBreaker, description, headers, limits, maxInFlight, name, rateLimit, retry, timeouts)\n" +
			good + ": steps: unknown field (allowed: auth, baseUrl, circuitBreaker, description, headers, limits, maxInFlight, name, rateLimit, retry, timeouts)\n" +
			"1 destination file: 2 problems\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := reference.CheckFiles(c.kind, c.path)
			require.NoError(t, err)
			require.Equal(t, c.valid, r.Valid)
			var text bytes.Buffer
			r.WriteText(&text)
			require.Equal(t, c.text, text.String())

			var js bytes.Buffer
			require.NoError(t, r.WriteJSON(&js))
			var got struct {
				Kind     string
				Valid    bool
				Files    []struct{ File string }
				Problems []struct{ File, Path, Message string }
			}
			require.NoError(t, json.Unmarshal(js.Bytes(), &got))
			require.Equal(t, c.kind, got.Kind)
			require.Equal(t, c.valid, got.Valid)
			require.Len(t, got.Problems, len(r.Problems))
			for i, p := range r.Problems {
				require.Equal(t, p.File, got.Problems[i].File)
				require.Equal(t, p.Path, got.Problems[i].Path)
				require.Equal(t, p.Message, got.Problems[i].Message)
			}
		})
	}

	_, err := reference.CheckFiles("flow", filepath.Join(dir, "missing"))
	require.ErrorContains(t, err, "no such file")
	_, err = reference.CheckFiles("flow", t.TempDir())
	require.ErrorContains(t, err, "holds no .yaml, .yml or .json flow file")
	_, err = reference.CheckFiles("step", dir)
	require.ErrorContains(t, err, "the kinds are flow, destination and collection")
}

// Two flow files with one trigger token are refused, as hookflow dev and
// apply refuse them.
func TestCheckFilesRefusesATriggerTokenUsedTwice(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"a", "b"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, id+".yaml"),
			[]byte("id: "+id+"\ntrigger: {token: same-token-0123456789abcdef}\nsteps: [{id: s, type: delay, duration: 5m}]\n"), 0o644))
	}
	r, err := reference.CheckFiles("flow", dir)
	require.NoError(t, err)
	require.False(t, r.Valid)
	require.Equal(t, []reference.Problem{{File: filepath.Join(dir, "b.yaml"), Path: "trigger.token", Message: "is already used by " + filepath.Join(dir, "a.yaml")}}, r.Problems)
}

// Calls between the flows checked are followed: a cycle is refused at the
// call step that starts it; a callee that is not among them is left to
// apply (it may exist on the server).
func TestCheckFilesFollowsCallsBetweenTheFlowsChecked(t *testing.T) {
	dir := t.TempDir()
	for id, callee := range map[string]string{"a": "b", "b": "a", "c": "elsewhere"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, id+".yaml"),
			[]byte("id: "+id+"\nsteps: [{id: s, type: call, flow: "+callee+"}]\n"), 0o644))
	}
	r, err := reference.CheckFiles("flow", dir)
	require.NoError(t, err)
	require.Equal(t, []reference.Problem{
		{File: filepath.Join(dir, "a.yaml"), Path: "steps[0].flow", Message: `calling "b" makes a cycle: a → b → a`},
		{File: filepath.Join(dir, "b.yaml"), Path: "steps[0].flow", Message: `calling "a" makes a cycle: b → a → b`},
	}, r.Problems)
	require.Equal(t, []reference.FileResult{
		{File: filepath.Join(dir, "a.yaml")}, {File: filepath.Join(dir, "b.yaml")}, {File: filepath.Join(dir, "c.yaml"), Valid: true},
	}, r.Files)
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// runCLI runs the binary's entry point in process: its exit code, stdout
// and stderr.
func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := runMain(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// validate works offline: no API key, no server (the API URL points
// nowhere), exit code 0 for valid files and 1 for any problem, the report
// on stdout (text or JSON) and, for JSON, the summary on stderr.
func TestValidateExitCodesAndOutputs(t *testing.T) {
	t.Setenv("HOOKFLOW_API_KEY", "")
	t.Setenv("HOOKFLOW_API_URL", "http://127.0.0.1:1")
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	flowOK := write("flows/ok.yaml", "id: ok\nsteps: [{id: a, type: delay, duration: 5m}]\n")
	flowBad := write("bad/flow.yaml", "id: bad\nsteps: [{id: a, type: delay, until: '{{ steps.zz.at }}'}]\n")
	destOK := write("destinations/crm.yaml", "name: crm\nbaseUrl: https://crm.example.com/api/\n")
	destBad := write("bad/dest.yaml", "name: crm\nbaseUrl: https://crm.example.com/api\n")
	colOK := write("collections/contacts.yaml", "name: contacts\nproperties: [{name: email, type: string, unique: true}]\n")
	colBad := write("bad/col.yaml", "name: contacts\nproperties: [{name: email, type: string}]\n")

	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stdout string // the whole of stdout when not ""
		stderr string // the whole of stderr
	}{
		{"valid flows", []string{"flows", "validate", "-f", filepath.Dir(flowOK)}, 0, "1 flow file: valid\n", ""},
		{"an invalid flow", []string{"flows", "validate", "-f", flowBad}, 1,
			flowBad + ": steps[0].until: expression `steps.zz.at` reads steps.zz, but no step has that id\n1 flow file: 1 problem\n", ""},
		{"valid destinations", []string{"destinations", "validate", "-f", destOK}, 0, "1 destination file: valid\n", ""},
		{"an invalid destination", []string{"destinations", "validate", "-f", destBad}, 1,
			destBad + `: baseUrl: must end with "/", "&", "?" or "=": paths are appended to it as they are` + "\n1 destination file: 1 problem\n", ""},
		{"valid collections", []string{"collections", "validate", "-f", colOK}, 0, "1 collection file: valid\n", ""},
		{"an invalid collection", []string{"collections", "validate", "-f", colBad}, 1,
			colBad + ": properties: at least one property must be unique (unique: true): records are found by it\n1 collection file: 1 problem\n", ""},
		{"json, invalid", []string{"flows", "validate", "-f", flowBad, "--format", "json"}, 1, "", "hookflow: 1 flow file: 1 problem\n"},
		{"json, valid", []string{"flows", "validate", "-f", flowOK, "--format", "json"}, 0, "", ""},
		{"no such path", []string{"flows", "validate", "-f", filepath.Join(dir, "nope")}, 1, "", "hookflow: stat " + filepath.Join(dir, "nope") + ": no such file or directory\n"},
		{"no -f", []string{"collections", "validate"}, 1, "", "hookflow: required flag(s) \"file\" not set\n"},
		{"a bad format", []string{"flows", "validate", "-f", flowOK, "--format", "yaml"}, 1, "", "hookflow: --format must be text or json, not \"yaml\"\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(c.args...)
			require.Equal(t, c.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
			if c.stdout != "" {
				require.Equal(t, c.stdout, stdout)
			}
			if c.code == 0 || c.stdout != "" {
				require.Equal(t, c.stderr, stderr)
			} else {
				require.True(t, strings.HasPrefix(stderr, c.stderr), "stderr: %s", stderr)
			}
		})
	}

	code, stdout, _ := runCLI("flows", "validate", "-f", flowBad, "--format", "json")
	require.Equal(t, 1, code)
	var report struct {
		Kind     string
		Valid    bool
		Problems []struct{ File, Path, Message string }
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &report), stdout)
	require.Equal(t, "flow", report.Kind)
	require.False(t, report.Valid)
	require.Len(t, report.Problems, 1)
	require.Equal(t, flowBad, report.Problems[0].File)
	require.Equal(t, "steps[0].until", report.Problems[0].Path)
}

// The example flows are valid, as hookflow flows validate -f examples
// tells a CI pipeline.
func TestTheExamplesValidate(t *testing.T) {
	code, stdout, stderr := runCLI("flows", "validate", "-f", "../../examples")
	require.Equal(t, 0, code, stdout+stderr)
	require.Regexp(t, `^\d+ flow files: valid\n$`, stdout)
}

// explain prints the reference entry; an unknown name exits 1 naming
// what is known; without an argument it lists every step type.
func TestExplainFromTheCommandLine(t *testing.T) {
	code, stdout, stderr := runCLI("explain", "http.retry")
	require.Equal(t, 0, code, stderr)
	require.True(t, strings.HasPrefix(stdout, "http.retry (object, optional)\n"), stdout)
	require.Contains(t, stdout, "giveUpAfter")

	code, stdout, stderr = runCLI("explain", "http.retries")
	require.Equal(t, 1, code)
	require.Empty(t, stdout)
	require.Contains(t, stderr, `hookflow: http has no field "retries"`)

	code, stdout, _ = runCLI("explain")
	require.Equal(t, 0, code)
	for _, name := range []string{"flow", "trigger", "destination", "collection", "http", "record.upsert", "wait"} {
		require.Regexp(t, `(?m)^  `+strings.ReplaceAll(name, ".", `\.`)+` +\S`, stdout)
	}
}

//go:build !nodev

package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The README's five-minute tour runs as written: every curl command in it
// is sent to a real `hookflow dev` process serving examples/ (as `make run`
// does), and each answer is checked against the one the README shows after
// the command: the status, each header shown, and each JSON key and value
// shown. The commands are read from README.md, so the README cannot drift
// from what is tested. The one substitution is the address: the process
// listens on a free port instead of 8080 (in the commands, and in the
// example that sends to another example's trigger URL). The trigger URLs
// the README says `make run` prints are checked against what it prints.
func TestTheReadmeTourRunsAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hookflow and runs `hookflow dev` as a subprocess")
	}
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	tour, err := readTour(string(readme))
	require.NoError(t, err)
	// The tour's five parts hold more than ten commands; fewer means the
	// parser lost some.
	require.GreaterOrEqual(t, len(tour), 10, "commands found in the tour")

	bin := buildHookflow(t)
	flows := t.TempDir()
	dev := newDevProcess(t, bin, flows)
	examples, err := filepath.Glob("../examples/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, examples)
	for _, f := range examples {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		b = []byte(strings.ReplaceAll(string(b), tourBase, dev.base))
		require.NoError(t, os.WriteFile(filepath.Join(flows, filepath.Base(f)), b, 0o644))
	}
	dev.start()
	key, err := os.ReadFile(filepath.Join(dev.arg("--data"), "api-key"))
	require.NoError(t, err)

	// The trigger URLs the README says `make run` prints are the ones it
	// prints: the tour's URLs come from there.
	shown := readmeTriggerURLs(t, string(readme))
	require.Len(t, shown, len(examples), "a trigger URL per example in the README's `make run` output")
	printed := map[string]bool{}
	for _, l := range strings.Split(dev.log.String(), "\n") {
		printed[strings.Join(strings.Fields(l), " ")] = true
	}
	for _, l := range shown {
		require.True(t, printed[strings.ReplaceAll(l, tourBase, dev.base)], "hookflow dev does not print %q:\n%s", l, dev.log.String())
	}

	vars := map[string]string{"HOOKFLOW_API_KEY": strings.TrimSpace(string(key))}
	for i, step := range tour {
		req, err := step.request(vars)
		require.NoError(t, err, "README tour command %d (line %d): %s", i+1, step.line, step.curl)
		got, mismatch := runTourStep(t, dev.base, req, step.want)
		require.Empty(t, mismatch, "README tour command %d (line %d):\n%s\nanswered %d %v\n%s",
			i+1, step.line, step.curl, got.status, got.header, got.body)
		// The tour sets ID to the execution id of the last trigger's answer.
		if strings.HasPrefix(req.path, "/hooks/") {
			vars["ID"] = got.header.Get("Hookflow-Execution-Id")
			require.NotEmpty(t, vars["ID"], "a trigger's answer names its execution")
		}
		t.Logf("%s %s: %d, as shown", req.method, req.path, got.status)
	}
}

// An answer is matched strictly: another status, a header or key that is
// missing, another value, or another array length each fail it; "..." in a
// documented string stands for any text.
func TestTourAnswersAreMatchedStrictly(t *testing.T) {
	want, err := parseAnswer("HTTP/1.1 201 Created\nX-Order-Id: A-1...\n\n" +
		`{"id":"order:01a2...","n":2,"ok":true,"steps":[{"id":"a"},{"id":"b"}],"more":{"x":null}}`)
	require.NoError(t, err)
	good := answer{status: 201, header: http.Header{"X-Order-Id": {"A-1001"}},
		body: `{"id":"order:01a2ff","n":2,"ok":true,"extra":1,"steps":[{"id":"a","t":1},{"id":"b"}],"more":{"x":null,"y":2}}`}
	require.Empty(t, want.mismatch(good))

	for name, bad := range map[string]answer{
		"status":        {status: 200, header: good.header, body: good.body},
		"header":        {status: 201, header: http.Header{}, body: good.body},
		"header value":  {status: 201, header: http.Header{"X-Order-Id": {"B-1"}}, body: good.body},
		"missing key":   {status: 201, header: good.header, body: `{"id":"order:01a2","n":2,"steps":[{"id":"a"},{"id":"b"}],"more":{"x":null}}`},
		"number":        {status: 201, header: good.header, body: `{"id":"order:01a2","n":3,"ok":true,"steps":[{"id":"a"},{"id":"b"}],"more":{"x":null}}`},
		"pattern":       {status: 201, header: good.header, body: `{"id":"other:01a2","n":2,"ok":true,"steps":[{"id":"a"},{"id":"b"}],"more":{"x":null}}`},
		"array length":  {status: 201, header: good.header, body: `{"id":"order:01a2","n":2,"ok":true,"steps":[{"id":"a"}],"more":{"x":null}}`},
		"nested key":    {status: 201, header: good.header, body: `{"id":"order:01a2","n":2,"ok":true,"steps":[{"id":"a"},{"id":"b"}],"more":{}}`},
		"type":          {status: 201, header: good.header, body: `{"id":"order:01a2","n":"2","ok":true,"steps":[{"id":"a"},{"id":"b"}],"more":{"x":null}}`},
		"not JSON body": {status: 201, header: good.header, body: `ok`},
	} {
		require.NotEmpty(t, want.mismatch(bad), name)
	}

	// A command the test cannot run as curl would is refused, not skipped.
	_, err = readTour("## A five-minute tour\n\n```sh\ncurl -s -i --data-binary @x http://127.0.0.1:8080/x\n```\n\n```\nHTTP/1.1 200 OK\n```\n")
	require.ErrorContains(t, err, "--data-binary")
	_, err = readTour("## A five-minute tour\n\n```sh\ncurl -s http://127.0.0.1:8080/x\n```\n\n```\nHTTP/1.1 200 OK\n```\n")
	require.ErrorContains(t, err, "-i")
	_, err = readTour("## A five-minute tour\n\n```sh\nhookflow flows list\n```\n")
	require.ErrorContains(t, err, "not a curl command")
}

// tourBase is the address the README's commands use (`make run`'s API).
const tourBase = "http://127.0.0.1:8080"

// tourStep is one command of the tour and the answer the README shows.
type tourStep struct {
	line int
	curl string
	args []string // the command's words, variables not yet expanded
	want tourAnswer
}

type tourAnswer struct {
	status  int
	headers [][2]string
	body    any // decoded JSON; nil when the README shows no body
}

// readTour reads the section "## A five-minute tour": each ```sh block holds
// one curl command, and the next fenced block the answer it gets.
func readTour(readme string) ([]tourStep, error) {
	lines := strings.Split(readme, "\n")
	start := slices.Index(lines, "## A five-minute tour")
	if start < 0 {
		return nil, fmt.Errorf(`README.md has no "## A five-minute tour"`)
	}
	var steps []tourStep
	var pending *tourStep
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") {
			break
		}
		if !strings.HasPrefix(lines[i], "```") {
			continue
		}
		lang := strings.TrimPrefix(lines[i], "```")
		j := i + 1
		for j < len(lines) && !strings.HasPrefix(lines[j], "```") {
			j++
		}
		block := strings.Join(lines[i+1:j], "\n")
		line := i + 2
		i = j
		switch {
		case lang == "sh":
			if pending != nil {
				return nil, fmt.Errorf("line %d: a command without its answer before it", line)
			}
			cmd := strings.TrimSpace(strings.ReplaceAll(block, "\\\n", " "))
			if strings.Contains(cmd, "\n") {
				return nil, fmt.Errorf("line %d: one curl command per block, so each has its answer", line)
			}
			args, err := shellWords(cmd)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			if len(args) == 0 || args[0] != "curl" {
				return nil, fmt.Errorf("line %d: %q is not a curl command", line, cmd)
			}
			pending = &tourStep{line: line, curl: cmd, args: args}
			if _, err := pending.request(nil); err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
		case lang == "" && pending != nil:
			want, err := parseAnswer(block)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			pending.want = want
			steps = append(steps, *pending)
			pending = nil
		}
	}
	if pending != nil {
		return nil, fmt.Errorf("line %d: the last command has no answer", pending.line)
	}
	return steps, nil
}

var statusLine = regexp.MustCompile(`^HTTP/1\.1 (\d{3}) `)

// parseAnswer reads "HTTP/1.1 201 Created", header lines, a blank line and
// a JSON body.
func parseAnswer(block string) (tourAnswer, error) {
	head, body, _ := strings.Cut(block, "\n\n")
	lines := strings.Split(head, "\n")
	m := statusLine.FindStringSubmatch(lines[0])
	if m == nil {
		return tourAnswer{}, fmt.Errorf("an answer starts with its status line (HTTP/1.1 200 OK), not %q", lines[0])
	}
	a := tourAnswer{}
	a.status, _ = strconv.Atoi(m[1])
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ": ")
		if !ok {
			return tourAnswer{}, fmt.Errorf("not a header line: %q", l)
		}
		a.headers = append(a.headers, [2]string{name, value})
	}
	if strings.TrimSpace(body) != "" {
		if err := json.Unmarshal([]byte(body), &a.body); err != nil {
			return tourAnswer{}, fmt.Errorf("the answer's body is not JSON: %w", err)
		}
	}
	return a, nil
}

// mismatch says how got differs from the documented answer, or "".
func (w tourAnswer) mismatch(got answer) string {
	if got.status != w.status {
		return fmt.Sprintf("status %d, the README shows %d", got.status, w.status)
	}
	for _, h := range w.headers {
		v := got.header.Get(h[0])
		if v == "" || !likeShown(h[1], v) {
			return fmt.Sprintf("header %s is %q, the README shows %q", h[0], v, h[1])
		}
	}
	if w.body == nil {
		return ""
	}
	var body any
	if err := json.Unmarshal([]byte(got.body), &body); err != nil {
		return "the body is not JSON: " + err.Error()
	}
	return matchShown("body", w.body, body)
}

// matchShown: every key shown is there with a value like the one shown;
// arrays have the length shown.
func matchShown(path string, shown, got any) string {
	switch s := shown.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s is %v, the README shows an object", path, got)
		}
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			gv, ok := g[k]
			if !ok {
				return fmt.Sprintf("%s has no key %q", path, k)
			}
			if m := matchShown(path+"."+k, s[k], gv); m != "" {
				return m
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(s) {
			return fmt.Sprintf("%s is %v, the README shows %d elements", path, got, len(s))
		}
		for i := range s {
			if m := matchShown(fmt.Sprintf("%s[%d]", path, i), s[i], g[i]); m != "" {
				return m
			}
		}
		return ""
	case string:
		g, ok := got.(string)
		if !ok || !likeShown(s, g) {
			return fmt.Sprintf("%s is %#v, the README shows %q", path, got, s)
		}
		return ""
	default: // numbers, booleans, null
		if shown != got {
			return fmt.Sprintf("%s is %#v, the README shows %#v", path, got, shown)
		}
		return ""
	}
}

// likeShown: got is the shown text, where each "..." stands for any text.
func likeShown(shown, got string) bool {
	parts := strings.Split(shown, "...")
	if len(parts) == 1 {
		return shown == got
	}
	if !strings.HasPrefix(got, parts[0]) {
		return false
	}
	rest := got[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(rest, p)
		if i < 0 {
			return false
		}
		rest = rest[i+len(p):]
	}
	return strings.HasSuffix(rest, parts[len(parts)-1])
}

// tourRequest is a curl command as an HTTP request.
type tourRequest struct {
	method, path, body string
	header             http.Header
}

// request reads the curl command as curl would: -X method, -H headers, -d
// body (POST, form content type unless a header sets one); -s and -i change
// only the output. Any other option is refused, so a command the test does
// not understand cannot pass unchecked. $NAME takes its value from vars
// (nil: any variable, to check a command before anything runs).
func (s tourStep) request(vars map[string]string) (tourRequest, error) {
	r := tourRequest{header: http.Header{}}
	var target string
	include, hasBody := false, false
	expand := func(w string) (string, error) {
		var err error
		out := shellVar.ReplaceAllStringFunc(w, func(v string) string {
			val, ok := vars[v[1:]]
			if vars == nil {
				val, ok = "x", true
			}
			if !ok && err == nil {
				err = fmt.Errorf("variable %s is not set by the tour", v)
			}
			return val
		})
		return out, err
	}
	for i := 1; i < len(s.args); i++ {
		a := s.args[i]
		next := func() (string, error) {
			if i+1 >= len(s.args) {
				return "", fmt.Errorf("%s needs a value", a)
			}
			i++
			return expand(s.args[i])
		}
		var err error
		var v string
		switch a {
		case "-s":
		case "-i":
			include = true
		case "-X":
			r.method, err = next()
		case "-H":
			if v, err = next(); err == nil {
				name, value, ok := strings.Cut(v, ":")
				if !ok {
					return r, fmt.Errorf("-H %q is not a header", v)
				}
				r.header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
			}
		case "-d":
			r.body, err = next()
			hasBody = true
		default:
			if strings.HasPrefix(a, "-") {
				return r, fmt.Errorf("curl option %s: the tour test does not run it", a)
			}
			if target != "" {
				return r, fmt.Errorf("two URLs: %s and %s", target, a)
			}
			target, err = expand(a)
		}
		if err != nil {
			return r, err
		}
	}
	if !include {
		return r, fmt.Errorf("curl without -i: the answer shown must start with its status")
	}
	if !strings.HasPrefix(target, tourBase+"/") {
		return r, fmt.Errorf("the URL %q is not on %s, make run's API", target, tourBase)
	}
	r.path = strings.TrimPrefix(target, tourBase)
	if r.method == "" {
		r.method = http.MethodGet
		if hasBody {
			r.method = http.MethodPost
		}
	}
	if hasBody && r.header.Get("Content-Type") == "" {
		r.header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return r, nil
}

var shellVar = regexp.MustCompile(`\$[A-Za-z_][A-Za-z0-9_]*`)

// shellWords splits a command line as sh does for the quoting the README
// uses: '...' literal, "..." with \" and \\, words split on blanks. $NAME
// stays in the word for request to expand, so a $ inside '...' (which sh
// leaves alone) is refused.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", line)
			}
			lit := line[i+1 : i+1+j]
			if strings.Contains(lit, "$") {
				return nil, fmt.Errorf("a $ inside '...' is not expanded by the shell; the tour test does not take it: %q", lit)
			}
			cur.WriteString(lit)
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\`, line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unterminated \" in %q", line)
			}
			inWord = true
		case c == '\\' || c == '|' || c == ';' || c == '&' || c == '>' || c == '<' || c == '`' || c == '(':
			return nil, fmt.Errorf("%q: the tour test runs single curl commands, without %q", line, c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// runTourStep sends the request. A GET whose answer is not yet the one
// shown is asked again for up to 30 s: a run answers its sync caller
// before it completes, and a resumed run goes on in the background.
func runTourStep(t *testing.T, base string, r tourRequest, want tourAnswer) (answer, string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, err := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
		require.NoError(t, err)
		req.Header = r.header.Clone()
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		got := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
		m := want.mismatch(got)
		if m == "" || r.method != http.MethodGet || time.Now().After(deadline) {
			return got, m
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// arg is the value the process was started with for a flag.
func (d *devProcess) arg(flag string) string {
	i := slices.Index(d.args, flag)
	require.True(d.t, i >= 0 && i+1 < len(d.args), "hookflow dev runs without %s", flag)
	return d.args[i+1]
}

// readmeTriggerURLs are the lines under "Trigger URLs:" in the README's
// `make run` output, blanks squeezed.
func readmeTriggerURLs(t *testing.T, readme string) []string {
	t.Helper()
	_, after, ok := strings.Cut(readme, "\nTrigger URLs:\n")
	require.True(t, ok, "the README shows make run's trigger URLs")
	block, _, ok := strings.Cut(after, "\n```")
	require.True(t, ok)
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}

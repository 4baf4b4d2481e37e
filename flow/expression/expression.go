// Package expression is the language of flows' expressions and {{ }}
// templates, on expr-lang, made sandboxed and deterministic for workflow
// code: the names an expression may read (trigger, vars, steps, execution,
// item, index, event), compiling for validation (Compile, CompileTrigger),
// the Evaluator a run evaluates and renders with (one program per distinct
// source), and trigger-time evaluation in the API before a run exists
// (EvalTriggerBool, RenderTrigger). It knows nothing of steps or flows:
// package flow validates flows with it, and workflows run them with it.
package expression

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/hookflow/hookflow/flow/field"
)

// Names visible to expressions.
const (
	EnvTrigger   = "trigger"   // the parsed trigger data: body, headers, query
	EnvVars      = "vars"      // variables written by set steps
	EnvSteps     = "steps"     // results of steps that ran: steps.<id>.outputs
	EnvExecution = "execution" // id, flowId, flowVersion, startedAt of this run
	EnvItem      = "item"      // inside a loop: the current element
	EnvIndex     = "index"     // inside a loop: its zero-based position
	EnvEvent     = "event"     // in a wait step's match: the event's body
)

// compileEnv declares the names an expression may use. Unknown names are
// compile errors (a typo in a flow is caught when it is saved), while members
// are typed any and checked at run time: the shape of trigger data is the
// caller's.
func compileEnv(inLoop bool, extra ...string) types.Map {
	env := types.Map{
		EnvTrigger:   types.Any,
		EnvVars:      types.Any,
		EnvSteps:     types.Any,
		EnvExecution: types.Any,
	}
	if inLoop {
		env[EnvItem] = types.Any
		env[EnvIndex] = types.Int
	}
	for _, n := range extra {
		env[n] = types.Any
	}
	return env
}

// exprOptions makes the language sandboxed and deterministic, because it
// runs inside workflow code that must replay identically:
//   - no now(): wall-clock time differs on replay (use execution.startedAt);
//   - keys(), values() and toPairs() iterate maps in Go's random order, so
//     they are replaced by versions sorted by key;
//   - timezone("Local") would be the worker's zone, which differs between
//     workers; it is refused (date() without a zone already parses in UTC).
//
// expr has no I/O, no reflection on arbitrary Go values beyond the env, and a
// memory budget per run; MaxNodes bounds the size of one expression.
func exprOptions(inLoop bool, extra ...string) []expr.Option {
	return []expr.Option{
		expr.Env(compileEnv(inLoop, extra...)),
		expr.DisableBuiltin("now"),
		expr.Function("timezone", func(params ...any) (any, error) {
			name, _ := params[0].(string)
			if name == "" || strings.EqualFold(name, "local") {
				return nil, fmt.Errorf("timezone() needs an IANA zone name such as \"Europe/Berlin\"; the worker's local zone is not deterministic")
			}
			return time.LoadLocation(name)
		}, new(func(string) *time.Location)),
		expr.MaxNodes(2000),
		expr.Function("keys", func(params ...any) (any, error) {
			m, err := stringMap("keys", params)
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(m))
			for _, k := range sortedKeys(m) {
				out = append(out, k)
			}
			return out, nil
		}, new(func(map[string]any) []any)),
		expr.Function("values", func(params ...any) (any, error) {
			m, err := stringMap("values", params)
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(m))
			for _, k := range sortedKeys(m) {
				out = append(out, m[k])
			}
			return out, nil
		}, new(func(map[string]any) []any)),
		expr.Function("toPairs", func(params ...any) (any, error) {
			m, err := stringMap("toPairs", params)
			if err != nil {
				return nil, err
			}
			out := make([]any, 0, len(m))
			for _, k := range sortedKeys(m) {
				out = append(out, []any{k, m[k]})
			}
			return out, nil
		}, new(func(map[string]any) []any)),
	}
}

func stringMap(fn string, params []any) (map[string]any, error) {
	if len(params) != 1 {
		return nil, fmt.Errorf("%s() takes one argument", fn)
	}
	m, ok := params[0].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s() needs an object, got %s", fn, describeValue(params[0]))
	}
	return m, nil
}

func describeValue(v any) string {
	if v == nil {
		return "null"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
}

// Compile compiles one bare expression. It is what validation uses; the
// interpreter uses an Evaluator, which caches programs.
func Compile(src string, inLoop bool, extra ...string) (*vm.Program, error) {
	return expr.Compile(src, exprOptions(inLoop, extra...)...)
}

// CompileTrigger compiles an expression evaluated by the API before a
// run exists (the enrollment filter and record): it may read trigger only.
func CompileTrigger(src string) (*vm.Program, error) {
	opts := exprOptions(false)
	opts[0] = expr.Env(types.Map{EnvTrigger: types.Any})
	return expr.Compile(StripBraces(src), opts...)
}

// StripBraces turns "{{ x }}" into "x", so that fields holding a bare
// expression (a condition's if) also accept the template spelling.
func StripBraces(src string) string {
	s := strings.TrimSpace(src)
	if strings.HasPrefix(s, "{{") && strings.HasSuffix(s, "}}") && strings.Count(s, "{{") == 1 {
		return strings.TrimSpace(s[2 : len(s)-2])
	}
	return s
}

// templatePart is a literal text or an expression of a template string.
type templatePart struct {
	text string
	expr string // set for an expression part
}

// parseTemplate splits "Hello {{ trigger.name }}!" into parts. An expression
// ends at the first "}}" after its "{{".
func parseTemplate(s string) ([]templatePart, error) {
	var parts []templatePart
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			if s != "" {
				parts = append(parts, templatePart{text: s})
			}
			return parts, nil
		}
		if i > 0 {
			parts = append(parts, templatePart{text: s[:i]})
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return nil, fmt.Errorf("unclosed {{ in template")
		}
		e := strings.TrimSpace(s[i+2 : i+2+j])
		if e == "" {
			return nil, fmt.Errorf("empty {{ }} in template")
		}
		parts = append(parts, templatePart{expr: e})
		s = s[i+2+j+2:]
	}
}

// IsTemplate reports whether s holds at least one {{ }}.
func IsTemplate(s string) bool { return strings.Contains(s, "{{") }

// TemplateExpressions returns the expressions inside a template string.
func TemplateExpressions(s string) ([]string, error) {
	parts, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range parts {
		if p.expr != "" {
			out = append(out, p.expr)
		}
	}
	return out, nil
}

// StepReferences returns the ids of steps an expression reads through
// steps.<id> (or steps["id"]), sorted, for the "only earlier steps" rule.
func StepReferences(p *vm.Program) []string {
	seen := map[string]bool{}
	node := p.Node()
	v := &stepRefVisitor{seen: seen}
	ast.Walk(&node, v)
	return sortedKeys(seen)
}

type stepRefVisitor struct{ seen map[string]bool }

func (v *stepRefVisitor) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != EnvSteps {
		return
	}
	if s, ok := m.Property.(*ast.StringNode); ok {
		v.seen[s.Value] = true
	}
}

// Evaluator evaluates expressions and templates against an environment. It
// keeps each distinct source's program, so a loop does not look it up again
// on every iteration; programs come from a process-wide cache. It is not safe for concurrent use;
// workflow coroutines never run at the same time.
type Evaluator struct {
	programs map[string]*vm.Program
}

// NewEvaluator returns an Evaluator with an empty program cache.
func NewEvaluator() *Evaluator { return &Evaluator{programs: map[string]*vm.Program{}} }

func (e *Evaluator) program(src string) (*vm.Program, error) {
	if p, ok := e.programs[src]; ok {
		return p, nil
	}
	p, err := sharedPrograms.get(src)
	if err != nil {
		return nil, err
	}
	e.programs[src] = p
	return p, nil
}

// maxSharedPrograms bounds the process-wide program cache: past this many
// distinct sources it starts over (a program is a few KB).
const maxSharedPrograms = 2048

// sharedPrograms keeps compiled programs across Evaluators, so a flow's
// expressions compile once per process rather than once per run (about
// 12 µs each on the bench machine, more under load: issue #28's profile).
// Compiling is pure (same source and options, same program), a program is
// never modified after compiling, and expr runs each call on a VM of its
// own, so runs share them safely; replay is unaffected. One invariant
// keeps it so: expr folds literal arrays and maps into constants of the
// program, which an evaluation returns as they are, so callers never
// modify a value an expression returned (no code here does).
var sharedPrograms = &programCache{m: map[string]*vm.Program{}}

type programCache struct {
	mu sync.Mutex
	m  map[string]*vm.Program
	// compiles counts compilations (tests).
	compiles atomic.Int64
}

func (c *programCache) get(src string) (*vm.Program, error) {
	c.mu.Lock()
	p, ok := c.m[src]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	// Compile with the loop names (and a wait's event) declared:
	// validation already refused them where they are not set, and one
	// program serves both. Outside the lock: two runs may compile the same
	// source at once, and either program is the same.
	p, err := expr.Compile(src, exprOptions(true, EnvEvent)...)
	c.compiles.Add(1)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxSharedPrograms {
		clear(c.m)
	}
	c.m[src] = p
	c.mu.Unlock()
	return p, nil
}

// Eval evaluates a bare expression.
func (e *Evaluator) Eval(src string, env map[string]any) (any, error) {
	p, err := e.program(StripBraces(src))
	if err != nil {
		return nil, errors.New(field.FirstLine(err.Error()))
	}
	return run(p, env)
}

// EvalBool evaluates a condition. It must yield a boolean; anything else is
// an error rather than a guess at truthiness.
func (e *Evaluator) EvalBool(src string, env map[string]any) (bool, error) {
	v, err := e.Eval(src, env)
	if err != nil {
		return false, err
	}
	return asBool(v)
}

// run runs a compiled program: the one place expressions are evaluated, in
// workflows (Evaluator) and in the API (trigger-time expressions).
func run(p *vm.Program, env map[string]any) (any, error) {
	v, err := expr.Run(p, env)
	if err != nil {
		// expr appends the source with a caret on following lines; the
		// error already names the expression, so one line reads better in
		// the step log and in API answers.
		return nil, errors.New(field.FirstLine(err.Error()))
	}
	return v, nil
}

func asBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition must yield true or false, got %s", describeValue(v))
	}
	return b, nil
}

// RenderString renders a template string. A template that is exactly one
// {{ expression }} yields the expression's value with its type (a number
// stays a number, an object an object); otherwise the parts are joined as
// text, with non-string values written as JSON.
func (e *Evaluator) RenderString(s string, env map[string]any) (any, error) {
	if !IsTemplate(s) {
		return s, nil
	}
	parts, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	if len(parts) == 1 && parts[0].expr != "" {
		return e.Eval(parts[0].expr, env)
	}
	var b strings.Builder
	for _, p := range parts {
		if p.expr == "" {
			b.WriteString(p.text)
			continue
		}
		v, err := e.Eval(p.expr, env)
		if err != nil {
			return nil, fmt.Errorf("{{ %s }}: %w", p.expr, err)
		}
		b.WriteString(TextOf(v))
	}
	return b.String(), nil
}

// Render renders every template string inside a JSON-like value and returns
// a new value; the input is not modified. Errors name the path inside v.
func (e *Evaluator) Render(v any, env map[string]any) (any, error) {
	return e.render("", v, env)
}

func (e *Evaluator) render(path string, v any, env map[string]any) (any, error) {
	switch t := v.(type) {
	case string:
		out, err := e.RenderString(t, env)
		if err != nil && path != "" {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return out, err
	case map[string]any:
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			r, err := e.render(field.JoinPath(path, k), t[k], env)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, el := range t {
			r, err := e.render(path+"["+strconv.Itoa(i)+"]", el, env)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// TextOf writes a value into text: strings as they are, null as empty, and
// everything else as JSON.
func TextOf(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	}
	b, err := marshalJSON(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// triggerPrograms caches compiled trigger-time expressions by source, for
// every request of every flow (safe for concurrent use; a compiled program
// is run concurrently by design).
var triggerPrograms sync.Map // string -> *vm.Program

// evalTrigger runs a trigger-time expression on env, compiled once per
// process.
func evalTrigger(src string, env map[string]any) (any, error) {
	p, ok := triggerPrograms.Load(src)
	if !ok {
		compiled, err := CompileTrigger(src)
		if err != nil {
			return nil, errors.New(field.FirstLine(err.Error()))
		}
		p, _ = triggerPrograms.LoadOrStore(src, compiled)
	}
	return run(p.(*vm.Program), env)
}

// EvalTriggerBool evaluates an expression that runs in the API before a run
// exists (the enrollment filter) on a request's trigger data. Each source
// compiles once per process.
func EvalTriggerBool(src string, trigger map[string]any) (bool, error) {
	v, err := evalTrigger(src, map[string]any{EnvTrigger: trigger})
	if err != nil {
		return false, err
	}
	return asBool(v)
}

// RenderTrigger renders a template string on a request's trigger data in
// the API, before a run exists (the enrollment record's value), like
// Evaluator.RenderString: one {{ expression }} keeps its type.
func RenderTrigger(s string, trigger map[string]any) (any, error) {
	if !IsTemplate(s) {
		return s, nil
	}
	parts, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	env := map[string]any{EnvTrigger: trigger}
	if len(parts) == 1 && parts[0].expr != "" {
		return evalTrigger(parts[0].expr, env)
	}
	var b strings.Builder
	for _, p := range parts {
		if p.expr == "" {
			b.WriteString(p.text)
			continue
		}
		v, err := evalTrigger(p.expr, env)
		if err != nil {
			return nil, err
		}
		b.WriteString(TextOf(v))
	}
	return b.String(), nil
}

// DescribeValue names a value's JSON kind for errors ("an object", "a
// string", "null").
func DescribeValue(v any) string { return describeValue(v) }

// sortedKeys returns a map's keys in order: the one way the language
// iterates maps where the order can be seen (flow.SortedKeys' twin, which
// this package cannot import).
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// marshalJSON writes JSON without HTML escaping: flows render text for
// machines, where "<" should stay "<".
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

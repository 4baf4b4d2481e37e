package flow

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
	"github.com/hookflow/hookflow/flow/expression"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/flow/trigger"
)

var (
	validateOnce sync.Once
	validate     *validator.Validate
)

func structValidator() *validator.Validate {
	validateOnce.Do(func() {
		v := validator.New(validator.WithRequiredStructEnabled())
		// Paths use the JSON names people write, not Go field names.
		v.RegisterTagNameFunc(func(f reflect.StructField) string {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				return ""
			}
			if name == "" {
				return f.Name
			}
			return name
		})
		// The string rules (flowid, stepid, header, secretname...) are
		// package field's, shared with the JSON Schema.
		for _, tag := range field.Rules() {
			if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool {
				return field.Matches(tag, fl.Field().String())
			}); err != nil {
				panic(err)
			}
		}
		// Limits on durations are written as durations: dmin=1s, dmax=5m.
		for tag, ok := range map[string]func(d, limit field.Duration) bool{
			"dmin": func(d, limit field.Duration) bool { return d >= limit },
			"dmax": func(d, limit field.Duration) bool { return d <= limit },
		} {
			ok := ok
			if err := v.RegisterValidation(tag, func(fl validator.FieldLevel) bool {
				return ok(field.Duration(fl.Field().Int()), mustParseDuration(fl.Param()))
			}); err != nil {
				panic(err)
			}
		}
		validate = v
	})
	return validate
}

// validateStruct runs the struct tags of v and records each failure under
// prefix, with a message a person understands.
func validateStruct(v any, prefix string, errs *field.List) {
	err := structValidator().Struct(v)
	if err == nil {
		return
	}
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		errs.Add(prefix, "%v", err)
		return
	}
	for _, fe := range ves {
		// Namespace is "Condition.then" or "Flow.trigger.timeout": drop
		// the Go type name in front.
		ns := fe.Namespace()
		if i := strings.IndexByte(ns, '.'); i >= 0 {
			ns = ns[i+1:]
		}
		errs.Add(field.JoinPath(prefix, ns), "%s", describeTag(fe))
	}
}

var durationType = reflect.TypeOf(field.Duration(0))

// mustParseDuration reads a dmin/dmax parameter: a typo in a struct tag is a
// programming error, found by the first validation of that field.
func mustParseDuration(s string) field.Duration {
	d, err := field.ParseDuration(s)
	if err != nil {
		panic(fmt.Sprintf("flow: bad duration %q in a validate tag: %v", s, err))
	}
	return d
}

func describeTag(fe validator.FieldError) string {
	param := fe.Param()
	kind := fe.Kind()
	switch fe.Tag() {
	case "dmin":
		return "must be at least " + param
	case "dmax":
		return "must be at most " + param
	case "required":
		return "is required"
	case "oneof":
		return "must be one of: " + strings.ReplaceAll(param, " ", ", ")
	case "min", "gte":
		switch kind {
		case reflect.String:
			return fmt.Sprintf("must be at least %s characters long", param)
		case reflect.Slice, reflect.Map:
			return fmt.Sprintf("must have at least %s item(s)", param)
		}
		return "must be at least " + param
	case "max", "lte":
		switch kind {
		case reflect.String:
			return fmt.Sprintf("must be at most %s characters long", param)
		case reflect.Slice, reflect.Map:
			return fmt.Sprintf("must have at most %s item(s)", param)
		}
		return "must be at most " + param
	case "flowid":
		return "must be a lowercase id: a-z, 0-9, - and _, starting with a letter or digit, at most 64 characters"
	case "stepid":
		return "must be an identifier: letters, digits and _, not starting with a digit, at most 64 characters (expressions read it as steps.<id>)"
	case "urltoken":
		return "must use only URL-safe characters: A-Z, a-z, 0-9, - and _"
	case "header":
		return "must be a valid HTTP header name"
	case "secretname":
		return "must be a secret's name (letters, digits and _), never the secret itself"
	case "excludes":
		return fmt.Sprintf("must not contain %q", param)
	}
	return fmt.Sprintf("fails the %q rule", fe.Tag())
}

// Validate checks a decoded flow: struct rules on every part, then the tree
// rules: unique step ids, known step types, expressions that compile,
// references only to steps that run earlier, and Response steps only in sync
// flows. It returns a *ValidationError holding every problem, or nil.
func Validate(f *Flow) error {
	var errs field.List
	validateStruct(f, "", &errs)
	mode := f.Trigger.EffectiveMode()
	errs = append(errs, f.Trigger.Check()...)
	errs = append(errs, trigger.CheckSchedules(f.Schedules)...)
	c := &treeCheck{errs: &errs, mode: mode, scheduled: len(f.Schedules) > 0, firstAt: map[string]string{}, allIDs: map[string]bool{}}
	f.Walk(func(_ string, s *Step) bool { c.allIDs[s.ID] = true; return true })
	c.walk("steps", f.Steps, map[string]bool{}, false)
	return invalid(errs)
}

type treeCheck struct {
	errs *field.List
	mode trigger.Mode
	// scheduled: the flow has schedules, whose runs have no caller.
	scheduled bool
	firstAt   map[string]string // step id -> path where it was first defined
	allIDs    map[string]bool   // every step id in the flow
}

// walk checks a step list. visible holds the ids of steps that have
// completed before the list starts; it returns the ids the list defines
// (recursively), which become visible to the steps after its container.
// Alternative branches (then/else, cases) and concurrent ones (parallel)
// each see only what ran before their container, never each other.
func (c *treeCheck) walk(prefix string, steps []Step, visible map[string]bool, inLoop bool) []string {
	vis := make(map[string]bool, len(visible)+len(steps))
	for k := range visible {
		vis[k] = true
	}
	var defined []string
	for i := range steps {
		p := field.IndexPath(prefix, i)
		s := &steps[i]
		c.step(p, s, vis, inLoop)
		ids := []string{}
		if s.ID != "" {
			ids = append(ids, s.ID)
		}
		if s.Spec != nil {
			for _, b := range Branches(s.Spec) {
				bvis := vis
				if b.SeesStep && s.ID != "" {
					bvis = map[string]bool{s.ID: true}
					for k := range vis {
						bvis[k] = true
					}
				}
				ids = append(ids, c.walk(p+"."+b.Path, b.Steps, bvis, inLoop || b.Loop)...)
			}
		}
		for _, id := range ids {
			vis[id] = true
		}
		defined = append(defined, ids...)
	}
	return defined
}

func (c *treeCheck) step(p string, s *Step, visible map[string]bool, inLoop bool) {
	for _, pr := range s.problems {
		c.errs.Add(field.JoinPath(p, pr.Path), "%s", pr.Message)
	}
	switch {
	case s.ID == "":
		c.errs.Add(p+".id", "is required")
	case !field.IsIdentifier(s.ID):
		c.errs.Add(p+".id", "must be an identifier: letters, digits and _, not starting with a digit, at most 64 characters (expressions read it as steps.<id>)")
	default:
		if first, dup := c.firstAt[s.ID]; dup {
			c.errs.Add(p+".id", "duplicate step id %q (first used at %s)", s.ID, first)
		} else {
			c.firstAt[s.ID] = p
		}
	}
	if len(s.Name) > MaxStepNameChars {
		c.errs.Add(p+".name", "must be at most %d characters long", MaxStepNameChars)
	}
	if s.Type == "" {
		c.errs.Add(p+".type", "is required (one of: %s)", strings.Join(kindNames(), ", "))
		return
	}
	if _, ok := LookupKind(s.Type); !ok {
		c.errs.Add(p+".type", "unknown step type %q (known: %s)", s.Type, strings.Join(kindNames(), ", "))
		return
	}
	if s.Spec == nil {
		return
	}
	validateStruct(s.Spec, p, c.errs)
	if ch, ok := s.Spec.(Checker); ok {
		for _, fe := range ch.Check() {
			c.errs.Add(field.JoinPath(p, fe.Path), "%s", fe.Message)
		}
	}
	if so, ok := s.Spec.(SyncOnly); ok && c.mode != trigger.ModeSync {
		if c.scheduled {
			// A flow with schedules and no sync trigger: nobody waits for
			// the answer of any of its runs.
			c.errs.Add(p, "%s; this flow's scheduled runs have no caller to answer either", so.SyncOnlyReason())
		} else {
			c.errs.Add(p, "%s", so.SyncOnlyReason())
		}
	}
	for _, ef := range s.Spec.Expressions() {
		c.expression(field.JoinPath(p, ef.Path), ef, visible, inLoop)
	}
}

func (c *treeCheck) expression(p string, ef ExprField, visible map[string]bool, inLoop bool) {
	sources := []string{expression.StripBraces(ef.Source)}
	if !ef.Bare {
		var err error
		sources, err = expression.TemplateExpressions(ef.Source)
		if err != nil {
			c.errs.Add(p, "%v", err)
			return
		}
	}
	for _, src := range sources {
		prog, err := expression.Compile(src, inLoop, ef.Names...)
		if err != nil {
			c.errs.Add(p, "expression `%s`: %s", src, field.FirstLine(err.Error()))
			continue
		}
		for _, ref := range expression.StepReferences(prog) {
			if visible[ref] {
				continue
			}
			if c.allIDs[ref] {
				c.errs.Add(p, "expression `%s` reads steps.%s, which does not run before this step", src, ref)
			} else {
				c.errs.Add(p, "expression `%s` reads steps.%s, but no step has that id", src, ref)
			}
		}
	}
}

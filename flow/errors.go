package flow

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// FieldError is one problem in a flow definition, at a path such as
// "steps[2].then[0].if".
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// ValidationError holds every problem found in a flow definition. Decode and
// Validate report all of them at once rather than stopping at the first.
type ValidationError struct {
	Errors []FieldError `json:"errors"`
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	if len(lines) == 1 {
		return "invalid flow: " + lines[0]
	}
	return fmt.Sprintf("invalid flow (%d errors):\n  %s", len(lines), strings.Join(lines, "\n  "))
}

// errorList collects FieldErrors under a path prefix.
type errorList []FieldError

func (l *errorList) add(path, format string, args ...any) {
	*l = append(*l, FieldError{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (l errorList) err() error {
	if len(l) == 0 {
		return nil
	}
	out := make([]FieldError, len(l))
	copy(out, l)
	// Document order is what a person reads top to bottom; the sort is
	// stable so errors at one path keep the order they were found in.
	sort.SliceStable(out, func(i, j int) bool { return pathLess(out[i].Path, out[j].Path) })
	return &ValidationError{Errors: out}
}

// pathLess orders paths so that steps[2] comes before steps[10].
func pathLess(a, b string) bool {
	for a != "" && b != "" {
		ai, bi := leadingNumber(a), leadingNumber(b)
		if ai >= 0 && bi >= 0 {
			an, _ := strconv.Atoi(a[:ai])
			bn, _ := strconv.Atoi(b[:bi])
			if an != bn {
				return an < bn
			}
			a, b = a[ai:], b[bi:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func leadingNumber(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return -1
	}
	return i
}

func joinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case field[0] == '[':
		return prefix + field
	}
	return prefix + "." + field
}

func indexPath(prefix string, i int) string {
	return prefix + "[" + strconv.Itoa(i) + "]"
}

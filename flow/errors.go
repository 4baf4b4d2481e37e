package flow

import (
	"fmt"
	"strings"

	"github.com/hookflow/hookflow/flow/field"
)

// ValidationError holds every problem found in a flow definition. Decode and
// Validate report all of them at once rather than stopping at the first.
type ValidationError struct {
	Errors []field.Error `json:"errors"`
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

// invalid is the *ValidationError of a definition's problems, in document
// order without duplicates, or nil when there are none.
func invalid(l field.List) error {
	if len(l) == 0 {
		return nil
	}
	return &ValidationError{Errors: l.Sorted()}
}

package api

import (
	"context"
	"fmt"
	"testing"

	"go.temporal.io/api/serviceerror"
)

// An update aborted because the gather workflow closed is tried again;
// anything else is answered at once.
func TestGatherClosedTellsAClosedGatherWorkflowFromOtherFailures(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"aborted by the closing workflow (server retried once)", fmt.Errorf("failed workflow update: %w", serviceerror.NewAborted("workflow update was aborted by closing workflow")), true},
		{"aborted, server retry off", fmt.Errorf("failed workflow update: %w", serviceerror.NewNotFound("workflow update was aborted by closing workflow")), true},
		{"completed", serviceerror.NewNotFound("workflow execution already completed"), true},
		{"unavailable", serviceerror.NewUnavailable("connection refused"), false},
		{"deadline", context.DeadlineExceeded, false},
		{"namespace", serviceerror.NewNamespaceNotFound("default"), false},
	} {
		if got := gatherClosed(c.err); got != c.want {
			t.Errorf("%s: %v; want %v", c.name, got, c.want)
		}
	}
}

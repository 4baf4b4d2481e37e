//go:build !nodev

// The CLI reference is of the full build: under -tags nodev (make
// test-short) hookflow dev is the stub that says it is not in the build.

package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// docs/reference/cli.md is what the command tree generates (make docs
// writes it); no environment value reaches it.
func TestCommittedCLIReferenceMatchesTheCommands(t *testing.T) {
	t.Setenv("HOOKFLOW_API_KEY", "sk_must_not_appear_0123456789")
	t.Setenv("HOOKFLOW_API_URL", "http://must-not-appear.example.com")
	got, err := cliMarkdown()
	require.NoError(t, err)
	require.NotContains(t, got, "must_not_appear")
	require.NotContains(t, got, "must-not-appear")
	require.Equal(t, "sk_must_not_appear_0123456789", os.Getenv("HOOKFLOW_API_KEY"), "the environment is restored")
	for _, cmd := range []string{"## hookflow flows validate", "## hookflow explain", "## hookflow dev"} {
		require.Contains(t, got, cmd)
	}
	require.NotContains(t, got, "## hookflow docs", "hidden commands stay out")
	committed, err := os.ReadFile("../../docs/reference/cli.md")
	require.NoError(t, err, "run make docs")
	require.Equal(t, got, string(committed), "docs/reference/cli.md differs from the commands: run make docs")
}

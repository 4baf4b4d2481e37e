package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
)

// run executes the CLI with args and returns its output.
func run(t *testing.T, url, key string, args ...string) (string, error) {
	t.Helper()
	cmd := rootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append(args, "--api-url", url, "--api-key", key))
	err := cmd.Execute()
	return out.String(), err
}

func TestFlowsCLI(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "hookflow.db"))
	require.NoError(t, err)
	defer st.Close()
	cache, err := store.NewCache(ctx, st, time.Hour, nil)
	require.NoError(t, err)
	const key = "sk_cli_test_0123456789"
	srv := httptest.NewServer(api.New(nil, cache, slog.New(slog.DiscardHandler), api.Config{
		Admin: &api.Admin{Store: st, Cache: cache}, APIKeys: []api.APIKey{{Name: "t", Key: key, Scopes: []string{api.ScopeRead, api.ScopeWrite}}},
	}).Handler())
	defer srv.Close()

	dir := t.TempDir()
	file := filepath.Join(dir, "a.yaml")
	require.NoError(t, os.WriteFile(file, []byte("id: cli-a\ntrigger: {}\nsteps: [{id: s, type: set, values: {x: 1}}]\n"), 0o644))

	out, err := run(t, srv.URL, key, "flows", "apply", "-f", dir)
	require.NoError(t, err, out)
	require.Contains(t, out, "cli-a: created (v1) /hooks/")
	out, err = run(t, srv.URL, key, "flows", "apply", "-f", file)
	require.NoError(t, err, out)
	require.Equal(t, "cli-a: unchanged (v1)\n", out, "an unchanged file makes no new version")

	require.NoError(t, os.WriteFile(file, []byte("id: cli-a\ntrigger: {}\nsteps: [{id: s, type: set, values: {x: 2}}]\n"), 0o644))
	out, err = run(t, srv.URL, key, "flows", "apply", "-f", file)
	require.NoError(t, err, out)
	require.Equal(t, "cli-a: updated to v2\n", out)

	out, err = run(t, srv.URL, key, "flows", "disable", "cli-a")
	require.NoError(t, err, out)
	require.Equal(t, "cli-a: enabled=false\n", out)
	out, err = run(t, srv.URL, key, "flows", "list")
	require.NoError(t, err, out)
	require.Regexp(t, `cli-a\s+v2\s+async\s+false`, out)
	out, err = run(t, srv.URL, key, "flows", "get", "cli-a")
	require.NoError(t, err, out)
	require.Contains(t, out, `"version": 2`)

	// An invalid file is refused locally with its paths; nothing is sent.
	require.NoError(t, os.WriteFile(file, []byte("id: cli-a\ntrigger: {}\nsteps: [{id: s, type: nope}]\n"), 0o644))
	_, err = run(t, srv.URL, key, "flows", "apply", "-f", file)
	require.ErrorContains(t, err, `steps[0].type: unknown step type "nope"`)
	_, err = run(t, srv.URL, "sk_wrong_key_000000000", "flows", "list")
	require.ErrorContains(t, err, "unauthorized (401)")
	_, err = run(t, srv.URL, "", "flows", "list")
	require.True(t, err != nil && strings.Contains(err.Error(), "no API key"), "%v", err)
}

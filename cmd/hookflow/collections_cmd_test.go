package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/store"
)

func TestCollectionsCLI(t *testing.T) {
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
	file := filepath.Join(dir, "contacts.yaml")
	require.NoError(t, os.WriteFile(file, []byte("name: contacts\nproperties:\n  - {name: email, type: string, unique: true}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "deals.json"), []byte(`{"name":"deals","properties":[{"name":"ref","type":"number","unique":true}]}`), 0o644))

	out, err := run(t, srv.URL, key, "collections", "apply", "-f", dir)
	require.NoError(t, err, out)
	require.Equal(t, "contacts: created (v1)\ndeals: created (v1)\n", out)
	out, err = run(t, srv.URL, key, "collections", "apply", "-f", file)
	require.NoError(t, err, out)
	require.Equal(t, "contacts: unchanged (v1)\n", out, "an unchanged file makes no new version")

	require.NoError(t, os.WriteFile(file, []byte("name: contacts\nproperties:\n  - {name: email, type: string, unique: true}\n  - {name: plan, type: enum, options: [free, pro]}\n"), 0o644))
	out, err = run(t, srv.URL, key, "collections", "apply", "-f", file)
	require.NoError(t, err, out)
	require.Equal(t, "contacts: updated to v2\n", out)

	out, err = run(t, srv.URL, key, "collections", "list")
	require.NoError(t, err, out)
	require.Regexp(t, `contacts\s+v2\s+2\s+email`, out)
	require.Regexp(t, `deals\s+v1\s+1\s+ref`, out)

	// An invalid file is refused locally with its paths; nothing is sent.
	require.NoError(t, os.WriteFile(file, []byte("name: contacts\nproperties:\n  - {name: email, type: text}\n"), 0o644))
	_, err = run(t, srv.URL, key, "collections", "apply", "-f", dir)
	require.ErrorContains(t, err, "contacts.yaml: invalid collection (2 errors): properties[0].type: must be one of")
	got, err := records.Of(st).GetCollection(ctx, "contacts")
	require.NoError(t, err)
	require.Equal(t, int64(2), got.Version)
}

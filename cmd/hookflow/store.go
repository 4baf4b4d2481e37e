package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// storeFlags configure the flow store, part of apiFlags.
type storeFlags struct {
	dsn      string
	flowsDir string
	// destinationsDir is applied before the flows, which may name its
	// destinations (hookflow dev --destinations).
	destinationsDir string
	cacheTTL        time.Duration
}

// openStore opens the store, applies the flows directory (GitOps: create or
// update, an unchanged file makes no version; every file is validated before
// anything is written) and loads the trigger cache.
func (f *storeFlags) openStore(ctx context.Context, log *slog.Logger) (*store.Store, *store.Cache, error) {
	var cat *flow.Catalog
	if f.flowsDir != "" {
		var err error
		if cat, err = flow.LoadDir(f.flowsDir); err != nil {
			return nil, nil, fmt.Errorf("refusing to start, invalid flows:\n%w", err)
		}
	}
	st, err := store.Open(ctx, f.dsn)
	if err != nil {
		return nil, nil, err
	}
	if f.destinationsDir != "" {
		if err := applyDestinationsDir(ctx, log, st, f.destinationsDir); err != nil {
			st.Close()
			return nil, nil, err
		}
	}
	if cat != nil {
		if err := checkDirDestinations(ctx, st, cat); err != nil {
			st.Close()
			return nil, nil, err
		}
		if err := checkDirCalls(ctx, st, cat); err != nil {
			st.Close()
			return nil, nil, err
		}
		for _, e := range calleesFirst(cat.Entries()) {
			outcome, err := applyFlow(ctx, st, e.Flow)
			if err != nil {
				st.Close()
				return nil, nil, fmt.Errorf("apply %s: %w", e.Source, err)
			}
			log.Info("flow applied", "flow", e.Flow.ID, "source", e.Source, "outcome", outcome)
		}
	}
	cache, err := store.NewCache(ctx, st, f.cacheTTL, log)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, cache, nil
}

// applyFlow creates or updates a flow; unchanged definitions make no version.
func applyFlow(ctx context.Context, st *store.Store, f *flow.Flow) (string, error) {
	_, err := st.Flows().Create(ctx, f)
	if err == nil {
		return "created", nil
	}
	if !errors.Is(err, store.ErrExists) {
		return "", err
	}
	rec, changed, err := st.Flows().Update(ctx, f, 0)
	if err != nil {
		return "", err
	}
	if !changed {
		return "unchanged", nil
	}
	return fmt.Sprintf("updated to v%d", rec.Version), nil
}

// apiKeys reads HOOKFLOW_API_KEYS. In dev, with none set, a key with every
// scope is generated once and kept in the data directory, so `make run`
// needs no configuration and the key survives restarts.
func apiKeys(devDataDir string) ([]api.APIKey, string, error) {
	if v := os.Getenv("HOOKFLOW_API_KEYS"); v != "" {
		keys, err := api.ParseAPIKeys(v)
		return keys, "", err
	}
	if devDataDir == "" {
		return nil, "", nil
	}
	path := filepath.Join(devDataDir, "api-key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw := make([]byte, 24)
		if _, err := rand.Read(raw); err != nil {
			return nil, "", err
		}
		b = []byte("sk_dev_" + base64.RawURLEncoding.EncodeToString(raw))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, "", err
		}
	} else if err != nil {
		return nil, "", err
	}
	key := strings.TrimSpace(string(b))
	return []api.APIKey{{Name: "dev", Key: key, Scopes: []string{api.ScopeRead, api.ScopeWrite}}}, key, nil
}

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

// devResumeKey gives `hookflow dev` a resume key (the secret that signs
// wait and approval links) when none is configured: generated once and
// kept in the data directory, so links survive restarts, and handed to
// the API and worker of this process as HOOKFLOW_SECRET_RESUME_KEY.
func devResumeKey(dataDir, secretsDir string) error {
	env := "HOOKFLOW_SECRET_" + strings.ToUpper(activities.ResumeKeySecret)
	if os.Getenv(env) != "" {
		return nil
	}
	if secretsDir != "" {
		if _, err := os.Stat(filepath.Join(secretsDir, activities.ResumeKeySecret)); err == nil {
			return nil
		}
	}
	path := filepath.Join(dataDir, "resume-key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		b = []byte(base64.RawURLEncoding.EncodeToString(raw))
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("resume key: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("resume key: %w", err)
	}
	return os.Setenv(env, strings.TrimSpace(string(b)))
}

// flowGetter is the store's flows for call steps, or none (st nil: no
// store).
func flowGetter(st *store.Store) activities.FlowGetter {
	if st == nil {
		return nil
	}
	return st.Flows()
}

// checkDirCalls checks the calls of a flows directory against the
// directory itself and the store (a file wins over a stored flow): unknown
// callees, cycles and depth refuse the start with every error.
func checkDirCalls(ctx context.Context, st *store.Store, cat *flow.Catalog) error {
	lookup := func(id string) (*flow.Flow, bool) {
		if e, ok := cat.ByID(id); ok {
			return e.Flow, true
		}
		if f, err := st.Flows().Get(ctx, id); err == nil {
			return f.Def, true
		}
		return nil, false
	}
	var errs []error
	for _, e := range cat.Entries() {
		for _, fe := range flow.CheckCalls(e.Flow, lookup) {
			errs = append(errs, fmt.Errorf("%s: %s", e.Source, fe.Error()))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("refusing to start, invalid calls between flows:\n%w", errors.Join(errs...))
	}
	return nil
}

// calleesFirst orders entries so callees are applied before their callers.
func calleesFirst(entries []*flow.Entry) []*flow.Entry {
	byFlow := make(map[*flow.Flow]*flow.Entry, len(entries))
	flows := make([]*flow.Flow, len(entries))
	for i, e := range entries {
		byFlow[e.Flow], flows[i] = e, e.Flow
	}
	out := make([]*flow.Entry, 0, len(entries))
	for _, f := range flow.CalleesFirst(flows) {
		out = append(out, byFlow[f])
	}
	return out
}

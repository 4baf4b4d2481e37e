// Package secrets resolves secrets by name. Flows never hold secret values,
// only names (passwordSecret: shop_hook_pw); the API (trigger auth) and the
// worker (outbound auth) resolve them at the moment of use, so values never
// reach a flow definition, Temporal history, logs or errors.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hookflow/hookflow/flow/field"
)

// ErrNotFound is returned (wrapped) when no provider knows a name.
var ErrNotFound = errors.New("secret not found")

// ValidName reports whether a secret name is acceptable: the rule flow
// files are validated with (field.ValidSecretName).
func ValidName(name string) bool { return field.ValidSecretName(name) }

// Provider resolves a secret's value by name. Errors name the secret, never
// its value.
type Provider interface {
	Secret(ctx context.Context, name string) ([]byte, error)
}

// Env reads HOOKFLOW_SECRET_<NAME> (the name upper-cased).
type Env struct {
	// Lookup defaults to os.LookupEnv; tests set their own.
	Lookup func(string) (string, bool)
}

func (e Env) Secret(_ context.Context, name string) ([]byte, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("secret %q: invalid name", name)
	}
	lookup := e.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup("HOOKFLOW_SECRET_" + strings.ToUpper(name))
	if !ok {
		return nil, fmt.Errorf("secret %q: %w (set HOOKFLOW_SECRET_%s)", name, ErrNotFound, strings.ToUpper(name))
	}
	return []byte(v), nil
}

// Dir reads a file named after the secret in a directory, as mounted
// Kubernetes or Docker secrets are. One trailing newline is dropped.
type Dir string

func (d Dir) Secret(_ context.Context, name string) ([]byte, error) {
	if !ValidName(name) {
		return nil, fmt.Errorf("secret %q: invalid name", name)
	}
	b, err := os.ReadFile(filepath.Join(string(d), name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("secret %q: %w in %s", name, ErrNotFound, string(d))
	}
	if err != nil {
		// The path is fine to show; the content never is.
		return nil, fmt.Errorf("secret %q: read: %w", name, err)
	}
	b = []byte(strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"))
	return b, nil
}

// Chain asks each provider in turn; the first that knows the name wins.
type Chain []Provider

func (c Chain) Secret(ctx context.Context, name string) ([]byte, error) {
	var errs []error
	for _, p := range c {
		v, err := p.Secret(ctx, name)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("secret %q: %w (no secret provider configured)", name, ErrNotFound)
	}
	return nil, errors.Join(errs...)
}

// Default is the environment, then dir when it is not empty.
func Default(dir string) Provider {
	if dir == "" {
		return Chain{Env{}}
	}
	return Chain{Env{}, Dir(dir)}
}

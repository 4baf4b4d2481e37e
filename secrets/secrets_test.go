package secrets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/secrets"
)

func TestEnvDirAndChain(t *testing.T) {
	ctx := context.Background()
	env := secrets.Env{Lookup: func(k string) (string, bool) {
		v, ok := map[string]string{"HOOKFLOW_SECRET_SHOP_PW": "from-env"}[k]
		return v, ok
	}}
	v, err := env.Secret(ctx, "shop_pw")
	require.NoError(t, err)
	require.Equal(t, "from-env", string(v))

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "signing"), []byte("from-file\n"), 0o600))
	v, err = secrets.Dir(dir).Secret(ctx, "signing")
	require.NoError(t, err)
	require.Equal(t, "from-file", string(v))

	chain := secrets.Chain{env, secrets.Dir(dir)}
	v, err = chain.Secret(ctx, "signing")
	require.NoError(t, err)
	require.Equal(t, "from-file", string(v))

	_, err = chain.Secret(ctx, "missing")
	require.True(t, errors.Is(err, secrets.ErrNotFound))
	require.ErrorContains(t, err, `secret "missing"`)

	_, err = secrets.Dir(dir).Secret(ctx, "../etc/passwd")
	require.ErrorContains(t, err, "invalid name")
}

package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

const v1 = `{id: orders, name: Orders, trigger: {}, steps: [{id: s, type: set, values: {v: 1}}]}`
const v2 = `{id: orders, name: Orders, trigger: {}, steps: [{id: s, type: set, values: {v: 2}}]}`

func TestFlowsKeepImmutableVersionsTokensAndState(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()

			t.Run("create, get, list", func(t *testing.T) {
				s := open(t)
				rec, err := s.Flows().Create(ctx, def(t, v1))
				require.NoError(t, err)
				require.Equal(t, int64(1), rec.Version)
				require.True(t, rec.Enabled)
				require.GreaterOrEqual(t, len(rec.Token), 43)
				got, err := s.Flows().Get(ctx, "orders")
				require.NoError(t, err)
				require.Equal(t, rec.Token, got.Token)
				require.Equal(t, "Orders", got.Def.Name)
				_, err = s.Flows().Create(ctx, def(t, v1))
				require.True(t, errors.Is(err, store.ErrExists))
				list, err := s.Flows().List(ctx)
				require.NoError(t, err)
				require.Len(t, list, 1)
				_, err = s.Flows().Get(ctx, "nope")
				require.True(t, errors.Is(err, store.ErrNotFound))
			})

			t.Run("updates make immutable versions", func(t *testing.T) {
				s := open(t)
				_, err := s.Flows().Create(ctx, def(t, v1))
				require.NoError(t, err)
				rec, changed, err := s.Flows().Update(ctx, def(t, v2), 1)
				require.NoError(t, err)
				require.True(t, changed)
				require.Equal(t, int64(2), rec.Version)
				// The same definition again makes no version (idempotent apply).
				rec, changed, err = s.Flows().Update(ctx, def(t, v2), 0)
				require.NoError(t, err)
				require.False(t, changed)
				require.Equal(t, int64(2), rec.Version)
				vs, err := s.Flows().Versions(ctx, "orders")
				require.NoError(t, err)
				require.Len(t, vs, 2)
				old, err := s.Flows().GetVersion(ctx, "orders", 1)
				require.NoError(t, err)
				require.Equal(t, 1.0, old.Def.Steps[0].Spec.(*flow.Set).Values["v"])
				_, err = s.Flows().GetVersion(ctx, "orders", 9)
				require.True(t, errors.Is(err, store.ErrNotFound))
			})

			t.Run("optimistic concurrency", func(t *testing.T) {
				s := open(t)
				_, err := s.Flows().Create(ctx, def(t, v1))
				require.NoError(t, err)
				_, _, err = s.Flows().Update(ctx, def(t, v2), 1)
				require.NoError(t, err)
				_, _, err = s.Flows().Update(ctx, def(t, `{id: orders, trigger: {}, steps: [{id: s, type: set, values: {v: 3}}]}`), 1)
				require.True(t, errors.Is(err, store.ErrConflict), "%v", err)

				// Concurrent writers of the same version: exactly one wins.
				var wg sync.WaitGroup
				var wins, conflicts int
				var mu sync.Mutex
				for i := range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						_, _, err := s.Flows().Update(ctx, def(t, fmt.Sprintf(`{id: orders, trigger: {}, steps: [{id: s, type: set, values: {v: %d}}]}`, 100+i)), 2)
						mu.Lock()
						defer mu.Unlock()
						switch {
						case err == nil:
							wins++
						case errors.Is(err, store.ErrConflict):
							conflicts++
						default:
							t.Errorf("unexpected: %v", err)
						}
					}()
				}
				wg.Wait()
				require.Equal(t, 1, wins)
				require.Equal(t, 7, conflicts)
			})

			t.Run("the token lives outside the definition", func(t *testing.T) {
				s := open(t)
				const tok = "file-fixed-token-0000000000"
				rec, err := s.Flows().Create(ctx, def(t, `{id: orders, trigger: {token: `+tok+`}, steps: [{id: s, type: set, values: {v: 1}}]}`))
				require.NoError(t, err)
				require.Equal(t, tok, rec.Token)
				require.Empty(t, rec.Def.Trigger.Token, "the stored definition (a run's input) holds no token")
				v, err := s.Flows().GetVersion(ctx, "orders", 1)
				require.NoError(t, err)
				require.Empty(t, v.Def.Trigger.Token)
				// A new token alone takes effect without a new version.
				rec, changed, err := s.Flows().Update(ctx, def(t, `{id: orders, trigger: {token: other-fixed-token-00000000}, steps: [{id: s, type: set, values: {v: 1}}]}`), 0)
				require.NoError(t, err)
				require.False(t, changed)
				require.Equal(t, int64(1), rec.Version)
				require.Equal(t, "other-fixed-token-00000000", rec.Token)
			})

			t.Run("enable, disable, rotate, delete", func(t *testing.T) {
				s := open(t)
				rec, err := s.Flows().Create(ctx, def(t, v1))
				require.NoError(t, err)
				off, err := s.Flows().SetEnabled(ctx, "orders", false)
				require.NoError(t, err)
				require.False(t, off.Enabled)
				rot, err := s.Flows().RotateToken(ctx, "orders")
				require.NoError(t, err)
				require.NotEqual(t, rec.Token, rot.Token)
				require.NoError(t, s.Flows().Delete(ctx, "orders"))
				require.True(t, errors.Is(s.Flows().Delete(ctx, "orders"), store.ErrNotFound))
				_, err = s.Flows().Versions(ctx, "orders")
				require.True(t, errors.Is(err, store.ErrNotFound))
				_, err = s.Flows().SetEnabled(ctx, "orders", true)
				require.True(t, errors.Is(err, store.ErrNotFound))
			})

			t.Run("cache serves warm lookups without queries", func(t *testing.T) {
				s := open(t)
				rec, err := s.Flows().Create(ctx, def(t, v1))
				require.NoError(t, err)
				c, err := store.NewCache(ctx, s, time.Hour, nil)
				require.NoError(t, err)
				before := s.Queries()
				for range 1000 {
					e, ok := c.ByToken(rec.Token)
					require.True(t, ok)
					require.Equal(t, int64(1), e.Version)
				}
				require.Equal(t, before, s.Queries(), "a warm lookup sends no query")

				_, err = s.Flows().SetEnabled(ctx, "orders", false)
				require.NoError(t, err)
				require.NoError(t, c.Refresh(ctx))
				_, ok := c.ByToken(rec.Token)
				require.False(t, ok, "a disabled flow's token is not served")
				_, ok = c.ByID("orders")
				require.True(t, ok)
			})
		})
	}
}

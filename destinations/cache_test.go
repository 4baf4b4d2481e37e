package destinations

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
)

func TestACachedDestinationServesWithinItsTTLAndAtLeastItsVersion(t *testing.T) {
	read := cached{d: &Destination{Version: 3}, at: time.Unix(1000, 0)}
	cases := []struct {
		name       string
		age        time.Duration
		minVersion int64
		want       bool
	}{
		{"a fresh read of any version serves", 0, 0, true},
		{"a fresh read at the version asked for serves", cacheTTL - time.Millisecond, 3, true},
		{"a read as old as the TTL does not", cacheTTL, 0, false},
		{"a read older than the version asked for does not", 0, 4, false},
		{"a starting delivery (negative version) always reads the store", 0, -1, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.want, read.serves(read.at.Add(c.age), c.minVersion))
		})
	}
}

// Lookup on a real SQLite store, its clock moved by the test: the store's
// statement count shows when it is read.
func TestLookupReadsTheStoreOnlyWhenItsCopyIsStaleOrTooOld(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "hookflow.db"))
	require.NoError(t, err)
	defer st.Close()
	ds := NewStore(st)
	_, err = ds.Create(ctx, &flow.Destination{Name: "crm", BaseURL: "https://crm.example.com/"})
	require.NoError(t, err)

	now := time.Unix(5000, 0)
	d := NewCache(ds)
	d.now = func() time.Time { return now }
	reads := func(f func()) int64 {
		before := st.Queries()
		f()
		return st.Queries() - before
	}
	lookup := func(minVersion int64) *Destination {
		got, err := d.Lookup(ctx, "crm", minVersion)
		require.NoError(t, err)
		return got
	}

	require.NotZero(t, reads(func() { lookup(0) }), "the first lookup reads the store")
	require.Zero(t, reads(func() { lookup(0) }), "a second one within the TTL does not")

	_, _, err = ds.Update(ctx, &flow.Destination{Name: "crm", BaseURL: "https://crm2.example.com/"}, 0)
	require.NoError(t, err)
	require.Equal(t, "https://crm.example.com/", lookup(0).Def.BaseURL, "within the TTL the copy answers")
	require.Equal(t, "https://crm2.example.com/", lookup(2).Def.BaseURL, "a delivery that started at version 2 reads it at once")

	now = now.Add(cacheTTL)
	_, _, err = ds.Update(ctx, &flow.Destination{Name: "crm", BaseURL: "https://crm3.example.com/"}, 0)
	require.NoError(t, err)
	require.Equal(t, "https://crm3.example.com/", lookup(0).Def.BaseURL, "after the TTL the store is read again")

	_, err = d.Lookup(ctx, "nope", 0)
	require.ErrorContains(t, err, `destination "nope" does not exist`)
}

package records_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/store"
)

// LoadContacts fills a contacts collection with n records, emails
// c<i>@x.test (the benchmarks' fixture).
func loadContacts(tb testing.TB, s *store.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	c, err := records.DecodeCollection([]byte(contactsYAML), true)
	require.NoError(tb, err)
	_, err = records.Of(s).CreateCollection(ctx, c)
	require.NoError(tb, err)
	const batch = 10_000
	for i := 0; i < n; i += batch {
		var recs []map[string]any
		for j := i; j < min(n, i+batch); j++ {
			recs = append(recs, map[string]any{"email": fmt.Sprintf("c%d@x.test", j), "firstName": "Contact", "age": float64(20 + j%50), "plan": []string{"free", "pro"}[j%2]})
		}
		_, err := records.Of(s).Import(ctx, "contacts", recs)
		require.NoError(tb, err)
	}
}

// BenchmarkLookupRecord is the enrollment's point query on SQLite with
// 100,000 records: found and not found, with its p50 and p99.
func BenchmarkLookupRecord(b *testing.B) {
	s, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "hookflow.db"))
	require.NoError(b, err)
	defer s.Close()
	const n = 100_000
	loadContacts(b, s, n)
	for _, tc := range []struct {
		name  string
		email func(i int) string
	}{
		{"found", func(i int) string { return fmt.Sprintf("c%d@x.test", i) }},
		{"missing", func(i int) string { return fmt.Sprintf("nobody%d@x.test", i) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			rng := rand.New(rand.NewPCG(1, 2))
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				email := tc.email(rng.IntN(n))
				start := time.Now()
				_, err := records.Of(s).Lookup(ctx, "contacts", "email", email)
				lat = append(lat, time.Since(start))
				if err != nil && tc.name == "found" {
					b.Fatal(err)
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1000, "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1000, "p99-µs")
		})
	}
}

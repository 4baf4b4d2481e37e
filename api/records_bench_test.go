package api

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/records"
	"github.com/hookflow/hookflow/store"
)

// startOnly stands in for Temporal: a start that answers at once, so the
// benchmark measures the API's own work on a trigger.
type startOnly struct{ sdkclient.Client }

func (startOnly) ExecuteWorkflow(context.Context, sdkclient.StartWorkflowOptions, any, ...any) (sdkclient.WorkflowRun, error) {
	return nil, nil
}

// BenchmarkTriggerEnrollByRecord measures what enrollment by record adds to
// a trigger: the same async flow with and without trigger.enroll.record, on
// SQLite holding 100,000 contacts, requests taking turns, each through the
// whole handler (routing, body, parse, lookup, start). It reports each
// p50 and the difference (the bound: at most 1 ms).
func BenchmarkTriggerEnrollByRecord(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "hookflow.db"))
	require.NoError(b, err)
	defer st.Close()
	c, err := records.DecodeCollection([]byte(`{name: contacts, properties: [{name: email, type: string, unique: true}, {name: firstName, type: string}, {name: plan, type: enum, options: [free, pro]}]}`), true)
	require.NoError(b, err)
	_, err = records.Of(st).CreateCollection(ctx, c)
	require.NoError(b, err)
	const n = 100_000
	for i := 0; i < n; i += 10_000 {
		var recs []map[string]any
		for j := i; j < i+10_000; j++ {
			recs = append(recs, map[string]any{"email": fmt.Sprintf("c%d@x.test", j), "firstName": "Contact", "plan": []string{"free", "pro"}[j%2]})
		}
		_, err := records.Of(st).Import(ctx, "contacts", recs)
		require.NoError(b, err)
	}
	plain, err := flow.DecodeYAML([]byte(`{id: plain, trigger: {token: bench-plain-token-0000000000}, steps: [{id: s, type: set, values: {a: 1}}]}`))
	require.NoError(b, err)
	enroll, err := flow.DecodeYAML([]byte(`{id: enroll, trigger: {token: bench-enroll-token-000000000, enroll: {record: {collection: contacts, property: email, value: "{{ trigger.body.email }}"}}}, steps: [{id: s, type: set, values: {a: 1}}]}`))
	require.NoError(b, err)
	cat, err := flow.NewCatalog(&flow.Entry{Flow: plain, Version: 1, Token: plain.Trigger.Token}, &flow.Entry{Flow: enroll, Version: 1, Token: enroll.Trigger.Token})
	require.NoError(b, err)
	h := New(startOnly{}, cat, slog.New(slog.DiscardHandler), Config{Admin: &Admin{Store: st}}).Handler()

	send := func(token, email string) (time.Duration, int) {
		req := httptest.NewRequest(http.MethodPost, "/hooks/"+token, strings.NewReader(`{"email":"`+email+`","event":"contact.updated","n":1}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, req)
		return time.Since(start), rec.Code
	}
	for _, tc := range []struct {
		name  string
		email func(int) string
	}{
		{"known", func(i int) string { return fmt.Sprintf("c%d@x.test", i) }},
		{"unknown", func(i int) string { return fmt.Sprintf("nobody%d@x.test", i) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			without := make([]time.Duration, 0, b.N)
			with := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				email := tc.email(rng.IntN(n))
				d, code := send(plain.Trigger.Token, email)
				if code != http.StatusOK {
					b.Fatalf("plain trigger answered %d", code)
				}
				without = append(without, d)
				d, code = send(enroll.Trigger.Token, email)
				if code != http.StatusOK {
					b.Fatalf("enroll trigger answered %d", code)
				}
				with = append(with, d)
			}
			p := func(l []time.Duration, q int) float64 {
				sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
				return float64(l[len(l)*q/100].Nanoseconds()) / 1000
			}
			p50w, p50 := p(with, 50), p(without, 50)
			b.ReportMetric(p50, "p50-plain-µs")
			b.ReportMetric(p50w, "p50-enroll-µs")
			b.ReportMetric(p50w-p50, "p50-added-µs")
			b.ReportMetric(p(with, 99)-p(without, 99), "p99-added-µs")
		})
	}
}

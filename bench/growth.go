package bench

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // dbstat of the server's file
)

// GrowthRow is one scenario on a fresh data directory and after the load.
type GrowthRow struct {
	Scenario       string  `json:"scenario"`
	Callers        int     `json:"callers"`
	FreshPerSecond float64 `json:"freshPerSecond"`
	AfterPerSecond float64 `json:"afterPerSecond"`
	FreshP50ms     float64 `json:"freshP50ms"`
	AfterP50ms     float64 `json:"afterP50ms"`
}

// GrowthResult is what Growth measured.
type GrowthResult struct {
	Rows            []GrowthRow `json:"rows"`
	FreshDeliveries float64     `json:"freshDeliveriesPerSecond"`
	AfterDeliveries float64     `json:"afterDeliveriesPerSecond"`
	Loaded          int         `json:"loadedRuns"`
	LoadSeconds     float64     `json:"loadSeconds"`
	DBBytes         int64       `json:"temporalDbBytes"`
	// Tables are the largest tables and indexes of temporal.db after the
	// load, with their bytes per loaded run: what a run stores.
	Tables   []TableSize `json:"tables"`
	RSSBytes int64       `json:"rssBytes"`
}

// Growth measures hookflow's triggers and deliveries on a fresh data
// directory, loads n small runs into it (sync, async and one-send flows in
// turn, 8 callers), and measures again in the same process: the rates must
// not fall as the data grows.
func Growth(ctx context.Context, cfg Config, n int) (*GrowthResult, error) {
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "hookflow-bench-growth-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		cfg.Dir = d
	}
	cfg.Only = []string{HookSync, HookAsync}
	st, err := startEmbedded(cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	logf := logger(cfg.Log)
	fresh, err := measureAll(ctx, cfg, st.target)
	if err != nil {
		return nil, err
	}
	hooks := []string{st.target.hook["bench-sync"], st.target.hook["bench-async"], st.target.hook["bench-deliver"]}
	bodies := []string{`{"total":250}`, `{"n":1}`, `{"n":1}`}
	t0 := time.Now()
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				resp, err := httpc.Post(hooks[i%3], "application/json", strings.NewReader(bodies[i%3]))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					failed.Add(1)
				}
				if i > 0 && i%5000 == 0 {
					logf("growth: %d runs triggered in %s", i, time.Since(t0).Round(time.Second))
				}
			}
		}()
	}
	wg.Wait()
	if err := drain(ctx, st.client); err != nil {
		return nil, err
	}
	res := &GrowthResult{Loaded: n - int(failed.Load()), LoadSeconds: time.Since(t0).Seconds()}
	logf("growth: %d runs loaded in %.0f s (%d failed)", res.Loaded, res.LoadSeconds, failed.Load())
	after, err := measureAll(ctx, cfg, st.target)
	if err != nil {
		return nil, err
	}
	for _, c := range fresh.Cells {
		a, ok := after.Find(c.Scenario, c.Callers)
		if !ok {
			continue
		}
		res.Rows = append(res.Rows, GrowthRow{Scenario: c.Scenario, Callers: c.Callers,
			FreshPerSecond: c.PerSecond, AfterPerSecond: a.PerSecond, FreshP50ms: c.P50ms, AfterP50ms: a.P50ms})
	}
	res.FreshDeliveries, res.AfterDeliveries = fresh.DeliveriesPerSec, after.DeliveriesPerSec
	for _, f := range []string{"temporal.db", "temporal.db-wal"} {
		if fi, err := os.Stat(filepath.Join(cfg.Dir, f)); err == nil {
			res.DBBytes += fi.Size()
		}
	}
	res.RSSBytes = rss()
	if res.Tables, err = tableSizes(filepath.Join(cfg.Dir, "temporal.db"), 12); err != nil {
		logf("growth: table sizes: %v", err)
	}
	return res, nil
}

// TableSize is one table's or index's pages in the database file.
type TableSize struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	Rows  int64  `json:"rows,omitempty"`
}

// tableSizes reads SQLite's dbstat: bytes per table and index, largest
// first (a checkpointed file; what is still in the WAL is not counted).
func tableSizes(file string, top int) ([]TableSize, error) {
	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT ?`, top)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TableSize
	for rows.Next() {
		var t TableSize
		if err := rows.Scan(&t.Name, &t.Bytes); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		// Indexes are not tables: their count fails and stays 0.
		_ = db.QueryRow(`SELECT COUNT(*) FROM "` + out[i].Name + `"`).Scan(&out[i].Rows)
	}
	return out, nil
}

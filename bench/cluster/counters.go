package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/hookflow/hookflow/bench"
)

// counters reads what a run costs the cluster, cumulatively: Temporal's
// persistence requests by operation (persistence_requests, every service
// summed; "persistence" is their total), visibility's
// (visibility_persistence_requests), its state transitions (writes of a
// run's mutable state: state_transition_count_count) and the requests each
// service served (service_requests by service_name), from its Prometheus
// endpoint; and
// PostgreSQL's committed transactions and WAL records and bytes
// and its blocks read and hit in its buffer cache (pg_stat_database,
// pg_stat_wal), every database of the server summed
// (Temporal's, its visibility's and the flow store's).
func (cp *compose) counters(metricsURL string) map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(metricsURL)
	if err != nil {
		return nil // no reading: the cell keeps no per-run costs
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, "{")
		// Counters carry _total when the server exports through
		// OpenTelemetry, not through tally.
		name = strings.TrimSuffix(name, "_total")
		switch name {
		case "persistence_requests", "visibility_persistence_requests", "state_transition_count_count", "service_requests":
		default:
			continue
		}
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		switch name {
		case "visibility_persistence_requests":
			out["visibility"] += v
		case "state_transition_count_count":
			out["stateTransitions"] += v
		case "service_requests":
			out["requests."+label(labels, "service_name")] += v
		default:
			op := label(labels, "operation")
			out["persistence"] += v
			out["persistence."+op] += v
		}
	}
	resp.Body.Close()
	res, err := cp.exec("exec", "-T", "postgresql", "psql", "-U", "postgres", "-tA", "-c",
		// WAL bytes from the WAL position, exact; the statistics views are
		// flushed by each backend at most once a second (PostgreSQL 15), so
		// a reading right after a cell may miss its last second, which
		// the next cell's then carries.
		"SELECT (SELECT sum(xact_commit) FROM pg_stat_database), wal_records, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0'), (SELECT sum(blks_read) FROM pg_stat_database), (SELECT sum(blks_hit) FROM pg_stat_database) FROM pg_stat_wal")
	if err == nil {
		f := strings.Split(strings.TrimSpace(res), "|")
		if len(f) == 5 {
			// Blocks read from outside PostgreSQL's buffer cache, and found in it.
			for i, k := range []string{"pg.commits", "pg.walRecords", "pg.walBytes", "pg.blocksRead", "pg.blocksHit"} {
				if v, err := strconv.ParseFloat(strings.TrimSpace(f[i]), 64); err == nil {
					out[k] = v
				}
			}
		}
	}
	return out
}

// label is one label's value in a Prometheus label set.
func label(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// medians reports, per cell, the medians over the rounds (rate, p50, and
// the per-run costs), with the ratios to the floor, and the deliveries'.
func medians(workers int, rounds []*bench.Results) {
	fmt.Printf("\n%d worker(s): medians of %d rounds\n", workers, len(rounds))
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tcallers\tper s\tcompleted/s\tp50 ms\tvs floor (rate, p50)\tper run: state transitions, persistence requests, visibility, PostgreSQL commits, WAL KB, frontend requests\t")
	type key struct {
		s string
		n int
	}
	cells := map[key][]bench.Cell{}
	var order []key
	for _, r := range rounds {
		for _, c := range r.Cells {
			k := key{c.Scenario, c.Callers}
			if _, ok := cells[k]; !ok {
				order = append(order, k)
			}
			cells[k] = append(cells[k], c)
		}
	}
	med := func(cs []bench.Cell, f func(bench.Cell) float64) float64 {
		var v []float64
		for _, c := range cs {
			v = append(v, f(c))
		}
		return bench.Median(v)
	}
	for _, k := range order {
		cs := cells[k]
		rate, p50 := med(cs, func(c bench.Cell) float64 { return c.PerSecond }), med(cs, func(c bench.Cell) float64 { return c.P50ms })
		ratio := ""
		if floor, ok := map[string]string{bench.HookSync: bench.FloorUWS, bench.HookAsync: bench.FloorStart}[k.s]; ok {
			// Medians of the per-round ratios: each round's floor and
			// hookflow cells ran minutes apart, not hours.
			var rr, pr []float64
			for i, r := range rounds {
				if f, ok := r.Find(floor, k.n); ok && i < len(cs) && f.PerSecond > 0 && f.P50ms > 0 {
					rr = append(rr, cs[i].PerSecond/f.PerSecond)
					pr = append(pr, cs[i].P50ms/f.P50ms)
				}
			}
			ratio = fmt.Sprintf("%.2fx, %.2fx", bench.Median(rr), bench.Median(pr))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%s\t%s\t\n", k.s, k.n, rate, med(cs, func(c bench.Cell) float64 { return c.CompletedPerSecond }), p50, ratio,
			costs(func(name string) float64 { return med(cs, func(c bench.Cell) float64 { return c.PerRun[name] }) }))
	}
	tw.Flush()
	var hook []float64
	floors := map[string][]float64{}
	for _, r := range rounds {
		hook = append(hook, r.DeliveriesPerSec)
		for _, f := range r.DeliveryFloors {
			floors[f.Kind] = append(floors[f.Kind], f.PerSecond)
		}
	}
	h := bench.Median(hook)
	fmt.Printf("deliveries: hookflow %.1f/s", h)
	var kinds []string
	for k := range floors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		f := bench.Median(floors[k])
		fmt.Printf("; %s %.1f/s (hookflow %.2fx)", k, f, h/f)
	}
	fmt.Println()
	var per []map[string]float64
	for _, r := range rounds {
		per = append(per, r.DeliveryPerRun)
	}
	fmt.Printf("per delivery run: %s\n", costs(func(name string) float64 {
		var v []float64
		for _, p := range per {
			v = append(v, p[name])
		}
		return bench.Median(v)
	}))
}

// costs formats a cell's per-run costs.
func costs(get func(string) float64) string {
	return fmt.Sprintf("%.1f, %.1f, %.1f, %.1f, %.1f, %.1f", get("stateTransitions"), get("persistence"), get("visibility"), get("pg.commits"), get("pg.walBytes")/1024, get("requests.frontend"))
}

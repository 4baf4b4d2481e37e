package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/hookflow/hookflow/bench"
)

// tables is the size of each table of Temporal's databases (its own and
// its visibility's, indexes and TOAST included), in bytes.
func (cp *compose) tables() map[string]int64 {
	out := map[string]int64{}
	for _, db := range []string{"temporal", "temporal_visibility"} {
		res, err := cp.exec("exec", "-T", "postgresql", "psql", "-U", "postgres", "-d", db, "-tA", "-c",
			"SELECT relname, pg_total_relation_size(relid) FROM pg_catalog.pg_statio_user_tables")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(res), "\n") {
			name, size, ok := strings.Cut(line, "|")
			if n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64); ok && err == nil {
				out[db+"."+name] = n
			}
		}
	}
	return out
}

// growthReport prints each cell's median rate after the growth against
// before, and the tables that grew most, per run added.
func growthReport(n int, before, after []*bench.Results, tables map[string][2]int64) {
	fmt.Printf("\nafter %d more runs / fresh (medians of the rounds' rates)\n", n)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tcallers\tfresh completed/s\tafter\tratio\t")
	rate := func(rs []*bench.Results, s string, c int) float64 {
		var v []float64
		for _, r := range rs {
			if cell, ok := r.Find(s, c); ok {
				v = append(v, cell.CompletedPerSecond)
			}
		}
		return bench.Median(v)
	}
	for _, c := range before[0].Cells {
		b, a := rate(before, c.Scenario, c.Callers), rate(after, c.Scenario, c.Callers)
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.2fx\t\n", c.Scenario, c.Callers, b, a, a/b)
	}
	med := func(rs []*bench.Results) float64 {
		var v []float64
		for _, r := range rs {
			v = append(v, r.DeliveriesPerSec)
		}
		return bench.Median(v)
	}
	fmt.Fprintf(tw, "deliveries\t\t%.1f\t%.1f\t%.2fx\t\n", med(before), med(after), med(after)/med(before))
	tw.Flush()
	// Where the time goes as the data grows: blocks PostgreSQL had to read
	// (not in its buffer cache) and the WAL, per run, fresh and after.
	per := func(rs []*bench.Results, name string) float64 {
		var v []float64
		for _, r := range rs {
			for _, c := range r.Cells {
				if c.Callers == 16 {
					v = append(v, c.PerRun[name])
				}
			}
		}
		return bench.Median(v)
	}
	for _, k := range []string{"pg.blocksRead", "pg.blocksHit", "pg.walBytes", "persistence"} {
		fmt.Printf("per run at 16 callers, %s: fresh %.1f, after %.1f\n", k, per(before, k), per(after, k))
	}
	var names []string
	var total int64
	for t, s := range tables {
		names = append(names, t)
		total += s[1] - s[0]
	}
	sort.Slice(names, func(i, j int) bool {
		return tables[names[i]][1]-tables[names[i]][0] > tables[names[j]][1]-tables[names[j]][0]
	})
	fmt.Printf("PostgreSQL grew by %.1f KB per run added (%d runs; the measurement's own runs included)\n", float64(total)/float64(n)/1024, n)
	for _, t := range names[:min(8, len(names))] {
		fmt.Printf("  %-48s %8.0f bytes a run\n", t, float64(tables[t][1]-tables[t][0])/float64(n))
	}
}

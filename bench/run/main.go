// Command run is `make bench`: it measures hookflow and its Temporal floor
// on one embedded server, prints a table with hookflow's figures as ratios
// to the floor, and writes bench/results.json.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookflow/hookflow/bench"
)

func main() {
	cell := flag.Duration("cell", 5*time.Second, "duration of each (scenario, callers) cell")
	deliveries := flag.Int("deliveries", 1000, "flows each sending one webhook")
	waiting := flag.Int("waiting", 1000, "flows left waiting in a delay for the memory figure")
	out := flag.String("out", "bench/results.json", "where to write the results")
	conns := flag.Int("sqlite-conns", 0, "SQLite connections of the embedded server (0: hookflow dev's default)")
	shards := flag.Int("shards", 0, "history shards (0: default)")
	pollers := flag.Int("pollers", 0, "workflow task pollers (0: SDK default)")
	only := flag.String("only", "", "comma-separated scenarios to run (default all)")
	memory := flag.Bool("memory", false, "keep the server's SQLite in memory (experiment)")
	callers := flag.String("callers", "1,16,64", "comma-separated concurrency levels")
	flag.Parse()
	var levels []int
	for _, s := range strings.Split(*callers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "bench: -callers: not a positive integer:", s)
			os.Exit(2)
		}
		levels = append(levels, n)
	}
	var onlyList []string
	if *only != "" {
		onlyList = strings.Split(*only, ",")
	}

	res, err := bench.Run(context.Background(), bench.Config{
		Cell: *cell, Callers: levels, Deliveries: *deliveries, Waiting: *waiting, Log: os.Stderr,
		SQLiteConns: *conns, HistoryShards: int32(*shards), WorkflowPollers: *pollers, Only: onlyList, InMemory: *memory,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tcallers\tper s\tcompleted/s\tp50 ms\tp90 ms\tp99 ms\terrors\tvs floor\t")
	for _, c := range res.Cells {
		ratio := ""
		floor := ""
		switch c.Scenario {
		case bench.HookSync:
			floor = bench.FloorUWS
		case bench.HookAsync:
			floor = bench.FloorStart
		}
		if f, ok := res.Find(floor, c.Callers); ok && f.P50ms > 0 && f.PerSecond > 0 {
			ratio = fmt.Sprintf("p50 %.2fx, p99 %.2fx, rate %.2fx, completed %.2fx", c.P50ms/f.P50ms, c.P99ms/f.P99ms, c.PerSecond/f.PerSecond, c.CompletedPerSecond/f.CompletedPerSecond)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%s\t\n", c.Scenario, c.Callers, c.PerSecond, c.CompletedPerSecond, c.P50ms, c.P90ms, c.P99ms, c.Errors, ratio)
	}
	tw.Flush()
	fmt.Printf("\ndeliveries: %d triggered, %d received, %.1f/s\n", res.DeliveriesSent, res.DeliveriesReceived, res.DeliveriesPerSec)
	fmt.Printf("memory: RSS %.0f MB with %d flows waiting in a delay (idle %.0f MB)\n", float64(res.RSSBytesWaiting)/1e6, res.WaitingFlows, float64(res.RSSBytesIdle)/1e6)
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", *out)
}

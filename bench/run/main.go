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
	"os/exec"
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
	memoryOnly := flag.Bool("memory-only", false, "only measure memory with -waiting flows (used by the bench itself, in a fresh process)")
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

	// Memory is measured in a fresh process (this program again, with only
	// the waiting flows): after the load cells, this process's heap and
	// caches hold the residue of thousands of finished runs, which is not
	// what "a dev process with 1,000 waiting flows" means.
	measureWaiting := *waiting
	if !*memoryOnly && *waiting > 0 {
		measureWaiting = 0
	}
	res, err := bench.Run(context.Background(), bench.Config{
		Cell: *cell, Callers: levels, Deliveries: *deliveries, Waiting: measureWaiting, Log: os.Stderr,
		SQLiteConns: *conns, HistoryShards: int32(*shards), WorkflowPollers: *pollers, Only: onlyList, InMemory: *memory,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if !*memoryOnly && *waiting > 0 {
		if err := freshMemory(res, *waiting); err != nil {
			fmt.Fprintln(os.Stderr, "bench: memory:", err)
			os.Exit(1)
		}
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

// freshMemory runs this program again with only the waiting flows and takes
// its memory figures.
func freshMemory(res *bench.Results, waiting int) error {
	out, err := os.CreateTemp("", "hookflow-bench-mem-*.json")
	if err != nil {
		return err
	}
	out.Close()
	defer os.Remove(out.Name())
	cmd := exec.Command(os.Args[0], "-memory-only", "-only", "none", "-deliveries", "0",
		"-waiting", strconv.Itoa(waiting), "-out", out.Name())
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	b, err := os.ReadFile(out.Name())
	if err != nil {
		return err
	}
	var m bench.Results
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	res.WaitingFlows, res.RSSBytesWaiting, res.RSSBytesIdle = m.WaitingFlows, m.RSSBytesWaiting, m.RSSBytesIdle
	return nil
}

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
	"runtime"
	"runtime/pprof"
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
	attribution := flag.Int("attribution-rounds", 0, "instead: the attribution bench (sync floor variants, delivery floor, trigger-to-receipt, burst), this many interleaved rounds")
	batch := flag.Int("delivery-batch", 200, "with -attribution-rounds: deliveries per delivery cell")
	timeline := flag.Int("timeline-runs", 100, "with -attribution-rounds: sequential sync runs of each variant split at their history's events (0: none)")
	ingest := flag.Int("ingest-burst", 5000, "after the cells: this many StartWorkflow calls (the floor), then as many async triggers, each sent from -ingest-callers callers as fast as they are answered; accept latency and rate, time until all completed, runs lost (0: none)")
	floors := flag.Bool("delivery-floors", true, "after hookflow's deliveries: as many one-send workflows of the floor, the POST as one activity and as one local activity")
	kindRounds := flag.Int("delivery-kind-rounds", 3, "after the deliveries: -deliveries one-send runs to a URL, to a destination (first attempt local) and to a destination with a rate (its queue), in turn, this many rounds (0: none)")
	ingestCallers := flag.Int("ingest-callers", 64, "callers of the -ingest-burst cells")
	preemptable := flag.Bool("experiment-preemptable-completions", false, "mark the workflow task completions of hookflow's runs as preemptable calls (an experiment of issue #28: they wait behind starts at the history shard's semaphore; the cells and bursts only, not -attribution-rounds, -growth or -observed-rounds)")
	yield := flag.Duration("experiment-preemptable-yield", 0, "with -experiment-preemptable-completions: a marked completion waiting this long is sent again at the API's priority (0: no bound)")
	taskTimeout := flag.Duration("experiment-task-timeout", 0, "with -experiment-preemptable-completions: the workflow task timeout of hookflow's async starts (0: Temporal's default, 10 s)")
	maxTasks := flag.Int("max-workflow-tasks", 0, "the flow worker's workflow-task slots (hookflow dev's --max-workflow-tasks; 0: its default)")
	maxEager := flag.Int("max-eager-starts", 0, "the flow worker's eager starts in flight (hookflow dev's --max-eager-starts; 0: its default, 1000: every start eager while slots last, as before issue #28; below 0: none)")
	burstOnly := flag.Int("burst-cell", 0, "after the cells: sync triggers at one caller, idle and right after this many async triggers (0: none)")
	burst := flag.Int("burst", 2000, "with -attribution-rounds: async triggers sent before the burst cell's sync cell (0: none)")
	growth := flag.Int("growth", 0, "instead: measure, load this many mixed runs into the same data directory, and measure again")
	pragmas := flag.String("sqlite-pragmas", "", "comma-separated name=value SQLite pragmas added to the server's (tuning experiments)")
	dyn := flag.String("dynamic-config", "", "comma-separated key=value dynamic config (integers or booleans) added to the server's (tuning experiments)")
	observedRounds := flag.Int("observed-rounds", 0, "instead: measure hookflow's triggers and deliveries plain and with metrics, tracing and encryption on, alternating, this many rounds each")
	dir := flag.String("dir", "", "data directory of the server (default: a temporary one, removed after)")
	fullVis := flag.Bool("full-visibility-indexes", false, "keep every index of Temporal's visibility schema (as before #14)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (server, worker, api, callers) to this file (written when the bench ends without an error)")
	mutexprofile := flag.String("mutexprofile", "", "write a mutex contention profile of the whole run to this file (one contention event in 10 sampled; written when the bench ends without an error)")
	blockprofile := flag.String("blockprofile", "", "write a blocking profile of the whole run to this file (one event sampled per 100 µs blocked; written when the bench ends without an error)")
	flag.Parse()
	if *mutexprofile != "" {
		runtime.SetMutexProfileFraction(10)
		defer writeProfile("mutex", *mutexprofile)
	}
	if *blockprofile != "" {
		runtime.SetBlockProfileRate(int((100 * time.Microsecond).Nanoseconds()))
		defer writeProfile("block", *blockprofile)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
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

	tuning, err := parseTuning(*pragmas, *dyn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if *attribution > 0 {
		cfg := bench.AttributionConfig{Config: bench.Config{Cell: *cell, Callers: levels, Log: os.Stderr,
			SQLitePragmas: tuning.pragmas, DynamicConfig: tuning.dynamic, FullVisibilityIndexes: *fullVis, Burst: *burst}, Rounds: *attribution, DeliveryBatch: *batch, TimelineRuns: *timeline}
		if err := runAttribution(cfg, *out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *growth > 0 {
		cfg := bench.Config{Cell: *cell, Callers: levels, Deliveries: *deliveries, Log: os.Stderr, Dir: *dir,
			SQLitePragmas: tuning.pragmas, DynamicConfig: tuning.dynamic, FullVisibilityIndexes: *fullVis}
		if err := runGrowth(cfg, *growth, *out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *observedRounds > 0 {
		cfg := bench.Config{Cell: *cell, Callers: levels, Deliveries: *deliveries, Log: os.Stderr,
			Only: []string{bench.HookSync, bench.HookAsync}}
		if err := compareObserved(cfg, *observedRounds, *out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
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
		SQLitePragmas: tuning.pragmas, DynamicConfig: tuning.dynamic, FullVisibilityIndexes: *fullVis,
		Burst: *burstOnly, IngestBurst: *ingest, IngestCallers: *ingestCallers, MaxEagerStarts: *maxEager,
		DeliveryKindRounds: *kindRounds, DeliveryFloors: *floors, PreemptableCompletions: *preemptable, MaxWorkflowTasks: *maxTasks, PreemptableYield: *yield, PreemptableTaskTimeout: *taskTimeout,
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
	printIngest(res)
	fmt.Printf("\ndeliveries: %d triggered, %d received, %.1f/s\n", res.DeliveriesSent, res.DeliveriesReceived, res.DeliveriesPerSec)
	for _, f := range res.DeliveryFloors {
		fmt.Printf("deliveries, %s: %d started, %d received, %.1f/s (hookflow's one-send runs %.2fx)\n", f.Kind, f.Sent, f.Received, f.PerSecond, res.DeliveriesPerSec/f.PerSecond)
	}
	fmt.Printf("memory: RSS %.0f MB with %d flows waiting in a delay (idle %.0f MB)\n", float64(res.RSSBytesWaiting)/1e6, res.WaitingFlows, float64(res.RSSBytesIdle)/1e6)
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", *out)
}

// printIngest prints the ingest burst cells, hookflow's as ratios to the
// floor's burst and to the floor's cell at the same callers.
func printIngest(res *bench.Results) {
	if len(res.Ingest) == 0 {
		return
	}
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "burst\tsent\tcallers\taccepted\taccept/s\taccept p50 ms\taccept p99 ms\tall done s\tcompleted/s\tlost\textra\terrors\teager/plain\tvs floor\t")
	var floor *bench.IngestCell
	for i, c := range res.Ingest {
		ratio := ""
		switch c.Scenario {
		case bench.FloorStartBurst:
			floor = &res.Ingest[i]
		case bench.HookAsyncBurst:
			if floor != nil && floor.AcceptPerSecond > 0 {
				ratio = fmt.Sprintf("burst accept/s %.2fx, completed/s %.2fx", c.AcceptPerSecond/floor.AcceptPerSecond, c.CompletedPerSecond/floor.CompletedPerSecond)
			}
			if f, ok := res.Find(bench.FloorStart, c.Callers); ok && f.PerSecond > 0 {
				ratio += fmt.Sprintf("; accept/s %.2fx the floor cell at %d callers", c.AcceptPerSecond/f.PerSecond, c.Callers)
			}
		}
		lost := strconv.Itoa(c.Lost)
		if c.TimedOut {
			lost += " (drain timed out)"
		}
		eager := ""
		if c.Eager != nil {
			eager = fmt.Sprintf("%d/%d", c.Eager.Eager, c.Eager.Plain)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t%d\t%d\t%s\t%s\t\n", c.Scenario, c.Sent, c.Callers, c.Accepted, c.AcceptPerSecond,
			c.AcceptP50ms, c.AcceptP99ms, c.DrainSeconds, c.CompletedPerSecond, lost, c.Extra, c.Errors, eager, ratio)
	}
	tw.Flush()
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
	cmd := exec.Command(os.Args[0], "-memory-only", "-only", "none", "-deliveries", "0", "-ingest-burst", "0",
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

// compareObserved runs the hookflow scenarios with operability off and on,
// alternating so both see the same machine conditions, and reports medians
// of the rounds and their ratios (on / off).
func compareObserved(cfg bench.Config, rounds int, out string) error {
	type key struct {
		scenario string
		callers  int
	}
	type series struct{ p50, p99, rate, completed []float64 }
	runs := map[bool]map[key]*series{false: {}, true: {}}
	deliveries := map[bool][]float64{}
	for r := range rounds {
		for _, on := range []bool{false, true} {
			c := cfg
			c.Observed = on
			fmt.Fprintf(os.Stderr, "round %d, observability %v\n", r+1, on)
			res, err := bench.Run(context.Background(), c)
			if err != nil {
				return err
			}
			for _, cell := range res.Cells {
				if cell.Errors > 0 {
					return fmt.Errorf("%s at %d callers: %d errors", cell.Scenario, cell.Callers, cell.Errors)
				}
				k := key{cell.Scenario, cell.Callers}
				s := runs[on][k]
				if s == nil {
					s = &series{}
					runs[on][k] = s
				}
				s.p50, s.p99 = append(s.p50, cell.P50ms), append(s.p99, cell.P99ms)
				s.rate, s.completed = append(s.rate, cell.PerSecond), append(s.completed, cell.CompletedPerSecond)
			}
			// More can arrive than were answered 2xx: a trigger whose answer
			// failed may still have started its run (reported above).
			if res.DeliveriesReceived < res.DeliveriesSent {
				return fmt.Errorf("deliveries: %d of %d arrived", res.DeliveriesReceived, res.DeliveriesSent)
			}
			deliveries[on] = append(deliveries[on], res.DeliveriesPerSec)
		}
	}
	type row struct {
		Scenario  string  `json:"scenario"`
		Callers   int     `json:"callers"`
		OffP50ms  float64 `json:"offP50ms"`
		OnP50ms   float64 `json:"onP50ms"`
		OffP99ms  float64 `json:"offP99ms"`
		OnP99ms   float64 `json:"onP99ms"`
		OffPerSec float64 `json:"offPerSecond"`
		OnPerSec  float64 `json:"onPerSecond"`
		OffDone   float64 `json:"offCompletedPerSecond"`
		OnDone    float64 `json:"onCompletedPerSecond"`
	}
	var rows []row
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "medians of %d rounds\tcallers\tp50 ms off/on\tp99 ms off/on\tper s off/on\tcompleted/s off/on\ton/off\t\n", rounds)
	for _, sc := range cfg.Only {
		for _, n := range cfg.Callers {
			off, on := runs[false][key{sc, n}], runs[true][key{sc, n}]
			if off == nil || on == nil {
				continue
			}
			r := row{sc, n, median(off.p50), median(on.p50), median(off.p99), median(on.p99), median(off.rate), median(on.rate), median(off.completed), median(on.completed)}
			rows = append(rows, r)
			fmt.Fprintf(tw, "%s\t%d\t%.1f / %.1f\t%.1f / %.1f\t%.1f / %.1f\t%.1f / %.1f\tp50 %.2fx, p99 %.2fx, rate %.2fx\t\n", sc, n,
				r.OffP50ms, r.OnP50ms, r.OffP99ms, r.OnP99ms, r.OffPerSec, r.OnPerSec, r.OffDone, r.OnDone, r.OnP50ms/r.OffP50ms, r.OnP99ms/r.OffP99ms, r.OnPerSec/r.OffPerSec)
		}
	}
	tw.Flush()
	doff, don := median(deliveries[false]), median(deliveries[true])
	fmt.Printf("deliveries: %.1f/s off, %.1f/s on (%.2fx)\n", doff, don, don/doff)
	b, _ := json.MarshalIndent(map[string]any{"rounds": rounds, "cells": rows, "deliveriesPerSecondOff": doff, "deliveriesPerSecondOn": don}, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", out)
	return nil
}

func median(v []float64) float64 { return bench.Median(v) }

// writeProfile writes the named runtime profile to path (bench flags).
func writeProfile(name, path string) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup(name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", name, "profile:", err)
	}
}

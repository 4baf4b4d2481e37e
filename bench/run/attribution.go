package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/hookflow/hookflow/bench"
)

type tuning struct {
	pragmas map[string]string
	dynamic map[string]any
}

// parseTuning reads -sqlite-pragmas and -dynamic-config.
func parseTuning(pragmas, dyn string) (tuning, error) {
	var t tuning
	for _, kv := range splitList(pragmas) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return t, fmt.Errorf("-sqlite-pragmas: %q is not name=value", kv)
		}
		if t.pragmas == nil {
			t.pragmas = map[string]string{}
		}
		t.pragmas[k] = v
	}
	for _, kv := range splitList(dyn) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return t, fmt.Errorf("-dynamic-config: %q is not key=value", kv)
		}
		if t.dynamic == nil {
			t.dynamic = map[string]any{}
		}
		if n, err := strconv.Atoi(v); err == nil {
			t.dynamic[k] = n
		} else if b, err := strconv.ParseBool(v); err == nil {
			t.dynamic[k] = b
		} else {
			return t, fmt.Errorf("-dynamic-config: %s: %q is not an integer or a boolean", k, v)
		}
	}
	return t, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// runAttribution runs the attribution bench and prints its tables.
func runAttribution(cfg bench.AttributionConfig, out string) error {
	res, err := bench.Attribute(context.Background(), cfg)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "sync (medians of %d rounds)\tcallers\tper s\tp50 ms\tp99 ms\tp50 vs floor\tp99 vs floor\trate vs floor\terrors\t\n", res.Rounds)
	for _, r := range res.Sync {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.2fx\t%.2fx\t%.2fx\t%d\t\n", r.Name, r.Callers, r.PerSecond, r.P50ms, r.P99ms, r.P50Ratio, r.P99Ratio, r.RateRatio, r.Errors)
	}
	fmt.Fprintf(tw, "\t\t\t\t\t\t\t\t\t\n")
	fmt.Fprintf(tw, "deliveries (batches of %d, 16 at once)\t\tper s\t\t\t\t\tvs one-activity floor\terrors\t\n", cfg.DeliveryBatch)
	for _, r := range res.Deliveries {
		fmt.Fprintf(tw, "%s\t\t%.1f\t\t\t\t\t%.2fx\t%d\t\n", r.Name, r.PerSecond, r.RateRatio, r.Errors)
	}
	fmt.Fprintf(tw, "\t\t\t\t\t\t\t\t\t\n")
	fmt.Fprintf(tw, "trigger to receipt\tcallers\tper s\tp50 ms\tp99 ms\tp50 vs floor\tp99 vs floor\t\terrors\t\n")
	for _, r := range res.Latency {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.2fx\t%.2fx\t\t%d\t\n", r.Name, r.Callers, r.PerSecond, r.P50ms, r.P99ms, r.P50Ratio, r.P99Ratio, r.Errors)
	}
	if len(res.Timeline) > 0 {
		fmt.Fprintf(tw, "\t\t\t\t\t\t\t\t\t\n")
		fmt.Fprintf(tw, "one caller, split at the history's events\truns\ttotal ms\toutside ms\tdispatch ms\tworker ms\tstart event B\tcompletion B\tevents\t\n")
		for _, t := range res.Timeline {
			fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%d\t\n", t.Name, t.Runs, t.TotalMs, t.OutsideMs, t.DispatchMs, t.WorkerMs, t.StartBytes, t.CompleteBytes, t.Events)
		}
	}
	if len(res.Burst) > 0 {
		fmt.Fprintf(tw, "\t\t\t\t\t\t\t\t\t\n")
		fmt.Fprintf(tw, "after %d async triggers\tcallers\tper s\tp50 ms\tp99 ms\tp50 vs idle\tp99 vs idle\t\terrors\t\n", res.BurstSize)
		for _, r := range res.Burst {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.2fx\t%.2fx\t\t%d\t\n", r.Name, r.Callers, r.PerSecond, r.P50ms, r.P99ms, r.P50Ratio, r.P99Ratio, r.Errors)
		}
	}
	tw.Flush()
	fmt.Printf("deliveries lost: %d\n", res.Lost)
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", out)
	if res.Lost > 0 {
		return fmt.Errorf("%d deliveries never arrived", res.Lost)
	}
	return nil
}

// runGrowth measures on a fresh data directory, loads n mixed runs into
// it, and measures again.
func runGrowth(cfg bench.Config, n int, out string) error {
	res, err := bench.Growth(context.Background(), cfg, n)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "scenario\tcallers\tfresh per s\tafter %d runs per s\tratio\tfresh p50 ms\tafter p50 ms\t\n", n)
	for _, r := range res.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.2fx\t%.1f\t%.1f\t\n", r.Scenario, r.Callers, r.FreshPerSecond, r.AfterPerSecond, r.AfterPerSecond/r.FreshPerSecond, r.FreshP50ms, r.AfterP50ms)
	}
	tw.Flush()
	fmt.Printf("deliveries: %.1f/s fresh, %.1f/s after (%.2fx)\n", res.FreshDeliveries, res.AfterDeliveries, res.AfterDeliveries/res.FreshDeliveries)
	fmt.Printf("temporal.db: %.0f MB after %d runs (%.1f KB a run); RSS %.0f MB\n", float64(res.DBBytes)/1e6, res.Loaded, float64(res.DBBytes)/1e3/float64(max(res.Loaded, 1)), float64(res.RSSBytes)/1e6)
	for _, t := range res.Tables {
		fmt.Printf("  %-48s %8.1f MB  %6.0f bytes a run  %d rows\n", t.Name, float64(t.Bytes)/1e6, float64(t.Bytes)/float64(max(res.Loaded, 1)), t.Rows)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("wrote", out)
	return nil
}

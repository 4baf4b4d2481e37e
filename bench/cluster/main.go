// Command cluster is `make bench-cluster`: the side-by-side of `make bench`
// (floor vs hookflow: sync, async, deliveries) against the
// Temporal-on-PostgreSQL cluster of deploy/docker-compose.yaml, with 1 and
// then 2 workers. It brings the compose stack up under a project of its
// own (hookflow-bench-<pid>, every published port a free one on
// 127.0.0.1, plus the receiver image, allowlisted on the worker), samples
// `docker stats --no-stream` a quarter into each cell, writes
// bench/cluster.json and takes the stack down (`down -v`).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/hookflow/hookflow/bench"
)

var project = "hookflow-bench-" + strconv.Itoa(os.Getpid())

func main() {
	cell := flag.Duration("cell", 5*time.Second, "duration of each (scenario, callers) cell")
	deliveries := flag.Int("deliveries", 500, "flows each sending one webhook, per worker count")
	callers := flag.String("callers", "1,16,64", "comma-separated concurrency levels")
	workers := flag.String("workers", "1,2", "comma-separated worker counts")
	out := flag.String("out", "bench/cluster.json", "where to write the results")
	composeFile := flag.String("compose", "deploy/docker-compose.yaml", "the compose file")
	keep := flag.Bool("keep", false, "leave the stack running")
	burst := flag.Int("burst", 0, "after the cells: sync triggers at one caller, idle and right after this many async triggers (0: none)")
	only := flag.String("only", "", "comma-separated scenarios to run (default all)")
	rounds := flag.Int("rounds", 3, "rounds of every cell per worker count; the report gives each round and the medians")
	growth := flag.Int("growth", 0, "instead: with the first worker count, measure, send this many more triggers (sync, async and one-send runs in turn, 16 callers), measure again, and report the ratios and what PostgreSQL holds per run")
	flag.Parse()
	var onlyList []string
	if *only != "" {
		onlyList = strings.Split(*only, ",")
	}
	levels, err := ints(*callers)
	check(err)
	counts, err := ints(*workers)
	check(err)

	dir, err := os.MkdirTemp("", "hookflow-bench-cluster-")
	check(err)
	defer os.RemoveAll(dir)
	cp := &compose{file: filepath.Join(dir, "compose.yaml")}
	key := cp.prepare(*composeFile)
	if !*keep {
		onExit = cp.down
		defer cp.down()
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		go func() {
			<-sig
			cp.down()
			os.Exit(1)
		}()
	}

	type run struct {
		Workers int              `json:"workers"`
		Rounds  []*bench.Results `json:"rounds"`
		// After are the rounds after -growth more runs (nil without).
		After []*bench.Results `json:"after,omitempty"`
		// Tables are the largest tables of Temporal's database, bytes,
		// before and after the growth.
		Tables map[string][2]int64 `json:"tables,omitempty"`
	}
	var runs []run
	if *growth > 0 {
		counts = counts[:1]
	}
	for _, n := range counts {
		began := time.Now()
		cp.run("up", "-d", "--no-build", "--scale", "hookflow-worker="+strconv.Itoa(n))
		api := "http://" + cp.port("hookflow-api", 8080)
		waitReady(api + "/readyz")
		for i := 1; i <= n; i++ {
			waitReady("http://" + cp.port("hookflow-worker", 9090, "--index", strconv.Itoa(i)) + "/readyz")
		}
		fmt.Fprintf(os.Stderr, "cluster with %d worker(s) ready in %s\n", n, time.Since(began).Round(100*time.Millisecond))
		metrics := "http://" + cp.port("temporal", 8000) + "/metrics"
		ext := &bench.External{
			TemporalAddress: cp.port("temporal", 7233), APIURL: api, APIKey: key,
			ReceiverURL: "http://" + cp.port("receiver", 8080), ReceiverTarget: "http://receiver:8080",
		}
		measure := func(label string) []*bench.Results {
			var out []*bench.Results
			for i := range *rounds {
				res, err := bench.Run(context.Background(), bench.Config{
					Cell: *cell, Callers: levels, Deliveries: *deliveries, Log: os.Stderr, Burst: *burst, Only: onlyList,
					DeliveryFloors: true, External: ext,
					Sample:   func(string, int) map[string]float64 { return cp.stats() },
					Counters: func() map[string]float64 { return cp.counters(metrics) },
				})
				check(err)
				out = append(out, res)
				fmt.Printf("\n%d worker(s)%s, round %d of %d", n, label, i+1, *rounds)
				report(n, res)
			}
			medians(n, out)
			return out
		}
		r := run{Workers: n, Rounds: measure("")}
		if *growth > 0 {
			before := cp.tables()
			began := time.Now()
			ok, err := bench.LoadExternal(context.Background(), ext, *growth, 16)
			check(err)
			fmt.Fprintf(os.Stderr, "growth: %d of %d triggers answered 2xx in %s\n", ok, *growth, time.Since(began).Round(time.Second))
			r.After = measure(fmt.Sprintf(" after %d more runs", *growth))
			after := cp.tables()
			r.Tables = map[string][2]int64{}
			for t, b := range after {
				r.Tables[t] = [2]int64{before[t], b}
			}
			growthReport(*growth, r.Rounds, r.After, r.Tables)
		}
		runs = append(runs, r)
	}
	b, _ := json.MarshalIndent(map[string]any{"topology": "deploy/docker-compose.yaml: PostgreSQL, Temporal (4 history shards, 1 task queue partition), 1 api, N workers, receiver", "runs": runs}, "", "  ")
	check(os.WriteFile(*out, append(b, '\n'), 0o644))
	fmt.Println("wrote", *out)
}

func report(workers int, res *bench.Results) {
	fmt.Printf("\n%d worker(s)\n", workers)
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tcallers\tper s\tcompleted/s\tp50 ms\tp99 ms\terrors\tvs floor\tCPU % of a core (docker stats; bench process)\t")
	for _, c := range res.Cells {
		floor := map[string]string{bench.HookSync: bench.FloorUWS, bench.HookAsync: bench.FloorStart}[c.Scenario]
		ratio := ""
		if f, ok := res.Find(floor, c.Callers); ok && f.PerSecond > 0 && f.P50ms > 0 {
			ratio = fmt.Sprintf("rate %.2fx, p50 %.2fx", c.PerSecond/f.PerSecond, c.P50ms/f.P50ms)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%s\t%s; bench %.0f\t\n", c.Scenario, c.Callers, c.PerSecond, c.CompletedPerSecond, c.P50ms, c.P99ms, c.Errors, ratio, fmtSample(c.Sample), c.BenchCPU)
	}
	tw.Flush()
	fmt.Printf("deliveries: %d triggered, %d received, %.1f/s\n", res.DeliveriesSent, res.DeliveriesReceived, res.DeliveriesPerSec)
	for _, f := range res.DeliveryFloors {
		fmt.Printf("deliveries, %s: %d started, %d received, %.1f/s\n", f.Kind, f.Sent, f.Received, f.PerSecond)
	}
	for _, b := range res.Burst {
		fmt.Printf("burst: %-56s p50 %7.1f ms  p99 %8.1f ms  (vs idle: p50 %.2fx, p99 %.2fx; %d rounds)\n", b.Name, b.P50ms, b.P99ms, b.P50Ratio, b.P99Ratio, b.RoundsUsed)
	}
}

func fmtSample(s map[string]float64) string {
	var names []string
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, s[k]))
	}
	return strings.Join(parts, ", ")
}

// compose drives the project with docker-compose (v1) or docker compose.
type compose struct {
	cmd  []string
	file string
}

func (cp *compose) exec(args ...string) (string, error) {
	if cp.cmd == nil {
		if p, err := exec.LookPath("docker-compose"); err == nil {
			cp.cmd = []string{p}
		} else {
			cp.cmd = []string{"docker", "compose"}
		}
	}
	all := append(append([]string{}, cp.cmd[1:]...), "-p", project, "-f", cp.file)
	cmd := exec.Command(cp.cmd[0], append(all, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (cp *compose) run(args ...string) string {
	out, err := cp.exec(args...)
	if err != nil {
		check(fmt.Errorf("compose %s: %v\n%s", strings.Join(args, " "), err, out))
	}
	return out
}

func (cp *compose) down() {
	if out, err := cp.exec("down", "-v", "--timeout", "10"); err != nil {
		fmt.Fprintf(os.Stderr, "compose down: %v\n%s", err, out)
	}
}

// prepare resolves the compose file with compose itself and writes the
// bench's version: free loopback ports, the receiver, the worker
// allowlisting it. It returns the api's read,write key.
func (cp *compose) prepare(file string) string {
	real := cp.file
	cp.file = file
	resolved := cp.run("config")
	cp.file = real
	var cfg map[string]any
	check(yaml.Unmarshal([]byte(resolved), &cfg))
	services := cfg["services"].(map[string]any)
	// Temporal's Prometheus metrics, for the cost of a run in its own units.
	tsvc := services["temporal"].(map[string]any)
	tports, _ := tsvc["ports"].([]any)
	tsvc["ports"] = append(tports, "127.0.0.1::8000")
	services["receiver"] = map[string]any{"image": envOr("HOOKFLOW_RECEIVER_IMAGE", "hookflow-receiver:dev"), "ports": []any{"127.0.0.1::8080"}}
	for _, v := range services {
		svc := v.(map[string]any)
		if ports, ok := svc["ports"].([]any); ok {
			for i, p := range ports {
				switch p := p.(type) {
				case string:
					parts := strings.Split(p, ":")
					ports[i] = "127.0.0.1::" + parts[len(parts)-1]
				case map[string]any:
					delete(p, "published")
					p["host_ip"] = "127.0.0.1"
				}
			}
		}
	}
	w := services["hookflow-worker"].(map[string]any)
	w["command"] = append(w["command"].([]any), "--allow-host=receiver")
	b, err := yaml.Marshal(cfg)
	check(err)
	check(os.WriteFile(cp.file, b, 0o644))
	env := services["hookflow-api"].(map[string]any)["environment"].(map[string]any)
	keys, _ := env["HOOKFLOW_API_KEYS"].(string)
	for _, k := range strings.Split(keys, ";") {
		parts := strings.SplitN(strings.TrimSpace(k), ":", 3)
		if len(parts) == 3 && strings.Contains(parts[1], "write") && strings.Contains(parts[1], "read") {
			return parts[2]
		}
	}
	check(fmt.Errorf("no read,write key in the api's HOOKFLOW_API_KEYS"))
	return ""
}

// port is a service's published address on 127.0.0.1.
func (cp *compose) port(service string, port int, extra ...string) string {
	out := strings.TrimSpace(cp.run(append(append([]string{"port"}, extra...), service, strconv.Itoa(port))...))
	lines := strings.Split(out, "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// stats is each container's CPU (% of one core), by service (workers
// summed), from one `docker stats --no-stream`.
func (cp *compose) stats() map[string]float64 {
	ids := strings.Fields(cp.run("ps", "-q"))
	out, err := exec.Command("docker", append([]string{"stats", "--no-stream", "--format", `{{.Name}} {{.CPUPerc}}`}, ids...)...).Output()
	if err != nil {
		return nil
	}
	s := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, cpu, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		// project_service_index
		name = strings.TrimPrefix(name, project+"_")
		if i := strings.LastIndex(name, "_"); i > 0 {
			name = name[:i]
		}
		name = strings.TrimPrefix(name, project+"-") // compose v2: project-service-index
		if i := strings.LastIndex(name, "-"); i > 0 && !strings.HasPrefix(name, "hookflow-") {
			name = name[:i]
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(cpu, "%"), 64)
		if err == nil {
			s[strings.TrimPrefix(name, "hookflow-")] += v
		}
	}
	return s
}

func waitReady(url string) {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	check(fmt.Errorf("%s not ready after 3 minutes", url))
}

func ints(s string) ([]int, error) {
	var v []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("not a positive integer: %q", f)
		}
		v = append(v, n)
	}
	return v, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// onExit takes the stack down when check ends the program.
var onExit = func() {}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-cluster:", err)
		onExit()
		os.Exit(1)
	}
}

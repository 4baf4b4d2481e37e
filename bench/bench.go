// Package bench measures hookflow side by side with its floor, bare Temporal
// on the same embedded server: Update-With-Start of a no-op workflow for sync
// triggers, StartWorkflow for async ones. Run it with `make bench`.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/tidwall/gjson"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/codec"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/devserver"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/telemetry"
	"github.com/hookflow/hookflow/worker"
)

// Config sizes a run.
type Config struct {
	// Cell is how long each (scenario, callers) cell runs.
	Cell time.Duration
	// Callers are the concurrency levels.
	Callers []int
	// Deliveries is the number of flows each sending one webhook.
	Deliveries int
	// Waiting is the number of flows left waiting in a delay for the memory
	// measurement.
	Waiting int
	// Dir holds the SQLite file (a temp dir by default).
	Dir string
	Log io.Writer
	// Tuning under test (zero: the defaults hookflow dev uses).
	SQLiteConns     int
	HistoryShards   int32
	WorkflowPollers int
	// SQLitePragmas and DynamicConfig are added to the server's (tuning
	// under test).
	SQLitePragmas map[string]string
	DynamicConfig map[string]any
	// FullVisibilityIndexes keeps every visibility index (before #14).
	FullVisibilityIndexes bool
	// Burst is how many async triggers the burst cell sends before its
	// sync cell, at one caller, compared with the idle sync p99 (0: no
	// burst cell); BurstRounds repeats it (default 3).
	Burst, BurstRounds int
	// IngestBurst is how many starts each ingest burst cell sends (the
	// StartWorkflow floor's, then hookflow's async triggers), from
	// IngestCallers callers (default 64), as fast as they are answered
	// (0: no ingest burst cells).
	IngestBurst, IngestCallers int
	// MaxEagerStarts is the flow worker's limit of eager starts in flight
	// (worker.Options.MaxEagerStarts; 0: its default).
	MaxEagerStarts int
	// DeliveryKindRounds runs the delivery kinds cell (destinations.go):
	// Deliveries one-send runs to a URL, to a destination and to a
	// destination with a rate, in turn, this many rounds (0: none).
	DeliveryKindRounds int
	// MaxWorkflowTasks is the flow worker's workflow-task slots
	// (worker.Options.MaxConcurrentWorkflowTasks; 0: its default, 1,000).
	MaxWorkflowTasks int
	// PreemptableCompletions marks the workflow task completions of
	// hookflow's runs "preemptable" (an experiment: preemptable.go).
	PreemptableCompletions bool
	// PreemptableYield bounds how long a marked completion waits before
	// it is sent again at the API's priority (0: no bound).
	PreemptableYield time.Duration
	// PreemptableTaskTimeout is the workflow task timeout of hookflow's
	// async starts in the experiment (0: Temporal's default, 10 s).
	PreemptableTaskTimeout time.Duration
	// Only runs the named scenarios (all when empty).
	Only []string
	// InMemory keeps the server's SQLite in memory (an experiment: hookflow
	// dev persists to a file).
	InMemory bool
	// Observed turns on everything operability adds, as production would
	// run it: Prometheus metrics, tracing (every span sampled, batched to an
	// exporter that drops them) and AES-GCM payload encryption.
	Observed bool
	// External, when set, measures a running cluster (make bench-cluster)
	// instead of the embedded server: its Temporal frontend and its api.
	External *External
	// Counters, when set, reads cumulative counters (on a cluster:
	// Temporal's persistence requests by operation, PostgreSQL's commits
	// and WAL bytes) before and after each cell; Cell.PerRun keeps the
	// difference per run.
	Counters func() map[string]float64
	// DeliveryFloors measures, after hookflow's deliveries, as many
	// one-send workflows of the floor: the POST as one activity on a queue
	// of its own, and as one local activity (Results.DeliveryFloors).
	DeliveryFloors bool
	// Sample, when set, is called a quarter into each cell (docker stats
	// takes about 2 s to answer); what it
	// returns (e.g. CPU per container) is kept with the cell.
	Sample func(scenario string, callers int) map[string]float64
}

// External is a running cluster: Temporal, hookflow api and workers, and a
// receiver (hookflow-receiver) the workers can reach.
type External struct {
	TemporalAddress, Namespace string
	// APIURL is the api's base URL; APIKey has the write scope (the bench
	// creates its flows through the admin API).
	APIURL, APIKey string
	// ReceiverURL is the receiver as the bench reaches it (its
	// /control/records count the deliveries); ReceiverTarget as the
	// workers reach it (the http step's URL).
	ReceiverURL, ReceiverTarget string
}

// FloorQueue is the task queue of the floor's no-op workflows on a
// cluster: the bench process runs their worker, and the cluster's hookflow
// workers, which poll hookflow's queue, do not know them.
const FloorQueue = "hookflow-bench-floor"

// observe wires metrics, tracing and encryption into client options the way
// hookflow api and worker do.
func observe(opts *sdkclient.Options) (*telemetry.Telemetry, error) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	tel := telemetry.New(telemetry.Options{TracerProvider: tp})
	if err := tel.Instrument(opts); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	cdc, err := codec.Parse("bench:" + base64.StdEncoding.EncodeToString(key))
	if err != nil {
		return nil, err
	}
	cdc.Apply(opts)
	return tel, nil
}

// Cell is one measured (scenario, callers) pair.
type Cell struct {
	Scenario  string  `json:"scenario"`
	Callers   int     `json:"callers"`
	Count     int     `json:"count"`
	Errors    int     `json:"errors"`
	PerSecond float64 `json:"perSecond"`
	P50ms     float64 `json:"p50ms"`
	P90ms     float64 `json:"p90ms"`
	P99ms     float64 `json:"p99ms"`
	// CompletedPerSecond counts runs that finished, including the time to
	// drain what the cell left queued: for async starts, acceptance alone
	// would hide a growing backlog.
	CompletedPerSecond float64 `json:"completedPerSecond"`
	DrainSeconds       float64 `json:"drainSeconds"`
	// Sample is what Config.Sample returned for the cell; BenchCPU is the
	// bench process's own CPU during the cell, in % of one core (callers,
	// and on a cluster the floor's worker).
	Sample   map[string]float64 `json:"sample,omitempty"`
	BenchCPU float64            `json:"benchCPUPercent"`
	// Eager counts the cell's starts that asked for eager start by how the
	// flow worker answered (embedded only; nil when none asked).
	Eager *worker.EagerStarts `json:"eager,omitempty"`
	// PerRun is what Config.Counters counted during the cell (its drain
	// included), divided by the cell's count: the cost of one run in the
	// server's own units (nil without Counters).
	PerRun map[string]float64 `json:"perRun,omitempty"`
}

// perRun is the difference of two Counters readings per unit.
func perRun(before, after map[string]float64, n int) map[string]float64 {
	if before == nil || after == nil || n <= 0 {
		return nil
	}
	out := map[string]float64{}
	for k, v := range after {
		b, ok := before[k]
		if !ok {
			continue // not read before (a source that failed): no difference to take
		}
		if d := v - b; d != 0 {
			out[k] = d / float64(n)
		}
	}
	return out
}

// Results of one run.
type Results struct {
	Cells              []Cell  `json:"cells"`
	DeliveriesPerSec   float64 `json:"deliveriesPerSecond"`
	DeliveriesSent     int     `json:"deliveriesTriggered"`
	DeliveriesReceived int     `json:"deliveriesReceived"`
	// DeliveryTriggerErrors are the trigger answers that were not 2xx (a
	// run may still have started behind a timed-out answer).
	DeliveryTriggerErrors []string `json:"deliveryTriggerErrors,omitempty"`
	// Burst is the burst cell: sync idle, after the burst on its own
	// queue, and on the async queue (before #14); ratios to idle.
	Burst []Ratio `json:"burst,omitempty"`
	// DeliveryPerRun is Config.Counters' count per delivery (nil without
	// Counters).
	DeliveryPerRun map[string]float64 `json:"deliveryPerRun,omitempty"`
	// DeliveryFloors are the floor's one-send workflows (Config.DeliveryFloors).
	DeliveryFloors []DeliveryKindCell `json:"deliveryFloors,omitempty"`
	// DeliveryKinds are the delivery kinds cell's rounds.
	DeliveryKinds []DeliveryKindCell `json:"deliveryKinds,omitempty"`
	// Ingest are the ingest burst cells: the floor's and hookflow's.
	Ingest          []IngestCell `json:"ingest,omitempty"`
	WaitingFlows    int          `json:"waitingFlows"`
	RSSBytesIdle    int64        `json:"rssBytesIdle"`
	RSSBytesWaiting int64        `json:"rssBytesWaiting"`
	GoVersion       string       `json:"goVersion"`
	CPUs            int          `json:"cpus"`
}

// Scenario names.
const (
	FloorStart = "floor: StartWorkflow"
	FloorUWS   = "floor: Update-With-Start"
	HookAsync  = "hookflow: async trigger"
	HookSync   = "hookflow: sync trigger"
	// HookKeyed is an async trigger with flowControl concurrency 1 over
	// 100 keys (each event admitted at its key, waiting for its permit);
	// HookKeyedIdle sends every event to a key of its own, so each one
	// meets an idle key (a coordinator started for it).
	HookKeyed     = "hookflow: async keyed (100 keys)"
	HookKeyedIdle = "hookflow: async keyed (idle keys)"
)

// noopStart is the StartWorkflow floor: a workflow that returns at once.
func noopStart(ctx workflow.Context) error { return nil }

// noopUpdate is the Update-With-Start floor: it answers its update at once
// and ends, as a sync flow with only a response step would.
func noopUpdate(ctx workflow.Context) (string, error) {
	done := false
	if err := workflow.SetUpdateHandler(ctx, "answer", func(ctx workflow.Context) (string, error) {
		done = true
		return "ok", nil
	}); err != nil {
		return "", err
	}
	return "ok", workflow.Await(ctx, func() bool { return done && workflow.AllHandlersFinished(ctx) })
}

const syncFlow = `
id: bench-sync
trigger: {mode: sync, token: bench-sync-token-0000000000}
steps:
  - id: big
    type: condition
    if: trigger.body.total > 100
    then: [{id: yes, type: response, status: 201, body: {ok: true}}]
    else: [{id: no, type: response, status: 200, body: {ok: false}}]
`

const asyncFlow = `
id: bench-async
trigger: {token: bench-async-token-000000000}
steps: [{id: s, type: set, values: {x: 1}}]
`

const keyedFlow = `
id: bench-keyed
trigger:
  token: bench-keyed-token-000000000
  flowControl: {key: "{{ trigger.body.k }}", concurrency: 1}
steps: [{id: s, type: set, values: {x: 1}}]
`

const waitFlow = `
id: bench-wait
trigger: {token: bench-wait-token-0000000000}
steps: [{id: w, type: delay, duration: 1h}]
`

// target is what the scenarios drive: a Temporal client, the api's
// trigger URLs, the floor's task queue, and the count of deliveries
// received.
type target struct {
	c          sdkclient.Client
	floorQueue string
	// hook is the trigger URL of each bench flow (by flow id).
	hook     map[string]string
	received func() int
	// floorPostURL is where the delivery floor POSTs (counted by received).
	floorPostURL string
	// eagerStarts reads the flow worker's count of eager and plain starts
	// (nil on a cluster: the api and the workers are other processes).
	eagerStarts func() worker.EagerStarts
}

// eagerSince returns how many starts were eager and plain since before
// (nil when t cannot tell, or none asked).
func (t *target) eagerSince(before worker.EagerStarts) *worker.EagerStarts {
	if t.eagerStarts == nil {
		return nil
	}
	now := t.eagerStarts()
	d := worker.EagerStarts{Eager: now.Eager - before.Eager, Plain: now.Plain - before.Plain}
	if d.Eager == 0 && d.Plain == 0 {
		return nil
	}
	return &d
}

// eagerNow is the flow worker's count so far (zero when t cannot tell).
func (t *target) eagerNow() worker.EagerStarts {
	if t.eagerStarts == nil {
		return worker.EagerStarts{}
	}
	return t.eagerStarts()
}

// Run starts the embedded stack (or dials cfg.External) and measures every
// scenario.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	if cfg.External != nil {
		return runExternal(ctx, cfg)
	}
	st, err := startEmbedded(cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return measureAll(ctx, cfg, st.target)
}

// embedded is the stack `hookflow dev` runs, in this process: the server on
// a SQLite file, the workers, the API, and a receiver that counts
// deliveries by Idempotency-Key and tells waiters when a marked body
// arrives.
type embedded struct {
	target  *target
	srv     *devserver.Server
	client  sdkclient.Client
	workers *worker.Workers
	// floorWorker polls FloorPostQueue: the delivery floor's activity on a
	// queue of its own, as hookflow's sends are.
	floorWorker sdkworker.Worker
	receiver    *httptest.Server
	receiverURL string
	apiURL      string
	arrivals    *arrivals
	closers     []func()
}

// FloorPostQueue is where the delivery floor's activity runs.
const FloorPostQueue = "hookflow-bench-post"

func (e *embedded) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
}

// arrivals tells waiters when a body carrying their mark reaches the
// receiver (trigger-to-receipt latency).
type arrivals struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
}

func (a *arrivals) wait(mark string) chan struct{} {
	ch := make(chan struct{})
	a.mu.Lock()
	a.waiters[mark] = ch
	a.mu.Unlock()
	return ch
}

func (a *arrivals) cancel(mark string) {
	a.mu.Lock()
	delete(a.waiters, mark)
	a.mu.Unlock()
}

func (a *arrivals) arrived(mark string) {
	a.mu.Lock()
	ch := a.waiters[mark]
	delete(a.waiters, mark)
	a.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

func startEmbedded(cfg Config) (_ *embedded, err error) {
	e := &embedded{arrivals: &arrivals{waiters: map[string]chan struct{}{}}}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "hookflow-bench-")
		if err != nil {
			return nil, err
		}
		e.closers = append(e.closers, func() { os.RemoveAll(d) })
		dir = d
	}
	quiet := slog.New(slog.DiscardHandler)
	dbFile := filepath.Join(dir, "temporal.db")
	if cfg.InMemory {
		dbFile = ""
	}
	srv, err := devserver.Start(devserver.Options{
		DatabaseFile:          dbFile,
		SearchAttributes:      contract.SearchAttributeTypes(),
		Logger:                quiet,
		SQLiteConns:           cfg.SQLiteConns,
		HistoryShards:         cfg.HistoryShards,
		SQLitePragmas:         cfg.SQLitePragmas,
		DynamicConfig:         cfg.DynamicConfig,
		FullVisibilityIndexes: cfg.FullVisibilityIndexes,
	})
	if err != nil {
		return nil, err
	}
	e.srv = srv
	e.closers = append(e.closers, srv.Stop)
	copts := sdkclient.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(), Logger: sdklog.NewStructuredLogger(quiet)}
	var tel *telemetry.Telemetry
	if cfg.Observed {
		if tel, err = observe(&copts); err != nil {
			return nil, err
		}
		e.closers = append(e.closers, func() { tel.Close(context.Background()) })
	}
	if cfg.PreemptableCompletions {
		st := &completionStats{}
		copts.ConnectionOptions.DialOptions = append(copts.ConnectionOptions.DialOptions, preemptableCompletions(st, cfg.PreemptableYield, cfg.PreemptableTaskTimeout))
		e.closers = append(e.closers, func() { logger(cfg.Log)("%s", st) })
	}
	c, err := sdkclient.Dial(copts)
	if err != nil {
		return nil, err
	}
	e.client = c
	e.closers = append(e.closers, c.Close)

	var received sync.Map
	var receivedN atomic.Int64
	e.receiver = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		if _, dup := received.LoadOrStore(r.Header.Get("Idempotency-Key"), true); !dup {
			receivedN.Add(1)
			if mark := gjson.GetBytes(body, "mark").String(); mark != "" {
				e.arrivals.arrived(mark)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	e.closers = append(e.closers, e.receiver.Close)
	e.receiverURL = e.receiver.URL + "/hook"
	deliverFlow := fmt.Sprintf(`
id: bench-deliver
trigger: {token: bench-deliver-token-00000000}
steps: [{id: send, type: http, method: POST, url: "%s", body: {mode: all}}]
`, e.receiverURL)

	allow, _ := activities.ParseAllowlist([]string{"127.0.0.1"})
	// A flow store with the delivery kinds cell's destinations.
	st, wopts, err := openDestinations(context.Background(), dir, e.receiver.URL)
	if err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() { st.Close() })
	wopts.MaxConcurrentDeliveries, wopts.WorkflowPollers, wopts.MaxEagerStarts = 200, cfg.WorkflowPollers, cfg.MaxEagerStarts
	wopts.MaxConcurrentWorkflowTasks = cfg.MaxWorkflowTasks
	w := worker.New(c, activities.NewDeliverer(activities.Config{Allow: allow, Telemetry: tel}), wopts)
	registerFloor(w.Flows)
	if err := w.Start(); err != nil {
		return nil, err
	}
	e.workers = w
	e.closers = append(e.closers, w.Stop)
	fw := sdkworker.New(c, FloorPostQueue, sdkworker.Options{MaxConcurrentActivityExecutionSize: 200})
	fw.RegisterActivityWithOptions(floorPost, activity.RegisterOptions{Name: "bench.Post"})
	if err := fw.Start(); err != nil {
		return nil, err
	}
	e.floorWorker = fw
	e.closers = append(e.closers, fw.Stop)

	var entries []*flow.Entry
	for _, y := range append([]string{syncFlow, asyncFlow, keyedFlow, waitFlow, deliverFlow, burstFlow}, destFlows...) {
		f, err := flow.DecodeYAML([]byte(y))
		if err != nil {
			return nil, err
		}
		entries = append(entries, &flow.Entry{Flow: f, Version: 1, Token: f.Trigger.Token, Source: "bench"})
	}
	cat, err := flow.NewCatalog(entries...)
	if err != nil {
		return nil, err
	}
	apiSrv := httptest.NewServer(api.New(c, cat, quiet, api.Config{Telemetry: tel}).Handler())
	e.closers = append(e.closers, apiSrv.Close)
	e.apiURL = apiSrv.URL
	e.target = &target{
		c: c, floorQueue: contract.TaskQueue,
		hook: map[string]string{
			"bench-sync":    apiSrv.URL + "/hooks/bench-sync-token-0000000000",
			"bench-async":   apiSrv.URL + "/hooks/bench-async-token-000000000",
			"bench-keyed":   apiSrv.URL + "/hooks/bench-keyed-token-000000000",
			"bench-wait":    apiSrv.URL + "/hooks/bench-wait-token-0000000000",
			"bench-deliver": apiSrv.URL + "/hooks/bench-deliver-token-00000000",
			"bench-burst":   apiSrv.URL + "/hooks/bench-burst-token-000000000",
			// The delivery kinds cell's (destinations.go).
			"bench-dest":       apiSrv.URL + "/hooks/bench-dest-token-0000000000000",
			"bench-dest-rated": apiSrv.URL + "/hooks/bench-dest-rated-token-000000000",
		},
		received:     func() int { return int(receivedN.Load()) },
		floorPostURL: e.receiverURL,
		eagerStarts:  w.EagerStarts,
	}
	return e, nil
}

// postJSON posts body to url; an answer that is not 2xx is an error.
func postJSON(url, body string) error {
	_, _, err := postJSONAnswer(url, body)
	return err
}

// postJSONAnswer posts body to url and returns the answer's status and
// headers; a status of 300 and above is an error.
func postJSONAnswer(url, body string) (int, http.Header, error) {
	resp, err := httpc.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return resp.StatusCode, resp.Header, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return resp.StatusCode, resp.Header, nil
}

// logger is cfg.Log as a printf (nothing when nil).
func logger(w io.Writer) func(string, ...any) {
	return func(format string, args ...any) {
		if w != nil {
			fmt.Fprintf(w, format+"\n", args...)
		}
	}
}

var httpc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}, Timeout: time.Minute}

// measureAll runs the scenarios against t.
func measureAll(ctx context.Context, cfg Config, t *target) (*Results, error) {
	logf := logger(cfg.Log)
	c := t.c
	res := &Results{GoVersion: runtime.Version(), CPUs: runtime.NumCPU()}
	res.RSSBytesIdle = rss()
	var seq atomic.Int64
	id := func(prefix string) string { return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), seq.Add(1)) }
	floorStart := func(ctx context.Context) error {
		_, err := c.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{ID: id("floor-start"), TaskQueue: t.floorQueue}, "bench.NoopStart")
		return err
	}
	// Sync scenarios first; each cell then waits until no run is left open,
	// so a cell never measures the backlog of the one before.
	scenarios := []struct {
		name string
		call func(context.Context) error
	}{
		{FloorUWS, func(ctx context.Context) error {
			op := c.NewWithStartWorkflowOperation(sdkclient.StartWorkflowOptions{
				ID: id("floor-uws"), TaskQueue: t.floorQueue,
				WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			}, "bench.NoopUpdate")
			h, err := c.UpdateWithStartWorkflow(ctx, sdkclient.UpdateWithStartWorkflowOptions{
				StartWorkflowOperation: op,
				UpdateOptions:          sdkclient.UpdateWorkflowOptions{UpdateName: "answer", WaitForStage: sdkclient.WorkflowUpdateStageCompleted},
			})
			if err != nil {
				return err
			}
			var s string
			return h.Get(ctx, &s)
		}},
		{HookSync, func(context.Context) error {
			return postJSON(t.hook["bench-sync"], `{"total":250}`)
		}},
		{FloorStart, floorStart},
		{HookAsync, func(context.Context) error { return postJSON(t.hook["bench-async"], `{"n":1}`) }},
		{HookKeyed, func(context.Context) error {
			return postJSON(t.hook["bench-keyed"], fmt.Sprintf(`{"k":"k%d"}`, seq.Add(1)%100))
		}},
		{HookKeyedIdle, func(context.Context) error {
			return postJSON(t.hook["bench-keyed"], fmt.Sprintf(`{"k":"idle-%d"}`, seq.Add(1)))
		}},
	}
	for _, sc := range scenarios {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, sc.name) {
			continue
		}
		for _, n := range cfg.Callers {
			var sample map[string]float64
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				if cfg.Sample != nil {
					time.Sleep(cfg.Cell / 4)
					sample = cfg.Sample(sc.name, n)
				}
			}()
			cpu0 := cpuTime()
			eager0 := t.eagerNow()
			var counted map[string]float64
			if cfg.Counters != nil {
				counted = cfg.Counters()
			}
			cell := measure(ctx, sc.name, n, cfg.Cell, sc.call)
			cell.BenchCPU = 100 * (cpuTime() - cpu0).Seconds() / cfg.Cell.Seconds()
			cell.Eager = t.eagerSince(eager0)
			<-sampled
			cell.Sample = sample
			t0 := time.Now()
			if err := drain(ctx, c); err != nil {
				return nil, err
			}
			cell.DrainSeconds = time.Since(t0).Seconds()
			cell.CompletedPerSecond = float64(cell.Count) / (cfg.Cell.Seconds() + cell.DrainSeconds)
			if cfg.Counters != nil {
				cell.PerRun = perRun(counted, cfg.Counters(), cell.Count)
			}
			logf("%-28s callers=%-3d  %7.1f/s (%6.1f/s completed)  p50 %6.1f ms  p90 %6.1f ms  p99 %7.1f ms  errors %d%s", cell.Scenario, n, cell.PerSecond, cell.CompletedPerSecond, cell.P50ms, cell.P90ms, cell.P99ms, cell.Errors, eagerNote(cell.Eager))
			res.Cells = append(res.Cells, cell)
		}
	}

	// Deliveries: N flows each sending one webhook; time until all arrived.
	if cfg.Deliveries > 0 {
		var counted map[string]float64
		if cfg.Counters != nil {
			counted = cfg.Counters()
		}
		// Counted from here: the receiver may have counted earlier ones.
		d, errs := deliverMany(ctx, t, t.hook["bench-deliver"], cfg.Deliveries)
		res.DeliveryTriggerErrors = errs
		if len(errs) > 0 {
			logf("deliveries: %d trigger(s) failed, first: %s", len(errs), errs[0])
		}
		res.DeliveriesSent, res.DeliveriesReceived, res.DeliveriesPerSec = d.Sent, d.Received, d.PerSecond
		if cfg.Counters != nil {
			if err := drain(ctx, c); err != nil {
				return nil, err
			}
			res.DeliveryPerRun = perRun(counted, cfg.Counters(), res.DeliveriesReceived)
		}
		logf("deliveries: %d triggered, %d received (unique delivery ids), %.1f/s", res.DeliveriesSent, res.DeliveriesReceived, res.DeliveriesPerSec)
		if cfg.DeliveryFloors {
			var err error
			if res.DeliveryFloors, err = measureDeliveryFloors(ctx, cfg, t, c, id, logf); err != nil {
				return nil, err
			}
		}
	}

	if cfg.DeliveryKindRounds > 0 && cfg.Deliveries > 0 {
		if t.hook["bench-dest"] == "" {
			return nil, fmt.Errorf("the delivery kinds cell runs on the embedded server only")
		}
		var err error
		if res.DeliveryKinds, err = measureDeliveryKinds(ctx, cfg, t, c, id, cfg.DeliveryKindRounds, logf); err != nil {
			return nil, err
		}
	}

	if cfg.IngestBurst > 0 {
		var err error
		if res.Ingest, err = measureIngestBursts(ctx, cfg, t, id, logf); err != nil {
			return nil, err
		}
	}

	if cfg.Burst > 0 {
		rounds := cfg.BurstRounds
		if rounds < 1 {
			rounds = 3
		}
		var err error
		if res.Burst, err = measureBurst(ctx, c, t.hook, cfg.Burst, rounds, cfg.Cell, logf); err != nil {
			return nil, err
		}
	}

	// Memory with flows waiting in a delay.
	if cfg.Waiting > 0 {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		var ok atomic.Int64
		for range cfg.Waiting {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if postJSON(t.hook["bench-wait"], `{}`) == nil {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		time.Sleep(2 * time.Second) // let the first workflow tasks run
		runtime.GC()
		debug.FreeOSMemory()
		res.WaitingFlows = int(ok.Load())
		res.RSSBytesWaiting = rss()
		logf("memory: %d flows waiting in a delay, RSS %.0f MB (idle %.0f MB)", res.WaitingFlows, float64(res.RSSBytesWaiting)/1e6, float64(res.RSSBytesIdle)/1e6)
	}
	return res, nil
}

// eagerNote says how many of a cell's starts were eager (empty when not
// known).
func eagerNote(e *worker.EagerStarts) string {
	if e == nil {
		return ""
	}
	return fmt.Sprintf("  eager %d, plain %d", e.Eager, e.Plain)
}

// drain waits until no run is open (visibility), at most two minutes. Flow
// control's key coordinators stay open a minute after their key is idle:
// they are not runs.
func drain(ctx context.Context, c sdkclient.Client) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: "ExecutionStatus = 'Running' AND WorkflowType != 'FlowControlWorkflow'"})
		if err != nil {
			return err
		}
		if resp.GetCount() == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("bench: runs still open after two minutes")
}

// measure runs call from n callers for d and collects latencies.
func measure(ctx context.Context, name string, n int, d time.Duration, call func(context.Context) error) Cell {
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	end := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				t0 := time.Now()
				err := call(cctx)
				el := time.Since(t0)
				cancel()
				mu.Lock()
				if err != nil {
					errs++
				} else {
					lat = append(lat, el)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return Cell{Scenario: name, Callers: n, Count: len(lat), Errors: errs,
		PerSecond: float64(len(lat)) / elapsed.Seconds(),
		P50ms:     pct(lat, 0.50), P90ms: pct(lat, 0.90), P99ms: pct(lat, 0.99)}
}

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Microseconds()) / 1000
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss reads this process's resident set size (Linux).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// Find returns the cell of a scenario at a concurrency.
func (r *Results) Find(scenario string, callers int) (Cell, bool) {
	for _, c := range r.Cells {
		if c.Scenario == scenario && c.Callers == callers {
			return c, true
		}
	}
	return Cell{}, false
}

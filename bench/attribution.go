package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/api/httpapi"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// The attribution bench (`make bench-attribution`) measures, on one
// embedded server, the sync floor and variants of it that add one thing
// hookflow's run does at a time, then hookflow itself; the delivery floor
// (a bare workflow whose one activity does the same POST) beside
// hookflow's http step; trigger-to-receipt latency; and a sync trigger
// after a burst of async ones. Cells are short and interleaved: every round
// runs every variant once, in alternating order (forward, then backward),
// and each variant's figure is divided by the floor's of the same round.
// The table reports medians over rounds of those per-round ratios, so a
// noisy minute moves one pair, not the result.

// AttributionConfig sizes an attribution run.
type AttributionConfig struct {
	Config
	// Rounds of every cell (the medians are over these).
	Rounds int
	// DeliveryBatch is how many deliveries each delivery cell sends.
	DeliveryBatch int
	// TimelineRuns is how many sequential sync runs of each sync
	// variant the timeline reads from their histories (0: none).
	TimelineRuns int
}

// Ratio is one variant's medians and its medians of per-round ratios to
// its floor.
type Ratio struct {
	Name       string  `json:"name"`
	Callers    int     `json:"callers"`
	P50ms      float64 `json:"p50ms"`
	P99ms      float64 `json:"p99ms"`
	PerSecond  float64 `json:"perSecond"`
	P50Ratio   float64 `json:"p50Ratio"`
	P99Ratio   float64 `json:"p99Ratio"`
	RateRatio  float64 `json:"rateRatio"`
	Errors     int     `json:"errors"`
	RoundsUsed int     `json:"rounds"`
}

// Attribution is the result of an attribution run.
type Attribution struct {
	Rounds int `json:"rounds"`
	// Sync are the Update-With-Start floor, its variants and hookflow's
	// sync trigger; ratios to the bare floor.
	Sync []Ratio `json:"sync"`
	// Deliveries are deliveries per second (one POST per run); ratios to
	// the one-activity floor.
	Deliveries []Ratio `json:"deliveries"`
	// Lost counts deliveries that never arrived (must be 0).
	Lost int `json:"lost"`
	// Latency is trigger-to-receipt; ratios to the one-activity floor.
	Latency []Ratio `json:"latency"`
	// Burst is sync at one caller, idle and right after Burst async
	// triggers; ratios to idle.
	// Timeline splits one caller's sync runs at their history's events.
	Timeline   []Timeline `json:"timeline,omitempty"`
	Burst      []Ratio    `json:"burst,omitempty"`
	BurstSize  int        `json:"burstSize,omitempty"`
	GoVersion  string     `json:"goVersion"`
	CPUs       int        `json:"cpus"`
	CellSecond float64    `json:"cellSeconds"`
}

// Sync variant names, in the order they add cost.
const (
	VFloor      = "floor: Update-With-Start"
	VSearchAttr = "+ search attributes"
	VSummary    = "+ summary and details"
	VInput      = "+ flow input"
	VHandlers   = "+ query handler and update validator"
	VFloorHTTP  = "floor behind a bare HTTP handler"
	VHookDirect = "hookflow workflow, Update-With-Start from a client"
	VHookHTTP   = "hookflow sync trigger (HTTP)"
)

// Delivery variant names.
const (
	DFloor      = "floor: one activity (own queue)"
	DFloorEager = "floor: one activity (workflow's queue, eager)"
	DFloorLocal = "floor: one local activity"
	DHook       = "hookflow: async trigger, one http step"
)

// Burst variant names.
const (
	BIdle        = "sync trigger, idle"
	BAfter       = "sync trigger after the burst (own queue)"
	BSharedAfter = "sync run on the async queue after the burst (before #14)"
	BPriority    = "sync run on the async queue, priority 1, after the burst"
)

// burstFlow leaves a workflow task per run a second after its start, so
// a burst puts a backlog on the async queue while the sync cell runs.
const burstFlow = `
id: bench-burst
trigger: {token: bench-burst-token-000000000}
steps:
  - {id: later, type: delay, duration: 1s}
  - {id: s, type: set, values: {x: 1}}
`

// Attribute runs the attribution bench on a fresh embedded stack.
func Attribute(ctx context.Context, cfg AttributionConfig) (*Attribution, error) {
	if cfg.Rounds < 1 {
		cfg.Rounds = 5
	}
	if cfg.DeliveryBatch < 1 {
		cfg.DeliveryBatch = 200
	}
	st, err := startEmbedded(cfg.Config)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	logf := logger(cfg.Log)
	c := st.client
	var seq atomic.Int64
	id := func(prefix string) string { return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), seq.Add(1)) }

	syncF, err := flow.DecodeYAML([]byte(syncFlow))
	if err != nil {
		return nil, err
	}
	body := map[string]any{"total": 250.0}
	in := func() contract.Input {
		return contract.Input{Flow: syncF, FlowVersion: 1, Trigger: map[string]any{"body": body, "query": map[string]any{}}, Engine: contract.CurrentEngine}
	}
	hookOpts := func() sdkclient.StartWorkflowOptions { return contract.StartOptions(syncF, 1, id("attr")) }
	uws := func(ctx context.Context, opts sdkclient.StartWorkflowOptions, wf string, update string, args ...any) error {
		opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
		op := c.NewWithStartWorkflowOperation(opts, wf, args...)
		h, err := c.UpdateWithStartWorkflow(ctx, sdkclient.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op,
			UpdateOptions:          sdkclient.UpdateWorkflowOptions{UpdateID: opts.ID, UpdateName: update, WaitForStage: sdkclient.WorkflowUpdateStageCompleted},
		})
		if err != nil {
			return err
		}
		var out any
		return h.Get(ctx, &out)
	}
	floorOpts := func() sdkclient.StartWorkflowOptions {
		return sdkclient.StartWorkflowOptions{ID: id("floor"), TaskQueue: st.target.floorQueue}
	}
	withSA := func() sdkclient.StartWorkflowOptions {
		o := floorOpts()
		h := hookOpts()
		o.TypedSearchAttributes = h.TypedSearchAttributes
		return o
	}
	withSummary := func() sdkclient.StartWorkflowOptions {
		o := withSA()
		h := hookOpts()
		o.StaticSummary, o.StaticDetails = h.StaticSummary, h.StaticDetails
		return o
	}
	// The floor behind a bare net/http handler: reading and parsing the
	// body, then the bare Update-With-Start.
	floorHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		o := floorOpts()
		if err := uws(r.Context(), o, "bench.NoopUpdate", "answer"); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set(httpapi.HeaderExecutionID, o.ID)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"ok":true}`))
	}))
	defer floorHTTP.Close()
	syncVariants := []struct {
		name string
		call func(context.Context) error
	}{
		{VFloor, func(ctx context.Context) error { return uws(ctx, floorOpts(), "bench.NoopUpdate", "answer") }},
		{VSearchAttr, func(ctx context.Context) error { return uws(ctx, withSA(), "bench.NoopUpdate", "answer") }},
		{VSummary, func(ctx context.Context) error { return uws(ctx, withSummary(), "bench.NoopUpdate", "answer") }},
		{VInput, func(ctx context.Context) error {
			return uws(ctx, withSummary(), "bench.NoopUpdateInput", "answer", in())
		}},
		{VHandlers, func(ctx context.Context) error {
			return uws(ctx, withSummary(), "bench.NoopUpdateQuery", "answer", in())
		}},
		{VFloorHTTP, func(ctx context.Context) error { return postJSON(floorHTTP.URL, `{"total":250}`) }},
		{VHookDirect, func(ctx context.Context) error {
			return uws(ctx, hookOpts(), contract.WorkflowName, contract.UpdateResponse, in())
		}},
		{VHookHTTP, func(ctx context.Context) error { return postJSON(st.target.hook["bench-sync"], `{"total":250}`) }},
	}

	type key struct {
		name    string
		callers int
	}
	cells := map[key][]Cell{}
	res := &Attribution{Rounds: cfg.Rounds, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), CellSecond: cfg.Cell.Seconds()}
	for r := range cfg.Rounds {
		order := slices.Clone(syncVariants)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, n := range cfg.Callers {
			for _, v := range order {
				cell := measure(ctx, v.name, n, cfg.Cell, v.call)
				if err := drain(ctx, c); err != nil {
					return nil, err
				}
				cells[key{v.name, n}] = append(cells[key{v.name, n}], cell)
				logf("round %d  %-52s callers=%-3d %7.1f/s  p50 %6.1f ms  p99 %7.1f ms  errors %d", r+1, v.name, n, cell.PerSecond, cell.P50ms, cell.P99ms, cell.Errors)
			}
		}
	}
	for _, n := range cfg.Callers {
		for _, v := range syncVariants {
			res.Sync = append(res.Sync, ratios(v.name, n, cells[key{v.name, n}], cells[key{VFloor, n}], false))
		}
	}
	if cfg.TimelineRuns > 0 {
		withID := func(opts func() sdkclient.StartWorkflowOptions, wf string, args ...any) func(context.Context) (string, error) {
			return func(ctx context.Context) (string, error) {
				o := opts()
				return o.ID, uws(ctx, o, wf, "answer", args...)
			}
		}
		tl, err := measureTimelines(ctx, c, cfg.TimelineRuns, []timelineVariant{
			{VFloor, withID(floorOpts, "bench.NoopUpdate")},
			{VSearchAttr, withID(withSA, "bench.NoopUpdate")},
			{VSummary, withID(withSummary, "bench.NoopUpdate")},
			{VInput, withID(withSummary, "bench.NoopUpdateInput", in())},
			{VHandlers, withID(withSummary, "bench.NoopUpdateQuery", in())},
			{VFloorHTTP, func(context.Context) (string, error) { return postForID(floorHTTP.URL, `{"total":250}`) }},
			{VHookDirect, func(ctx context.Context) (string, error) {
				o := hookOpts()
				return o.ID, uws(ctx, o, contract.WorkflowName, contract.UpdateResponse, in())
			}},
			{VHookHTTP, func(context.Context) (string, error) { return postForID(st.target.hook["bench-sync"], `{"total":250}`) }},
		})
		if err != nil {
			return nil, err
		}
		res.Timeline = tl
		if err := drain(ctx, c); err != nil {
			return nil, err
		}
	}

	// Deliveries: batches of one POST per run, then trigger-to-receipt.
	start := func(how string) func(ctx context.Context, mark string) error {
		return func(ctx context.Context, mark string) error {
			_, err := c.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{ID: id("floor-deliver"), TaskQueue: st.target.floorQueue, EnableEagerStart: true},
				"bench.Deliver", how, PostRequest{URL: st.receiverURL, Key: id("key"), Body: json.RawMessage(fmt.Sprintf(`{"mark":%q}`, mark))})
			return err
		}
	}
	deliveryVariants := []struct {
		name string
		send func(ctx context.Context, mark string) error
	}{
		{DFloor, start(DeliverActivity)},
		{DFloorEager, start(DeliverEager)},
		{DFloorLocal, start(DeliverLocal)},
		{DHook, func(ctx context.Context, mark string) error {
			return postJSON(st.target.hook["bench-deliver"], fmt.Sprintf(`{"mark":%q}`, mark))
		}},
	}
	rates := map[string][]Cell{}
	for r := range cfg.Rounds {
		order := slices.Clone(deliveryVariants)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, v := range order {
			before := st.target.received()
			t0 := time.Now()
			var wg sync.WaitGroup
			sem := make(chan struct{}, 16)
			var sent, failed atomic.Int64
			for range cfg.DeliveryBatch {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					defer cancel()
					if v.send(sctx, id("m")) != nil {
						failed.Add(1)
						return
					}
					sent.Add(1)
				}()
			}
			wg.Wait()
			deadline := time.Now().Add(2 * time.Minute)
			for st.target.received()-before < int(sent.Load()) && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			el := time.Since(t0)
			got := st.target.received() - before
			res.Lost += max(0, int(sent.Load())-got)
			cell := Cell{Scenario: v.name, Callers: 16, Count: got, Errors: int(failed.Load()), PerSecond: float64(got) / el.Seconds()}
			rates[v.name] = append(rates[v.name], cell)
			logf("round %d  %-52s %7.1f deliveries/s (%d of %d arrived)", r+1, v.name, cell.PerSecond, got, sent.Load())
			if err := drain(ctx, c); err != nil {
				return nil, err
			}
		}
	}
	for _, v := range deliveryVariants {
		res.Deliveries = append(res.Deliveries, ratios(v.name, 16, rates[v.name], rates[DFloor], true))
	}

	latency := map[key][]Cell{}
	receipt := func(send func(ctx context.Context, mark string) error) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			mark := id("lat")
			ch := st.arrivals.wait(mark)
			if err := send(ctx, mark); err != nil {
				st.arrivals.cancel(mark)
				return err
			}
			select {
			case <-ch:
				return nil
			case <-ctx.Done():
				st.arrivals.cancel(mark)
				return ctx.Err()
			}
		}
	}
	latencyVariants := []int{0, 3}
	for r := range cfg.Rounds {
		for _, n := range cfg.Callers {
			idx := slices.Clone(latencyVariants)
			if r%2 == 1 {
				slices.Reverse(idx)
			}
			for _, i := range idx {
				v := deliveryVariants[i]
				cell := measure(ctx, v.name, n, cfg.Cell, receipt(v.send))
				if err := drain(ctx, c); err != nil {
					return nil, err
				}
				latency[key{v.name, n}] = append(latency[key{v.name, n}], cell)
				logf("round %d  trigger→receipt %-36s callers=%-3d p50 %6.1f ms  p99 %7.1f ms  errors %d", r+1, v.name, n, cell.P50ms, cell.P99ms, cell.Errors)
			}
		}
	}
	for _, n := range cfg.Callers {
		for _, i := range latencyVariants {
			name := deliveryVariants[i].name
			res.Latency = append(res.Latency, ratios(name, n, latency[key{name, n}], latency[key{DFloor, n}], false))
		}
	}

	if cfg.Burst > 0 {
		res.BurstSize = cfg.Burst
		if res.Burst, err = measureBurst(ctx, c, st.target.hook, cfg.Burst, cfg.Rounds, cfg.Cell, logf); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ratios are the medians of a variant's cells and of its per-round ratios
// to the base's cells of the same round. rateOnly: only rates compare.
func ratios(name string, callers int, cells, base []Cell, rateOnly bool) Ratio {
	r := Ratio{Name: name, Callers: callers, RoundsUsed: len(cells)}
	var p50, p99, rate, p50r, p99r, rater []float64
	for i, c := range cells {
		r.Errors += c.Errors
		p50, p99, rate = append(p50, c.P50ms), append(p99, c.P99ms), append(rate, c.PerSecond)
		if i < len(base) {
			b := base[i]
			if !rateOnly && b.P50ms > 0 && b.P99ms > 0 {
				p50r, p99r = append(p50r, c.P50ms/b.P50ms), append(p99r, c.P99ms/b.P99ms)
			}
			if b.PerSecond > 0 {
				rater = append(rater, c.PerSecond/b.PerSecond)
			}
		}
	}
	r.P50ms, r.P99ms, r.PerSecond = Median(p50), Median(p99), Median(rate)
	r.P50Ratio, r.P99Ratio, r.RateRatio = Median(p50r), Median(p99r), Median(rater)
	return r
}

// Median of v (0 for none); the upper median for an even count.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

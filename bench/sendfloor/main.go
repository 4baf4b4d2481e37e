// Command sendfloor measures what one webhook send costs on the embedded
// server (issue #14 part 3): hookflow runs that only start, hookflow runs
// that send once with the first attempt as an activity on the webhook
// queue or as a local activity of the flow worker, and bare Temporal
// workflows that POST once as an activity on another queue, on their own
// queue (eager dispatch) or as a local activity. Cells are interleaved
// over several rounds; it prints each round and the medians.
//
//	go run ./bench/sendfloor -n 400 -c 16 -rounds 3
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/devserver"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/worker"
)

const floorQueue, postQueue = "sendfloor", "sendfloor-post"

type post struct{ URL, Key string }

var postClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256}, Timeout: 10 * time.Second}

func doPost(ctx context.Context, p post) error {
	r, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader([]byte(`{"n":1}`)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Idempotency-Key", p.Key)
	resp, err := postClient.Do(r)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}

// floorSend is bare Temporal's send: one POST, how says where it runs.
func floorSend(ctx workflow.Context, how string, p post) error {
	rp := &temporal.RetryPolicy{InitialInterval: time.Minute, BackoffCoefficient: 2, MaximumInterval: 8 * time.Hour}
	if how == "local" {
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: 10 * time.Second, RetryPolicy: rp})
		return workflow.ExecuteLocalActivity(lctx, "sendfloor.Post", p).Get(ctx, nil)
	}
	q := postQueue
	if how == "eager" {
		q = floorQueue
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: q, StartToCloseTimeout: 38 * time.Second, ScheduleToCloseTimeout: 72 * time.Hour, RetryPolicy: rp})
	return workflow.ExecuteActivity(actx, "sendfloor.Post", p).Get(ctx, nil)
}

func floorStart(ctx workflow.Context) error { return nil }

func main() {
	n := flag.Int("n", 400, "runs per cell")
	conc := flag.Int("c", 16, "concurrent starters")
	rounds := flag.Int("rounds", 3, "rounds (cells interleaved)")
	flag.Parse()
	if err := run(*n, *conc, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(n, conc, rounds int) error {
	dir, err := os.MkdirTemp("", "sendfloor-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	dyn := map[string]any{"system.enableActivityEagerExecution": true}
	srv, err := devserver.Start(devserver.Options{DatabaseFile: filepath.Join(dir, "temporal.db"), SearchAttributes: contract.SearchAttributeTypes(), Logger: quiet, DynamicConfig: dyn})
	if err != nil {
		return err
	}
	defer srv.Stop()
	c, err := sdkclient.Dial(sdkclient.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace(), Logger: sdklog.NewStructuredLogger(quiet)})
	if err != nil {
		return err
	}
	defer c.Close()

	var received sync.Map
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if _, dup := received.LoadOrStore(r.Header.Get("Idempotency-Key"), true); !dup {
			got.Add(1)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()

	// The bare floor's worker: its workflow, and the POST on both queues.
	fw := sdkworker.New(c, floorQueue, sdkworker.Options{MaxConcurrentActivityExecutionSize: 200})
	fw.RegisterWorkflowWithOptions(floorSend, workflow.RegisterOptions{Name: "sendfloor.Send"})
	fw.RegisterWorkflowWithOptions(floorStart, workflow.RegisterOptions{Name: "sendfloor.Start"})
	fw.RegisterActivityWithOptions(doPost, activity.RegisterOptions{Name: "sendfloor.Post"})
	pw := sdkworker.New(c, postQueue, sdkworker.Options{MaxConcurrentActivityExecutionSize: 200})
	pw.RegisterActivityWithOptions(doPost, activity.RegisterOptions{Name: "sendfloor.Post"})
	for _, w := range []sdkworker.Worker{fw, pw} {
		if err := w.Start(); err != nil {
			return err
		}
		defer w.Stop()
	}

	allow, _ := activities.ParseAllowlist([]string{"127.0.0.1"})
	deliverer := activities.NewDeliverer(activities.Config{Allow: allow})
	sendFlow, err := flow.DecodeYAML([]byte(fmt.Sprintf(`
id: sf-send
trigger: {}
steps: [{id: send, type: http, method: POST, url: "%s/hook", body: {mode: all}}]
`, rcv.URL)))
	if err != nil {
		return err
	}
	startFlow, err := flow.DecodeYAML([]byte(`
id: sf-start
trigger: {}
steps: [{id: set, type: set, values: {a: 1}}]
`))
	if err != nil {
		return err
	}

	seq := 0
	// fire starts n runs with conc starters; done says when all finished.
	fire := func(start func(ctx context.Context, key string) error, done func(before int64) bool) (float64, error) {
		before := got.Load()
		ctx := context.Background()
		t0 := time.Now()
		var wg sync.WaitGroup
		sem := make(chan struct{}, conc)
		var failed atomic.Int64
		for range n {
			seq++
			key := fmt.Sprintf("k%d", seq)
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if start(ctx, key) != nil {
					failed.Add(1)
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			return 0, fmt.Errorf("%d starts failed", failed.Load())
		}
		deadline := time.Now().Add(3 * time.Minute)
		for !done(before) {
			if time.Now().After(deadline) {
				return 0, fmt.Errorf("cell did not finish: %d of %d received", got.Load()-before, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return float64(n) / time.Since(t0).Seconds(), nil
	}
	allReceived := func(before int64) bool { return got.Load()-before >= int64(n) }

	// hookflow cells run their own workers (started before the clock).
	hookflow := func(f *flow.Flow, opts worker.Options, wait func(before int64) bool) func() (float64, error) {
		return func() (float64, error) {
			opts.MaxConcurrentDeliveries = 200
			w := worker.New(c, deliverer, opts)
			if err := w.Start(); err != nil {
				return 0, err
			}
			defer w.Stop()
			var closed atomic.Int64
			rate, err := fire(func(ctx context.Context, key string) error {
				o := contract.StartOptions(f, 1, key)
				run, err := c.ExecuteWorkflow(ctx, o, contract.WorkflowName, contract.Input{Flow: f, FlowVersion: 1, Trigger: map[string]any{"body": map[string]any{"n": 1}}})
				if err != nil {
					return err
				}
				if wait == nil {
					go func() { _ = run.Get(context.Background(), nil); closed.Add(1) }()
				}
				return nil
			}, func(before int64) bool {
				if wait != nil {
					return wait(before)
				}
				return closed.Load() >= int64(n)
			})
			return rate, err
		}
	}
	floor := func(how string) func() (float64, error) {
		return func() (float64, error) {
			var closed atomic.Int64
			return fire(func(ctx context.Context, key string) error {
				o := sdkclient.StartWorkflowOptions{ID: "sf-" + key, TaskQueue: floorQueue}
				var run sdkclient.WorkflowRun
				var err error
				if how == "start" {
					run, err = c.ExecuteWorkflow(ctx, o, "sendfloor.Start")
				} else {
					run, err = c.ExecuteWorkflow(ctx, o, "sendfloor.Send", how, post{URL: rcv.URL + "/floor", Key: key})
				}
				if err != nil {
					return err
				}
				if how == "start" {
					go func() { _ = run.Get(context.Background(), nil); closed.Add(1) }()
				}
				return nil
			}, func(before int64) bool {
				if how == "start" {
					return closed.Load() >= int64(n)
				}
				return allReceived(before)
			})
		}
	}
	cells := []struct {
		name string
		run  func() (float64, error)
	}{
		{"floor: start, no-op workflow completes", floor("start")},
		{"floor: POST as activity on another queue", floor("activity")},
		{"floor: POST as activity on own queue (eager)", floor("eager")},
		{"floor: POST as local activity", floor("local")},
		{"hookflow: run without a send (completed)", hookflow(startFlow, worker.Options{}, nil)},
		{"hookflow: send, activity on hookflow-webhooks (today)", hookflow(sendFlow, worker.Options{DisableLocalFirstAttempt: true}, allReceived)},
		{"hookflow: send, local first attempt", hookflow(sendFlow, worker.Options{}, allReceived)},
	}
	// Warm up once.
	if _, err := cells[6].run(); err != nil {
		return err
	}
	rates := make([][]float64, len(cells))
	for r := range rounds {
		for i, cell := range cells {
			rate, err := cell.run()
			if err != nil {
				return fmt.Errorf("%s: %w", cell.name, err)
			}
			rates[i] = append(rates[i], rate)
			fmt.Printf("round %d  %-55s %7.1f/s\n", r+1, cell.name, rate)
		}
	}
	fmt.Printf("\nmedians of %d rounds, %d runs per cell, %d starters:\n", rounds, n, conc)
	med := make([]float64, len(cells))
	for i, cell := range cells {
		s := append([]float64(nil), rates[i]...)
		sort.Float64s(s)
		med[i] = s[len(s)/2]
		fmt.Printf("  %-55s %7.1f/s\n", cell.name, med[i])
	}
	// Ratios per round (cells side by side in one round), then their
	// medians: steadier than ratios of medians on a shared machine.
	pair := func(a, b int) float64 {
		var rs []float64
		for r := range rates[a] {
			rs = append(rs, rates[a][r]/rates[b][r])
		}
		sort.Float64s(rs)
		return rs[len(rs)/2]
	}
	fmt.Printf("\nratios, median of per-round ratios:\n")
	fmt.Printf("  local first attempt / today's activity:      %.2f\n", pair(6, 5))
	fmt.Printf("  local first attempt / hookflow run, no send: %.2f\n", pair(6, 4))
	fmt.Printf("  today's activity / hookflow run, no send:    %.2f\n", pair(5, 4))
	fmt.Printf("  local first attempt / floor activity:        %.2f\n", pair(6, 1))
	fmt.Printf("  floor eager / floor activity:                %.2f\n", pair(2, 1))
	fmt.Printf("  floor local / floor activity:                %.2f\n", pair(3, 1))
	fmt.Printf("\nratios (medians):\n")
	fmt.Printf("  local first attempt / today's activity:      %.2f\n", med[6]/med[5])
	fmt.Printf("  local first attempt / hookflow run, no send: %.2f\n", med[6]/med[4])
	fmt.Printf("  today's activity / hookflow run, no send:    %.2f\n", med[5]/med[4])
	fmt.Printf("  local first attempt / floor activity:        %.2f\n", med[6]/med[1])
	fmt.Printf("  floor eager / floor activity:                %.2f\n", med[2]/med[1])
	fmt.Printf("  floor local / floor activity:                %.2f\n", med[3]/med[1])
	return nil
}

package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/activities"
	"github.com/hookflow/hookflow/destinations"
	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/worker"
)

// The delivery kinds cell (issue #27, item 2): the same one-send flow
// sending to a URL, to a destination (its first attempt made by the flow
// worker when the destination's gate admits it), and to a destination
// with a rate (which the server enforces on its queue, so every attempt
// is its queue's, as every destination's was before), in interleaved
// rounds on one embedded server.

// Delivery kinds.
const (
	DeliverInline    = "to a URL"
	DeliverDestLocal = "to a destination (first attempt local)"
	DeliverDestQueue = "to a destination with a rate (its queue)"
)

// DeliveryKindCell is one round's deliveries of one kind.
type DeliveryKindCell struct {
	Kind      string  `json:"kind"`
	Round     int     `json:"round"`
	Sent      int     `json:"sent"`
	Received  int     `json:"received"`
	PerSecond float64 `json:"perSecond"`
	// PerRun is Config.Counters' count per delivery (nil without it).
	PerRun map[string]float64 `json:"perRun,omitempty"`
}

// benchDestinations are the destinations the delivery kinds cell sends to:
// both at the bench's receiver, one with a rate far above what the machine
// reaches, so only where the attempts are made differs.
func benchDestinations(receiverBase string) []*flow.Destination {
	return []*flow.Destination{
		{Name: "bench-dest", BaseURL: receiverBase + "/"},
		{Name: "bench-dest-rated", BaseURL: receiverBase + "/", RateLimit: &flow.RateLimit{PerSecond: 100000}},
	}
}

// destFlows send one webhook each to the bench's destinations.
var destFlows = []string{`
id: bench-dest
trigger: {token: bench-dest-token-0000000000000}
steps: [{id: send, type: http, method: POST, destination: bench-dest, path: hook, body: {mode: all}}]
`, `
id: bench-dest-rated
trigger: {token: bench-dest-rated-token-000000000}
steps: [{id: send, type: http, method: POST, destination: bench-dest-rated, path: hook, body: {mode: all}}]
`}

// openDestinations opens a flow store in dir holding the bench's
// destinations, for the worker.
func openDestinations(ctx context.Context, dir, receiverBase string) (*store.Store, worker.Options, error) {
	st, err := store.Open(ctx, filepath.Join(dir, "hookflow.db"))
	if err != nil {
		return nil, worker.Options{}, err
	}
	ds := destinations.NewStore(st)
	for _, d := range benchDestinations(receiverBase) {
		if _, err := ds.Get(ctx, d.Name); err == nil {
			// A data directory used again (-dir): the receiver's address
			// is this process's.
			if err := ds.Delete(ctx, d.Name); err != nil {
				st.Close()
				return nil, worker.Options{}, fmt.Errorf("destination %s: %w", d.Name, err)
			}
		}
		if _, err := ds.Create(ctx, d); err != nil {
			st.Close()
			return nil, worker.Options{}, fmt.Errorf("destination %s: %w", d.Name, err)
		}
	}
	return st, worker.Options{DestinationStates: ds, Destinations: activities.NewDestinations(ds)}, nil
}

// measureDeliveryKinds sends cfg.Deliveries one-send runs of each kind in
// turn, rounds times, and logs each round and the medians.
func measureDeliveryKinds(ctx context.Context, cfg Config, t *target, client sdkclient.Client, id func(string) string, rounds int, logf func(string, ...any)) ([]DeliveryKindCell, error) {
	hooks := map[string]string{DeliverInline: t.hook["bench-deliver"], DeliverDestLocal: t.hook["bench-dest"], DeliverDestQueue: t.hook["bench-dest-rated"]}
	kinds := []string{DeliverInline, DeliverDestLocal, DeliverDestQueue, FloorDeliverLocal, FloorDeliverActivity}
	floors := map[string]string{FloorDeliverLocal: DeliverLocal, FloorDeliverActivity: DeliverActivity}
	var out []DeliveryKindCell
	for r := range rounds {
		for i := range kinds {
			// Each round starts with another kind, so none always runs
			// on the warmest (or coldest) server.
			kind := kinds[(i+r)%len(kinds)]
			var c DeliveryKindCell
			if how, ok := floors[kind]; ok {
				var err error
				if c, err = deliverFloor(ctx, cfg, t, client, id, how); err != nil {
					return out, err
				}
			} else {
				var errs []string
				if c, errs = deliverMany(ctx, t, hooks[kind], cfg.Deliveries); c.Sent == 0 && len(errs) > 0 {
					return out, fmt.Errorf("%s: every trigger failed, first: %s", kind, errs[0])
				}
			}
			c.Kind, c.Round = kind, r+1
			logf("deliveries %-42s round %d: %d triggered, %d received, %.1f/s", kind, r+1, c.Sent, c.Received, c.PerSecond)
			out = append(out, c)
		}
	}
	// Medians of the rates, and of each round's ratios (the kinds of one
	// round ran seconds apart, the rounds a minute).
	at := func(kind string, round int) float64 {
		for _, c := range out {
			if c.Kind == kind && c.Round == round {
				return c.PerSecond
			}
		}
		return 0
	}
	ratio := func(a, b string) float64 {
		var v []float64
		for r := 1; r <= rounds; r++ {
			if d := at(b, r); d > 0 {
				v = append(v, at(a, r)/d)
			}
		}
		return Median(v)
	}
	var parts []string
	for _, k := range kinds {
		var v []float64
		for r := 1; r <= rounds; r++ {
			v = append(v, at(k, r))
		}
		parts = append(parts, fmt.Sprintf("%s %.1f/s (%.2fx)", k, Median(v), ratio(k, DeliverInline)))
	}
	logf("deliveries, medians of %d rounds (x: median of the rounds' ratios to a URL's): %s", rounds, strings.Join(parts, "; "))
	logf("deliveries to a URL against the floor, medians of the rounds' ratios: %.2fx one local activity, %.2fx one activity", ratio(DeliverInline, FloorDeliverLocal), ratio(DeliverInline, FloorDeliverActivity))
	return out, nil
}

// deliverMany triggers n runs of a one-send flow and counts them at the
// receiver (sendAndCount); errors are the triggers answered otherwise than
// 2xx.
func deliverMany(ctx context.Context, t *target, hook string, n int) (DeliveryKindCell, []string) {
	return sendAndCount(ctx, t, n, func() error { return postJSON(hook, `{"n":1}`) })
}

// sendAndCount calls send n times from 32 callers, then waits until the
// receiver has counted as many more unique deliveries as sends succeeded
// (2 minutes at most); the rate counts from the first send to the last
// arrival. It returns the failed sends' errors.
func sendAndCount(ctx context.Context, t *target, n int, send func() error) (DeliveryKindCell, []string) {
	before := t.received()
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var sent atomic.Int64
	var mu sync.Mutex
	var errs []string
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := send(); err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
				return
			}
			sent.Add(1)
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	got := t.received() - before
	for int64(got) < sent.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		got = t.received() - before
	}
	return DeliveryKindCell{Sent: int(sent.Load()), Received: got, PerSecond: float64(got) / time.Since(start).Seconds()}, errs
}

// Delivery floors: the one-send workflow with nothing but its POST.
const (
	FloorDeliverActivity = "floor: one activity"
	FloorDeliverLocal    = "floor: one local activity"
)

// measureDeliveryFloors measures the delivery floor once: cfg.Deliveries
// one-send workflows of the floor with the POST as one activity on a queue
// of its own, then as many with it as one local activity.
func measureDeliveryFloors(ctx context.Context, cfg Config, t *target, c sdkclient.Client, id func(string) string, logf func(string, ...any)) ([]DeliveryKindCell, error) {
	var out []DeliveryKindCell
	for _, v := range []struct{ name, how string }{{FloorDeliverActivity, DeliverActivity}, {FloorDeliverLocal, DeliverLocal}} {
		cell, err := deliverFloor(ctx, cfg, t, c, id, v.how)
		if err != nil {
			return out, err
		}
		cell.Kind = v.name
		logf("deliveries %-42s %d started, %d received, %.1f/s", v.name, cell.Sent, cell.Received, cell.PerSecond)
		out = append(out, cell)
	}
	return out, nil
}

// deliverFloor starts cfg.Deliveries floor workflows (bench.Deliver: one
// POST to t.floorPostURL, made how), 32 at a time, as an api would (eager
// where its worker is in the same process, as hookflow dev's is), and
// times them until the receiver counted all; Counters' count per delivery
// is kept, the drain included.
func deliverFloor(ctx context.Context, cfg Config, t *target, c sdkclient.Client, id func(string) string, how string) (DeliveryKindCell, error) {
	var counted map[string]float64
	if cfg.Counters != nil {
		counted = cfg.Counters()
	}
	cell, _ := sendAndCount(ctx, t, cfg.Deliveries, func() error {
		key := id("floor-deliver")
		_, err := c.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{ID: key, TaskQueue: t.floorQueue, EnableEagerStart: t.eagerStarts != nil}, "bench.Deliver", how,
			PostRequest{URL: t.floorPostURL, Key: key, Body: []byte(`{"n":1}`)})
		return err
	})
	if err := drain(ctx, c); err != nil {
		return cell, err
	}
	if cfg.Counters != nil {
		cell.PerRun = perRun(counted, cfg.Counters(), cell.Received)
	}
	return cell, nil
}

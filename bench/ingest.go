package bench

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/worker"
)

// Scenario names of the ingest burst cells (issue #28).
const (
	FloorStartBurst = "floor: StartWorkflow burst"
	HookAsyncBurst  = "hookflow: async trigger burst"
)

// IngestCell is a burst of starts sent from Callers as fast as they are
// answered: how fast they are accepted, how long until every accepted run
// has completed, and whether any was lost, counted in visibility by the
// runs started since the burst began.
type IngestCell struct {
	Scenario string `json:"scenario"`
	Sent     int    `json:"sent"`
	Callers  int    `json:"callers"`
	// Accepted are the starts answered 2xx (the floor: without error);
	// Errors the others, FirstError the first of them.
	Accepted   int    `json:"accepted"`
	Errors     int    `json:"errors"`
	FirstError string `json:"firstError,omitempty"`
	// Accept latency (each start's answer) and rate (accepted over the
	// time from the first send to the last answer).
	AcceptP50ms     float64 `json:"acceptP50ms"`
	AcceptP99ms     float64 `json:"acceptP99ms"`
	AcceptPerSecond float64 `json:"acceptPerSecond"`
	AcceptSeconds   float64 `json:"acceptSeconds"`
	// DrainSeconds runs from the first send until visibility shows no run
	// of the burst open; CompletedPerSecond is Completed over it (runs
	// complete while the burst is still being accepted).
	DrainSeconds       float64 `json:"drainSeconds"`
	CompletedPerSecond float64 `json:"completedPerSecond"`
	// Started and Completed are the burst's runs in visibility; Lost are
	// accepted starts without a completed run (0 unless something is
	// wrong); Extra are runs beyond those accepted (a start answered with
	// an error may still have started its run).
	Started   int  `json:"started"`
	Completed int  `json:"completed"`
	Lost      int  `json:"lost"`
	Extra     int  `json:"extra"`
	TimedOut  bool `json:"drainTimedOut,omitempty"`
	// Eager counts the starts by how the flow worker answered eager start
	// (embedded only; nil when none asked, as the floor's).
	Eager *worker.EagerStarts `json:"eager,omitempty"`
}

// ingestDrainLimit bounds the wait for a burst's runs to complete.
const ingestDrainLimit = 5 * time.Minute

// measureIngest sends n starts from callers (each call one start) and
// waits until visibility shows every run matching query (started since
// the burst began) closed.
func measureIngest(ctx context.Context, t *target, name string, n, callers int, query string, call func(context.Context) error) (IngestCell, error) {
	c := t.c
	cell := IngestCell{Scenario: name, Sent: n, Callers: callers}
	eager0 := t.eagerNow()
	// Visibility's StartTime has the server's clock; the bench runs on the
	// same host (embedded, or the compose cluster).
	since := time.Now().UTC()
	scope := fmt.Sprintf("%s AND StartTime >= '%s'", query, since.Format(time.RFC3339Nano))
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	next := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	for range callers {
		wg.Go(func() {
			for range next {
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				t0 := time.Now()
				err := call(cctx)
				el := time.Since(t0)
				cancel()
				mu.Lock()
				if err != nil {
					cell.Errors++
					if cell.FirstError == "" {
						cell.FirstError = err.Error()
					}
				} else {
					lat = append(lat, el)
				}
				mu.Unlock()
			}
		})
	}
	for range n {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	accepted := time.Since(start)
	cell.Eager = t.eagerSince(eager0)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	cell.Accepted = len(lat)
	cell.AcceptP50ms, cell.AcceptP99ms = pct(lat, 0.50), pct(lat, 0.99)
	cell.AcceptSeconds = accepted.Seconds()
	cell.AcceptPerSecond = float64(cell.Accepted) / accepted.Seconds()

	count := func(q string) (int, error) {
		resp, err := c.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: q})
		return int(resp.GetCount()), err
	}
	deadline := time.Now().Add(ingestDrainLimit)
	for {
		running, err := count(scope + " AND ExecutionStatus = 'Running'")
		if err != nil {
			return cell, err
		}
		if cell.Completed, err = count(scope + " AND ExecutionStatus = 'Completed'"); err != nil {
			return cell, err
		}
		// Visibility writes a run's row after its start: an accepted run
		// not yet visible is neither running nor completed here.
		if running == 0 && cell.Completed >= cell.Accepted {
			break
		}
		if time.Now().After(deadline) {
			cell.TimedOut = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cell.DrainSeconds = time.Since(start).Seconds()
	cell.CompletedPerSecond = float64(cell.Completed) / cell.DrainSeconds
	var err error
	if cell.Started, err = count(scope); err != nil {
		return cell, err
	}
	cell.Lost = max(cell.Accepted-cell.Completed, 0)
	cell.Extra = max(cell.Started-cell.Accepted, 0)
	return cell, nil
}

// measureIngestBursts runs the floor's burst (StartWorkflow of a no-op)
// and hookflow's (async triggers over HTTP), each after the server has
// drained what came before.
func measureIngestBursts(ctx context.Context, cfg Config, t *target, id func(string) string, logf func(string, ...any)) ([]IngestCell, error) {
	callers := cfg.IngestCallers
	if callers < 1 {
		callers = 64
	}
	bursts := []struct {
		name, query string
		call        func(context.Context) error
	}{
		{FloorStartBurst, "WorkflowType = 'bench.NoopStart'", func(ctx context.Context) error {
			_, err := t.c.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{ID: id("floor-burst"), TaskQueue: t.floorQueue}, "bench.NoopStart")
			return err
		}},
		{HookAsyncBurst, fmt.Sprintf("%s = 'bench-async'", contract.SearchAttrFlowID.GetName()), func(context.Context) error {
			return postJSON(t.hook["bench-async"], `{"n":1}`)
		}},
	}
	var out []IngestCell
	for _, b := range bursts {
		if len(cfg.Only) > 0 && !slices.Contains(cfg.Only, b.name) {
			continue
		}
		if err := drain(ctx, t.c); err != nil {
			return nil, err
		}
		cell, err := measureIngest(ctx, t, b.name, cfg.IngestBurst, callers, b.query, b.call)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		logf("%-30s %d from %d callers: accepted %d (%.1f/s, p50 %.1f ms, p99 %.1f ms, errors %d), all done in %.1f s (%.1f/s completed), started %d, completed %d, lost %d, extra %d%s",
			cell.Scenario, cell.Sent, cell.Callers, cell.Accepted, cell.AcceptPerSecond, cell.AcceptP50ms, cell.AcceptP99ms, cell.Errors,
			cell.DrainSeconds, cell.CompletedPerSecond, cell.Started, cell.Completed, cell.Lost, cell.Extra, eagerNote(cell.Eager))
		if cell.TimedOut {
			logf("%s: runs still open after %s", cell.Scenario, ingestDrainLimit)
		}
		out = append(out, cell)
	}
	return out, nil
}

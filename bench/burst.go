package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/flow"
)

// measureBurst is the cell of issue #14's part 4: sync triggers at one
// caller while idle, then right after n async triggers of bench-burst
// (each leaves a workflow task a second after its start), then the same
// sync run started on the async queue right after another burst, as every
// sync run was before sync runs had a queue of their own. Ratios are to
// the idle p50 and p99 of the same round.
func measureBurst(ctx context.Context, c sdkclient.Client, hook map[string]string, n, rounds int, cell time.Duration, logf func(string, ...any)) ([]Ratio, error) {
	syncF, err := flow.DecodeYAML([]byte(syncFlow))
	if err != nil {
		return nil, err
	}
	var seq atomic.Int64
	var uwsOn func(context.Context, temporal.Priority) error
	burst := func() error {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		var failed atomic.Int64
		for range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if postJSON(hook["bench-burst"], `{}`) != nil {
					failed.Add(1)
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			return fmt.Errorf("burst: %d of %d triggers failed", failed.Load(), n)
		}
		return nil
	}
	syncTrigger := func(context.Context) error { return postJSON(hook["bench-sync"], `{"total":250}`) }
	onAsyncQueue := func(ctx context.Context) error { return uwsOn(ctx, temporal.Priority{}) }
	withPriority := func(ctx context.Context) error { return uwsOn(ctx, temporal.Priority{PriorityKey: 1}) }
	uwsOn = func(ctx context.Context, prio temporal.Priority) error {
		o := contract.StartOptions(syncF, 1, fmt.Sprintf("burst-%d-%d", time.Now().UnixNano(), seq.Add(1)))
		o.TaskQueue = contract.TaskQueue
		o.Priority = prio
		o.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
		op := c.NewWithStartWorkflowOperation(o, contract.WorkflowName, contract.Input{
			Flow: syncF, FlowVersion: 1, Engine: contract.CurrentEngine, Trigger: map[string]any{"body": map[string]any{"total": 250.0}, "query": map[string]any{}},
		})
		h, err := c.UpdateWithStartWorkflow(ctx, sdkclient.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op,
			UpdateOptions:          sdkclient.UpdateWorkflowOptions{UpdateID: o.ID, UpdateName: contract.UpdateResponse, WaitForStage: sdkclient.WorkflowUpdateStageCompleted},
		})
		if err != nil {
			return err
		}
		var resp contract.Response
		return h.Get(ctx, &resp)
	}
	cells := map[string][]Cell{}
	for r := range rounds {
		idle := measure(ctx, BIdle, 1, cell, syncTrigger)
		cells[BIdle] = append(cells[BIdle], idle)
		for _, v := range []struct {
			name string
			call func(context.Context) error
		}{{BAfter, syncTrigger}, {BSharedAfter, onAsyncQueue}, {BPriority, withPriority}} {
			if err := burst(); err != nil {
				return nil, err
			}
			got := measure(ctx, v.name, 1, cell, v.call)
			cells[v.name] = append(cells[v.name], got)
			logf("round %d  %-56s p50 %7.1f ms  p99 %8.1f ms (idle p99 %.1f ms)", r+1, v.name, got.P50ms, got.P99ms, idle.P99ms)
			if err := drain(ctx, c); err != nil {
				return nil, err
			}
		}
	}
	var out []Ratio
	for _, name := range []string{BIdle, BAfter, BSharedAfter, BPriority} {
		out = append(out, ratios(name, 1, cells[name], cells[BIdle], false))
	}
	return out, nil
}

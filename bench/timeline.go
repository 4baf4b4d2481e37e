package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/api/httpapi"
)

// Timeline is where one caller's sync runs spend their time, split at the
// events of their histories (stamped by the history service): the client
// until the start is recorded and after the run completed ("outside"),
// matching until a poller took the first workflow task ("dispatch"), and
// the worker's task until its completion was recorded ("worker"). Medians
// over the runs of a variant; the variants take turns run by run.
type Timeline struct {
	Name       string  `json:"name"`
	Runs       int     `json:"runs"`
	TotalMs    float64 `json:"totalMs"`
	OutsideMs  float64 `json:"outsideMs"`
	DispatchMs float64 `json:"dispatchMs"`
	WorkerMs   float64 `json:"workerMs"`
	// StartBytes is the size of the start event's attributes (input,
	// search attributes, memo, summary), CompleteBytes the completion's.
	StartBytes    int `json:"startBytes"`
	CompleteBytes int `json:"completeBytes"`
	Events        int `json:"events"`
}

// timelineVariant runs one sync run and returns its workflow id.
type timelineVariant struct {
	name string
	run  func(ctx context.Context) (string, error)
}

// measureTimelines runs n sequential runs of each variant, in turn, then
// reads their histories.
func measureTimelines(ctx context.Context, c sdkclient.Client, n int, variants []timelineVariant) ([]Timeline, error) {
	type sample struct {
		id    string
		total time.Duration
	}
	samples := make([][]sample, len(variants))
	for i := range n * len(variants) {
		v := i % len(variants)
		if (i/len(variants))%2 == 1 {
			v = len(variants) - 1 - v
		}
		t0 := time.Now()
		id, err := variants[v].run(ctx)
		if err != nil {
			return nil, fmt.Errorf("timeline %s: %w", variants[v].name, err)
		}
		samples[v] = append(samples[v], sample{id, time.Since(t0)})
	}
	var out []Timeline
	for v, runs := range samples {
		var total, outside, dispatch, worker, startB, completeB, events []float64
		for _, s := range runs {
			var started, taskStarted, taskCompleted time.Time
			var sb, cb, ev int
			it := c.GetWorkflowHistory(ctx, s.id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				e, err := it.Next()
				if err != nil {
					return nil, fmt.Errorf("timeline %s: history of %s: %w", variants[v].name, s.id, err)
				}
				ev++
				at := e.GetEventTime().AsTime()
				switch e.GetEventType() {
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
					started, sb = at, e.GetWorkflowExecutionStartedEventAttributes().Size()
				case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
					if taskStarted.IsZero() {
						taskStarted = at
					}
				case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
					if taskCompleted.IsZero() {
						taskCompleted = at
					}
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
					cb = e.GetWorkflowExecutionCompletedEventAttributes().Size()
				}
			}
			if started.IsZero() || taskStarted.IsZero() || taskCompleted.IsZero() {
				return nil, fmt.Errorf("timeline %s: %s has no completed workflow task", variants[v].name, s.id)
			}
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
			total = append(total, ms(s.total))
			outside = append(outside, ms(s.total-taskCompleted.Sub(started)))
			dispatch = append(dispatch, ms(taskStarted.Sub(started)))
			worker = append(worker, ms(taskCompleted.Sub(taskStarted)))
			startB, completeB, events = append(startB, float64(sb)), append(completeB, float64(cb)), append(events, float64(ev))
		}
		out = append(out, Timeline{Name: variants[v].name, Runs: len(runs), TotalMs: Median(total), OutsideMs: Median(outside),
			DispatchMs: Median(dispatch), WorkerMs: Median(worker), StartBytes: int(Median(startB)), CompleteBytes: int(Median(completeB)), Events: int(Median(events))})
	}
	return out, nil
}

// postForID posts body to url and returns the execution id the trigger
// answered with.
func postForID(url, body string) (string, error) {
	status, h, err := postJSONAnswer(url, body)
	if err != nil {
		return "", err
	}
	id := h.Get(httpapi.HeaderExecutionID)
	if id == "" || status == http.StatusAccepted {
		return "", fmt.Errorf("status %d without an execution id", status)
	}
	return id, nil
}

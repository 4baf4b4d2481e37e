//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
)

// schedEvery is the interval of scenario 7's schedule; schedOutage how long
// Temporal stays down in it (several nominal times fall into it).
const (
	schedEvery  = 2 * time.Second
	schedOutage = 15 * time.Second
	schedFlow   = "c7-sched"
	// schedRun starts the execution id of every run the schedule starts;
	// Temporal appends the nominal time.
	schedRun = schedFlow + ":schedule-tick-"
	// schedPath starts the receiver path each run sends to; the nominal
	// time follows.
	schedPath = "/ok/" + schedFlow + "/"
)

// The schedule's only trigger; each run sends its nominal time
// (trigger.scheduledAt) in the path, so the receiver's records say which
// nominal time each request belongs to.
var flowScheduled = fmt.Sprintf(`
id: %s
name: cluster schedule
schedules:
  - {id: tick, every: %s}
steps:
  - id: send
    type: http
    method: POST
    url: "http://receiver:8080%s{{ trigger.scheduledAt }}"
    body: {mode: keyValue, fields: {at: "{{ trigger.scheduledAt }}", mode: "{{ trigger.mode }}"}}
    timeouts: {connect: 2s, response: 10s}
    retry: {initialInterval: 1s, backoffCoefficient: 2, maximumInterval: 5s}
`, schedFlow, schedEvery, schedPath)

// 7. A schedule keeps firing across a Temporal restart and a rolling
// restart of both api replicas and both workers, and no nominal time runs
// twice: each appears in one run (the executions API), and reaches the
// receiver only with that run's delivery key (a delivery retried because
// its outcome was lost carries the same key, which the receiver may drop
// on; a second run would carry another).
func (c *Cluster) testScheduleAcrossRestarts(t *testing.T) {
	began := time.Now()
	a := c.admin(0, http.MethodPost, "/api/v1/flows", "application/yaml", flowScheduled)
	require.Equal(t, http.StatusCreated, a.status, a.String())
	require.Contains(t, a.body, `"kind":"create"`, "the write created the schedule: %s", a.body)
	deleted := false
	t.Cleanup(func() {
		// No schedule keeps firing into later scenarios.
		if !deleted {
			c.admin(0, http.MethodDelete, "/api/v1/flows/"+schedFlow, "", "")
		}
	})

	c.waitFired(t, began, 3, "the schedule fires")

	// Temporal down long enough for several nominal times to pass.
	down := time.Now()
	c.stop(c.temporal, 10*time.Second)
	time.Sleep(schedOutage)
	c.start(c.temporal)
	for _, api := range c.apis {
		c.waitReady(api, 3*time.Minute)
	}
	temporalBack := time.Now()
	t.Logf("temporal down at %s, answering again after %s", down.UTC().Format(time.TimeOnly), temporalBack.Sub(down).Round(100*time.Millisecond))
	c.waitFired(t, temporalBack, 3, "the schedule fires after the Temporal restart")

	rollBegan := time.Now()
	c.rollingRestart()
	rolled := time.Now()
	t.Logf("rolling restart of 2 apis and 2 workers took %s", rolled.Sub(rollBegan).Round(time.Second))
	c.waitFired(t, rolled, 3, "the schedule fires after the rolling restart")

	// Through the faults the schedule stayed one, in step with the store.
	a = c.admin(1, http.MethodGet, "/api/v1/flows/"+schedFlow+"/schedules", "", "")
	require.Equal(t, http.StatusOK, a.status, a.String())
	require.Contains(t, a.body, `"exists":true`, a.body)
	require.Contains(t, a.body, `"inStep":true`, a.body)
	require.Contains(t, a.body, `"paused":false`, a.body)
	// No api start rewrote or re-created it: the only change any replica
	// logged for it is the create of the first write.
	var changes []string
	for _, api := range c.apis {
		for _, line := range strings.Split(c.logs(api, 0), "\n") {
			if strings.Contains(line, "schedule reconciled") && strings.Contains(line, "hookflow:"+schedFlow+":tick") {
				changes = append(changes, api.name+": "+line)
			}
		}
	}
	require.Len(t, changes, 1, "changes the replicas made to the schedule:\n%s", strings.Join(changes, "\n"))
	require.Contains(t, changes[0], `"change":"create"`)

	// Stop it (deleting the flow deletes its schedule), let the runs in
	// flight finish, then count.
	a = c.admin(0, http.MethodDelete, "/api/v1/flows/"+schedFlow, "", "")
	require.Equal(t, http.StatusNoContent, a.status, a.String())
	deleted = true
	var runs []execution
	eventually(t, 2*time.Minute, time.Second, "every scheduled run completed", func() error {
		var err error
		if runs, err = c.executions(0, schedFlow); err != nil {
			return err
		}
		open := 0
		for _, e := range runs {
			if e.Status != "completed" {
				open++
			}
		}
		if open > 0 {
			return fmt.Errorf("%d of %d runs not completed", open, len(runs))
		}
		return nil
	})

	// Runs started: one execution per nominal time (its id carries it),
	// and one run of each id in Temporal's visibility (the executions
	// list keeps the current run of an id, so a second start of one
	// would not show there).
	byNominal := map[time.Time][]execution{}
	for _, e := range runs {
		require.True(t, strings.HasPrefix(e.ID, schedRun), "run %s was not started by the schedule", e.ID)
		nominal := parseNominal(t, strings.TrimPrefix(e.ID, schedRun))
		byNominal[nominal] = append(byNominal[nominal], e)
	}
	for nominal, es := range byNominal {
		require.Len(t, es, 1, "nominal time %s listed %d times: %+v", nominal.Format(time.RFC3339), len(es), es)
	}
	started := c.runsStarted(t, schedFlow)
	for id, n := range started {
		require.Equal(t, 1, n, "execution %s has %d runs", id, n)
		require.True(t, strings.HasPrefix(id, schedRun), "run %s was not started by the schedule", id)
		_, listed := byNominal[parseNominal(t, strings.TrimPrefix(id, schedRun))]
		require.True(t, listed, "run %s is not in the executions API", id)
	}
	require.Len(t, started, len(byNominal), "executions in visibility and in the executions API")

	// The receiver: every run's nominal time arrived, only ever with that
	// run's delivery key.
	recs := c.records(schedPath)
	keys := map[time.Time]map[string]int{}
	for _, r := range recs {
		nominal := parseNominal(t, strings.TrimPrefix(r.Path, schedPath))
		if keys[nominal] == nil {
			keys[nominal] = map[string]int{}
		}
		keys[nominal][r.Headers.Get("Idempotency-Key")]++
	}
	redelivered := 0
	for nominal, ks := range keys {
		require.Len(t, byNominal[nominal], 1, "a request for nominal time %s, which no run has", nominal.Format(time.RFC3339))
		require.Len(t, ks, 1, "nominal time %s reached the receiver under more than one key: %v", nominal.Format(time.RFC3339), ks)
		for _, n := range ks {
			if n > 1 {
				redelivered++
			}
		}
	}
	for nominal, es := range byNominal {
		e, err := c.execution(0, es[0].ID)
		require.NoError(t, err)
		require.Equal(t, "schedule", e.Mode, "run %s", e.ID)
		d := e.delivery(t, "send")
		require.Equal(t, 200, d.StatusCode, "run %s", e.ID)
		require.Contains(t, keys[nominal], d.DeliveryID, "run %s's delivery at the receiver (keys there: %v)", e.ID, keys[nominal])
	}

	// Firing went on after each fault (waitFired saw it at the receiver;
	// the runs say so too), and what Temporal's outage and the restarts
	// cost in nominal times is reported.
	nominals := make([]time.Time, 0, len(byNominal))
	for n := range byNominal {
		nominals = append(nominals, n)
	}
	sort.Slice(nominals, func(i, j int) bool { return nominals[i].Before(nominals[j]) })
	after := func(at time.Time) int {
		n := 0
		for _, x := range nominals {
			if x.After(at) {
				n++
			}
		}
		return n
	}
	assert.GreaterOrEqual(t, after(temporalBack), 3, "runs with nominal times after Temporal was back")
	assert.GreaterOrEqual(t, after(rolled), 3, "runs with nominal times after the rolling restart")
	var gaps []string
	for i := 1; i < len(nominals); i++ {
		if d := nominals[i].Sub(nominals[i-1]); d > schedEvery {
			gaps = append(gaps, fmt.Sprintf("%s→%s", nominals[i-1].Format(time.TimeOnly), nominals[i].Format(time.TimeOnly)))
		}
	}
	t.Logf("%d runs, one per nominal time, from %s to %s; %d requests at the receiver, %d nominal times delivered more than once under their one key; gaps (no run): %s",
		len(runs), nominals[0].Format(time.TimeOnly), nominals[len(nominals)-1].Format(time.TimeOnly), len(recs), redelivered, strings.Join(gaps, ", "))
}

// runsStarted counts the runs of each workflow id of a flow in Temporal's
// visibility.
func (c *Cluster) runsStarted(t *testing.T, flowID string) map[string]int {
	t.Helper()
	tc := c.temporalClient()
	defer tc.Close()
	out := map[string]int{}
	var token []byte
	for {
		resp, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("HookflowFlowId = %q", flowID), PageSize: 1000, NextPageToken: token,
		})
		require.NoError(t, err)
		for _, e := range resp.GetExecutions() {
			out[e.GetExecution().GetWorkflowId()]++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out
		}
	}
}

// waitFired waits until at least n nominal times later than since have
// reached the receiver.
func (c *Cluster) waitFired(t *testing.T, since time.Time, n int, what string) {
	t.Helper()
	started := time.Now()
	eventually(t, 2*time.Minute, 250*time.Millisecond, what, func() error {
		seen := map[time.Time]bool{}
		for _, r := range c.records(schedPath) {
			if at, err := time.Parse(time.RFC3339, strings.TrimPrefix(r.Path, schedPath)); err == nil && at.After(since) {
				seen[at] = true
			}
		}
		if len(seen) < n {
			return fmt.Errorf("%d of %d nominal times after %s at the receiver", len(seen), n, since.UTC().Format(time.TimeOnly))
		}
		return nil
	})
	t.Logf("%s: %d nominal times after %s at the receiver within %s", what, n, since.UTC().Format(time.TimeOnly), time.Since(started).Round(100*time.Millisecond))
}

// parseNominal reads a nominal time as the schedule writes it (RFC 3339,
// UTC, whole multiples of the interval).
func parseNominal(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err, "nominal time %q", s)
	require.Equal(t, at.Truncate(schedEvery), at, "nominal time %s is on the interval", s)
	return at.UTC()
}

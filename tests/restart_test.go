//go:build !nodev

package tests

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/worker"
)

// A run waiting in a delay survives a restart of the whole dev stack: the
// server's state is in the SQLite file, and the timer fires after the restart.
func TestRunResumesAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two more embedded servers")
	}
	db := filepath.Join(t.TempDir(), "temporal.db")
	const yaml = `
id: it-restart
trigger: {}
steps:
  - {id: before, type: set, values: {x: 1}}
  - {id: wait, type: delay, duration: 4s}
  - {id: after, type: set, values: {y: 2}}
`
	srv, c, err := startStack(db)
	require.NoError(t, err)
	w := worker.New(c, testDeliverer(), worker.Options{})
	require.NoError(t, w.Start())
	s := setupWith(t, c, yaml)
	a := post(t, s.hookURL("it-restart"), "application/json", `{}`)
	require.Equal(t, http.StatusOK, a.status, a.body)
	id := a.header.Get(api.HeaderExecutionID)
	// Wait until the run sits in its delay, then stop everything.
	require.Eventually(t, func() bool {
		v, err := c.QueryWorkflow(context.Background(), id, "", contract.QuerySteps)
		if err != nil {
			return false
		}
		var log contract.StepLog
		return v.Get(&log) == nil && len(log.Steps) == 2 && log.Steps[1].Status == contract.StatusRunning
	}, 10*time.Second, 50*time.Millisecond)
	w.Stop()
	c.Close()
	srv.Stop()

	srv, c, err = startStack(db)
	require.NoError(t, err)
	defer srv.Stop()
	defer c.Close()
	w = worker.New(c, testDeliverer(), worker.Options{})
	require.NoError(t, w.Start())
	defer w.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var res contract.RunResult
	require.NoError(t, c.GetWorkflow(ctx, id, "").Get(ctx, &res))
	require.Equal(t, "succeeded", res.Status)
	require.Equal(t, 3, res.StepsRun)
}

package workflows_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hookflow/hookflow/worker"
)

// recordedIDs are the execution ids of fixtures whose commands depend on
// it (tests/replay_test.go records them under these ids).
var recordedIDs = map[string]string{"composition.json": "it-composition:replay-4"}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// TestReplayRecordedHistories replays histories recorded from real runs on
// the embedded server (go test ./tests -run HistoriesReplay -record writes
// them). Runs started by older code must still replay with the current code:
// a change to the interpreter that alters the commands it issues for the same
// flow fails here, before it breaks runs in production.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories in testdata")
	logger := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			replayer := sdkworker.NewWorkflowReplayer()
			worker.Register(replayer)
			h, err := client.HistoryFromJSON(mustOpen(t, f), client.HistoryJSONOptions{})
			require.NoError(t, err)
			// A call step's child id names its parent: such histories
			// replay under the id they were recorded with.
			require.NoError(t, replayer.ReplayWorkflowHistoryWithOptions(logger, h, sdkworker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: recordedIDs[filepath.Base(f)]},
			}))
		})
	}
}

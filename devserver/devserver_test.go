//go:build !nodev

package devserver_test

import (
	"context"
	"database/sql"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	_ "modernc.org/sqlite"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/devserver"
)

// A port taken by someone else fails the start with a clear error after a
// bounded number of attempts (a collision on a port the server picked is
// retried with fresh ports; a fixed port stays fixed).
func TestStartFailsClearlyOnATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	start := time.Now()
	_, err = devserver.Start(devserver.Options{FrontendPort: l.Addr().(*net.TCPAddr).Port})
	require.ErrorContains(t, err, "address already in use")
	require.Less(t, time.Since(start), time.Minute)
}

func TestStartAndStop(t *testing.T) {
	srv, err := devserver.Start(devserver.Options{})
	require.NoError(t, err)
	require.NotEmpty(t, srv.FrontendAddress())
	srv.Stop()
}

// Retention is set on a new data directory and applied again to an
// existing one, so the flag is what holds.
func TestRetentionFollowsTheSetting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.db")
	retention := func(o devserver.Options) time.Duration {
		o.DatabaseFile = file
		srv, err := devserver.Start(o)
		require.NoError(t, err)
		defer srv.Stop()
		c, err := sdkclient.NewNamespaceClient(sdkclient.Options{HostPort: srv.FrontendAddress()})
		require.NoError(t, err)
		defer c.Close()
		d, err := c.Describe(context.Background(), srv.Namespace())
		require.NoError(t, err)
		return d.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration()
	}
	require.Equal(t, devserver.DefaultRetention, retention(devserver.Options{}))
	require.Equal(t, 72*time.Hour, retention(devserver.Options{Retention: 72 * time.Hour}))
	require.Equal(t, 72*time.Hour, retention(devserver.Options{Retention: 72 * time.Hour}))
	require.Equal(t, 2*time.Hour, retention(devserver.Options{Retention: 2 * time.Hour}))

	_, err := devserver.Start(devserver.Options{Retention: time.Minute})
	require.ErrorContains(t, err, "retention 1m0s: at least 1h")
}

// A database file keeps the visibility indexes hookflow's filters use and
// drops the others; filters on kept and dropped columns both still answer.
func TestLeanVisibilityIndexes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.db")
	srv, err := devserver.Start(devserver.Options{DatabaseFile: file, SearchAttributes: contract.SearchAttributeTypes()})
	require.NoError(t, err)
	c, err := sdkclient.Dial(sdkclient.Options{HostPort: srv.FrontendAddress()})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{
		ID: "lean-1", TaskQueue: "nobody-polls",
		TypedSearchAttributes: temporal.NewSearchAttributes(contract.SearchAttrFlowID.ValueSet("orders")),
	}, "Lean")
	require.NoError(t, err)
	for _, q := range []string{
		`HookflowFlowId = 'orders'`, `ExecutionStatus = 'Running'`, `WorkflowType = 'Lean'`,
		`WorkflowId = 'lean-1'`,
	} {
		require.Eventually(t, func() bool {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: q})
			return err == nil && len(resp.GetExecutions()) == 1
		}, 10*time.Second, 50*time.Millisecond, q)
	}
	// A closed run has a history length: a column whose index is dropped,
	// filtered by a scan.
	require.NoError(t, c.TerminateWorkflow(ctx, "lean-1", "", "done"))
	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: `HistoryLength >= 1`})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 10*time.Second, 50*time.Millisecond)
	c.Close()
	srv.Stop()

	db, err := sql.Open("sqlite", "file:"+file+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL`)
	require.NoError(t, err)
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	require.Contains(t, names, "default_idx")
	require.Contains(t, names, "by_status")
	require.NotContains(t, names, "by_history_length")
	require.NotContains(t, names, "by_temporal_worker_deployment")
	require.NotContains(t, names, "by_bool_01")
	// The default order and seven system columns, and one index per
	// custom search attribute, on the column the server gave it.
	require.Len(t, names, 8+len(contract.SearchAttributeTypes()))

	// Started again, the file keeps them (the filter still answers).
	srv, err = devserver.Start(devserver.Options{DatabaseFile: file, SearchAttributes: contract.SearchAttributeTypes()})
	require.NoError(t, err)
	c, err = sdkclient.Dial(sdkclient.Options{HostPort: srv.FrontendAddress()})
	require.NoError(t, err)
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: `HookflowFlowId = 'orders'`})
	require.NoError(t, err)
	require.Len(t, resp.GetExecutions(), 1)
	c.Close()
	srv.Stop()

	// FullVisibilityIndexes is the schema as Temporal ships it (a new file).
	full := filepath.Join(t.TempDir(), "temporal.db")
	srv, err = devserver.Start(devserver.Options{DatabaseFile: full, FullVisibilityIndexes: true})
	require.NoError(t, err)
	srv.Stop()
	fdb, err := sql.Open("sqlite", "file:"+full+"?mode=ro")
	require.NoError(t, err)
	defer fdb.Close()
	var n int
	require.NoError(t, fdb.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'executions_visibility' AND sql IS NOT NULL`).Scan(&n))
	require.Equal(t, 58, n)
}

// A data directory made before a search attribute existed gets it at the
// next start (Temporal's setup assigns them only to a new namespace), and
// runs that set it start and are found by it; those assigned before keep
// their columns, so existing runs stay findable.
func TestAnExistingDataDirectoryGetsTheSearchAttributesAddedSince(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.db")
	old := contract.SearchAttributeTypes()
	delete(old, contract.SearchAttrScheduleID.GetName())
	start := func(attrs map[string]enumspb.IndexedValueType) (*devserver.Server, sdkclient.Client) {
		srv, err := devserver.Start(devserver.Options{DatabaseFile: file, SearchAttributes: attrs})
		require.NoError(t, err)
		c, err := sdkclient.Dial(sdkclient.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace()})
		require.NoError(t, err)
		return srv, c
	}
	columns := func(c sdkclient.Client, ns string) map[string]enumspb.IndexedValueType {
		resp, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		require.NoError(t, err)
		return resp.GetCustomAttributes()
	}
	srv, c := start(old)
	before := columns(c, srv.Namespace())
	require.NotContains(t, before, contract.SearchAttrScheduleID.GetName())
	c.Close()
	srv.Stop()

	srv, c = start(contract.SearchAttributeTypes())
	defer srv.Stop()
	defer c.Close()
	after := columns(c, srv.Namespace())
	require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, after[contract.SearchAttrScheduleID.GetName()])
	for name, typ := range before {
		require.Equal(t, typ, after[name], name)
	}
	ctx := context.Background()
	_, err := c.ExecuteWorkflow(ctx, sdkclient.StartWorkflowOptions{ID: "sa-added", TaskQueue: "nobody",
		TypedSearchAttributes: temporal.NewSearchAttributes(contract.SearchAttrScheduleID.ValueSet("nightly"))}, "Nothing")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: `HookflowScheduleId = "nightly"`})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 10*time.Second, 100*time.Millisecond)
}

package devserver_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkclient "go.temporal.io/sdk/client"

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

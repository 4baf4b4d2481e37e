package devserver_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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

package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// On shutdown the API stops accepting connections but lets a request in
// flight (a sync trigger waiting for its answer) finish within the drain
// timeout.
func TestServeAPIDrainsRequestsInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	entered := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		time.Sleep(500 * time.Millisecond)
		_, _ = w.Write([]byte("answered"))
	})
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serveAPI(ctx, slog.New(slog.DiscardHandler), addr, h, 5*time.Second) }()
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)

	answer := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			answer <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		answer <- string(b)
	}()
	<-entered
	stop() // SIGTERM
	require.Equal(t, "answered", <-answer)
	require.NoError(t, <-served)
	_, err = net.Dial("tcp", addr)
	require.Error(t, err, "no longer listening")
}

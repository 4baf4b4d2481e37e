package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestProbe(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(status.Load()))
		_, _ = w.Write([]byte(`{"status":"x"}`))
	}))
	defer srv.Close()
	probe := func() error {
		cmd := rootCmd()
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetArgs([]string{"probe", srv.URL + "/readyz"})
		return cmd.Execute()
	}
	require.NoError(t, probe())
	status.Store(http.StatusServiceUnavailable)
	require.ErrorContains(t, probe(), "answered 503")
	srv.Close()
	require.ErrorContains(t, probe(), "probe:")
}

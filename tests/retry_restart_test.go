//go:build !nodev

package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow/devserver"
)

// A delivery waiting for its retry keeps its schedule when `hookflow dev` is
// killed (SIGKILL) and started again on the same data directory: the retry
// time is state of the Temporal server (the activity's next scheduled time
// and its retry timer, both in the SQLite file), set when the failure was
// recorded. The test kills a real `hookflow dev` process once, keeps it down
// for 2s, and starts it again, while three deliveries (retry.initialInterval
// 8s) are each in another phase:
//
//   - early: failed 1s before the kill; its retry falls due after the
//     restart and must come 8s after the failure, not sooner;
//   - late: failed 7s before the kill; its retry falls due while the process
//     is down and must come after the restart (>= 8s after the failure);
//   - inflight: the receiver holds the first attempt when the process dies.
//     No failure is recorded, so the attempt ends by its start-to-close
//     timeout (connect + response + 5s = 9s here) and the retry comes the
//     backoff (8s) after that: at least 17s after the attempt began.
//
// Each retry must also come at all (within 15s of when it is due).
//
// Without system.enableActivityRetryStampIncrement in the embedded server's
// dynamic config (devserver.DefaultDynamicConfig), early and late are retried
// the moment the restarted worker polls (early: 3.4s after its failure
// instead of 8s): the server replays the transfer task that dispatched the
// first attempt (that queue checkpoints every ~30s), and with an unchanged
// stamp nothing tells the replayed dispatch apart from the retry.
func TestPendingRetrySurvivesKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hookflow and runs `hookflow dev` twice as a subprocess")
	}
	const (
		interval = 8 * time.Second
		// timeouts {connect: 1s, response: 3s}: start-to-close 1+3+5s.
		responseTimeout = 3 * time.Second
		startToClose    = 9 * time.Second
		down            = 2 * time.Second
	)
	bin := buildHookflow(t)

	failFirst := func(n int, w http.ResponseWriter) {
		if n == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	early := newReceiver(t, failFirst)
	late := newReceiver(t, failFirst)
	// inflight holds its first request until the caller goes away (the
	// process is killed) or the test ends; later ones succeed.
	release := make(chan struct{})
	inflight := &receiver{}
	inflight.Server = httptest.NewServer(holdFirst(inflight, release))
	t.Cleanup(inflight.Close)
	t.Cleanup(func() { close(release) }) // runs before inflight.Close

	flows := t.TempDir()
	for name, url := range map[string]string{"early": early.URL, "late": late.URL, "inflight": inflight.URL} {
		yaml := fmt.Sprintf(`id: rr-%s
trigger: {token: %s}
steps:
  - {id: send, type: http, method: POST, url: "%s/", timeouts: {connect: 1s, response: 3s}, retry: {initialInterval: 8s}}
`, name, rrToken(name), url)
		require.NoError(t, os.WriteFile(filepath.Join(flows, name+".yaml"), []byte(yaml), 0o644))
	}
	dev := newDevProcess(t, bin, flows)

	dev.start()
	fire := func(name string) {
		a := post(t, dev.base+"/hooks/"+rrToken(name), "application/json", `{}`)
		require.Equal(t, http.StatusOK, a.status, a.body)
	}
	fire("late")
	lateFailed := awaitHit(t, late, 0, 15*time.Second)
	time.Sleep(time.Until(lateFailed.Add(6 * time.Second)))
	fire("early")
	fire("inflight")
	earlyFailed := awaitHit(t, early, 0, 15*time.Second)
	inflightStarted := awaitHit(t, inflight, 0, 15*time.Second)
	time.Sleep(time.Until(earlyFailed.Add(time.Second)))
	require.Len(t, early.all(), 1, "no retry before the kill")
	require.Len(t, late.all(), 1, "no retry before the kill")

	killed := dev.kill()
	// The worker would have ended the held attempt by itself after the
	// response timeout: the kill must come first for the case to hold.
	require.Less(t, killed.Sub(inflightStarted), responseTimeout-500*time.Millisecond, "the kill came too late for the in-flight case")
	time.Sleep(down)
	restarted := time.Now()
	dev.start()
	up := time.Now()
	t.Logf("SIGKILL: early %.3fs and late %.3fs into their %s backoff, inflight %.3fs into its attempt; down %s, restart took %.3fs",
		killed.Sub(earlyFailed).Seconds(), killed.Sub(lateFailed).Seconds(), interval,
		killed.Sub(inflightStarted).Seconds(), down, up.Sub(restarted).Seconds())

	// All three are measured before any verdict, so a failure shows every
	// number.
	check := func(name string, r *receiver, from time.Time, since string, want time.Duration) {
		t.Helper()
		due := maxTime(from.Add(want), up)
		second, ok := waitHit(r, 1, time.Until(due.Add(15*time.Second)))
		if !ok {
			t.Errorf("%s: the retry never came (waited until 15s after it was due)", name)
			return
		}
		gap := second.Sub(from)
		t.Logf("%s: second attempt %.3fs after the first attempt's %s (want >= %s); %.3fs after the kill, %.3fs after the restarted process was ready",
			name, gap.Seconds(), since, want, second.Sub(killed).Seconds(), second.Sub(up).Seconds())
		assert.GreaterOrEqual(t, gap, want, "%s: the retry came early", name)
	}
	check("early", early, earlyFailed, "failure", interval)
	check("late", late, lateFailed, "failure", interval)
	// The in-flight attempt was the local first attempt of the flow
	// worker: it recorded nothing, and the restarted worker makes it again
	// when it runs the workflow task again (same Idempotency-Key); with
	// --first-attempt-local=false it is an activity and waits out its
	// start-to-close timeout and the backoff (startToClose+interval).
	check("inflight", inflight, inflightStarted, "start", killed.Sub(inflightStarted)+down)
}

// holdFirst records every request like newReceiver's handler; it holds the
// first until the client disconnects or release is closed, and answers the
// others 204.
func holdFirst(r *receiver, release <-chan struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		n := len(r.hits)
		r.hits = append(r.hits, hit{at: time.Now(), header: req.Header.Clone()})
		r.mu.Unlock()
		if n == 0 {
			select {
			case <-req.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func rrToken(name string) string { return "retry-restart-" + name + "-0123456789abcdef" }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// awaitHit waits for the receiver's n-th request (0-based) and returns when
// it arrived.
func awaitHit(t *testing.T, r *receiver, n int, within time.Duration) time.Time {
	t.Helper()
	at, ok := waitHit(r, n, within)
	if !ok {
		t.Fatalf("request %d never came (waited %s; %d came)", n+1, within, len(r.all()))
	}
	return at
}

// waitHit is awaitHit that reports a timeout instead of failing.
func waitHit(r *receiver, n int, within time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(within)
	for {
		if h := r.all(); len(h) > n {
			return h[n].at, true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// buildHookflow builds the hookflow binary into a temporary directory,
// without symbols and DWARF: linking the Temporal server takes half as long.
func buildHookflow(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "hookflow")
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", bin, "../cmd/hookflow")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// devProcess is `hookflow dev` as a subprocess, restartable on the same data
// directory and ports.
type devProcess struct {
	t     *testing.T
	args  []string
	base  string
	log   *syncBuffer
	mu    sync.Mutex
	cmd   *exec.Cmd
	exits chan struct{}
}

func newDevProcess(t *testing.T, bin, flows string) *devProcess {
	port := func() string {
		p, err := devserver.FreePort("127.0.0.1")
		require.NoError(t, err)
		return strconv.Itoa(p)
	}
	addr := "127.0.0.1:" + port()
	d := &devProcess{
		t:    t,
		base: "http://" + addr,
		log:  &syncBuffer{},
		args: []string{bin, "dev", "--data", t.TempDir(), "--flows", flows, "--addr", addr,
			"--temporal-port", port(), "--ui-port", "0", "--allow-host", "127.0.0.1",
			"--log-level", "warn"},
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("hookflow dev output:\n%s", d.log.String())
		}
	})
	return d
}

// start runs the process and waits until its API is ready.
func (d *devProcess) start() {
	d.t.Helper()
	cmd := exec.Command(d.args[0], d.args[1:]...)
	cmd.Stdout, cmd.Stderr = d.log, d.log
	// If the test binary dies (a -timeout panic skips t.Cleanup), the
	// kernel kills the server with it: nothing is left running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(d.t, cmd.Start())
	exits := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exits) }()
	d.mu.Lock()
	d.cmd, d.exits = cmd, exits
	d.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exits:
			d.t.Fatalf("hookflow dev exited: %s", cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("hookflow dev not ready after a minute: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL, waits for the process to be gone and returns when it
// was killed.
func (d *devProcess) kill() time.Time {
	d.t.Helper()
	d.mu.Lock()
	cmd, exits := d.cmd, d.exits
	d.cmd = nil
	d.mu.Unlock()
	at := time.Now()
	require.NoError(d.t, cmd.Process.Kill())
	<-exits
	return at
}

// stop kills the process if it runs (cleanup).
func (d *devProcess) stop() {
	d.mu.Lock()
	cmd, exits := d.cmd, d.exits
	d.cmd = nil
	d.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		<-exits
	}
}

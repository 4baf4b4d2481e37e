package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"go.temporal.io/sdk/activity"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
)

// runExternal measures a running cluster (cfg.External): the floor's no-op
// workflows run on a worker of this process (FloorQueue), hookflow's flows
// on the cluster's workers, created through its admin API.
func runExternal(ctx context.Context, cfg Config) (*Results, error) {
	ext := cfg.External
	quiet := slog.New(slog.DiscardHandler)
	ns := ext.Namespace
	if ns == "" {
		ns = "default"
	}
	c, err := sdkclient.Dial(sdkclient.Options{HostPort: ext.TemporalAddress, Namespace: ns, Logger: sdklog.NewStructuredLogger(quiet)})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	w := sdkworker.New(c, FloorQueue, sdkworker.Options{})
	registerFloor(w)
	if err := w.Start(); err != nil {
		return nil, err
	}
	defer w.Stop()
	// The delivery floor's activity, on a queue of its own as hookflow's
	// sends are.
	pw := sdkworker.New(c, FloorPostQueue, sdkworker.Options{MaxConcurrentActivityExecutionSize: 200})
	pw.RegisterActivityWithOptions(floorPost, activity.RegisterOptions{Name: "bench.Post"})
	if err := pw.Start(); err != nil {
		return nil, err
	}
	defer pw.Stop()

	hook, err := externalHooks(ext)
	if err != nil {
		return nil, err
	}
	// Start from an empty record: a second run counts only its own.
	if resp, err := httpc.Post(ext.ReceiverURL+"/control/reset", "", nil); err == nil {
		resp.Body.Close()
	}
	cfg.Waiting = 0 // memory is the embedded process's figure
	return measureAll(ctx, cfg, &target{c: c, floorQueue: FloorQueue, hook: hook, received: func() int { return received(ext.ReceiverURL) },
		floorPostURL: strings.TrimRight(ext.ReceiverURL, "/") + "/ok/bench-deliver/floor"})
}

// externalHooks creates the bench's flows on the cluster (or reads them)
// and returns their trigger URLs by flow id.
func externalHooks(ext *External) (map[string]string, error) {
	deliverFlow := fmt.Sprintf(`
id: bench-deliver
trigger: {token: bench-deliver-token-00000000}
steps: [{id: send, type: http, method: POST, url: "%s/ok/bench-deliver", body: {mode: all}}]
`, strings.TrimRight(ext.ReceiverTarget, "/"))
	hook := map[string]string{}
	for id, y := range map[string]string{"bench-sync": syncFlow, "bench-async": asyncFlow, "bench-keyed": keyedFlow, "bench-deliver": deliverFlow, "bench-burst": burstFlow} {
		tok, err := ensureFlow(ext, id, y)
		if err != nil {
			return nil, err
		}
		hook[id] = strings.TrimRight(ext.APIURL, "/") + "/hooks/" + tok
	}
	return hook, nil
}

// LoadExternal sends n triggers to the cluster's api, sync, async and
// one-send flows in turn, from callers callers, waits until every run they
// started has closed (so what is measured next does not share the machine
// with their backlog), and returns how many were answered 2xx (the growth
// of `make bench-cluster -growth`).
func LoadExternal(ctx context.Context, ext *External, n, callers int) (int, error) {
	hook, err := externalHooks(ext)
	if err != nil {
		return 0, err
	}
	flows := []string{hook["bench-sync"], hook["bench-async"], hook["bench-deliver"]}
	var next, ok atomic.Int64
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				body := `{"n":1}`
				if i%3 == 0 {
					body = `{"total":250}`
				}
				if postJSON(flows[i%3], body) == nil {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	c, err := sdkclient.Dial(sdkclient.Options{HostPort: ext.TemporalAddress, Namespace: cmp.Or(ext.Namespace, "default"), Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return int(ok.Load()), err
	}
	defer c.Close()
	// The backlog drains at the completion rate: minutes, not the two a
	// cell's drain waits.
	for range 10 {
		if err = drain(ctx, c); err == nil {
			break
		}
	}
	return int(ok.Load()), err
}

// ensureFlow creates a flow through the admin API, or reads it when it
// exists, and returns its trigger token.
func ensureFlow(ext *External, id, yaml string) (string, error) {
	do := func(method, path, body string) (int, []byte, error) {
		req, err := http.NewRequest(method, strings.TrimRight(ext.APIURL, "/")+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+ext.APIKey)
		if body != "" {
			req.Header.Set("Content-Type", "application/yaml")
		}
		resp, err := httpc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	status, b, err := do(http.MethodPost, "/api/v1/flows", yaml)
	if err == nil && status == http.StatusConflict {
		status, b, err = do(http.MethodGet, "/api/v1/flows/"+id, "")
	}
	if err != nil {
		return "", fmt.Errorf("flow %s: %w", id, err)
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return "", fmt.Errorf("flow %s: %d %s", id, status, b)
	}
	var f struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Token == "" {
		return "", fmt.Errorf("flow %s: no token in %s", id, b)
	}
	return f.Token, nil
}

// received counts the distinct deliveries (Idempotency-Key) the receiver
// recorded.
func received(receiverURL string) int {
	resp, err := httpc.Get(receiverURL + "/control/records?path=/ok/bench-deliver")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var rs []struct {
		Headers http.Header `json:"headers"`
	}
	if json.NewDecoder(resp.Body).Decode(&rs) != nil {
		return 0
	}
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.Headers.Get("Idempotency-Key")] = true
	}
	return len(seen)
}

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

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
	// Start from an empty record: a second run counts only its own.
	if resp, err := httpc.Post(ext.ReceiverURL+"/control/reset", "", nil); err == nil {
		resp.Body.Close()
	}
	cfg.Waiting = 0 // memory is the embedded process's figure
	return measureAll(ctx, cfg, &target{c: c, floorQueue: FloorQueue, hook: hook, received: func() int { return received(ext.ReceiverURL) }})
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

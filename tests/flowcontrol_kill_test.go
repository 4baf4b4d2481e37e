//go:build !nodev

package tests

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// `hookflow dev` SIGKILLed with 200 events waiting across 4 keys
// (concurrency 1 each): after the restart every event runs, once, in its
// key's arrival order, and no two runs of a key overlap. A send in flight
// at the kill may reach the receiver twice (at least once, same event);
// nothing else may.
func TestKeyedEventsWaitingAcrossAKillRunOnceInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hookflow and runs `hookflow dev` twice as a subprocess")
	}
	bin := buildHookflow(t)
	rec := newKeyRecorder(t)
	const token = "fc-kill-token-0123456789abcdef"
	flows := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(flows, "keyed.yaml"), []byte(fmt.Sprintf(`id: fc-kill
trigger:
  token: %s
  flowControl: {key: "{{ trigger.body.key }}", concurrency: 1}
steps:
  - {id: begin, type: http, method: POST, url: "%s/start", body: {mode: keyValue, fields: {key: "{{ trigger.body.key }}", event: "{{ trigger.body.event }}"}}}
  - {id: hold, type: delay, duration: 100ms}
  - {id: finish, type: http, method: POST, url: "%s/end", body: {mode: keyValue, fields: {key: "{{ trigger.body.key }}", event: "{{ trigger.body.event }}"}}}
`, token, rec.URL, rec.URL)), 0o644))
	dev := newDevProcess(t, bin, flows)
	dev.start()

	const keys, perKey = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, keys)
	for k := 0; k < keys; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := 0; e < perKey; e++ {
				st, _, body, err := postJSON(dev.base+"/hooks/"+token, fmt.Sprintf(`{"key":"k%d","event":"k%d-%03d"}`, k, k, e))
				if err == nil && st != http.StatusOK {
					err = fmt.Errorf("status %d: %s", st, body)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	rec.mu.Lock()
	endedBefore := len(rec.ends)
	rec.mu.Unlock()
	require.Less(t, endedBefore, keys*perKey-20, "too few events were waiting at the kill for the case to hold")
	dev.kill()
	time.Sleep(time.Second)
	dev.start()
	t.Logf("SIGKILL with %d of %d events ended", endedBefore, keys*perKey)

	require.Eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.ends) == keys*perKey
	}, 3*time.Minute, 200*time.Millisecond, "not every event ended after the restart")
	time.Sleep(500 * time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Empty(t, rec.overlaps)
	twice := 0
	for ev, n := range rec.ends {
		require.LessOrEqual(t, n, 2, "event %s ended %d times", ev, n)
		if n == 2 {
			twice++
		}
	}
	require.LessOrEqual(t, twice, keys, "more repeated sends than events in flight at the kill")
	for k := 0; k < keys; k++ {
		key := fmt.Sprintf("k%d", k)
		var order []string
		for _, h := range rec.starts[key] {
			if len(order) == 0 || order[len(order)-1] != h.event {
				order = append(order, h.event)
			}
		}
		require.Len(t, order, perKey, "key %s: runs started %v", key, order)
		for e, ev := range order {
			require.Equal(t, fmt.Sprintf("k%d-%03d", k, e), ev, "key %s out of order", key)
		}
	}
}

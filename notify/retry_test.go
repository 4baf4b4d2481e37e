package notify

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkclient "go.temporal.io/sdk/client"

	"github.com/hookflow/hookflow/flow"
)

func TestEmitRetryWaitDoublesFromASecondUpTo30Seconds(t *testing.T) {
	var got []time.Duration
	for retry := 1; retry <= 8; retry++ {
		got = append(got, RetryWait(retry))
	}
	s := time.Second
	require.Equal(t, []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 30 * s, 30 * s}, got)
}

// unavailable is a Temporal client whose starts fail until up says
// otherwise; each start is counted.
type unavailable struct {
	sdkclient.Client
	mu     sync.Mutex
	starts int
	up     func(start int) bool
	ids    []string
}

func (u *unavailable) ExecuteWorkflow(_ context.Context, o sdkclient.StartWorkflowOptions, _ any, _ ...any) (sdkclient.WorkflowRun, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.starts++
	u.ids = append(u.ids, o.ID)
	if u.up(u.starts) {
		return nil, nil
	}
	return nil, errors.New("unavailable")
}

// fakeSleep is the retries' clock: a sleep moves now at once and is
// recorded.
type fakeSleep struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (f *fakeSleep) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeSleep) Sleep(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	f.now = f.now.Add(d)
}

func retryingNotifier(c *unavailable, log *slog.Logger) (*Emitter, *fakeSleep) {
	clk := &fakeSleep{now: time.Unix(1_800_000_000, 0)}
	n := New(Config{
		Client: c, Global: flow.NotifySetting{Destination: "ops", Events: []string{flow.EventDestinationPaused}}, Log: log,
		Now: clk.Now, Sleep: clk.Sleep,
	})
	return n, clk
}

func TestADestinationEventTemporalRefusesIsRetriedWithTheSameIDUntilTaken(t *testing.T) {
	c := &unavailable{up: func(start int) bool { return start == 4 }}
	n, clk := retryingNotifier(c, nil)
	since := time.UnixMilli(1_799_999_000_000)
	id := n.DestinationEvent(flow.EventDestinationPaused, "crm", since, nil)
	require.Equal(t, DestinationEventID("crm", flow.EventDestinationPaused, since), id)
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.starts == 4
	}, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // nothing more may come
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Equal(t, 4, c.starts, "the retries stop once Temporal takes it")
	for _, got := range c.ids {
		require.Equal(t, WorkflowID("ops", id), got)
	}
	clk.mu.Lock()
	defer clk.mu.Unlock()
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, clk.waits)
}

func TestADestinationEventIsGivenUpAfterTenMinutesAndSaysSo(t *testing.T) {
	c := &unavailable{up: func(int) bool { return false }}
	var logs bytes.Buffer
	var mu sync.Mutex
	n, clk := retryingNotifier(c, slog.New(slog.NewTextHandler(syncWriter{&mu, &logs}, nil)))
	n.DestinationEvent(flow.EventDestinationPaused, "crm", time.Time{}, nil)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return bytes.Contains(logs.Bytes(), []byte("notification not handed to Temporal; given up"))
	}, 5*time.Second, time.Millisecond)
	// 1+2+4+8+16 s, then 30 s each: past 10 minutes after 24 waits.
	clk.mu.Lock()
	defer clk.mu.Unlock()
	require.Len(t, clk.waits, 24)
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Equal(t, 25, c.starts, "the first emit and 24 retries")
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

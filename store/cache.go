package store

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookflow/hookflow/flow"
)

// Cache serves the API's flow lookups from memory: a snapshot of every flow,
// replaced as a whole on each refresh. A trigger lookup is a map read and
// never waits on the database. Writes made through this process refresh it
// at once; writes made by other replicas show within the TTL.
type Cache struct {
	store *Store
	ttl   time.Duration
	log   *slog.Logger
	snap  atomic.Pointer[snapshot]
	mu    sync.Mutex // one refresh at a time

	// Test seams: ticks replaces Run's ticker, and refreshed receives
	// the outcome of each refresh Run makes (a test signal).
	ticks     <-chan time.Time
	refreshed chan<- error
}

type snapshot struct {
	byToken map[string]*flow.Entry // enabled flows only
	byID    map[string]*flow.Entry
	// captures are the flows whose trigger URLs are armed to record
	// requests (package capture), until when.
	captures map[string]time.Time
}

// NewCache loads the snapshot once; Run keeps it fresh.
func NewCache(ctx context.Context, s *Store, ttl time.Duration, log *slog.Logger) (*Cache, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cache{store: s, ttl: ttl, log: log}
	if err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Refresh reloads the snapshot from the store.
func (c *Cache) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	flows, err := c.store.Flows().List(ctx)
	if err != nil {
		return err
	}
	arms, err := c.armed(ctx)
	if err != nil {
		return err
	}
	next := &snapshot{byToken: make(map[string]*flow.Entry, len(flows)), byID: make(map[string]*flow.Entry, len(flows)), captures: arms}
	for _, f := range flows {
		e := &flow.Entry{Flow: f.Def, Version: f.Version, Token: f.Token, Source: "store"}
		next.byID[f.ID] = e
		if f.Enabled {
			next.byToken[f.Token] = e
		}
	}
	c.snap.Store(next)
	return nil
}

// Run refreshes every TTL until ctx is done. A failed refresh keeps the
// previous snapshot (triggers keep working while the database is away).
func (c *Cache) Run(ctx context.Context) {
	ticks := c.ticks
	if ticks == nil {
		t := time.NewTicker(c.ttl)
		defer t.Stop()
		ticks = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			err := c.Refresh(ctx)
			if err != nil && ctx.Err() == nil {
				c.log.Warn("flow cache refresh failed; serving the previous snapshot", "error", err)
			}
			if c.refreshed != nil {
				c.refreshed <- err
			}
		}
	}
}

// armed reads the capture arms in force (capture_arms, written by package
// capture), each flow's until when: the one statement of capture's tables
// the store makes, since the cache lives here and capture imports store.
func (c *Cache) armed(ctx context.Context) (map[string]time.Time, error) {
	d := c.store.db
	rows, err := d.query(ctx, d.sql, `SELECT flow_id, until_ms FROM capture_arms WHERE remaining > 0 AND until_ms > $1`, d.now().UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var until int64
		if err := rows.Scan(&id, &until); err != nil {
			return nil, err
		}
		out[id] = time.UnixMilli(until).UTC()
	}
	return out, rows.Err()
}

// ByToken finds an enabled flow by trigger token.
func (c *Cache) ByToken(token string) (*flow.Entry, bool) {
	e, ok := c.snap.Load().byToken[token]
	return e, ok
}

// CaptureArmed reports whether the flow's trigger URL may be armed to
// record requests (a memory read; the store decides, capture.Store.Take).
func (c *Cache) CaptureArmed(flowID string, now time.Time) bool {
	until, ok := c.snap.Load().captures[flowID]
	return ok && now.Before(until)
}

// ByID finds a flow, enabled or not.
func (c *Cache) ByID(id string) (*flow.Entry, bool) {
	e, ok := c.snap.Load().byID[id]
	return e, ok
}

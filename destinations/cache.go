package destinations

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hookflow/hookflow/contract"
	"github.com/hookflow/hookflow/store"
)

// Getter is where the cache reads destinations: the flow store (*Store).
type Getter interface {
	Get(ctx context.Context, name string) (*Destination, error)
}

// cacheTTL is how long a worker reuses a destination it read: a change
// reaches every attempt that starts this long after it.
const cacheTTL = time.Second

// Cache reads destinations from the flow store for the worker's attempts
// (base URL, auth, headers) and for the policy a delivery starts with,
// keeping each for cacheTTL.
type Cache struct {
	store Getter
	mu    sync.Mutex
	cache map[string]cached
	now   func() time.Time // time.Now; tests move it
}

type cached struct {
	d  *Destination
	at time.Time
}

// serves tells whether a destination read at c.at answers a lookup at now
// for minVersion: read less than cacheTTL ago and at least at that
// version; a negative minVersion (a delivery starting) always reads the
// store.
func (c cached) serves(now time.Time, minVersion int64) bool {
	return now.Sub(c.at) < cacheTTL && c.d.Version >= minVersion && minVersion >= 0
}

// NewCache reads destinations from st (nil: no store; lookups then fail,
// naming --store).
func NewCache(st Getter) *Cache {
	return &Cache{store: st, cache: map[string]cached{}, now: time.Now}
}

// ErrNoStore is a lookup without the flow store: not retried.
var ErrNoStore = temporal.NewNonRetryableApplicationError(
	"deliveries to destinations need the flow store: start the worker with --store (or HOOKFLOW_STORE), the store the API uses",
	contract.ErrStoreUnavailable, nil)

// Lookup returns a destination, read at most cacheTTL ago and at least at
// minVersion (the version its delivery started with; negative: read the
// store now). Errors are Temporal application errors: a destination that
// does not exist is not retried, a store that does not answer is.
func (c *Cache) Lookup(ctx context.Context, name string, minVersion int64) (*Destination, error) {
	if c == nil || c.store == nil {
		return nil, ErrNoStore
	}
	c.mu.Lock()
	e, ok := c.cache[name]
	c.mu.Unlock()
	if ok && e.serves(c.now(), minVersion) {
		return e.d, nil
	}
	got, err := c.store.Get(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("destination %q does not exist (deleted after the flow was applied?)", name), contract.ErrNoDestination, nil)
	}
	if err != nil {
		return nil, temporal.NewApplicationError(fmt.Sprintf("destination %q: the flow store could not be read: %v", name, err), contract.ErrStoreUnavailable)
	}
	c.mu.Lock()
	c.cache[name] = cached{d: got, at: c.now()}
	c.mu.Unlock()
	return got, nil
}

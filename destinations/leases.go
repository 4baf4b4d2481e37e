package destinations

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hookflow/hookflow/store"
)

// A destination's maxInFlight across every worker (issue 27): an attempt
// holds one of maxInFlight leases in the flow store while it sends. The
// gate takes one (supervisor.go), the attempt's end gives it back
// whatever its outcome, and a lease its worker never gave back (killed,
// cut from the database) expires a little after the attempt's own
// timeout (leaseTTL), when any worker may take its slot again.

// Lease is a lease an attempt holds: its slot (0 .. maxInFlight-1) and
// its holder (unique per attempt, so a late release never frees a slot
// another attempt took over after expiry).
type Lease struct {
	Name   string
	Slot   int64
	Holder string
}

// takeLease is one conditional upsert: it walks the slots from off
// (0 .. max-1, wrapping) and inserts the first that holds no live lease,
// or takes it over when its lease expired. Two workers that pick the same
// free slot at the same moment conflict on the primary key: PostgreSQL
// makes the second wait for the first and then finds the slot live (its
// WHERE refuses), SQLite has one writer at a time; either way the second
// takes nothing and the caller tries again later. Starting each attempt
// at a random slot keeps such collisions rare.
const takeLease = `WITH RECURSIVE slots(k) AS (
 SELECT 0 UNION ALL SELECT k + 1 FROM slots WHERE k + 1 < CAST($4 AS BIGINT)
)
INSERT INTO destination_leases AS l (name, slot, holder, taken_at, expires_at)
SELECT CAST($1 AS TEXT), (k + CAST($3 AS BIGINT)) % CAST($4 AS BIGINT), CAST($2 AS TEXT), CAST($5 AS BIGINT), CAST($6 AS BIGINT) FROM slots
WHERE NOT EXISTS (SELECT 1 FROM destination_leases x WHERE x.name = $1 AND x.slot = (k + CAST($3 AS BIGINT)) % CAST($4 AS BIGINT) AND x.expires_at > CAST($5 AS BIGINT))
LIMIT 1
ON CONFLICT (name, slot) DO UPDATE SET holder = excluded.holder, taken_at = excluded.taken_at, expires_at = excluded.expires_at
WHERE l.expires_at <= excluded.taken_at
RETURNING slot`

// TakeLease takes one of a destination's max leases for holder, expiring
// ttl from now on the store's clock, in one conditional write; ok false
// when all max are held by live leases (or another worker took the free
// one at the same moment). The caller gives it back with ReleaseLease.
func (s *Store) TakeLease(ctx context.Context, name, holder string, max int, ttl time.Duration) (Lease, bool, error) {
	if max <= 0 {
		return Lease{}, false, fmt.Errorf("destination %q: a lease needs maxInFlight of at least 1, not %d", name, max)
	}
	now := s.now().UnixMilli()
	var slot int64
	err := s.db.QueryRow(ctx, nil, takeLease, name, holder, rand.IntN(max), max, now, now+ttl.Milliseconds()).Scan(&slot)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Lease{}, false, nil
	case err != nil && store.IsForeignKeyViolation(err):
		return Lease{}, false, fmt.Errorf("destination %q: %w", name, store.ErrNotFound)
	case err != nil:
		return Lease{}, false, err
	}
	return Lease{Name: name, Slot: slot, Holder: holder}, true, nil
}

// ReleaseLease gives a lease back (a lease that expired and was taken
// over by another attempt is that attempt's now: left alone).
func (s *Store) ReleaseLease(ctx context.Context, l Lease) error {
	_, err := s.db.Exec(ctx, nil, `DELETE FROM destination_leases WHERE name = $1 AND slot = $2 AND holder = $3`, l.Name, l.Slot, l.Holder)
	return err
}

// LiveLeases counts a destination's leases that have not expired: the
// attempts in flight to it across every worker.
func (s *Store) LiveLeases(ctx context.Context, name string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, nil, `SELECT COUNT(*) FROM destination_leases WHERE name = $1 AND expires_at > $2`, name, s.now().UnixMilli()).Scan(&n)
	return n, err
}

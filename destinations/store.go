package destinations

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookflow/hookflow/flow"
	"github.com/hookflow/hookflow/flow/field"
	"github.com/hookflow/hookflow/store"
)

// Store is the destinations (versioned definitions) and the operational
// state every worker shares: pause, circuit breaker, failure window,
// period limit windows and the leases of maxInFlight (leases.go). Its tables are in the store's one migration
// sequence (store/migrations/0004*); its statements run on the store's
// one handle. Errors wrap store.ErrNotFound, ErrExists and ErrConflict,
// as every store type's do.
type Store struct {
	db  *store.Handle
	now func() time.Time // the store's clock; tests move it
}

// NewStore is the destinations of st.
func NewStore(st *store.Store) *Store {
	h := st.Handle()
	return &Store{db: h, now: h.Now}
}

// Circuit states of a destination.
const (
	CircuitClosed = "closed"
	CircuitOpen   = "open"
)

// Destination is a stored destination at its current version, with the
// state every worker reads (paused, circuit breaker).
type Destination struct {
	Name      string            `json:"name"`
	Version   int64             `json:"version"`
	Def       *flow.Destination `json:"definition"`
	State     State             `json:"state"`
	CreatedAt time.Time         `json:"createdAt"`
	UpdatedAt time.Time         `json:"updatedAt"`
}

// Version is one immutable version of a destination.
type Version struct {
	Name      string            `json:"name"`
	Version   int64             `json:"version"`
	Def       *flow.Destination `json:"definition"`
	CreatedAt time.Time         `json:"createdAt"`
}

// State is a destination's operational state, apart from its
// definition (changing it makes no version).
type State struct {
	Paused      bool       `json:"paused"`
	PausedAt    *time.Time `json:"pausedAt,omitempty"`
	PauseReason string     `json:"pauseReason,omitempty"`
	// Circuit is closed or open. While open, deliveries park in the
	// destination's task queue and one probe goes out at NextProbeAt.
	Circuit             string     `json:"circuit"`
	ConsecutiveFailures int64      `json:"consecutiveFailures"`
	OpenedAt            *time.Time `json:"openedAt,omitempty"`
	NextProbeAt         *time.Time `json:"nextProbeAt,omitempty"`
	LastError           string     `json:"lastError,omitempty"`
	// The worker that holds the current probe, when it took it, and
	// whether its one delivery has gone out.
	ProbeOwner     string    `json:"-"`
	ProbeClaimedAt time.Time `json:"-"`
	ProbeStarted   bool      `json:"-"`
	// FailureWindow is the failure-rate window's current counts (with
	// circuitBreaker.failureRate only).
	FailureWindow *FailureWindowUsage `json:"failureWindow,omitempty"`
	// Limits is each period limit's use in its current window; while one
	// is used up, deliveries park until LimitedUntil (the latest end of a
	// used-up window).
	Limits       []LimitUsage `json:"limits,omitempty"`
	LimitedUntil *time.Time   `json:"limitedUntil,omitempty"`
	// Status is why deliveries park, or "closed" when they go out:
	// paused, open (circuit), limited (a period's limit is used up).
	Status string `json:"status"`
}

// Destination statuses (State.Status, and the state gauge's values).
const (
	StatusClosed  = "closed"
	StatusOpen    = "open"
	StatusPaused  = "paused"
	StatusLimited = "limited"
)

// LimitUsage is one period limit's use in its current window.
type LimitUsage struct {
	Per      field.Duration `json:"per"`
	Max      int64          `json:"max"`
	Used     int64          `json:"used"`
	ResetsAt time.Time      `json:"resetsAt"`
}

// FailureWindowUsage is the failure-rate window's counts.
type FailureWindowUsage struct {
	Requests int64     `json:"requests"`
	Failures int64     `json:"failures"`
	ResetsAt time.Time `json:"resetsAt"`
}

func destinationDef(d *flow.Destination) (string, string) {
	b, _ := json.Marshal(d)
	sum := sha256.Sum256(b)
	return string(b), hex.EncodeToString(sum[:])
}

func invalidDestination(d *flow.Destination) error {
	if errs := d.Check(); len(errs) > 0 {
		return &flow.DestinationError{Errors: errs}
	}
	return nil
}

// Create stores a new destination at version 1.
func (s *Store) Create(ctx context.Context, d *flow.Destination) (*Destination, error) {
	if err := invalidDestination(d); err != nil {
		return nil, err
	}
	def, digest := destinationDef(d)
	now := s.now().UnixMilli()
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := s.db.QueryRow(ctx, tx, `SELECT COUNT(*) FROM destinations WHERE name = $1`, d.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("destination %q: %w", d.Name, store.ErrExists)
		}
		if _, err := s.db.Exec(ctx, tx, `INSERT INTO destinations (name, version, definition, digest, created_at, updated_at) VALUES ($1, 1, $2, $3, $4, $4)`, d.Name, def, digest, now); err != nil {
			return err
		}
		if _, err := s.db.Exec(ctx, tx, `INSERT INTO destination_versions (name, version, definition, created_at) VALUES ($1, 1, $2, $3)`, d.Name, def, now); err != nil {
			return err
		}
		_, err := s.db.Exec(ctx, tx, `INSERT INTO destination_state (name, updated_at) VALUES ($1, $2)`, d.Name, now)
		return err
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			return nil, fmt.Errorf("destination %q: %w", d.Name, store.ErrExists)
		}
		return nil, err
	}
	return s.Get(ctx, d.Name)
}

// Update stores d as a new version. ifVersion, when not zero,
// must be the current version (else ErrConflict). An unchanged definition
// makes no version.
func (s *Store) Update(ctx context.Context, d *flow.Destination, ifVersion int64) (*Destination, bool, error) {
	if err := invalidDestination(d); err != nil {
		return nil, false, err
	}
	def, digest := destinationDef(d)
	now := s.now().UnixMilli()
	changed := false
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var cur int64
		var curDigest string
		err := s.db.QueryRow(ctx, tx, `SELECT version, digest FROM destinations WHERE name = $1`, d.Name).Scan(&cur, &curDigest)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("destination %q: %w", d.Name, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != cur {
			return fmt.Errorf("destination %q is at version %d, not %d: %w", d.Name, cur, ifVersion, store.ErrConflict)
		}
		if digest == curDigest {
			return nil
		}
		changed = true
		if _, err := s.db.Exec(ctx, tx, `INSERT INTO destination_versions (name, version, definition, created_at) VALUES ($1, $2, $3, $4)`, d.Name, cur+1, def, now); err != nil {
			return err
		}
		res, err := s.db.Exec(ctx, tx, `UPDATE destinations SET version = $1, definition = $2, digest = $3, updated_at = $4 WHERE name = $5 AND version = $6`, cur+1, def, digest, now, d.Name, cur)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("destination %q changed concurrently: %w", d.Name, store.ErrConflict)
		}
		return nil
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			return nil, false, fmt.Errorf("destination %q changed concurrently: %w", d.Name, store.ErrConflict)
		}
		return nil, false, err
	}
	got, err := s.Get(ctx, d.Name)
	return got, changed, err
}

const selectDestination = `SELECT d.name, d.version, d.definition, d.created_at, d.updated_at,
 s.paused, s.paused_at, s.pause_reason, s.circuit, s.consecutive_failures, s.opened_at, s.next_probe_at,
 s.probe_owner, s.probe_claimed_at, s.probe_started, s.last_error,
 s.rate_window_start, s.rate_requests, s.rate_failures
FROM destinations d JOIN destination_state s ON s.name = d.name`

func scanDestination(r interface{ Scan(...any) error }) (*Destination, error) {
	var d Destination
	var def string
	var created, updated, pausedAt, openedAt, nextProbe, claimedAt int64
	var rateStart, rateRequests, rateFailures int64
	st := &d.State
	if err := r.Scan(&d.Name, &d.Version, &def, &created, &updated,
		&st.Paused, &pausedAt, &st.PauseReason, &st.Circuit, &st.ConsecutiveFailures, &openedAt, &nextProbe,
		&st.ProbeOwner, &claimedAt, &st.ProbeStarted, &st.LastError,
		&rateStart, &rateRequests, &rateFailures); err != nil {
		return nil, err
	}
	d.Def = &flow.Destination{}
	if err := json.Unmarshal([]byte(def), d.Def); err != nil {
		return nil, fmt.Errorf("destination %q version %d: stored definition: %w", d.Name, d.Version, err)
	}
	d.CreatedAt, d.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	st.PausedAt, st.OpenedAt, st.NextProbeAt = msTime(pausedAt), msTime(openedAt), msTime(nextProbe)
	if claimedAt > 0 {
		st.ProbeClaimedAt = time.UnixMilli(claimedAt).UTC()
	}
	if w := d.Def.RateWindow(); w.Rate > 0 {
		u := &FailureWindowUsage{ResetsAt: time.UnixMilli(rateStart + w.Window.Milliseconds()).UTC()}
		if rateStart > 0 {
			u.Requests, u.Failures = rateRequests, rateFailures
		}
		st.FailureWindow = u
	}
	return &d, nil
}

// limitWindows reads the stored period windows of one destination (name)
// or of all ("").
func (s *Store) limitWindows(ctx context.Context, name string) (map[string][]limitWindow, error) {
	q, args := `SELECT name, period_ms, window_start, used FROM destination_limit_windows`, []any{}
	if name != "" {
		q, args = q+` WHERE name = $1`, append(args, name)
	}
	rows, err := s.db.Query(ctx, nil, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]limitWindow{}
	for rows.Next() {
		var n string
		var w limitWindow
		if err := rows.Scan(&n, &w.periodMS, &w.start, &w.used); err != nil {
			return nil, err
		}
		out[n] = append(out[n], w)
	}
	return out, rows.Err()
}

func msTime(ms int64) *time.Time {
	if ms == 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

// Get returns a destination at its current version, with its
// state.
func (s *Store) Get(ctx context.Context, name string) (*Destination, error) {
	d, err := scanDestination(s.db.QueryRow(ctx, nil, selectDestination+` WHERE d.name = $1`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("destination %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var windows map[string][]limitWindow
	if len(d.Def.Limits) > 0 {
		if windows, err = s.limitWindows(ctx, name); err != nil {
			return nil, err
		}
	}
	withLimits(d, windows[name], s.now())
	return d, nil
}

// List returns every destination, sorted by name.
func (s *Store) List(ctx context.Context) ([]*Destination, error) {
	rows, err := s.db.Query(ctx, nil, selectDestination+` ORDER BY d.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Destination{}
	limited := false
	for rows.Next() {
		d, err := scanDestination(rows)
		if err != nil {
			return nil, err
		}
		limited = limited || len(d.Def.Limits) > 0
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	// Period windows only when some destination has limits: one more
	// statement per read then, none otherwise.
	var windows map[string][]limitWindow
	if limited {
		if windows, err = s.limitWindows(ctx, ""); err != nil {
			return nil, err
		}
	}
	now := s.now()
	for _, d := range out {
		withLimits(d, windows[d.Name], now)
	}
	return out, nil
}

// Versions lists a destination's versions, oldest first.
func (s *Store) Versions(ctx context.Context, name string) ([]*Version, error) {
	rows, err := s.db.Query(ctx, nil, `SELECT name, version, definition, created_at FROM destination_versions WHERE name = $1 ORDER BY version`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Version
	for rows.Next() {
		var v Version
		var def string
		var created int64
		if err := rows.Scan(&v.Name, &v.Version, &def, &created); err != nil {
			return nil, err
		}
		v.Def = &flow.Destination{}
		if err := json.Unmarshal([]byte(def), v.Def); err != nil {
			return nil, err
		}
		v.CreatedAt = time.UnixMilli(created).UTC()
		out = append(out, &v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("destination %q: %w", name, store.ErrNotFound)
	}
	return out, nil
}

// Delete removes a destination, its versions and state.
// Deliveries still queued for it fail when their attempt finds it gone.
func (s *Store) Delete(ctx context.Context, name string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM destination_leases WHERE name = $1`, `DELETE FROM destination_limit_windows WHERE name = $1`, `DELETE FROM destination_state WHERE name = $1`, `DELETE FROM destination_versions WHERE name = $1`} {
			if _, err := s.db.Exec(ctx, tx, q, name); err != nil {
				return err
			}
		}
		res, err := s.db.Exec(ctx, tx, `DELETE FROM destinations WHERE name = $1`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("destination %q: %w", name, store.ErrNotFound)
		}
		return nil
	})
}

func (s *Store) updateState(ctx context.Context, name, query string, args ...any) (*Destination, error) {
	res, err := s.db.Exec(ctx, nil, query, args...)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("destination %q: %w", name, store.ErrNotFound)
	}
	return s.Get(ctx, name)
}

// Pause pauses (or, with paused false, resumes) a destination:
// while paused no worker polls its task queue, so its deliveries wait
// there, neither failed nor attempted. Pausing a paused destination keeps
// when its pause began (the pause notification's id derives from it: a
// second pause is not a second event), and takes the new reason.
func (s *Store) Pause(ctx context.Context, name string, paused bool, reason string) (*Destination, error) {
	now := s.now().UnixMilli()
	at := int64(0)
	if paused {
		at = now
	} else {
		reason = ""
	}
	return s.updateState(ctx, name,
		`UPDATE destination_state SET paused_at = CASE WHEN paused AND $1 THEN paused_at ELSE $2 END, paused = $1, pause_reason = $3, updated_at = $4 WHERE name = $5`,
		paused, at, reason, now, name)
}

// ResetCircuit closes a destination's circuit by hand.
func (s *Store) ResetCircuit(ctx context.Context, name string) (*Destination, error) {
	return s.updateState(ctx, name,
		`UPDATE destination_state SET circuit = 'closed', consecutive_failures = 0, opened_at = 0, next_probe_at = 0, probe_owner = '', probe_started = FALSE, `+resetRateWindow+`, updated_at = $1 WHERE name = $2`,
		s.now().UnixMilli(), name)
}

// Circuit transitions RecordOutcome and RecordWindowOutcome report.
const (
	TransitionOpened = "opened"
	TransitionClosed = "closed"
)

// resetRateWindow clears the failure-rate window: when the circuit opens
// or closes, counting starts again.
const resetRateWindow = `rate_window_start = 0, rate_requests = 0, rate_failures = 0`

// openCircuit opens a closed circuit: one worker's statement wins.
const openCircuit = `UPDATE destination_state SET circuit = 'open', opened_at = $1, next_probe_at = $2, probe_owner = '', probe_started = FALSE, ` + resetRateWindow + ` WHERE name = $3 AND circuit = 'closed'`

// RecordOutcome records one attempt's outcome for the circuit breaker and
// reports a transition ("opened", "closed" or ""). A success closes the
// circuit and clears the failure count; a failure counts, and the one that
// reaches failures opens the circuit (one worker wins the transition); a
// failed probe sets the next one probeInterval away. Each step is one
// conditional statement, so concurrent workers on either database never
// lose a count or open twice.
func (s *Store) RecordOutcome(ctx context.Context, name string, ok, probe bool, failures int, probeInterval time.Duration, lastError string) (string, error) {
	now := s.now()
	ms := now.UnixMilli()
	if ok {
		res, err := s.db.Exec(ctx, nil, `UPDATE destination_state SET circuit = 'closed', consecutive_failures = 0, opened_at = 0, next_probe_at = 0, probe_owner = '', probe_started = FALSE, last_error = '', `+resetRateWindow+`, updated_at = $1 WHERE name = $2 AND circuit = 'open'`, ms, name)
		if err != nil {
			return "", err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return TransitionClosed, nil
		}
		_, err = s.db.Exec(ctx, nil, `UPDATE destination_state SET consecutive_failures = 0, updated_at = $1 WHERE name = $2 AND consecutive_failures <> 0`, ms, name)
		return "", err
	}
	lastError = clipLastError(lastError)
	var count int64
	var circuit string
	err := s.db.QueryRow(ctx, nil, `UPDATE destination_state SET consecutive_failures = consecutive_failures + 1, last_error = $1, updated_at = $2 WHERE name = $3 RETURNING consecutive_failures, circuit`, lastError, ms, name).Scan(&count, &circuit)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("destination %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	next := now.Add(probeInterval).UnixMilli()
	switch afterOutcome(circuit, false, probe, count, failures, flow.FailureWindow{}, 0, 0) {
	case breakerOpen:
		res, err := s.db.Exec(ctx, nil, openCircuit, ms, next, name)
		if err != nil {
			return "", err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return TransitionOpened, nil
		}
	case breakerReprobe:
		_, err := s.db.Exec(ctx, nil, `UPDATE destination_state SET next_probe_at = $1, probe_owner = '', probe_started = FALSE WHERE name = $2 AND circuit = 'open'`, next, name)
		return "", err
	}
	return "", nil
}

// ClaimProbe makes owner the worker that sends an open circuit's next
// probe, when it is due and no live claim holds it (a claim older than ttl
// is taken over: its worker died). One worker wins.
func (s *Store) ClaimProbe(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	now := s.now().UnixMilli()
	res, err := s.db.Exec(ctx, nil, `UPDATE destination_state SET probe_owner = $1, probe_claimed_at = $2, probe_started = FALSE
WHERE name = $3 AND circuit = 'open' AND paused = FALSE AND next_probe_at <= $2 AND (probe_owner = '' OR probe_claimed_at < $4)`,
		owner, now, name, now-ttl.Milliseconds())
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// StartProbe admits one delivery as the probe of owner's claim; any other
// attempt while the circuit is open is refused (it parks).
func (s *Store) StartProbe(ctx context.Context, name, owner string) (bool, error) {
	res, err := s.db.Exec(ctx, nil, `UPDATE destination_state SET probe_started = TRUE WHERE name = $1 AND circuit = 'open' AND probe_owner = $2 AND probe_started = FALSE`, name, owner)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RecordWindowOutcome is RecordOutcome for a destination whose breaker has
// a failure-rate window (w.Rate > 0; else it is RecordOutcome): while the
// circuit is closed every outcome, success or failure, is one conditional
// statement that counts it in the current fixed window (aligned to the
// epoch) beside the consecutive failures, and the circuit opens when
// either trips: failures in a row, or, with at least w.MinRequests
// attempts in the window, a failed share of at least w.Rate. Opening is
// the same conditional statement as RecordOutcome's (one worker wins
// TransitionOpened). While open, only the probe counts: its success
// closes the circuit (TransitionClosed) and the window starts again; an
// attempt that was in flight when it opened does not close it (with a
// rate, one success proves little).
func (s *Store) RecordWindowOutcome(ctx context.Context, name string, ok, probe bool, failures int, w flow.FailureWindow, probeInterval time.Duration, lastError string) (string, error) {
	if w.Rate <= 0 || w.Window <= 0 {
		return s.RecordOutcome(ctx, name, ok, probe, failures, probeInterval, lastError)
	}
	now := s.now()
	ms := now.UnixMilli()
	if ok && probe {
		res, err := s.db.Exec(ctx, nil, `UPDATE destination_state SET circuit = 'closed', consecutive_failures = 0, opened_at = 0, next_probe_at = 0, probe_owner = '', probe_started = FALSE, last_error = '', `+resetRateWindow+`, updated_at = $1 WHERE name = $2 AND circuit = 'open'`, ms, name)
		if err != nil {
			return "", err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return TransitionClosed, nil
		}
	}
	lastError = clipLastError(lastError)
	failed := int64(1)
	if ok {
		failed = 0
	}
	// A window later than this worker's (its clock runs behind another's)
	// is counted in as it is; an earlier one starts again.
	var count, requests, failedIn int64
	var circuit string
	err := s.db.QueryRow(ctx, nil, `UPDATE destination_state SET
 consecutive_failures = CASE WHEN $1 = 0 THEN 0 ELSE consecutive_failures + 1 END,
 last_error = CASE WHEN $1 = 0 THEN last_error ELSE $2 END,
 rate_requests = CASE WHEN rate_window_start >= $3 THEN rate_requests + 1 ELSE 1 END,
 rate_failures = CASE WHEN rate_window_start >= $3 THEN rate_failures + $1 ELSE $1 END,
 rate_window_start = CASE WHEN rate_window_start >= $3 THEN rate_window_start ELSE $3 END,
 updated_at = $4
WHERE name = $5 AND circuit = 'closed' RETURNING consecutive_failures, circuit, rate_requests, rate_failures`,
		failed, lastError, w.WindowStart(now), ms, name).Scan(&count, &circuit, &requests, &failedIn)
	if errors.Is(err, sql.ErrNoRows) {
		// Open: the window counts nothing (it starts again when the
		// circuit closes); only a probe's outcome matters.
		err = s.db.QueryRow(ctx, nil, `SELECT circuit FROM destination_state WHERE name = $1`, name).Scan(&circuit)
		if errors.Is(err, sql.ErrNoRows) {
			return "", fmt.Errorf("destination %q: %w", name, store.ErrNotFound)
		}
	}
	if err != nil {
		return "", err
	}
	next := now.Add(probeInterval).UnixMilli()
	switch afterOutcome(circuit, ok, probe, count, failures, w, requests, failedIn) {
	case breakerOpen:
		res, err := s.db.Exec(ctx, nil, openCircuit, ms, next, name)
		if err != nil {
			return "", err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return TransitionOpened, nil
		}
	case breakerReprobe:
		_, err := s.db.Exec(ctx, nil, `UPDATE destination_state SET next_probe_at = $1, probe_owner = '', probe_started = FALSE WHERE name = $2 AND circuit = 'open'`, next, name)
		return "", err
	}
	return "", nil
}

// Limit transitions AdmitAttempt reports (for logs and notifications):
// the attempt that used up a period's limit (one per window, whichever
// worker made it), and the first attempt admitted after a window that was
// used up.
const (
	TransitionLimited   = "limited"
	TransitionUnlimited = "unlimited"
)

// Admission is AdmitAttempt's answer.
type Admission struct {
	// Admitted: the attempt may be sent (it was counted in every period).
	Admitted bool
	// Transition is TransitionLimited, TransitionUnlimited or "".
	Transition string
	// ResetsAt, when the attempt was refused or used a limit up, is when
	// the used-up window ends: deliveries park until then.
	ResetsAt time.Time
}

// AdmitAttempt counts one attempt against each of a destination's period
// limits, or refuses it when one is used up in its current window. Each
// limit is one conditional upsert (count + 1 only while below max, or the
// first of a new window), all in one transaction that a refusal rolls
// back, longest period first (every worker locks in the same order), so
// concurrent workers on SQLite or PostgreSQL never admit more than max
// in a window. No limits: admitted, and nothing is written.
func (s *Store) AdmitAttempt(ctx context.Context, name string, limits []flow.PeriodLimit) (Admission, error) {
	if len(limits) == 0 {
		return Admission{Admitted: true}, nil
	}
	sorted := lockOrder(limits)
	now := s.now()
	var adm Admission
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		adm = Admission{Admitted: true}
		for _, l := range sorted {
			per := l.Per.Std().Milliseconds()
			ws := l.WindowStart(now)
			var used, start int64
			var wasFull bool
			err := s.db.QueryRow(ctx, tx, `INSERT INTO destination_limit_windows AS w (name, period_ms, window_start, used, was_full) VALUES ($1, $2, $3, 1, FALSE)
ON CONFLICT (name, period_ms) DO UPDATE SET
 was_full = CASE WHEN w.window_start < excluded.window_start THEN w.used >= $4 ELSE FALSE END,
 used = CASE WHEN w.window_start < excluded.window_start THEN 1 ELSE w.used + 1 END,
 window_start = CASE WHEN w.window_start < excluded.window_start THEN excluded.window_start ELSE w.window_start END
WHERE w.window_start < excluded.window_start OR w.used < $4
RETURNING used, window_start, was_full`, name, per, ws, l.Max).Scan(&used, &start, &wasFull)
			if errors.Is(err, sql.ErrNoRows) {
				adm = refused(ws, start, per)
				return errRefused
			}
			if err != nil {
				return err
			}
			adm.countIn(used, start, per, l.Max, wasFull)
		}
		return nil
	})
	if errors.Is(err, errRefused) {
		return adm, nil
	}
	if err != nil && store.IsForeignKeyViolation(err) {
		return Admission{}, fmt.Errorf("destination %q: %w", name, store.ErrNotFound)
	}
	return adm, err
}

var errRefused = errors.New("refused")

// ReleaseProbe gives back owner's started probe when it sent nothing (a
// used-up limit refused it): a later delivery may be the probe, without
// waiting for the claim to lapse.
func (s *Store) ReleaseProbe(ctx context.Context, name, owner string) error {
	_, err := s.db.Exec(ctx, nil, `UPDATE destination_state SET probe_started = FALSE WHERE name = $1 AND circuit = 'open' AND probe_owner = $2`, name, owner)
	return err
}

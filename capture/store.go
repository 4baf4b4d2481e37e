package capture

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/hookflow/hookflow/store"
)

// Store is the captures' persistence: the trigger URLs armed to record
// their next requests instead of running the flow (capture_arms), and the
// requests recorded (captures), on the store's one handle. The trigger
// cache reads the arms in force itself (store.Cache).
type Store struct{ h *store.Handle }

// NewStore returns the captures of st.
func NewStore(st *store.Store) *Store { return &Store{h: st.Handle()} }

// MaxPerFlow bounds the captures kept per flow; the oldest go first.
const MaxPerFlow = 100

// Arm says that a flow's trigger URL records its next Remaining
// requests, until Until, instead of running the flow.
type Arm struct {
	FlowID    string    `json:"flowId"`
	Remaining int       `json:"remaining"`
	Until     time.Time `json:"until"`
}

// Request is what a capture keeps of a request: its headers (with
// credentials and signatures redacted), query and body.
type Request struct {
	Method      string            `json:"method"`
	ContentType string            `json:"contentType,omitempty"`
	Headers     map[string]string `json:"headers"`
	Query       map[string]any    `json:"query"`
	// Body is the JSON body; BodyText a body that is not JSON.
	Body     any    `json:"body,omitempty"`
	BodyText string `json:"bodyText,omitempty"`
}

// Capture is one recorded request.
type Capture struct {
	ID        string    `json:"id"`
	FlowID    string    `json:"flowId"`
	CreatedAt time.Time `json:"createdAt"`
	Request   Request   `json:"request"`
}

// Arm arms a flow's trigger URL to record its next n requests until
// until, replacing an earlier arm.
func (s *Store) Arm(ctx context.Context, flowID string, n int, until time.Time) (*Arm, error) {
	now := s.h.Now().UnixMilli()
	err := s.h.Tx(ctx, func(tx *sql.Tx) error {
		var c int
		if err := s.h.QueryRow(ctx, tx, `SELECT COUNT(*) FROM flows WHERE id = $1`, flowID).Scan(&c); err != nil {
			return err
		}
		if c == 0 {
			return fmt.Errorf("flow %q: %w", flowID, store.ErrNotFound)
		}
		// One upsert: two arms of one flow at once both succeed, the
		// later replacing the earlier (SQLite and PostgreSQL alike).
		_, err := s.h.Exec(ctx, tx, `INSERT INTO capture_arms (flow_id, remaining, until_ms, armed_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (flow_id) DO UPDATE SET remaining = excluded.remaining, until_ms = excluded.until_ms, armed_at = excluded.armed_at`,
			flowID, n, until.UnixMilli(), now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Arm{FlowID: flowID, Remaining: n, Until: time.UnixMilli(until.UnixMilli()).UTC()}, nil
}

// ArmOf is a flow's arm in force, if any.
func (s *Store) ArmOf(ctx context.Context, flowID string) (*Arm, error) {
	var a Arm
	var until int64
	err := s.h.QueryRow(ctx, nil, `SELECT flow_id, remaining, until_ms FROM capture_arms WHERE flow_id = $1 AND remaining > 0 AND until_ms > $2`, flowID, s.h.Now().UnixMilli()).Scan(&a.FlowID, &a.Remaining, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a.Until = time.UnixMilli(until).UTC()
	return &a, nil
}

// Take records req as one of the flow's armed captures. ok is false
// when the flow is not armed (any more): another replica took the last
// one, or the arm expired; the request then runs the flow as usual. The
// decrement is one conditional statement, so replicas never record more
// than were asked for.
func (s *Store) Take(ctx context.Context, flowID string, req Request) (c *Capture, ok bool, err error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, false, err
	}
	now := s.h.Now()
	c = &Capture{ID: uuid.Must(uuid.NewV7()).String(), FlowID: flowID, CreatedAt: time.UnixMilli(now.UnixMilli()).UTC(), Request: req}
	err = s.h.Tx(ctx, func(tx *sql.Tx) error {
		res, err := s.h.Exec(ctx, tx, `UPDATE capture_arms SET remaining = remaining - 1 WHERE flow_id = $1 AND remaining > 0 AND until_ms > $2`, flowID, now.UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		ok = true
		if _, err := s.h.Exec(ctx, tx, `INSERT INTO captures (id, flow_id, request, created_at) VALUES ($1, $2, $3, $4)`, c.ID, flowID, string(b), now.UnixMilli()); err != nil {
			return err
		}
		_, err = s.h.Exec(ctx, tx, `DELETE FROM captures WHERE flow_id = $1 AND id NOT IN (SELECT id FROM captures WHERE flow_id = $1 ORDER BY id DESC LIMIT $2)`, flowID, MaxPerFlow)
		return err
	})
	if err != nil || !ok {
		return nil, false, err
	}
	return c, true, nil
}

// List lists a flow's captures, newest first.
func (s *Store) List(ctx context.Context, flowID string) ([]*Capture, error) {
	rows, err := s.h.Query(ctx, nil, `SELECT id, flow_id, request, created_at FROM captures WHERE flow_id = $1 ORDER BY id DESC`, flowID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Capture{}
	for rows.Next() {
		c, err := scanCapture(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Get returns one capture by id.
func (s *Store) Get(ctx context.Context, id string) (*Capture, error) {
	c, err := scanCapture(s.h.QueryRow(ctx, nil, `SELECT id, flow_id, request, created_at FROM captures WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("capture %q: %w", id, store.ErrNotFound)
	}
	return c, err
}

func scanCapture(r interface{ Scan(...any) error }) (*Capture, error) {
	var c Capture
	var req string
	var created int64
	if err := r.Scan(&c.ID, &c.FlowID, &req, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(req), &c.Request); err != nil {
		return nil, fmt.Errorf("capture %q: %w", c.ID, err)
	}
	c.CreatedAt = time.UnixMilli(created).UTC()
	return &c, nil
}

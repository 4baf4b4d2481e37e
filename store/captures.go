package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Captures are the trigger URLs armed to record their next requests
// instead of running the flow, and the requests recorded.
type Captures struct{ db *db }

// MaxCapturesPerFlow bounds the captures kept per flow; the oldest go first.
const MaxCapturesPerFlow = 100

// CaptureArm says that a flow's trigger URL records its next Remaining
// requests, until Until, instead of running the flow.
type CaptureArm struct {
	FlowID    string    `json:"flowId"`
	Remaining int       `json:"remaining"`
	Until     time.Time `json:"until"`
}

// CapturedRequest is what a capture keeps of a request: its headers (with
// credentials and signatures redacted), query and body.
type CapturedRequest struct {
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
	ID        string          `json:"id"`
	FlowID    string          `json:"flowId"`
	CreatedAt time.Time       `json:"createdAt"`
	Request   CapturedRequest `json:"request"`
}

// Arm arms a flow's trigger URL to record its next n requests until
// until, replacing an earlier arm.
func (s *Captures) Arm(ctx context.Context, flowID string, n int, until time.Time) (*CaptureArm, error) {
	now := s.db.now().UnixMilli()
	err := s.db.tx(ctx, func(tx *sql.Tx) error {
		var c int
		if err := s.db.queryRow(ctx, tx, `SELECT COUNT(*) FROM flows WHERE id = $1`, flowID).Scan(&c); err != nil {
			return err
		}
		if c == 0 {
			return fmt.Errorf("flow %q: %w", flowID, ErrNotFound)
		}
		// One upsert: two arms of one flow at once both succeed, the
		// later replacing the earlier (SQLite and PostgreSQL alike).
		_, err := s.db.exec(ctx, tx, `INSERT INTO capture_arms (flow_id, remaining, until_ms, armed_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (flow_id) DO UPDATE SET remaining = excluded.remaining, until_ms = excluded.until_ms, armed_at = excluded.armed_at`,
			flowID, n, until.UnixMilli(), now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &CaptureArm{FlowID: flowID, Remaining: n, Until: time.UnixMilli(until.UnixMilli()).UTC()}, nil
}

// Arms lists the arms still in force, by flow id.
func (s *Captures) Arms(ctx context.Context) (map[string]CaptureArm, error) {
	rows, err := s.db.query(ctx, s.db.sql, `SELECT flow_id, remaining, until_ms FROM capture_arms WHERE remaining > 0 AND until_ms > $1`, s.db.now().UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]CaptureArm{}
	for rows.Next() {
		var a CaptureArm
		var until int64
		if err := rows.Scan(&a.FlowID, &a.Remaining, &until); err != nil {
			return nil, err
		}
		a.Until = time.UnixMilli(until).UTC()
		out[a.FlowID] = a
	}
	return out, rows.Err()
}

// ArmOf is a flow's arm in force, if any.
func (s *Captures) ArmOf(ctx context.Context, flowID string) (*CaptureArm, error) {
	var a CaptureArm
	var until int64
	err := s.db.queryRow(ctx, s.db.sql, `SELECT flow_id, remaining, until_ms FROM capture_arms WHERE flow_id = $1 AND remaining > 0 AND until_ms > $2`, flowID, s.db.now().UnixMilli()).Scan(&a.FlowID, &a.Remaining, &until)
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
func (s *Captures) Take(ctx context.Context, flowID string, req CapturedRequest) (c *Capture, ok bool, err error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, false, err
	}
	now := s.db.now()
	c = &Capture{ID: uuid.Must(uuid.NewV7()).String(), FlowID: flowID, CreatedAt: time.UnixMilli(now.UnixMilli()).UTC(), Request: req}
	err = s.db.tx(ctx, func(tx *sql.Tx) error {
		res, err := s.db.exec(ctx, tx, `UPDATE capture_arms SET remaining = remaining - 1 WHERE flow_id = $1 AND remaining > 0 AND until_ms > $2`, flowID, now.UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil
		}
		ok = true
		if _, err := s.db.exec(ctx, tx, `INSERT INTO captures (id, flow_id, request, created_at) VALUES ($1, $2, $3, $4)`, c.ID, flowID, string(b), now.UnixMilli()); err != nil {
			return err
		}
		_, err = s.db.exec(ctx, tx, `DELETE FROM captures WHERE flow_id = $1 AND id NOT IN (SELECT id FROM captures WHERE flow_id = $1 ORDER BY id DESC LIMIT $2)`, flowID, MaxCapturesPerFlow)
		return err
	})
	if err != nil || !ok {
		return nil, false, err
	}
	return c, true, nil
}

// List lists a flow's captures, newest first.
func (s *Captures) List(ctx context.Context, flowID string) ([]*Capture, error) {
	rows, err := s.db.query(ctx, s.db.sql, `SELECT id, flow_id, request, created_at FROM captures WHERE flow_id = $1 ORDER BY id DESC`, flowID)
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
func (s *Captures) Get(ctx context.Context, id string) (*Capture, error) {
	c, err := scanCapture(s.db.queryRow(ctx, s.db.sql, `SELECT id, flow_id, request, created_at FROM captures WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("capture %q: %w", id, ErrNotFound)
	}
	return c, err
}

func scanCapture(r scanner) (*Capture, error) {
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

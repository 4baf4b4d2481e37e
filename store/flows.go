package store

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
)

// Flows are the stored flows: each flow's immutable versions, its trigger
// token and whether its trigger is enabled.
type Flows struct{ db *db }

// Flow is a stored flow at its current version.
type Flow struct {
	ID        string     `json:"id"`
	Token     string     `json:"-"`
	Enabled   bool       `json:"enabled"`
	Version   int64      `json:"version"`
	Def       *flow.Flow `json:"definition"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
}

// Version is one immutable version of a flow.
type Version struct {
	FlowID    string     `json:"flowId"`
	Version   int64      `json:"version"`
	Def       *flow.Flow `json:"definition"`
	CreatedAt time.Time  `json:"createdAt"`
}

// Canonical is a flow's stored form: its JSON without the trigger token.
// The token is a credential kept only in its own column: a stored definition
// becomes every run's input, and so part of Temporal history, and the admin
// API shows definitions to read-only keys. Digest compares two definitions,
// so applying an unchanged flow makes no version.
func Canonical(f *flow.Flow) (string, string, error) {
	c := *f
	c.Trigger.Token = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(b)
	return string(b), hex.EncodeToString(sum[:]), nil
}

// Create stores a new flow as version 1. The token is the definition's
// trigger.token, or a fresh random one.
func (s *Flows) Create(ctx context.Context, f *flow.Flow) (*Flow, error) {
	def, digest, err := Canonical(f)
	if err != nil {
		return nil, err
	}
	token := f.Trigger.Token
	if token == "" {
		token = flow.NewToken()
	}
	now := s.db.now().UnixMilli()
	err = s.db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := s.db.queryRow(ctx, tx, `SELECT COUNT(*) FROM flows WHERE id = $1`, f.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("flow %q: %w", f.ID, ErrExists)
		}
		if err := s.db.queryRow(ctx, tx, `SELECT COUNT(*) FROM flows WHERE token = $1`, token).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("flow %q: trigger token %w", f.ID, ErrExists)
		}
		if _, err := s.db.exec(ctx, tx, `INSERT INTO flows (id, token, enabled, current_version, created_at, updated_at) VALUES ($1, $2, TRUE, 1, $3, $3)`, f.ID, token, now); err != nil {
			return err
		}
		_, err := s.db.exec(ctx, tx, `INSERT INTO flow_versions (flow_id, version, definition, digest, created_at) VALUES ($1, 1, $2, $3, $4)`, f.ID, def, digest, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, f.ID)
}

// Update stores f as a new version of its flow. ifVersion, when not zero,
// must be the current version (else ErrConflict). An unchanged definition
// makes no new version; changed reports whether one was made. A token in f
// replaces the flow's token either way (it is not part of the definition).
func (s *Flows) Update(ctx context.Context, f *flow.Flow, ifVersion int64) (rec *Flow, changed bool, err error) {
	def, digest, err := Canonical(f)
	if err != nil {
		return nil, false, err
	}
	now := s.db.now().UnixMilli()
	err = s.db.tx(ctx, func(tx *sql.Tx) error {
		var cur int64
		var curDigest string
		err := s.db.queryRow(ctx, tx, `SELECT f.current_version, v.digest FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.current_version WHERE f.id = $1`, f.ID).Scan(&cur, &curDigest)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("flow %q: %w", f.ID, ErrNotFound)
		}
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != cur {
			return fmt.Errorf("flow %q is at version %d, not %d: %w", f.ID, cur, ifVersion, ErrConflict)
		}
		if f.Trigger.Token != "" {
			if _, err := s.db.exec(ctx, tx, `UPDATE flows SET token = $1 WHERE id = $2`, f.Trigger.Token, f.ID); err != nil {
				return err
			}
		}
		if digest == curDigest {
			return nil
		}
		changed = true
		if _, err := s.db.exec(ctx, tx, `INSERT INTO flow_versions (flow_id, version, definition, digest, created_at) VALUES ($1, $2, $3, $4, $5)`, f.ID, cur+1, def, digest, now); err != nil {
			return err
		}
		// The WHERE on the version makes a concurrent update of the same
		// version lose here even without serializable isolation.
		res, err := s.db.exec(ctx, tx, `UPDATE flows SET current_version = $1, updated_at = $2 WHERE id = $3 AND current_version = $4`, cur+1, now, f.ID, cur)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("flow %q changed concurrently: %w", f.ID, ErrConflict)
		}
		return nil
	})
	if err != nil {
		if isUniqueViolation(err) {
			return nil, false, fmt.Errorf("flow %q: %w", f.ID, ErrConflict)
		}
		return nil, false, err
	}
	rec, err = s.Get(ctx, f.ID)
	return rec, changed, err
}

const selectFlow = `SELECT f.id, f.token, f.enabled, f.current_version, f.created_at, f.updated_at, v.definition
FROM flows f JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.current_version`

// Get returns a flow at its current version.
func (s *Flows) Get(ctx context.Context, id string) (*Flow, error) {
	rec, err := scanFlow(s.db.queryRow(ctx, s.db.sql, selectFlow+` WHERE f.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("flow %q: %w", id, ErrNotFound)
	}
	return rec, err
}

// List returns every flow, sorted by id.
func (s *Flows) List(ctx context.Context) ([]*Flow, error) {
	rows, err := s.db.query(ctx, s.db.sql, selectFlow+` ORDER BY f.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Flow
	for rows.Next() {
		rec, err := scanFlow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

func scanFlow(r scanner) (*Flow, error) {
	var rec Flow
	var created, updated int64
	var def string
	if err := r.Scan(&rec.ID, &rec.Token, &rec.Enabled, &rec.Version, &created, &updated, &def); err != nil {
		return nil, err
	}
	f := &flow.Flow{}
	if err := json.Unmarshal([]byte(def), f); err != nil {
		return nil, fmt.Errorf("flow %q version %d: stored definition: %w", rec.ID, rec.Version, err)
	}
	rec.Def = f
	rec.CreatedAt, rec.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return &rec, nil
}

// Versions lists a flow's versions, oldest first.
func (s *Flows) Versions(ctx context.Context, id string) ([]*Version, error) {
	rows, err := s.db.query(ctx, s.db.sql, `SELECT flow_id, version, definition, created_at FROM flow_versions WHERE flow_id = $1 ORDER BY version`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("flow %q: %w", id, ErrNotFound)
	}
	return out, nil
}

// GetVersion returns one version of a flow.
func (s *Flows) GetVersion(ctx context.Context, id string, version int64) (*Version, error) {
	v, err := scanVersion(s.db.queryRow(ctx, s.db.sql, `SELECT flow_id, version, definition, created_at FROM flow_versions WHERE flow_id = $1 AND version = $2`, id, version))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("flow %q version %d: %w", id, version, ErrNotFound)
	}
	return v, err
}

func scanVersion(r scanner) (*Version, error) {
	var v Version
	var def string
	var created int64
	if err := r.Scan(&v.FlowID, &v.Version, &def, &created); err != nil {
		return nil, err
	}
	v.Def = &flow.Flow{}
	if err := json.Unmarshal([]byte(def), v.Def); err != nil {
		return nil, err
	}
	v.CreatedAt = time.UnixMilli(created).UTC()
	return &v, nil
}

// SetEnabled enables or disables a flow's trigger.
func (s *Flows) SetEnabled(ctx context.Context, id string, enabled bool) (*Flow, error) {
	return s.updateRow(ctx, id, `UPDATE flows SET enabled = $1, updated_at = $2 WHERE id = $3`, enabled, s.db.now().UnixMilli(), id)
}

// RotateToken gives a flow a new random trigger token; the old URL stops
// working.
func (s *Flows) RotateToken(ctx context.Context, id string) (*Flow, error) {
	return s.updateRow(ctx, id, `UPDATE flows SET token = $1, updated_at = $2 WHERE id = $3`, flow.NewToken(), s.db.now().UnixMilli(), id)
}

func (s *Flows) updateRow(ctx context.Context, id, query string, args ...any) (*Flow, error) {
	res, err := s.db.exec(ctx, s.db.sql, query, args...)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("flow %q: %w", id, ErrNotFound)
	}
	return s.Get(ctx, id)
}

// Delete removes a flow and its versions. Running executions keep their
// snapshot and finish.
func (s *Flows) Delete(ctx context.Context, id string) error {
	return s.db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.db.exec(ctx, tx, `DELETE FROM flow_versions WHERE flow_id = $1`, id); err != nil {
			return err
		}
		res, err := s.db.exec(ctx, tx, `DELETE FROM flows WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("flow %q: %w", id, ErrNotFound)
		}
		return nil
	})
}

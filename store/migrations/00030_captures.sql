-- +goose Up
-- Test event capture (issue 17). Portable between SQLite and PostgreSQL:
-- times are Unix milliseconds, JSON is TEXT.

-- A flow's trigger URL armed to record its next requests instead of
-- running the flow: how many are left, until when.
CREATE TABLE capture_arms (
    flow_id   TEXT PRIMARY KEY REFERENCES flows(id) ON DELETE CASCADE,
    remaining BIGINT NOT NULL,
    until_ms  BIGINT NOT NULL,
    armed_at  BIGINT NOT NULL
);

-- The recorded requests (secrets in headers already redacted). Ids are
-- UUIDv7: time-ordered.
CREATE TABLE captures (
    id         TEXT PRIMARY KEY,
    flow_id    TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    request    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX captures_by_flow ON captures (flow_id, id);

-- +goose Down
DROP TABLE captures;
DROP TABLE capture_arms;

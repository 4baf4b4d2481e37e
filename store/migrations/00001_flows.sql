-- +goose Up
-- Portable between SQLite and PostgreSQL: times are Unix milliseconds.
CREATE TABLE flows (
    id              TEXT PRIMARY KEY,
    token           TEXT NOT NULL UNIQUE,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    current_version BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Versions are immutable: an update inserts a new row.
CREATE TABLE flow_versions (
    flow_id    TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
    version    BIGINT NOT NULL,
    definition TEXT NOT NULL,
    digest     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (flow_id, version)
);

-- +goose Down
DROP TABLE flow_versions;
DROP TABLE flows;

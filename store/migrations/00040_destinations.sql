-- +goose Up
-- Destinations (issue 15). Portable between SQLite and PostgreSQL, as 00001:
-- times are Unix milliseconds, JSON is TEXT.

-- A destination's current definition; version counts its changes (the
-- admin API's ETag, and what a delivery's step log names).
CREATE TABLE destinations (
    name       TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    definition TEXT NOT NULL,
    digest     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Every version, immutable: a step log names the version that sent.
CREATE TABLE destination_versions (
    name       TEXT NOT NULL REFERENCES destinations(name) ON DELETE CASCADE,
    version    BIGINT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);

-- The state every worker reads: paused by an operator, and the circuit
-- breaker (closed or open; a probe claimed by one worker at a time).
CREATE TABLE destination_state (
    name                 TEXT PRIMARY KEY REFERENCES destinations(name) ON DELETE CASCADE,
    paused               BOOLEAN NOT NULL DEFAULT FALSE,
    paused_at            BIGINT NOT NULL DEFAULT 0,
    pause_reason         TEXT NOT NULL DEFAULT '',
    circuit              TEXT NOT NULL DEFAULT 'closed',
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    opened_at            BIGINT NOT NULL DEFAULT 0,
    next_probe_at        BIGINT NOT NULL DEFAULT 0,
    probe_owner          TEXT NOT NULL DEFAULT '',
    probe_claimed_at     BIGINT NOT NULL DEFAULT 0,
    probe_started        BOOLEAN NOT NULL DEFAULT FALSE,
    last_error           TEXT NOT NULL DEFAULT '',
    updated_at           BIGINT NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE destination_state;
DROP TABLE destination_versions;
DROP TABLE destinations;

-- +goose Up
-- Records (issue 18). Portable between SQLite and PostgreSQL, as 00001:
-- times are Unix milliseconds, JSON is TEXT.

-- A collection's definition (typed properties, unique ones) as JSON; only
-- the current one is kept, version counts changes (the admin API's ETag).
CREATE TABLE collections (
    name       TEXT PRIMARY KEY,
    version    BIGINT NOT NULL,
    definition TEXT NOT NULL,
    digest     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Ids are UUIDv7: time-ordered, so listing by id is creation order and
-- pages by keyset.
CREATE TABLE records (
    collection TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    properties TEXT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (collection, id)
);

-- One row per unique property value: the primary key is what makes a
-- value unique, on both databases and under concurrent writers, and the
-- index a lookup by unique property (enrollment, upsert) reads.
CREATE TABLE record_keys (
    collection TEXT NOT NULL,
    property   TEXT NOT NULL,
    value      TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    PRIMARY KEY (collection, property, value),
    FOREIGN KEY (collection, record_id) REFERENCES records(collection, id) ON DELETE CASCADE
);
CREATE INDEX record_keys_by_record ON record_keys (collection, record_id);

-- A record step's write, by its idempotency key (the run's first run id and
-- the write's number): a retried activity finds its own earlier write and
-- returns its result instead of writing again.
CREATE TABLE record_writes (
    idempotency_key TEXT PRIMARY KEY,
    collection      TEXT NOT NULL REFERENCES collections(name) ON DELETE CASCADE,
    result          TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX record_writes_by_time ON record_writes (created_at);

-- +goose Down
DROP TABLE record_writes;
DROP TABLE record_keys;
DROP TABLE records;
DROP TABLE collections;

-- +goose Up
-- A destination's maxInFlight across every worker (issue 27). Times are
-- Unix milliseconds, as in 00040.

-- One row per lease an attempt holds while it sends: slot is one of
-- 0 .. maxInFlight-1, so the primary key allows at most maxInFlight live
-- leases per destination, whichever workers hold them. A lease is taken by
-- one conditional upsert (a free slot, or one whose lease expired: its
-- worker died or lost the database), and deleted by its holder when the
-- attempt ends. expires_at is a little after the attempt's start-to-close
-- timeout (destinations.leaseTTL).
CREATE TABLE destination_leases (
    name       TEXT NOT NULL REFERENCES destinations(name) ON DELETE CASCADE,
    slot       BIGINT NOT NULL,
    holder     TEXT NOT NULL,
    taken_at   BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (name, slot)
);

-- +goose Down
DROP TABLE destination_leases;

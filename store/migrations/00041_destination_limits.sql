-- +goose Up
-- Destinations' limits per period and the circuit breaker's failure-rate
-- window (issue 15). Times are Unix milliseconds, as in 00040.

-- One row per destination and period: the current fixed window (aligned
-- to the Unix epoch: window_start = floor(now / period) * period) and the
-- attempts admitted in it. An attempt is admitted by one conditional
-- upsert (count + 1 only while below the limit, or a new window), so
-- workers on either database never admit more than the limit.
-- was_full tells the first admission of a window that the previous one
-- was used up (the "unlimited" transition).
CREATE TABLE destination_limit_windows (
    name         TEXT NOT NULL REFERENCES destinations(name) ON DELETE CASCADE,
    period_ms    BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    used         BIGINT NOT NULL,
    was_full     BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (name, period_ms)
);

-- The failure-rate window: attempts and failed ones in the current fixed
-- window (reset when a new window starts, and when the circuit opens or
-- closes).
ALTER TABLE destination_state ADD COLUMN rate_window_start BIGINT NOT NULL DEFAULT 0;
ALTER TABLE destination_state ADD COLUMN rate_requests BIGINT NOT NULL DEFAULT 0;
ALTER TABLE destination_state ADD COLUMN rate_failures BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE destination_state DROP COLUMN rate_failures;
ALTER TABLE destination_state DROP COLUMN rate_requests;
ALTER TABLE destination_state DROP COLUMN rate_window_start;
DROP TABLE destination_limit_windows;

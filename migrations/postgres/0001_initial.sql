-- spikewatch schema, PostgreSQL. Times are microseconds since the Unix epoch (UTC), the engine's own clock,
-- so that the same rows come out of SQLite and Postgres.

CREATE TABLE assets (
    id TEXT PRIMARY KEY,
    first_seen_at BIGINT NOT NULL
);

CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY,
    asset TEXT NOT NULL REFERENCES assets (id),
    state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
    severity TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
    score DOUBLE PRECISION NOT NULL,
    threshold DOUBLE PRECISION NOT NULL,
    opened_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at BIGINT,
    -- JSON array of the features that moved: channel, feature, observed, expected, deviation_sigma.
    evidence TEXT NOT NULL,
    -- Parquet file with the raw readings around the alert, relative to the archive root.
    window_path TEXT
);

CREATE INDEX alerts_by_asset ON alerts (asset, opened_at);
CREATE INDEX alerts_by_state ON alerts (state, opened_at);

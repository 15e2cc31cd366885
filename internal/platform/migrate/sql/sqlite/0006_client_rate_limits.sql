-- +goose Up
-- Per-client rate-limit quotas overriding the server's defaults for a
-- route class ("600/1m", "120/1m:30").
CREATE TABLE client_rate_limits (
    client_id TEXT NOT NULL,
    class     TEXT NOT NULL,
    quota     TEXT NOT NULL,
    PRIMARY KEY (client_id, class)
);

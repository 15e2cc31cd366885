-- +goose Up
-- The outbox: every event is written here in the business transaction.
-- seq stays NULL until the sequencer numbers committed rows, so a reader
-- that tails by seq never skips a row that committed late. JSON, not JSONB:
-- payloads are delivered byte for byte as written.
CREATE TABLE outbox_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    source      TEXT NOT NULL,
    subject     TEXT NOT NULL DEFAULT '',
    company_id  TEXT NOT NULL DEFAULT '',
    occurred_at TIMESTAMPTZ NOT NULL,
    data        JSON NOT NULL,
    seq         BIGINT UNIQUE
);
CREATE INDEX outbox_events_unsequenced ON outbox_events (id) WHERE seq IS NULL;

-- The audit log: one row per write, sensitive read and authentication
-- event, written in the caller's transaction and numbered like the outbox.
CREATE TABLE audit_log (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    audit_id      TEXT NOT NULL UNIQUE,
    occurred_at   TIMESTAMPTZ NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL DEFAULT '',
    company_id    TEXT NOT NULL DEFAULT '',
    request_id    TEXT NOT NULL DEFAULT '',
    outcome       TEXT NOT NULL,
    details       JSON NOT NULL DEFAULT '{}',
    seq           BIGINT UNIQUE
);
CREATE INDEX audit_log_unsequenced ON audit_log (id) WHERE seq IS NULL;

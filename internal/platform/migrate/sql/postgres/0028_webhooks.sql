-- +goose Up
-- Webhook endpoints belong to the API client that made them and deliver
-- with its authority: owner_scopes and owner_companies are the creator's
-- grant when it subscribed (JSON arrays), narrowed at every delivery pass
-- to what the client still holds. event_types are exact names or
-- "module.*"-style prefixes; company_ids narrows further ([] = all the
-- owner may see). secret and previous_secret are sealed with the keyring;
-- during a rotation both sign until previous_secret_expires_at.
-- cursor_seq is the outbox position the endpoint has been fanned out to.
CREATE TABLE webhook_endpoints (
    id                         TEXT PRIMARY KEY,
    owner_client_id            TEXT NOT NULL,
    owner_scopes               TEXT NOT NULL,
    owner_companies            TEXT NOT NULL,
    url                        TEXT NOT NULL,
    description                TEXT NOT NULL DEFAULT '',
    event_types                TEXT NOT NULL,
    company_ids                TEXT NOT NULL DEFAULT '[]',
    enabled                    BOOLEAN NOT NULL,
    status                     TEXT NOT NULL CHECK (status IN ('active', 'failing', 'disabled')),
    status_reason              TEXT NOT NULL DEFAULT '',
    secret                     TEXT NOT NULL,
    previous_secret            TEXT NOT NULL DEFAULT '',
    previous_secret_expires_at TIMESTAMPTZ,
    cursor_seq                 BIGINT NOT NULL,
    version                    BIGINT NOT NULL,
    last_success_at            TIMESTAMPTZ,
    created_at                 TIMESTAMPTZ NOT NULL,
    updated_at                 TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_client_id, id);

-- One delivery per endpoint and event (the webhook-id is the event id, so
-- a retry or a replay is recognisably the same message). order_key is the
-- event's subject: only the earliest pending delivery of a subject to an
-- endpoint is ready, so each resource's events arrive in order; the next
-- becomes ready when it completes. Workers claim ready rows with a lease
-- (lease_owner, leased_until); a crashed node's lease simply expires.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    order_key        TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    ready            BOOLEAN NOT NULL DEFAULT FALSE,
    attempts         INTEGER NOT NULL DEFAULT 0,
    step             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    first_failed_at  TIMESTAMPTZ,
    lease_owner      TEXT NOT NULL DEFAULT '',
    leased_until     TIMESTAMPTZ,
    last_status_code INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    cause            TEXT NOT NULL DEFAULT 'schedule',
    created_at       TIMESTAMPTZ NOT NULL,
    completed_at     TIMESTAMPTZ,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, event_seq) WHERE status = 'pending' AND ready;
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, order_key, event_seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- Every attempt, for GET …/deliveries: what was answered and how fast.
CREATE TABLE webhook_attempts (
    id            TEXT PRIMARY KEY,
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at  TIMESTAMPTZ NOT NULL,
    duration_ms   BIGINT NOT NULL,
    status_code   INTEGER NOT NULL,
    response_body TEXT NOT NULL DEFAULT '',
    error         TEXT NOT NULL DEFAULT '',
    succeeded     BOOLEAN NOT NULL,
    cause         TEXT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);


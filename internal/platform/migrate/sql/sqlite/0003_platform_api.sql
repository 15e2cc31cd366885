-- +goose Up
-- Idempotency keys: the first response for (client, key), replayed for 24 h.
CREATE TABLE idempotency_keys (
    client_id    TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    state        TEXT NOT NULL,
    status       INTEGER,
    headers      TEXT NOT NULL DEFAULT '{}',
    body         BLOB,
    locked_until TIMESTAMP NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (client_id, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Long-running operations (202 Accepted): imports, runs, large reports.
CREATE TABLE operations (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL DEFAULT '',
    client_id   TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    progress    INTEGER NOT NULL DEFAULT 0,
    result      TEXT,
    errors      TEXT,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX operations_client ON operations (client_id, created_at);

-- Server-wide settings shared by every node (e.g. the page-token key).
CREATE TABLE settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Which record refers to which, maintained by the resource engine on every
-- write, so deleting a referenced record is refused naming the referrer.
CREATE TABLE resource_refs (
    from_type TEXT NOT NULL,
    from_id   TEXT NOT NULL,
    to_id     TEXT NOT NULL,
    pointer   TEXT NOT NULL,
    PRIMARY KEY (from_id, to_id, pointer)
);
CREATE INDEX resource_refs_to ON resource_refs (to_id);

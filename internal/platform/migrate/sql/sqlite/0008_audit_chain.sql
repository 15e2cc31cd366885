-- +goose Up
-- Who acted and from where. IP address, user agent and the person a client
-- acted for are personal data: they stay in their own columns, enter the
-- hash chain only through personal_digest (an HMAC under the chain key), and
-- can be erased later (personal_erased_at) without breaking the chain.
ALTER TABLE audit_log ADD COLUMN on_behalf_of TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN personal_digest TEXT;
ALTER TABLE audit_log ADD COLUMN personal_erased_at TIMESTAMP;
-- The hash chain, filled by the sequencer in the pass that numbers the row
-- (hex SHA-256; NULL while no chain key is configured).
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;

-- The filters of GET /v1/audit-events, each ending in seq, the page order;
-- occurred_at also finds where retention cuts.
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_resource ON audit_log (resource_type, resource_id, seq);
CREATE INDEX audit_log_company ON audit_log (company_id, seq);
CREATE INDEX audit_log_occurred ON audit_log (occurred_at);

-- Signed checkpoints: 'head' names a row's seq and hash as the chain was
-- when it was signed; 'start' names where the chain begins after pruning
-- (the first kept row's seq and its prev_hash).
CREATE TABLE audit_checkpoints (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('head', 'start')),
    seq        INTEGER NOT NULL,
    hash       TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    key_id     TEXT NOT NULL,
    signature  TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_kind_seq ON audit_checkpoints (kind, seq);

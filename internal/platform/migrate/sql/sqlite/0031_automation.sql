-- +goose Up
-- Events written while an automation rule runs carry the rule and how
-- deep in a chain of rules they are, so a rule cannot trigger itself
-- (or a cycle of rules) without bound.
ALTER TABLE outbox_events ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox_events ADD COLUMN caused_by TEXT NOT NULL DEFAULT '';

-- Automation rules: a trigger (event types, an inbound hook, or a cron
-- schedule in the company's time zone), a condition and actions (JSON),
-- run with the authority of the client that created the rule
-- (owner_scopes, owner_companies: its grant then, narrowed at every run).
-- cursor_seq is the outbox position event triggers have been read to;
-- next_run_at the next time a schedule fires.
CREATE TABLE automation_rules (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies (id),
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    enabled         BOOLEAN NOT NULL,
    trigger_kind    TEXT NOT NULL CHECK (trigger_kind IN ('event', 'inbound', 'schedule')),
    doc             TEXT NOT NULL,
    owner_client_id TEXT NOT NULL,
    owner_scopes    TEXT NOT NULL,
    owner_companies TEXT NOT NULL,
    cursor_seq      BIGINT NOT NULL,
    next_run_at     TIMESTAMP,
    version         BIGINT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX automation_rules_company ON automation_rules (company_id, id);

-- One run per rule and trigger (an event id, or schedule:<instant>): a
-- redelivered event never runs a rule twice. Claimed with a lease like
-- webhook deliveries; steps holds each action's output or error.
CREATE TABLE automation_runs (
    id              TEXT PRIMARY KEY,
    rule_id         TEXT NOT NULL REFERENCES automation_rules (id) ON DELETE CASCADE,
    company_id      TEXT NOT NULL,
    trigger_key     TEXT NOT NULL,
    input           TEXT NOT NULL,
    depth           INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_owner     TEXT NOT NULL DEFAULT '',
    leased_until    TIMESTAMP,
    steps           TEXT NOT NULL DEFAULT '[]',
    error           TEXT NOT NULL DEFAULT '',
    duration_ms     BIGINT NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    UNIQUE (rule_id, trigger_key)
);
CREATE INDEX automation_runs_due ON automation_runs (next_attempt_at) WHERE status = 'pending';
CREATE INDEX automation_runs_rule ON automation_runs (rule_id, id);

-- Inbound hooks: outside systems POST to /v1/inbound/{id}, signed with
-- the hook's secret (sealed). doc holds the verification scheme and the
-- idempotency key's JSON pointer. Each accepted key is kept, so a
-- provider's retry becomes no second event.
CREATE TABLE inbound_hooks (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies (id),
    name            TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    secret          TEXT NOT NULL,
    doc             TEXT NOT NULL,
    owner_client_id TEXT NOT NULL,
    version         BIGINT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX inbound_hooks_company ON inbound_hooks (company_id, id);

CREATE TABLE inbound_receipts (
    hook_id         TEXT NOT NULL REFERENCES inbound_hooks (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    received_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (hook_id, idempotency_key)
);

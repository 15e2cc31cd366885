-- +goose Up
-- Payment runs: a proposal of due supplier bills to pay together, its
-- approval and its execution. Typed columns for what is filtered and
-- checked (status, who proposed and approved); the criteria and the
-- proposed items (bill, supplier, amount, discount taken), the skipped
-- bills and the payments made in doc. total is the run's sum in its
-- currency at scale 4, like every amount. The bank files are produced once
-- at execution and kept (sealed with the run's data key, since they carry
-- the suppliers' bank accounts), so what was sent to the bank can be
-- fetched again byte for byte even after a supplier changes its account.
CREATE TABLE payment_runs (
    id            TEXT PRIMARY KEY,
    company_id    TEXT NOT NULL REFERENCES companies (id),
    status        TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'executed', 'cancelled')),
    currency      TEXT NOT NULL,
    payment_date  TEXT NOT NULL,
    total         BIGINT NOT NULL,
    item_count    INTEGER NOT NULL,
    proposed_by   TEXT NOT NULL,
    approved_by   TEXT NOT NULL DEFAULT '',
    approved_at   TIMESTAMPTZ,
    executed_at   TIMESTAMPTZ,
    operation_id  TEXT NOT NULL DEFAULT '',
    doc           TEXT NOT NULL,
    pain001       TEXT NOT NULL DEFAULT '',
    csv           TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX payment_runs_company ON payment_runs (company_id, id);

-- +goose Up
-- Payments (finance): incoming customer payments now, outgoing ones later
-- (direction). Amounts are scaled integers (scale 4) in the payment
-- currency. A payment posts one ledger entry; its unapplied credit is the
-- line unapplied_line_no of that entry, which later applications and
-- refunds settle.
CREATE TABLE payments (
    id                TEXT PRIMARY KEY,
    company_id        TEXT NOT NULL REFERENCES companies (id),
    external_id       TEXT NOT NULL DEFAULT '',
    content_hash      TEXT NOT NULL DEFAULT '',
    direction         TEXT NOT NULL CHECK (direction IN ('incoming', 'outgoing')),
    customer_id       TEXT NOT NULL DEFAULT '',
    currency          TEXT NOT NULL,
    amount            BIGINT NOT NULL CHECK (amount > 0),
    payment_date      TEXT NOT NULL,
    bank_account_id   TEXT NOT NULL,
    reference         TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL CHECK (status IN ('posted')),
    unapplied         BIGINT NOT NULL CHECK (unapplied >= 0),
    unapplied_line_no INTEGER,
    journal_entry_id  TEXT NOT NULL,
    doc               TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX payments_external_id ON payments (company_id, external_id) WHERE external_id <> '';
CREATE INDEX payments_customer ON payments (company_id, customer_id, payment_date);
CREATE INDEX payments_company ON payments (company_id, id);

-- What a payment did with its money: settled an invoice (kind invoice) or
-- paid unapplied credit back (kind refund), each with its ledger entry and
-- the line that settled.
CREATE TABLE payment_allocations (
    id               TEXT PRIMARY KEY,
    payment_id       TEXT NOT NULL REFERENCES payments (id),
    company_id       TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('invoice', 'refund')),
    invoice_id       TEXT NOT NULL DEFAULT '',
    amount           BIGINT NOT NULL CHECK (amount > 0),
    alloc_date       TEXT NOT NULL,
    journal_entry_id TEXT NOT NULL,
    line_no          INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX payment_allocations_payment ON payment_allocations (payment_id, created_at, id);
CREATE INDEX payment_allocations_invoice ON payment_allocations (company_id, invoice_id);

-- Dunning: a run as of a date issues notices for overdue invoices; an
-- invoice's notices climb levels 1 → 2 → 3.
CREATE TABLE dunning_runs (
    id         TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    as_of      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX dunning_runs_company ON dunning_runs (company_id, id);

CREATE TABLE dunning_notices (
    id           TEXT PRIMARY KEY,
    run_id       TEXT NOT NULL REFERENCES dunning_runs (id),
    company_id   TEXT NOT NULL,
    invoice_id   TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    level        INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
    as_of        TEXT NOT NULL,
    days_overdue INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    open_amount  BIGINT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX dunning_notices_run ON dunning_notices (run_id, id);
CREATE INDEX dunning_notices_invoice ON dunning_notices (company_id, invoice_id, as_of);

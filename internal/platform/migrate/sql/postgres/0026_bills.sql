-- +goose Up
-- Supplier bills and supplier credit notes. Typed columns for what is
-- filtered, matched and paid; the document (lines with their three-way
-- match result) in doc. Amounts in the bill currency at scale 4. A number
-- is taken per company only when a bill is posted (bill_sequences), so
-- numbers are gapless and drafts never touch the counter.
CREATE TABLE bills (
    id                TEXT PRIMARY KEY,
    company_id        TEXT NOT NULL REFERENCES companies (id),
    kind              TEXT NOT NULL CHECK (kind IN ('bill', 'credit_note')),
    supplier_id       TEXT NOT NULL,
    -- The supplier's own invoice (or credit note) number: one per supplier,
    -- so a bill entered twice is refused.
    supplier_reference TEXT NOT NULL,
    purchase_order_id TEXT NOT NULL DEFAULT '',
    credit_of         TEXT NOT NULL DEFAULT '',
    number            BIGINT,
    status            TEXT NOT NULL CHECK (status IN ('draft', 'posted')),
    match_status      TEXT NOT NULL CHECK (match_status IN ('matched', 'mismatch', 'approved', 'not_applicable')),
    payment_status    TEXT NOT NULL CHECK (payment_status IN ('unpaid', 'partially_paid', 'paid')),
    currency          TEXT NOT NULL,
    bill_date         TEXT NOT NULL,
    due_date          TEXT NOT NULL,
    discount_date     TEXT NOT NULL DEFAULT '',
    discount_percent  BIGINT,
    net_total         BIGINT NOT NULL,
    tax_total         BIGINT NOT NULL,
    gross_total       BIGINT NOT NULL,
    -- The payable: the ledger entry and line outgoing payments settle.
    journal_entry_id  TEXT,
    payable_line_no   INTEGER,
    approved_by       TEXT NOT NULL DEFAULT '',
    approved_at       TIMESTAMPTZ,
    doc               TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    posted_at         TIMESTAMPTZ,
    CHECK ((status = 'draft' AND number IS NULL) OR (status = 'posted' AND number IS NOT NULL))
);
CREATE UNIQUE INDEX bills_supplier_reference ON bills (company_id, supplier_id, kind, supplier_reference);
CREATE UNIQUE INDEX bills_number ON bills (company_id, number) WHERE number IS NOT NULL;
CREATE INDEX bills_supplier ON bills (company_id, supplier_id, bill_date);
CREATE INDEX bills_order ON bills (company_id, purchase_order_id);
CREATE INDEX bills_open ON bills (company_id, payment_status, due_date);

CREATE TABLE bill_sequences (
    company_id  TEXT PRIMARY KEY,
    last_number BIGINT NOT NULL
);

-- What an outgoing payment paid of each bill; the payment itself is a row
-- of payments (direction 'outgoing', customer_id holding the supplier id).
-- payment_allocations cannot hold these: its kind CHECK allows only
-- invoices and refunds.
CREATE TABLE bill_payment_allocations (
    id               TEXT PRIMARY KEY,
    payment_id       TEXT NOT NULL REFERENCES payments (id),
    company_id       TEXT NOT NULL,
    bill_id          TEXT NOT NULL REFERENCES bills (id),
    amount           BIGINT NOT NULL CHECK (amount > 0),
    alloc_date       TEXT NOT NULL,
    journal_entry_id TEXT NOT NULL,
    line_no          INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX bill_payment_allocations_payment ON bill_payment_allocations (payment_id, id);
CREATE INDEX bill_payment_allocations_bill ON bill_payment_allocations (company_id, bill_id);

-- +goose Up
-- Invoices and credit notes. A number is taken per company and series only
-- when an invoice is finalized (never at checkout: no hot row on the
-- request path), and finalizing posts receivables, revenue and tax.
-- Amounts in the invoice currency at scale 4.
CREATE TABLE invoices (
    id                 TEXT PRIMARY KEY,
    company_id         TEXT NOT NULL REFERENCES companies (id),
    kind               TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    series             TEXT NOT NULL,
    number             BIGINT,
    status             TEXT NOT NULL CHECK (status IN ('draft', 'finalized')),
    payment_status     TEXT NOT NULL CHECK (payment_status IN ('unpaid', 'partially_paid', 'paid')),
    customer_id        TEXT NOT NULL,
    sales_order_id     TEXT NOT NULL DEFAULT '',
    credit_of          TEXT NOT NULL DEFAULT '',
    currency           TEXT NOT NULL,
    invoice_date       TEXT NOT NULL,
    due_date           TEXT NOT NULL,
    net_total          BIGINT NOT NULL,
    tax_total          BIGINT NOT NULL,
    gross_total        BIGINT NOT NULL,
    -- The receivable: the ledger entry and line a payment settles.
    journal_entry_id   TEXT,
    receivable_line_no INTEGER,
    doc                TEXT NOT NULL,
    created_at         TIMESTAMP NOT NULL,
    finalized_at       TIMESTAMP,
    CHECK ((status = 'draft' AND number IS NULL) OR (status = 'finalized' AND number IS NOT NULL))
);
CREATE UNIQUE INDEX invoices_number ON invoices (company_id, series, number) WHERE number IS NOT NULL;
CREATE INDEX invoices_customer ON invoices (company_id, customer_id, invoice_date);
CREATE INDEX invoices_order ON invoices (company_id, sales_order_id);
CREATE INDEX invoices_open ON invoices (company_id, payment_status, due_date);

-- The last number of each company's series, locked only while an invoice
-- is finalized; a failed finalization rolls it back, so numbers are
-- gapless.
CREATE TABLE invoice_sequences (
    company_id  TEXT NOT NULL,
    series      TEXT NOT NULL,
    last_number BIGINT NOT NULL,
    PRIMARY KEY (company_id, series)
);

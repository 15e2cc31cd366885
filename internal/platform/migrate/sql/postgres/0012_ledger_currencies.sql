-- +goose Up
-- Exchange rates per company (the company currency is the quote side) and
-- day, kept by the resource engine. Rates are scaled integers (scale 10).
CREATE TABLE exchange_rates (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    doc         TEXT NOT NULL,
    currency    TEXT NOT NULL,
    rate_date   TEXT NOT NULL,
    rate        BIGINT NOT NULL
);
CREATE UNIQUE INDEX exchange_rates_external_id ON exchange_rates (company_id, external_id) WHERE external_id <> '';
-- One rate per currency and day; the lookup takes the latest on or before
-- a date, which this index answers with one seek.
CREATE UNIQUE INDEX exchange_rates_day ON exchange_rates (company_id, currency, rate_date);
CREATE INDEX exchange_rates_created ON exchange_rates (company_id, created_at, id);

-- Year-end closing entries are marked so that profit and loss can leave
-- them out (they zero the year's income and expense into retained
-- earnings).
ALTER TABLE journal_entries ADD COLUMN kind TEXT NOT NULL DEFAULT '';

-- The rate a line was converted at (scale 10; 1 for the company
-- currency), what the ledger added the line for ('' given by the caller,
-- 'rounding', 'fx_gain', 'fx_loss'), and the foreign-currency line it
-- settles, whose carrying value it takes off.
ALTER TABLE journal_lines ADD COLUMN rate BIGINT NOT NULL DEFAULT 10000000000;
ALTER TABLE journal_lines ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE journal_lines ADD COLUMN settles_entry_id TEXT;
ALTER TABLE journal_lines ADD COLUMN settles_line_no INTEGER;
CREATE INDEX journal_lines_settles ON journal_lines (settles_entry_id, settles_line_no) WHERE settles_entry_id IS NOT NULL;

-- +goose Up
-- Year-end closing: one row per company and fiscal year once it has been
-- closed, naming the entry that moved its profit or loss into retained
-- earnings (none when there was nothing to move). Reopening reverses that
-- entry and sets the status back to open.
CREATE TABLE fiscal_year_closes (
    company_id       TEXT NOT NULL REFERENCES companies (id),
    fiscal_year      INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    closing_entry_id TEXT REFERENCES journal_entries (id),
    closed_at        TIMESTAMPTZ,
    PRIMARY KEY (company_id, fiscal_year)
);

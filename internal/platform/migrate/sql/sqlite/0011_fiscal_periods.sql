-- +goose Up
-- Fiscal periods: a closed period refuses every dated source.
CREATE TABLE fiscal_periods (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    fiscal_year INTEGER NOT NULL,
    number      INTEGER NOT NULL CHECK (number BETWEEN 1 AND 12),
    start_date  TEXT NOT NULL,
    end_date    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    closed_at   TIMESTAMP,
    UNIQUE (company_id, fiscal_year, number)
);
CREATE INDEX fiscal_periods_dates ON fiscal_periods (company_id, start_date, end_date);

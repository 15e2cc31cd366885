-- +goose Up
-- Goods customers sent back: the stock moves that put them back and the
-- credit note are named in doc; the order index lets a return check what
-- earlier returns of the order took back.
CREATE TABLE customer_returns (
    id             TEXT PRIMARY KEY,
    company_id     TEXT NOT NULL REFERENCES companies (id),
    sales_order_id TEXT NOT NULL,
    return_date    TEXT NOT NULL,
    credit_note_id TEXT NOT NULL DEFAULT '',
    doc            TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX customer_returns_order ON customer_returns (company_id, sales_order_id);


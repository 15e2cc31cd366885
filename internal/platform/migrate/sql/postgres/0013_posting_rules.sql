-- +goose Up
-- Posting rules, kept by the resource engine (document plus typed
-- projections): which account a role posts to for a product, a tax
-- category, a customer or supplier group, a payroll component, or by
-- default. At most one selector is set, so the five selector columns with
-- the role identify a rule; the unique index backs the engine's check
-- against two writers racing.
CREATE TABLE posting_rules (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    doc         TEXT NOT NULL,
    role        TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    tax_category_id TEXT NOT NULL,
    customer_group TEXT NOT NULL,
    supplier_group TEXT NOT NULL,
    payroll_component TEXT NOT NULL
);
CREATE UNIQUE INDEX posting_rules_external_id ON posting_rules (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX posting_rules_selector ON posting_rules (company_id, role, product_id, tax_category_id, customer_group, supplier_group, payroll_component);
CREATE INDEX posting_rules_created ON posting_rules (company_id, created_at, id);

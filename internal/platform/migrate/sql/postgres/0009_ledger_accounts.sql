-- +goose Up
-- The chart of accounts, kept by the resource engine (document plus typed
-- projections). A role names what other modules post to an account, at
-- most one account per role and company.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    doc         TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    parent_id   TEXT NOT NULL,
    role        TEXT NOT NULL,
    non_negative BOOLEAN NOT NULL,
    active      BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX accounts_external_id ON accounts (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX accounts_code ON accounts (company_id, code);
CREATE UNIQUE INDEX accounts_role ON accounts (company_id, role) WHERE role <> '';
CREATE INDEX accounts_created ON accounts (company_id, created_at, id);
CREATE INDEX accounts_name ON accounts (company_id, name, id);

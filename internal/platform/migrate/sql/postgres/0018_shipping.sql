-- +goose Up
-- Carriers, kept by the resource engine (document plus typed projections).
-- Zones and rate bands live in the document only: a quote loads the
-- company's active carriers and matches them in Go, which is fine for the
-- tens of carriers a company has and keeps the rate rules in one place.
--
-- Availability (GET /v1/availability) needs no index of its own: it reads
-- stock_levels by (company_id, product_id), the primary key's prefix,
-- locations by id and products by (company_id, sku).
CREATE TABLE carriers (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    doc         TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    active      BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX carriers_external_id ON carriers (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX carriers_code ON carriers (company_id, code);
CREATE INDEX carriers_created ON carriers (company_id, created_at, id);
CREATE INDEX carriers_name ON carriers (company_id, name, id);

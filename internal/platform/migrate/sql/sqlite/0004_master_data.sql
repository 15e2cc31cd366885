-- +goose Up
-- Master data kept by the resource engine: each record's API representation
-- (doc) plus typed, NOT NULL projections for filters, ordering and
-- uniqueness. Money is a scaled integer (prices at scale 6), so comparisons
-- and sums are exact.
CREATE TABLE companies (
    id          TEXT PRIMARY KEY,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    doc         TEXT NOT NULL,
    legal_name TEXT NOT NULL,
    base_currency TEXT NOT NULL,
    active BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX companies_external_id ON companies (external_id) WHERE external_id <> '';
CREATE INDEX companies_created ON companies (created_at, id);

CREATE TABLE units_of_measure (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    doc         TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX units_of_measure_external_id ON units_of_measure (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX units_of_measure_code ON units_of_measure (company_id, code);
CREATE INDEX units_of_measure_created ON units_of_measure (company_id, created_at, id);
CREATE INDEX units_of_measure_name ON units_of_measure (company_id, name, id);

CREATE TABLE tax_categories (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    doc         TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX tax_categories_external_id ON tax_categories (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX tax_categories_code ON tax_categories (company_id, code);
CREATE INDEX tax_categories_created ON tax_categories (company_id, created_at, id);
CREATE INDEX tax_categories_name ON tax_categories (company_id, name, id);

CREATE TABLE products (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    doc         TEXT NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    list_price BIGINT NOT NULL,
    currency TEXT NOT NULL,
    tax_category_id TEXT NOT NULL,
    active BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX products_external_id ON products (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX products_sku ON products (company_id, sku);
CREATE INDEX products_created ON products (company_id, created_at, id);
CREATE INDEX products_name ON products (company_id, name, id);

CREATE TABLE payment_terms (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    doc         TEXT NOT NULL,
    code TEXT NOT NULL,
    net_days BIGINT NOT NULL,
    active BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX payment_terms_external_id ON payment_terms (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX payment_terms_code ON payment_terms (company_id, code);
CREATE INDEX payment_terms_created ON payment_terms (company_id, created_at, id);

CREATE TABLE customers (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    doc         TEXT NOT NULL,
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    payment_terms_id TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    party_group TEXT NOT NULL,
    tax_id TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX customers_external_id ON customers (company_id, external_id) WHERE external_id <> '';
CREATE INDEX customers_created ON customers (company_id, created_at, id);
CREATE INDEX customers_name ON customers (company_id, name, id);
CREATE INDEX customers_tax_id ON customers (company_id, tax_id);

CREATE TABLE suppliers (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    doc         TEXT NOT NULL,
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    payment_terms_id TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    party_group TEXT NOT NULL,
    tax_id TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX suppliers_external_id ON suppliers (company_id, external_id) WHERE external_id <> '';
CREATE INDEX suppliers_created ON suppliers (company_id, created_at, id);
CREATE INDEX suppliers_name ON suppliers (company_id, name, id);
CREATE INDEX suppliers_tax_id ON suppliers (company_id, tax_id);

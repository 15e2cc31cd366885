-- +goose Up
-- Supplier prices: what a supplier charges for a product in a currency
-- from a quantity on (one row per quantity break), between two dates. Kept
-- by the resource engine (document plus typed projections); purchase
-- orders look the applicable price up by one indexed query. min_quantity
-- at the quantity scale (6), unit_price at the price scale (6). Dates are
-- YYYY-MM-DD text ('' = open), which compares in calendar order.
CREATE TABLE supplier_prices (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies (id),
    external_id  TEXT NOT NULL DEFAULT '',
    version      BIGINT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    doc          TEXT NOT NULL,
    supplier_id  TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    currency     TEXT NOT NULL,
    min_quantity BIGINT NOT NULL CHECK (min_quantity >= 0),
    unit_price   BIGINT NOT NULL CHECK (unit_price >= 0),
    valid_from   TEXT NOT NULL,
    valid_to     TEXT NOT NULL,
    active       BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX supplier_prices_external_id ON supplier_prices (company_id, external_id) WHERE external_id <> '';
CREATE INDEX supplier_prices_created ON supplier_prices (company_id, created_at, id);
CREATE INDEX supplier_prices_lookup ON supplier_prices (company_id, supplier_id, product_id, currency, min_quantity);

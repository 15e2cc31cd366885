-- +goose Up
-- Prices and taxes (sales pricing). Price lists and tax rates are kept by
-- the resource engine (document plus typed projections). The prices of a
-- list are also copied, in the list's write transaction, into
-- price_list_prices, so a quote finds the applicable price of a product by
-- one indexed query instead of reading every list's document. It has no
-- foreign key to price_lists: the engine runs the copy before it inserts
-- the list row, and deletes the copy with the list (pricing.Wire).
-- Money columns are scaled integers: min_quantity at the quantity scale
-- (6), unit_price and discount_percent at the price scale (6); a tax rate
-- in percent at the price scale too. Dates are YYYY-MM-DD text ('' = open),
-- which compares in calendar order.
CREATE TABLE price_lists (
    id             TEXT PRIMARY KEY,
    company_id     TEXT NOT NULL REFERENCES companies (id),
    external_id    TEXT NOT NULL DEFAULT '',
    version        BIGINT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL,
    doc            TEXT NOT NULL,
    code           TEXT NOT NULL,
    name           TEXT NOT NULL,
    currency       TEXT NOT NULL,
    tax_inclusive  BOOLEAN NOT NULL,
    customer_group TEXT NOT NULL,
    customer_id    TEXT NOT NULL,
    valid_from     TEXT NOT NULL,
    valid_to       TEXT NOT NULL,
    priority       BIGINT NOT NULL,
    active         BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX price_lists_external_id ON price_lists (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX price_lists_code ON price_lists (company_id, code);
CREATE INDEX price_lists_created ON price_lists (company_id, created_at, id);
CREATE INDEX price_lists_name ON price_lists (company_id, name, id);

CREATE TABLE price_list_prices (
    price_list_id    TEXT NOT NULL,
    company_id       TEXT NOT NULL REFERENCES companies (id),
    product_id       TEXT NOT NULL,
    min_quantity     BIGINT NOT NULL CHECK (min_quantity >= 0),
    unit_price       BIGINT NOT NULL CHECK (unit_price >= 0),
    discount_percent BIGINT NOT NULL CHECK (discount_percent >= 0 AND discount_percent <= 100000000),
    PRIMARY KEY (price_list_id, product_id, min_quantity)
);
CREATE INDEX price_list_prices_product ON price_list_prices (company_id, product_id);

CREATE TABLE tax_rates (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies (id),
    external_id     TEXT NOT NULL DEFAULT '',
    version         BIGINT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    doc             TEXT NOT NULL,
    tax_category_id TEXT NOT NULL,
    country         TEXT NOT NULL,
    region          TEXT NOT NULL,
    rate            BIGINT NOT NULL CHECK (rate >= 0 AND rate <= 100000000),
    valid_from      TEXT NOT NULL,
    name            TEXT NOT NULL,
    active          BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX tax_rates_external_id ON tax_rates (company_id, external_id) WHERE external_id <> '';
-- One rate per category, jurisdiction and start date; it also serves the
-- look-up (category, country, region, latest valid_from).
CREATE UNIQUE INDEX tax_rates_jurisdiction ON tax_rates (company_id, tax_category_id, country, region, valid_from);
CREATE INDEX tax_rates_created ON tax_rates (company_id, created_at, id);

-- +goose Up
-- Sales orders: typed columns for what is filtered and summed (three
-- independent statuses: fulfilment, invoicing, payment; totals in the
-- order currency at scale 4), the priced and taxed order itself in doc.
-- Shipments record what left, with the stock moves that issued it.
CREATE TABLE sales_orders (
    id                TEXT PRIMARY KEY,
    company_id        TEXT NOT NULL REFERENCES companies (id),
    external_id       TEXT NOT NULL DEFAULT '',
    content_hash      TEXT NOT NULL,
    version           BIGINT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('draft', 'confirmed', 'cancelled')),
    fulfilment_status TEXT NOT NULL,
    invoicing_status  TEXT NOT NULL,
    payment_status    TEXT NOT NULL,
    customer_id       TEXT NOT NULL,
    currency          TEXT NOT NULL,
    order_date        TEXT NOT NULL,
    warehouse_id      TEXT NOT NULL,
    allow_backorder   BOOLEAN NOT NULL,
    net_total         BIGINT NOT NULL,
    tax_total         BIGINT NOT NULL,
    gross_total       BIGINT NOT NULL,
    doc               TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    confirmed_at      TIMESTAMP
);
-- The storefront's order id: one order per external id and company.
CREATE UNIQUE INDEX sales_orders_external_id ON sales_orders (company_id, external_id) WHERE external_id <> '';
CREATE INDEX sales_orders_created ON sales_orders (company_id, created_at, id);
CREATE INDEX sales_orders_customer ON sales_orders (company_id, customer_id, created_at);

CREATE TABLE shipments (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies (id),
    order_id        TEXT NOT NULL REFERENCES sales_orders (id),
    status          TEXT NOT NULL CHECK (status IN ('picking', 'packed', 'shipped')),
    ship_date       TEXT NOT NULL,
    carrier_id      TEXT NOT NULL DEFAULT '',
    tracking_number TEXT NOT NULL DEFAULT '',
    doc             TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX shipments_order ON shipments (order_id);

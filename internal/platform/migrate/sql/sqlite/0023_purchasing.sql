-- +goose Up
-- Purchase orders and goods receipts. Typed columns for what is filtered
-- and summed, the order itself (lines with ordered, received and billed
-- quantities and prices) in doc. Amounts in the order currency (scale 4),
-- quantities at scale 6, unit prices at scale 6.
CREATE TABLE purchase_orders (
    id            TEXT PRIMARY KEY,
    company_id    TEXT NOT NULL REFERENCES companies (id),
    number        BIGINT,
    external_id   TEXT NOT NULL DEFAULT '',
    version       BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('draft', 'sent', 'partially_received', 'received', 'billed', 'closed', 'cancelled')),
    supplier_id   TEXT NOT NULL,
    currency      TEXT NOT NULL,
    order_date    TEXT NOT NULL,
    expected_date TEXT NOT NULL DEFAULT '',
    warehouse_id  TEXT NOT NULL,
    net_total     BIGINT NOT NULL,
    tax_total     BIGINT NOT NULL,
    gross_total   BIGINT NOT NULL,
    doc           TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX purchase_orders_number ON purchase_orders (company_id, number) WHERE number IS NOT NULL;
CREATE UNIQUE INDEX purchase_orders_external_id ON purchase_orders (company_id, external_id) WHERE external_id <> '';
CREATE INDEX purchase_orders_supplier ON purchase_orders (company_id, supplier_id, status);
CREATE TABLE purchase_order_sequences (
    company_id  TEXT PRIMARY KEY,
    last_number BIGINT NOT NULL
);
-- One row per line received by a goods receipt, for three-way matching:
-- quantity received and the cost it was received at (the order price).
CREATE TABLE goods_receipts (
    id                TEXT PRIMARY KEY,
    company_id        TEXT NOT NULL REFERENCES companies (id),
    purchase_order_id TEXT NOT NULL REFERENCES purchase_orders (id),
    receipt_date      TEXT NOT NULL,
    doc               TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL
);
CREATE INDEX goods_receipts_order ON goods_receipts (company_id, purchase_order_id);
CREATE TABLE goods_receipt_lines (
    receipt_id        TEXT NOT NULL REFERENCES goods_receipts (id),
    line_no           INTEGER NOT NULL,
    purchase_order_id TEXT NOT NULL,
    order_line_no     INTEGER NOT NULL,
    product_id        TEXT NOT NULL,
    quantity          BIGINT NOT NULL CHECK (quantity > 0),
    unit_price        BIGINT NOT NULL,
    value             BIGINT NOT NULL,
    stock_move_id     TEXT NOT NULL,
    PRIMARY KEY (receipt_id, line_no)
);
CREATE INDEX goods_receipt_lines_order ON goods_receipt_lines (purchase_order_id, order_line_no);

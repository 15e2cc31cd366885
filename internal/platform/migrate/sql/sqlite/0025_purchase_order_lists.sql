-- +goose Up
-- Lists of purchase orders by status across suppliers (open orders to
-- chase, received orders to close) page in id order; 0023's index leads
-- with the supplier and cannot serve them.
CREATE INDEX purchase_orders_status ON purchase_orders (company_id, status, id);

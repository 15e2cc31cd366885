-- +goose Up
-- Warehouses, their locations and reorder rules, kept by the resource
-- engine (document plus typed projections). Stock lives in locations
-- (stock_levels.location_id); a location belongs to one warehouse, and a
-- transit location also names the warehouse its stock is travelling to.
-- The unique indexes back the engine's checks against two writers racing.
CREATE TABLE warehouses (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    doc         TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    active      BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX warehouses_external_id ON warehouses (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX warehouses_code ON warehouses (company_id, code);
CREATE INDEX warehouses_created ON warehouses (company_id, created_at, id);
CREATE INDEX warehouses_name ON warehouses (company_id, name, id);

-- to_warehouse_id is '' except on transit locations.
CREATE TABLE locations (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies (id),
    external_id     TEXT NOT NULL DEFAULT '',
    version         BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    doc             TEXT NOT NULL,
    warehouse_id    TEXT NOT NULL,
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    is_default      BOOLEAN NOT NULL,
    to_warehouse_id TEXT NOT NULL DEFAULT '',
    active          BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX locations_external_id ON locations (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX locations_code ON locations (company_id, code);
CREATE INDEX locations_created ON locations (company_id, created_at, id);
CREATE INDEX locations_warehouse ON locations (company_id, warehouse_id, kind);
CREATE INDEX locations_to_warehouse ON locations (company_id, to_warehouse_id) WHERE to_warehouse_id <> '';
-- At most one default location per warehouse and kind.
CREATE UNIQUE INDEX locations_default ON locations (company_id, warehouse_id, kind) WHERE is_default;

-- Quantities are scaled integers at scale 6, like stock_levels.
CREATE TABLE reorder_rules (
    id               TEXT PRIMARY KEY,
    company_id       TEXT NOT NULL REFERENCES companies (id),
    external_id      TEXT NOT NULL DEFAULT '',
    version          BIGINT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    doc              TEXT NOT NULL,
    product_id       TEXT NOT NULL,
    warehouse_id     TEXT NOT NULL,
    reorder_point    BIGINT NOT NULL,
    reorder_quantity BIGINT NOT NULL,
    lead_time_days   BIGINT NOT NULL,
    active           BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX reorder_rules_external_id ON reorder_rules (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX reorder_rules_product_warehouse ON reorder_rules (company_id, product_id, warehouse_id);
CREATE INDEX reorder_rules_created ON reorder_rules (company_id, created_at, id);
CREATE INDEX reorder_rules_warehouse ON reorder_rules (company_id, warehouse_id);

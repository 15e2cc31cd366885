-- +goose Up
-- Manufacturing execution: work centers, bills of materials (each row one
-- version of a product's bill, with its routing), inspection plans — kept
-- by the resource engine (document plus typed projections) — and
-- production orders, shop-floor events, lot genealogy and quality
-- inspections with their measurements. Quantities are scaled integers at
-- scale 6 like stock_levels, amounts at scale 4.
CREATE TABLE work_centers (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    doc         TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    hourly_rate BIGINT NOT NULL,
    active      BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX work_centers_external_id ON work_centers (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX work_centers_code ON work_centers (company_id, code);
CREATE INDEX work_centers_created ON work_centers (company_id, created_at, id);

-- valid_from/valid_to are '' when open; the service refuses overlapping
-- active versions of one product.
CREATE TABLE boms (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    doc         TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    revision    TEXT NOT NULL,
    valid_from  TEXT NOT NULL DEFAULT '',
    valid_to    TEXT NOT NULL DEFAULT '',
    active      BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX boms_external_id ON boms (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX boms_revision ON boms (company_id, product_id, revision);
CREATE INDEX boms_created ON boms (company_id, created_at, id);
CREATE INDEX boms_product ON boms (company_id, product_id, valid_from);

CREATE TABLE inspection_plans (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    external_id TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    doc         TEXT NOT NULL,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    active      BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX inspection_plans_external_id ON inspection_plans (company_id, external_id) WHERE external_id <> '';
CREATE UNIQUE INDEX inspection_plans_code ON inspection_plans (company_id, code);
CREATE INDEX inspection_plans_created ON inspection_plans (company_id, created_at, id);
CREATE INDEX inspection_plans_product ON inspection_plans (company_id, product_id);

-- Typed columns for what is filtered; the order itself (components,
-- reservations, operations with their progress, consumption, output,
-- costs and postings) in doc.
CREATE TABLE production_orders (
    id           TEXT PRIMARY KEY,
    company_id   TEXT NOT NULL REFERENCES companies (id),
    external_id  TEXT NOT NULL DEFAULT '',
    version      BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('planned', 'released', 'in_progress', 'completed', 'closed', 'cancelled')),
    product_id   TEXT NOT NULL,
    bom_id       TEXT NOT NULL,
    quantity     BIGINT NOT NULL CHECK (quantity > 0),
    warehouse_id TEXT NOT NULL,
    lot          TEXT NOT NULL DEFAULT '',
    doc          TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX production_orders_external_id ON production_orders (company_id, external_id) WHERE external_id <> '';
CREATE INDEX production_orders_status ON production_orders (company_id, status, id);
CREATE INDEX production_orders_product ON production_orders (company_id, product_id, id);

-- One row per shop-floor event, unique per order and the sender's event
-- id (a repeated event is a no-op). Progress is folded from these rows in
-- occurred_at order, so a late event lands where it happened.
CREATE TABLE production_events (
    company_id       TEXT NOT NULL,
    order_id         TEXT NOT NULL REFERENCES production_orders (id),
    event_id         TEXT NOT NULL,
    operation        INTEGER NOT NULL,
    event_type       TEXT NOT NULL,
    occurred_at      TIMESTAMP NOT NULL,
    quantity         BIGINT NOT NULL DEFAULT 0,
    reason           TEXT NOT NULL DEFAULT '',
    duration_seconds BIGINT NOT NULL DEFAULT 0,
    readings         TEXT NOT NULL DEFAULT '',
    received_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (order_id, event_id)
);
CREATE INDEX production_events_operation ON production_events (order_id, operation, occurred_at, event_id);

-- Which component lots went into which produced lot.
CREATE TABLE lot_genealogy (
    company_id          TEXT NOT NULL,
    production_order_id TEXT NOT NULL REFERENCES production_orders (id),
    product_id          TEXT NOT NULL,
    lot                 TEXT NOT NULL,
    component_id        TEXT NOT NULL,
    component_lot       TEXT NOT NULL,
    quantity            BIGINT NOT NULL,
    stock_move_id       TEXT NOT NULL,
    PRIMARY KEY (production_order_id, product_id, lot, stock_move_id)
);
CREATE INDEX lot_genealogy_produced ON lot_genealogy (company_id, product_id, lot);
CREATE INDEX lot_genealogy_component ON lot_genealogy (company_id, component_id, component_lot);

CREATE TABLE quality_inspections (
    id                  TEXT PRIMARY KEY,
    company_id          TEXT NOT NULL REFERENCES companies (id),
    version             BIGINT NOT NULL,
    plan_id             TEXT NOT NULL,
    product_id          TEXT NOT NULL,
    lot                 TEXT NOT NULL DEFAULT '',
    production_order_id TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL CHECK (status IN ('passed', 'failed', 'released')),
    doc                 TEXT NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX quality_inspections_plan ON quality_inspections (company_id, plan_id, id);
CREATE INDEX quality_inspections_lot ON quality_inspections (company_id, product_id, lot);

-- Every measured value, for statistical process control per plan and
-- characteristic; an inspection is one subgroup. Values at scale 6.
CREATE TABLE quality_measurements (
    company_id     TEXT NOT NULL,
    inspection_id  TEXT NOT NULL REFERENCES quality_inspections (id),
    plan_id        TEXT NOT NULL,
    characteristic TEXT NOT NULL,
    sample_no      INTEGER NOT NULL,
    value          BIGINT NOT NULL,
    measured_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (inspection_id, characteristic, sample_no)
);
CREATE INDEX quality_measurements_characteristic ON quality_measurements (company_id, plan_id, characteristic, measured_at);


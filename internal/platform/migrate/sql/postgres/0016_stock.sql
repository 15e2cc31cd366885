-- +goose Up
-- Stock. Moves are the only way stock changes and, like journal entries,
-- never change once written (a reversal is a new move); levels, cost
-- layers and the per-product cost are what the moves left, kept in step
-- in the same transaction. Quantities are scaled integers at scale 6 in
-- the product's stock unit; values and costs in the company currency
-- (values scale 4, unit costs scale 6).
CREATE TABLE stock_moves (
    id               TEXT PRIMARY KEY,
    company_id       TEXT NOT NULL REFERENCES companies (id),
    move_type        TEXT NOT NULL CHECK (move_type IN ('receipt', 'issue', 'transfer', 'adjustment', 'opening', 'return')),
    product_id       TEXT NOT NULL,
    from_location_id TEXT NOT NULL DEFAULT '',
    to_location_id   TEXT NOT NULL DEFAULT '',
    lot              TEXT NOT NULL DEFAULT '',
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    entered_quantity BIGINT NOT NULL,
    entered_unit_id  TEXT NOT NULL,
    unit_cost        BIGINT NOT NULL,
    value            BIGINT NOT NULL,
    move_date        TEXT NOT NULL CHECK (length(move_date) = 10),
    reason           TEXT NOT NULL DEFAULT '',
    memo             TEXT NOT NULL DEFAULT '',
    source_type      TEXT NOT NULL DEFAULT '',
    source_id        TEXT NOT NULL DEFAULT '',
    purpose          TEXT NOT NULL DEFAULT '',
    reversal_of      TEXT REFERENCES stock_moves (id),
    reversed_by      TEXT REFERENCES stock_moves (id),
    journal_entry_id TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    CHECK (from_location_id <> '' OR to_location_id <> '')
);
CREATE INDEX stock_moves_date ON stock_moves (company_id, move_date, id);
CREATE INDEX stock_moves_product ON stock_moves (company_id, product_id, move_date);
CREATE INDEX stock_moves_lot ON stock_moves (company_id, product_id, lot) WHERE lot <> '';
CREATE UNIQUE INDEX stock_moves_source ON stock_moves (company_id, source_type, source_id, purpose) WHERE source_type <> '';
CREATE UNIQUE INDEX stock_moves_reversal_of ON stock_moves (reversal_of) WHERE reversal_of IS NOT NULL;

-- What is where: one row per product, location and lot.
CREATE TABLE stock_levels (
    company_id  TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    location_id TEXT NOT NULL,
    lot         TEXT NOT NULL DEFAULT '',
    on_hand     BIGINT NOT NULL,
    reserved    BIGINT NOT NULL CHECK (reserved >= 0),
    held        BIGINT NOT NULL CHECK (held >= 0),
    PRIMARY KEY (company_id, product_id, location_id, lot)
);

CREATE TABLE stock_reservations (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    location_id TEXT NOT NULL,
    lot         TEXT NOT NULL DEFAULT '',
    quantity    BIGINT NOT NULL CHECK (quantity >= 0),
    source_type TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'released', 'consumed')),
    created_at  TIMESTAMPTZ NOT NULL,
    closed_at   TIMESTAMPTZ
);
CREATE INDEX stock_reservations_source ON stock_reservations (company_id, source_type, source_id);

CREATE TABLE stock_holds (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    location_id TEXT NOT NULL,
    lot         TEXT NOT NULL DEFAULT '',
    quantity    BIGINT NOT NULL CHECK (quantity > 0),
    reason      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('held', 'lifted')),
    created_at  TIMESTAMPTZ NOT NULL,
    lifted_at   TIMESTAMPTZ
);
CREATE INDEX stock_holds_product ON stock_holds (company_id, product_id, status);

-- Valuation: the company-wide quantity and value of each product (moving
-- average reads its cost here), and FIFO's receipt layers.
CREATE TABLE product_costs (
    company_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    quantity   BIGINT NOT NULL,
    value      BIGINT NOT NULL,
    PRIMARY KEY (company_id, product_id)
);
CREATE TABLE cost_layers (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL,
    product_id      TEXT NOT NULL,
    move_id         TEXT NOT NULL,
    layer_date      TEXT NOT NULL,
    quantity        BIGINT NOT NULL,
    remaining       BIGINT NOT NULL CHECK (remaining >= 0),
    remaining_value BIGINT NOT NULL,
    unit_cost       BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX cost_layers_open ON cost_layers (company_id, product_id, layer_date, created_at, id) WHERE remaining > 0;

-- Stock counts: a count sheet of what was counted where; posting it moves
-- the differences from what the books say as adjustments.
CREATE TABLE stock_counts (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL REFERENCES companies (id),
    status      TEXT NOT NULL CHECK (status IN ('draft', 'posted')),
    count_date  TEXT NOT NULL,
    memo        TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    posted_at   TIMESTAMPTZ
);
CREATE TABLE stock_count_lines (
    count_id    TEXT NOT NULL REFERENCES stock_counts (id),
    line_no     INTEGER NOT NULL,
    product_id  TEXT NOT NULL,
    location_id TEXT NOT NULL,
    lot         TEXT NOT NULL DEFAULT '',
    counted     BIGINT NOT NULL CHECK (counted >= 0),
    book        BIGINT,
    move_id     TEXT,
    PRIMARY KEY (count_id, line_no)
);

-- Lots and serial numbers of tracked products.
CREATE TABLE stock_lots (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    code        TEXT NOT NULL,
    expiry_date TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    UNIQUE (company_id, product_id, code)
);

-- Moves are immutable: the only change is recording their reversal, once.
-- +goose StatementBegin
CREATE FUNCTION stock_moves_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.reversed_by IS NULL AND NEW.reversed_by IS NOT NULL
       AND (to_jsonb(NEW) - 'reversed_by') = (to_jsonb(OLD) - 'reversed_by') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'stock moves are immutable' USING ERRCODE = 'MSL02';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER stock_moves_immutable BEFORE UPDATE OR DELETE ON stock_moves
    FOR EACH ROW EXECUTE FUNCTION stock_moves_refuse_change();

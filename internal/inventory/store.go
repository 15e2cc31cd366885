package inventory

// The SQL of stock, apart from the rules. Quantities go through
// money.Quantity, values through money.Amount and costs through
// money.Price, so the tables hold scaled integers.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// levelKey names one stock_levels row of a company.
type levelKey struct{ product, location, lot string }

func sortKeys(keys []levelKey) []levelKey {
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.product != b.product {
			return a.product < b.product
		}
		if a.location != b.location {
			return a.location < b.location
		}
		return a.lot < b.lot
	})
	out := keys[:0]
	for i, k := range keys {
		if i == 0 || k != keys[i-1] {
			out = append(out, k)
		}
	}
	return out
}

// lockLevels makes sure each level row exists and locks them all, in one
// sorted order, so that writers touching the same rows queue instead of
// deadlocking (on SQLite the single writer already excludes them).
func lockLevels(ctx context.Context, tx *db.Tx, companyID string, keys []levelKey) (map[levelKey]*StockLevel, error) {
	out := make(map[levelKey]*StockLevel, len(keys))
	// A copy is sorted: callers index their keys in their own order.
	sorted := sortKeys(append([]levelKey(nil), keys...))
	for start := 0; start < len(sorted); start += 300 {
		if err := lockLevelChunk(ctx, tx, companyID, sorted[start:min(start+300, len(sorted))], out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// lockLevelChunk makes sure each level exists and locks them all, in two
// statements whatever their number (a checkout's round trips add up).
// Every locker takes the rows in one order — byte order of the key, as
// sortKeys sorts (PostgreSQL locks rows as they leave the sort, and
// compares in byte order under COLLATE "C"), chunk after chunk — so
// concurrent moves and reservations queue rather than deadlock.
func lockLevelChunk(ctx context.Context, tx *db.Tx, companyID string, keys []levelKey, out map[levelKey]*StockLevel) error {
	args := make([]any, 0, 1+3*len(keys))
	args = append(args, companyID)
	values := make([]string, len(keys))
	tuples := make([]string, len(keys))
	for i, k := range keys {
		n := len(args)
		args = append(args, k.product, k.location, k.lot)
		values[i] = fmt.Sprintf("($1, $%d, $%d, $%d, 0, 0, 0)", n+1, n+2, n+3)
		tuples[i] = fmt.Sprintf("($%d, $%d, $%d)", n+1, n+2, n+3)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO stock_levels (company_id, product_id, location_id, lot, on_hand, reserved, held)
VALUES `+strings.Join(values, ", ")+` ON CONFLICT DO NOTHING`, args...); err != nil {
		return fmt.Errorf("stock levels: %w", err)
	}
	order, lock := "product_id, location_id, lot", "" // SQLite compares bytes
	if tx.Engine() == db.Postgres {
		order, lock = `product_id COLLATE "C", location_id COLLATE "C", lot COLLATE "C"`, " FOR UPDATE"
	}
	rows, err := tx.QueryContext(ctx, `SELECT product_id, location_id, lot, on_hand, reserved, held FROM stock_levels
WHERE company_id = $1 AND (product_id, location_id, lot) IN (`+strings.Join(tuples, ", ")+`)
ORDER BY `+order+lock, args...)
	if err != nil {
		return fmt.Errorf("lock stock levels: %w", err)
	}
	levels, err := db.Collect(rows, func(rows *sql.Rows) (*StockLevel, error) {
		l := &StockLevel{}
		return l, rows.Scan(&l.ProductID, &l.LocationID, &l.Lot, money.Quantity(&l.OnHand), money.Quantity(&l.Reserved), money.Quantity(&l.Held))
	})
	if err != nil {
		return fmt.Errorf("lock stock levels: %w", err)
	}
	for _, l := range levels {
		out[levelKey{product: l.ProductID, location: l.LocationID, lot: l.Lot}] = l
	}
	if len(levels) != len(keys) {
		return fmt.Errorf("lock stock levels: %d of %d found", len(levels), len(keys))
	}
	return nil
}

func saveLevel(ctx context.Context, tx *db.Tx, companyID string, l *StockLevel) error {
	_, err := tx.ExecContext(ctx, `UPDATE stock_levels SET on_hand = $1, reserved = $2, held = $3
WHERE company_id = $4 AND product_id = $5 AND location_id = $6 AND lot = $7`,
		money.Quantity(&l.OnHand), money.Quantity(&l.Reserved), money.Quantity(&l.Held), companyID, l.ProductID, l.LocationID, l.Lot)
	if err != nil {
		return fmt.Errorf("save stock level %s at %s: %w", l.ProductID, l.LocationID, err)
	}
	return nil
}

// costState is the company-wide quantity and value of a product.
type costState struct{ quantity, value money.Decimal }

func lockCost(ctx context.Context, tx *db.Tx, companyID, productID string) (costState, error) {
	lock := ""
	if tx.Engine() == db.Postgres {
		lock = " FOR UPDATE"
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO product_costs (company_id, product_id, quantity, value) VALUES ($1, $2, 0, 0)
ON CONFLICT DO NOTHING`, companyID, productID); err != nil {
		return costState{}, fmt.Errorf("cost of %s: %w", productID, err)
	}
	var c costState
	err := tx.QueryRowContext(ctx, "SELECT quantity, value FROM product_costs WHERE company_id = $1 AND product_id = $2"+lock,
		companyID, productID).Scan(money.Quantity(&c.quantity), money.Amount(&c.value))
	if err != nil {
		return costState{}, fmt.Errorf("lock cost of %s: %w", productID, err)
	}
	return c, nil
}

func saveCost(ctx context.Context, tx *db.Tx, companyID, productID string, c costState) error {
	_, err := tx.ExecContext(ctx, "UPDATE product_costs SET quantity = $1, value = $2 WHERE company_id = $3 AND product_id = $4",
		money.Quantity(&c.quantity), money.Amount(&c.value), companyID, productID)
	if err != nil {
		return fmt.Errorf("save cost of %s: %w", productID, err)
	}
	return nil
}

// layer is a FIFO receipt layer.
type layer struct {
	id                        string
	remaining, remainingValue money.Decimal
}

func addLayer(ctx context.Context, tx *db.Tx, companyID, productID, moveID, date string, qty, value, unitCost money.Decimal) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO cost_layers (id, company_id, product_id, move_id, layer_date, quantity, remaining, remaining_value, unit_cost, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9)`, id.New("lay"), companyID, productID, moveID, date,
		money.Quantity(&qty), money.Amount(&value), money.Price(&unitCost), tx.Now())
	if err != nil {
		return fmt.Errorf("add cost layer of %s: %w", productID, err)
	}
	return nil
}

// openLayers are a product's layers with stock left, oldest first (the
// product's cost row is locked, so no one else changes them meanwhile).
func openLayers(ctx context.Context, tx *db.Tx, companyID, productID string) ([]layer, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, remaining, remaining_value FROM cost_layers
WHERE company_id = $1 AND product_id = $2 AND remaining > 0 ORDER BY layer_date, created_at, id`, companyID, productID)
	if err != nil {
		return nil, fmt.Errorf("cost layers of %s: %w", productID, err)
	}
	return db.Collect(rows, func(rows *sql.Rows) (layer, error) {
		var l layer
		return l, rows.Scan(&l.id, money.Quantity(&l.remaining), money.Amount(&l.remainingValue))
	})
}

func saveLayer(ctx context.Context, tx *db.Tx, l layer) error {
	_, err := tx.ExecContext(ctx, "UPDATE cost_layers SET remaining = $1, remaining_value = $2 WHERE id = $3",
		money.Quantity(&l.remaining), money.Amount(&l.remainingValue), l.id)
	if err != nil {
		return fmt.Errorf("save cost layer %s: %w", l.id, err)
	}
	return nil
}

// layerOf is the layer a receipt made, for its reversal.
func layerOf(ctx context.Context, tx *db.Tx, moveID string) (layer, money.Decimal, bool, error) {
	var l layer
	var qty money.Decimal
	err := tx.QueryRowContext(ctx, "SELECT id, quantity, remaining, remaining_value FROM cost_layers WHERE move_id = $1", moveID).
		Scan(&l.id, money.Quantity(&qty), money.Quantity(&l.remaining), money.Amount(&l.remainingValue))
	if errors.Is(err, sql.ErrNoRows) {
		return layer{}, money.Decimal{}, false, nil
	}
	if err != nil {
		return layer{}, money.Decimal{}, false, fmt.Errorf("cost layer of move %s: %w", moveID, err)
	}
	return l, qty, true, nil
}

const moveColumns = `id, company_id, move_type, product_id, from_location_id, to_location_id, lot, quantity, entered_quantity,
entered_unit_id, unit_cost, value, move_date, reason, memo, source_type, source_id, purpose, reversal_of, reversed_by,
journal_entry_id, created_at`

func insertMove(ctx context.Context, tx *db.Tx, m *StockMove) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO stock_moves (`+moveColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, NULL, $20, $21)`,
		m.ID, m.CompanyID, m.Type, m.ProductID, m.FromLocationID, m.ToLocationID, m.Lot, money.Quantity(&m.Quantity),
		money.Quantity(&m.EnteredQuantity), m.EnteredUnitID, money.Price(&m.UnitCost), money.Amount(&m.Value), m.Date,
		m.Reason, m.Memo, m.SourceType, m.SourceID, m.Purpose, nullString(m.ReversalOf), nullString(m.JournalEntryID), m.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert stock move: %w", err)
	}
	return nil
}

func scanMove(row interface{ Scan(...any) error }, cur money.Currency) (StockMove, error) {
	var (
		m                                  StockMove
		reversalOf, reversedBy, journalRef sql.NullString
	)
	err := row.Scan(&m.ID, &m.CompanyID, &m.Type, &m.ProductID, &m.FromLocationID, &m.ToLocationID, &m.Lot,
		money.Quantity(&m.Quantity), money.Quantity(&m.EnteredQuantity), &m.EnteredUnitID, money.Price(&m.UnitCost),
		money.Amount(&m.Value), &m.Date, &m.Reason, &m.Memo, &m.SourceType, &m.SourceID, &m.Purpose,
		&reversalOf, &reversedBy, &journalRef, &m.CreatedAt)
	if err != nil {
		return StockMove{}, err
	}
	m.ReversalOf, m.ReversedBy, m.JournalEntryID = reversalOf.String, reversedBy.String, journalRef.String
	m.Currency = cur
	normalize(&m)
	return m, nil
}

// normalize shows a move as it reads back: quantities without trailing
// zeros, the value at the currency's minor units, times in microseconds.
func normalize(m *StockMove) {
	m.Quantity, m.EnteredQuantity, m.UnitCost = m.Quantity.Normalize(), m.EnteredQuantity.Normalize(), m.UnitCost.Normalize()
	m.Value = money.RoundAmount(m.Value, m.Currency, money.HalfEven)
	m.CreatedAt = m.CreatedAt.UTC().Truncate(time.Microsecond)
}

func loadMove(ctx context.Context, q db.Querier, companyID, moveID string) (StockMove, bool, error) {
	cur, err := companyCurrency(ctx, q, companyID)
	if err != nil {
		return StockMove{}, false, err
	}
	m, err := scanMove(q.QueryRowContext(ctx, "SELECT "+moveColumns+" FROM stock_moves WHERE id = $1 AND company_id = $2", moveID, companyID), cur)
	if errors.Is(err, sql.ErrNoRows) {
		return StockMove{}, false, nil
	}
	if err != nil {
		return StockMove{}, false, fmt.Errorf("read stock move %s: %w", moveID, err)
	}
	return m, true, nil
}

func moveBySource(ctx context.Context, q db.Querier, companyID, sourceType, sourceID, purpose string) (string, bool, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM stock_moves WHERE company_id = $1 AND source_type = $2 AND source_id = $3 AND purpose = $4 AND source_type <> ''`,
		companyID, sourceType, sourceID, purpose).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("stock move of %s %s: %w", sourceType, sourceID, err)
	}
	return id, true, nil
}

func setReversedBy(ctx context.Context, tx *db.Tx, id, reversal string) (bool, error) {
	res, err := tx.ExecContext(ctx, "UPDATE stock_moves SET reversed_by = $1 WHERE id = $2 AND reversed_by IS NULL", reversal, id)
	if err != nil {
		return false, fmt.Errorf("mark stock move %s reversed: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func ensureLot(ctx context.Context, tx *db.Tx, companyID, productID, code, expiry string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO stock_lots (id, company_id, product_id, code, expiry_date, created_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, id.New("lot"), companyID, productID, code, expiry, tx.Now())
	if err != nil {
		return fmt.Errorf("record lot %s: %w", code, err)
	}
	return nil
}

// serialOnHand is how many of a serial number the company holds anywhere.
func serialOnHand(ctx context.Context, q db.Querier, companyID, productID, serial string) (money.Decimal, error) {
	var v money.Decimal
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(on_hand), 0) FROM stock_levels WHERE company_id = $1 AND product_id = $2 AND lot = $3`,
		companyID, productID, serial).Scan(money.Quantity(&v))
	if err != nil {
		return v, fmt.Errorf("serial %s: %w", serial, err)
	}
	return v, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// LevelFilter selects stock levels; empty fields select all.
type LevelFilter struct {
	ProductID, LocationID, WarehouseID, Lot string
	// After is the last row of the previous page (product, location, lot).
	After *[3]string
	Limit int
}

// Levels lists a company's stock levels in (product, location, lot) order,
// rows with nothing on hand, reserved or held left out.
func Levels(ctx context.Context, q db.Querier, companyID string, f LevelFilter) ([]StockLevel, error) {
	where := []string{"s.company_id = $1", "(s.on_hand <> 0 OR s.reserved <> 0 OR s.held <> 0)"}
	args := []any{companyID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.ProductID != "" {
		add("s.product_id = $%d", f.ProductID)
	}
	if f.LocationID != "" {
		add("s.location_id = $%d", f.LocationID)
	}
	if f.Lot != "" {
		add("s.lot = $%d", f.Lot)
	}
	if f.WarehouseID != "" {
		add("s.location_id IN (SELECT id FROM locations WHERE company_id = s.company_id AND warehouse_id = $%d)", f.WarehouseID)
	}
	if f.After != nil {
		args = append(args, f.After[0], f.After[1], f.After[2])
		n := len(args)
		where = append(where, fmt.Sprintf("(s.product_id > $%d OR (s.product_id = $%d AND (s.location_id > $%d OR (s.location_id = $%d AND s.lot > $%d))))",
			n-2, n-2, n-1, n-1, n))
	}
	args = append(args, f.Limit)
	rows, err := q.QueryContext(ctx, `SELECT s.product_id, s.location_id, s.lot, s.on_hand, s.reserved, s.held FROM stock_levels s
WHERE `+strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY s.product_id, s.location_id, s.lot LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("stock levels: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (StockLevel, error) {
		var l StockLevel
		err := rows.Scan(&l.ProductID, &l.LocationID, &l.Lot, money.Quantity(&l.OnHand), money.Quantity(&l.Reserved), money.Quantity(&l.Held))
		l.OnHand, l.Reserved, l.Held = l.OnHand.Normalize(), l.Reserved.Normalize(), l.Held.Normalize()
		l.Available = l.OnHand.Sub(l.Reserved).Sub(l.Held)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("stock levels: %w", err)
	}
	if out == nil {
		out = []StockLevel{}
	}
	return out, nil
}

// ProductStockValue is one product's stock and value in a valuation.
type ProductStockValue struct {
	ProductID string        `json:"product_id"`
	Quantity  money.Decimal `json:"quantity" doc:"In the stock unit, company-wide."`
	Value     money.Decimal `json:"value"`
}

// Valuation is the value of stock as of a date, from the moves: what each
// move brought in less what it took out, as posted. It therefore equals
// the ledger's inventory accounts on that date for the moves' postings.
func Valuation(ctx context.Context, q db.Querier, companyID, asOf string) ([]ProductStockValue, money.Decimal, error) {
	cur, err := companyCurrency(ctx, q, companyID)
	if err != nil {
		return nil, money.Decimal{}, err
	}
	rows, err := q.QueryContext(ctx, `SELECT product_id,
    SUM(CASE WHEN from_location_id = '' THEN quantity WHEN to_location_id = '' THEN -quantity ELSE 0 END),
    SUM(CASE WHEN from_location_id = '' THEN value WHEN to_location_id = '' THEN -value ELSE 0 END)
FROM stock_moves WHERE company_id = $1 AND move_date <= $2 GROUP BY product_id ORDER BY product_id`, companyID, asOf)
	if err != nil {
		return nil, money.Decimal{}, fmt.Errorf("inventory valuation: %w", err)
	}
	var total money.Decimal
	out, err := db.Collect(rows, func(rows *sql.Rows) (ProductStockValue, error) {
		var v ProductStockValue
		err := rows.Scan(&v.ProductID, money.Quantity(&v.Quantity), money.Amount(&v.Value))
		v.Quantity, v.Value = v.Quantity.Normalize(), money.RoundAmount(v.Value, cur, money.HalfEven)
		total = total.Add(v.Value)
		return v, err
	})
	if err != nil {
		return nil, money.Decimal{}, fmt.Errorf("inventory valuation: %w", err)
	}
	return out, money.RoundAmount(total, cur, money.HalfEven), nil
}

// LotExpiry is a lot's expiry date as recorded at its first receipt.
func LotExpiry(ctx context.Context, q db.Querier, companyID, productID, lot string) (string, error) {
	var expiry string
	err := q.QueryRowContext(ctx, "SELECT expiry_date FROM stock_lots WHERE company_id = $1 AND product_id = $2 AND code = $3",
		companyID, productID, lot).Scan(&expiry)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("lot %s: %w", lot, err)
	}
	return expiry, nil
}

// Trace is where a lot came from and went: its moves in date order.
func Trace(ctx context.Context, q db.Querier, companyID, productID, lot string) ([]StockMove, error) {
	cur, err := companyCurrency(ctx, q, companyID)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, "SELECT "+moveColumns+` FROM stock_moves WHERE company_id = $1 AND product_id = $2 AND lot = $3
ORDER BY move_date, created_at, id`, companyID, productID, lot)
	if err != nil {
		return nil, fmt.Errorf("trace lot %s: %w", lot, err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (StockMove, error) { return scanMove(rows, cur) })
	if err != nil {
		return nil, fmt.Errorf("trace lot %s: %w", lot, err)
	}
	return out, nil
}

// MoveFilter selects stock moves; empty fields select all.
type MoveFilter struct {
	ProductID, Lot, From, To string
	After                    *[2]string // the previous page's last (date, id)
	Limit                    int
}

// Moves lists a company's moves by date, then id.
func Moves(ctx context.Context, q db.Querier, companyID string, f MoveFilter) ([]StockMove, error) {
	cur, err := companyCurrency(ctx, q, companyID)
	if err != nil {
		return nil, err
	}
	where := []string{"company_id = $1"}
	args := []any{companyID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.ProductID != "" {
		add("product_id = $%d", f.ProductID)
	}
	if f.Lot != "" {
		add("lot = $%d", f.Lot)
	}
	if f.From != "" {
		add("move_date >= $%d", f.From)
	}
	if f.To != "" {
		add("move_date <= $%d", f.To)
	}
	if f.After != nil {
		args = append(args, f.After[0], f.After[1])
		where = append(where, fmt.Sprintf("(move_date > $%d OR (move_date = $%d AND id > $%d))", len(args)-1, len(args)-1, len(args)))
	}
	args = append(args, f.Limit)
	rows, err := q.QueryContext(ctx, "SELECT "+moveColumns+" FROM stock_moves WHERE "+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY move_date, id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("stock moves: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (StockMove, error) { return scanMove(rows, cur) })
	if err != nil {
		return nil, fmt.Errorf("stock moves: %w", err)
	}
	if out == nil {
		out = []StockMove{}
	}
	return out, nil
}

// WarehouseStock is a product's stock in one warehouse.
type WarehouseStock struct {
	ProductID   string        `json:"product_id"`
	WarehouseID string        `json:"warehouse_id"`
	OnHand      money.Decimal `json:"on_hand" doc:"In the warehouse's own locations (not in transit)."`
	Reserved    money.Decimal `json:"reserved"`
	Held        money.Decimal `json:"held"`
	Available   money.Decimal `json:"available" doc:"on_hand − reserved − held."`
	Incoming    money.Decimal `json:"incoming" doc:"In transit locations on its way to this warehouse (the first step of a transfer is done, the second not yet)."`
}

// ByWarehouse sums a company's levels per product and warehouse, with
// what is in transit towards each warehouse as incoming.
func ByWarehouse(ctx context.Context, q db.Querier, companyID, productID, warehouseID string) ([]WarehouseStock, error) {
	where, args := "s.company_id = $1", []any{companyID}
	if productID != "" {
		args = append(args, productID)
		where += fmt.Sprintf(" AND s.product_id = $%d", len(args))
	}
	filter := ""
	if warehouseID != "" {
		args = append(args, warehouseID)
		filter = fmt.Sprintf(" WHERE warehouse_id = $%d", len(args))
	}
	rows, err := q.QueryContext(ctx, `SELECT product_id, warehouse_id, SUM(on_hand), SUM(reserved), SUM(held), SUM(incoming) FROM (
    SELECT s.product_id, l.warehouse_id, s.on_hand, s.reserved, s.held, 0 AS incoming
    FROM stock_levels s JOIN locations l ON l.id = s.location_id WHERE `+where+` AND l.kind <> 'transit'
    UNION ALL
    SELECT s.product_id, l.to_warehouse_id, 0, 0, 0, s.on_hand
    FROM stock_levels s JOIN locations l ON l.id = s.location_id WHERE `+where+` AND l.kind = 'transit'
) x`+filter+` GROUP BY product_id, warehouse_id ORDER BY product_id, warehouse_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("stock by warehouse: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (WarehouseStock, error) {
		var w WarehouseStock
		err := rows.Scan(&w.ProductID, &w.WarehouseID, money.Quantity(&w.OnHand), money.Quantity(&w.Reserved), money.Quantity(&w.Held), money.Quantity(&w.Incoming))
		w.OnHand, w.Reserved, w.Held, w.Incoming = w.OnHand.Normalize(), w.Reserved.Normalize(), w.Held.Normalize(), w.Incoming.Normalize()
		w.Available = w.OnHand.Sub(w.Reserved).Sub(w.Held)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("stock by warehouse: %w", err)
	}
	if out == nil {
		out = []WarehouseStock{}
	}
	return out, nil
}

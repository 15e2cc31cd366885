package inventory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/rules"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// This file is what manufacturing needs of stock. Production moves are
// ordinary issues (components consumed) and receipts (goods produced),
// named by their source (source_type "production_order"), so levels,
// lots, reservations, holds, valuation and reversal work exactly as for
// any other move. Only the other side of their ledger entry differs: the
// caller's work-in-progress account instead of the posting-rule role of
// the move type (cost of goods sold, GR/IR clearing). Keeping the move
// types unchanged also keeps the stock_moves CHECK constraint and every
// consumer of the move list as they are.

// ProductInfo is what manufacturing needs to know of a product's stock.
type ProductInfo struct {
	StockUnitID string
	Tracking    string // TrackNone, TrackLot or TrackSerial
}

// Product returns a product's stock unit and tracking; an unknown product
// (or another company's) is 422 at pointer.
func Product(ctx context.Context, q db.Querier, companyID, productID, pointer string) (ProductInfo, error) {
	p, err := loadProduct(ctx, q, companyID, productID, pointer)
	if err != nil {
		return ProductInfo{}, err
	}
	return ProductInfo{StockUnitID: p.StockUnitID, Tracking: p.Tracking}, nil
}

// ToStockUnitsUp converts qty in unit into the product's stock unit,
// rounded up to the stored six decimal places: a requirement computed
// from a bill of materials (a quantity per unit times an order quantity
// times a scrap factor) is never rounded below what is needed, where a
// move's own quantity is refused when it is not exact.
func ToStockUnitsUp(ctx context.Context, q db.Querier, companyID, productID, unit string, qty money.Decimal, pointer string) (money.Decimal, error) {
	p, err := loadProduct(ctx, q, companyID, productID, pointer)
	if err != nil {
		return money.Decimal{}, err
	}
	mul, div, err := p.stockFactor(ctx, q, companyID, unit, pointer)
	if err != nil {
		return money.Decimal{}, err
	}
	out := qty.Mul(mul)
	if div.Sign() > 0 {
		if out, err = qty.DivRound(div, 2*money.QuantityScale, money.HalfEven); err != nil {
			return money.Decimal{}, apperr.Field(pointer, "%s %s cannot be converted: %v", qty, unit, err)
		}
	}
	return CeilQuantity(out), nil
}

// CeilQuantity rounds a non-negative quantity up to the stored scale.
func CeilQuantity(d money.Decimal) money.Decimal {
	r := d.Round(money.QuantityScale, money.HalfEven)
	if r.Cmp(d) < 0 {
		r = r.Add(money.New(1, -money.QuantityScale))
	}
	return r.Normalize()
}

// UnitCost is a product's current cost per stock unit: the value of its
// stock over its quantity, company-wide (the moving average; under FIFO
// the average of the open layers). ok is false when nothing is in stock to
// take a cost from.
func UnitCost(ctx context.Context, q db.Querier, companyID, productID string) (money.Decimal, bool, error) {
	var c costState
	err := q.QueryRowContext(ctx, "SELECT quantity, value FROM product_costs WHERE company_id = $1 AND product_id = $2", companyID, productID).
		Scan(money.Quantity(&c.quantity), money.Amount(&c.value))
	if errors.Is(err, sql.ErrNoRows) {
		return money.Decimal{}, false, nil
	}
	if err != nil {
		return money.Decimal{}, false, fmt.Errorf("cost of %s: %w", productID, err)
	}
	if c.quantity.Sign() <= 0 {
		return money.Decimal{}, false, nil
	}
	return unitCostOf(c.value, c.quantity), true, nil
}

// Available sums available stock (on hand − reserved − held) of a product
// over a warehouse's own locations (transit excluded), all lots; with an
// empty warehouse, over the whole company.
func Available(ctx context.Context, q db.Querier, companyID, productID, warehouseID string) (money.Decimal, error) {
	query := `SELECT COALESCE(SUM(s.on_hand - s.reserved - s.held), 0) FROM stock_levels s
JOIN locations l ON l.id = s.location_id AND l.company_id = s.company_id
WHERE s.company_id = $1 AND s.product_id = $2 AND l.kind <> 'transit'`
	args := []any{companyID, productID}
	if warehouseID != "" {
		query += " AND l.warehouse_id = $3"
		args = append(args, warehouseID)
	}
	var v money.Decimal
	if err := q.QueryRowContext(ctx, query, args...).Scan(money.Quantity(&v)); err != nil {
		return money.Decimal{}, fmt.Errorf("available %s: %w", productID, err)
	}
	return v.Normalize(), nil
}

// LotLevels lists the levels of a product's lot with stock on hand, in
// location order.
func LotLevels(ctx context.Context, q db.Querier, companyID, productID, lot string) ([]StockLevel, error) {
	return Levels(ctx, q, companyID, LevelFilter{ProductID: productID, Lot: lot, Limit: 500})
}

// PostAgainst records a receipt or issue, like Post, whose value goes to
// accountID on the other side of the inventory account: an issue of
// components into work in progress (debit accountID, credit inventory), a
// receipt of produced goods out of it (debit inventory, credit
// accountID). It is idempotent per (source type, source id, purpose) like
// Post, and its move can be reversed like any other (the reversal
// reverses its ledger entry).
func PostAgainst(ctx context.Context, tx *db.Tx, in MoveInput, accountID string) (StockMove, error) {
	if in.Type != Issue && in.Type != Receipt {
		return StockMove{}, fmt.Errorf("post against an account: move type %q is neither issue nor receipt", in.Type)
	}
	if accountID == "" || in.SourceType == "" {
		return StockMove{}, fmt.Errorf("post against an account: the account and the move's source are required")
	}
	return post(ctx, tx, in, accountID)
}

// postAgainst books a production move's value between the inventory
// account and contra (work in progress).
func postAgainst(ctx context.Context, tx *db.Tx, m *StockMove, contra string) (ledger.Entry, error) {
	inventoryAcct, err := rules.Determine(ctx, tx, m.CompanyID, "inventory", rules.Keys{ProductID: m.ProductID})
	if err != nil {
		return ledger.Entry{}, err
	}
	debit, credit := inventoryAcct, contra
	if m.direction() < 0 {
		debit, credit = contra, inventoryAcct
	}
	return ledger.Post(ctx, tx, ledger.Posting{
		CompanyID: m.CompanyID, Date: m.Date, Currency: m.Currency,
		SourceType: ResourceType, SourceID: m.ID, Purpose: "valuation",
		Memo:  fmt.Sprintf("Production %s of %s %s (%s %s)", m.Type, m.Quantity, m.ProductID, m.SourceType, m.SourceID),
		Lines: []ledger.Line{{AccountID: debit, Debit: m.Value}, {AccountID: credit, Credit: m.Value}},
	})
}

package inventory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// product is what stock needs to know of a catalog product.
type product struct {
	ID                 string        `json:"id"`
	StockUnitID        string        `json:"stock_unit_id"`
	SalesUnitID        string        `json:"sales_unit_id"`
	SalesUnitFactor    money.Decimal `json:"sales_unit_factor"`
	ValuationMethod    string        `json:"valuation_method"`
	Tracking           string        `json:"tracking"`
	AllowNegativeStock bool          `json:"allow_negative_stock"`
}

func (p product) fifo() bool { return p.ValuationMethod == FIFO }

func (p product) tracked() bool { return p.Tracking == TrackLot || p.Tracking == TrackSerial }

// loadProduct reads a product of the company from its stored document.
func loadProduct(ctx context.Context, q db.Querier, companyID, productID, pointer string) (product, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM products WHERE id = $1 AND company_id = $2", productID, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return product{}, apperr.Field(pointer, "No product %q in this company.", productID)
	}
	if err != nil {
		return product{}, fmt.Errorf("read product %s: %w", productID, err)
	}
	var p product
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return product{}, fmt.Errorf("decode product %s: %w", productID, err)
	}
	if p.Tracking == "none" {
		p.Tracking = TrackNone
	}
	return p, nil
}

// toStockUnits converts a quantity in unit into the product's stock unit,
// exactly: through the sales-unit factor, or a conversion either unit
// declares to the other. A result with more than six decimal places is
// refused rather than rounded.
func (p product) toStockUnits(ctx context.Context, q db.Querier, companyID, unit string, qty money.Decimal, pointer string) (money.Decimal, error) {
	mul, div, err := p.stockFactor(ctx, q, companyID, unit, pointer)
	if err != nil {
		return money.Decimal{}, err
	}
	out := qty.Mul(mul)
	if div.Sign() > 0 {
		v, err := qty.DivRound(div, money.QuantityScale, money.HalfEven)
		if err != nil || !v.Mul(div).Equal(qty) {
			return money.Decimal{}, apperr.Field(pointer, "%s %s is not a whole number of millionths of the stock unit (1 stock unit = %s %s).", qty, unit, div, unit)
		}
		out = v
	}
	if _, err := out.Scaled(money.QuantityScale); err != nil {
		return money.Decimal{}, apperr.Field(pointer, "%s in the stock unit has more than %d decimal places or is too large.", out, money.QuantityScale)
	}
	return out.Normalize(), nil
}

// stockFactor says how a quantity in unit becomes stock units: times mul,
// or, when only the stock unit declares a conversion to unit, divided by
// div (mul is then zero). The sales-unit factor and conversions either
// unit declares are used, in that order.
func (p product) stockFactor(ctx context.Context, q db.Querier, companyID, unit, pointer string) (mul, div money.Decimal, err error) {
	switch {
	case unit == "" || unit == p.StockUnitID:
		return money.FromInt(1), money.Decimal{}, nil
	case unit == p.SalesUnitID && p.SalesUnitFactor.Sign() > 0:
		return p.SalesUnitFactor, money.Decimal{}, nil
	}
	if f, ok, err := conversion(ctx, q, companyID, unit, p.StockUnitID); err != nil || ok {
		return f, money.Decimal{}, err
	}
	f, ok, err := conversion(ctx, q, companyID, p.StockUnitID, unit)
	if err != nil {
		return money.Decimal{}, money.Decimal{}, err
	}
	if !ok {
		return money.Decimal{}, money.Decimal{}, apperr.Field(pointer, "Unit %s does not convert to the product's stock unit %s; give the quantity in the stock unit or add a conversion.", unit, p.StockUnitID)
	}
	return money.Decimal{}, f, nil
}

// conversion is the factor a unit declares to another: 1 from = f to.
func conversion(ctx context.Context, q db.Querier, companyID, from, to string) (money.Decimal, bool, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM units_of_measure WHERE id = $1 AND company_id = $2", from, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return money.Decimal{}, false, nil
	}
	if err != nil {
		return money.Decimal{}, false, fmt.Errorf("read unit %s: %w", from, err)
	}
	var u struct {
		Conversions []struct {
			ToUnitID string        `json:"to_unit_id"`
			Factor   money.Decimal `json:"factor"`
		} `json:"conversions"`
	}
	if err := json.Unmarshal([]byte(doc), &u); err != nil {
		return money.Decimal{}, false, fmt.Errorf("decode unit %s: %w", from, err)
	}
	for _, c := range u.Conversions {
		if c.ToUnitID == to && c.Factor.Sign() > 0 {
			return c.Factor, true, nil
		}
	}
	return money.Decimal{}, false, nil
}

// location is what a move needs to know of a location.
type location struct {
	ID, WarehouseID, Kind string
	Active                bool
}

func loadLocation(ctx context.Context, q db.Querier, companyID, id, pointer string) (location, error) {
	l := location{ID: id}
	err := q.QueryRowContext(ctx, "SELECT warehouse_id, kind, active FROM locations WHERE id = $1 AND company_id = $2", id, companyID).
		Scan(&l.WarehouseID, &l.Kind, &l.Active)
	if errors.Is(err, sql.ErrNoRows) {
		return location{}, apperr.Field(pointer, "No location %q in this company.", id)
	}
	if err != nil {
		return location{}, fmt.Errorf("read location %s: %w", id, err)
	}
	if !l.Active {
		return location{}, apperr.Field(pointer, "Location %s is archived.", id)
	}
	return l, nil
}

// companyCurrency is the currency stock is valued in.
func companyCurrency(ctx context.Context, q db.Querier, companyID string) (money.Currency, error) {
	var c string
	if err := q.QueryRowContext(ctx, "SELECT base_currency FROM companies WHERE id = $1", companyID).Scan(&c); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", apperr.Field("/company_id", "No company %q.", companyID)
		}
		return "", fmt.Errorf("company %s: %w", companyID, err)
	}
	return money.Currency(c), nil
}

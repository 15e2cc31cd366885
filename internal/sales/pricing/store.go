package pricing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func deletePrices(ctx context.Context, q db.Querier, listID string) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM price_list_prices WHERE price_list_id = $1`, listID); err != nil {
		return fmt.Errorf("delete prices of %s: %w", listID, err)
	}
	return nil
}

func insertPrice(ctx context.Context, q db.Querier, listID, companyID string, e PriceListPrice) error {
	discount := money.Decimal{}
	if e.DiscountPercent != nil {
		discount = *e.DiscountPercent
	}
	minQty, price := e.MinQuantity, e.UnitPrice
	_, err := q.ExecContext(ctx, `INSERT INTO price_list_prices (price_list_id, company_id, product_id, min_quantity, unit_price, discount_percent)
VALUES ($1, $2, $3, $4, $5, $6)`, listID, companyID, e.ProductID, money.Quantity(&minQty), money.Price(&price), money.Price(&discount))
	if err != nil {
		return fmt.Errorf("store price of %s in %s: %w", e.ProductID, listID, err)
	}
	return nil
}

// duplicateSQL finds another rate of the same category, jurisdiction and
// start date; the unique index backs it against racing writers.
const duplicateSQL = `SELECT id FROM tax_rates
WHERE company_id = $1 AND tax_category_id = $2 AND country = $3 AND region = $4 AND valid_from = $5 AND id <> $6
LIMIT 1`

func duplicateRate(ctx context.Context, q db.Querier, r *TaxRateRecord) (string, error) {
	var other string
	err := q.QueryRowContext(ctx, duplicateSQL, r.CompanyID, r.TaxCategoryID, r.Country, r.Region, r.ValidFrom, r.ID).Scan(&other)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look for a duplicate rate: %w", err)
	}
	return other, nil
}

// rateSQL takes the most specific jurisdiction first (a region's rate
// before the country's), then the latest start on or before the date. ”
// sorts before every date, so a rate without valid_from always qualifies
// and loses to any dated one.
const rateSQL = `SELECT rate FROM tax_rates
WHERE company_id = $1 AND tax_category_id = $2 AND country = $3 AND (region = '' OR region = $4)
  AND active AND valid_from <= $5
ORDER BY CASE WHEN region = '' THEN 1 ELSE 0 END, valid_from DESC
LIMIT 1`

func lookupRate(ctx context.Context, q db.Querier, companyID, taxCategoryID, country, region, date string) (money.Decimal, bool, error) {
	var rate money.Decimal
	err := q.QueryRowContext(ctx, rateSQL, companyID, taxCategoryID, country, region, date).Scan(money.Price(&rate))
	if errors.Is(err, sql.ErrNoRows) {
		return money.Decimal{}, false, nil
	}
	if err != nil {
		return money.Decimal{}, false, fmt.Errorf("look up tax rate: %w", err)
	}
	return rate.Normalize(), true, nil
}

// priceSQL finds the applicable price of a product in one query: the
// lists that apply (active, in the currency, valid on the date, for
// everyone, the customer's group or the customer) and have an entry for
// the product at or below the quantity, ranked by priority, then by how
// specific the list is, then by code so the answer is stable; within the
// winner, the largest quantity break.
const priceSQL = `SELECT l.id, l.tax_inclusive, p.unit_price, p.discount_percent
FROM price_list_prices p JOIN price_lists l ON l.id = p.price_list_id
WHERE p.company_id = $1 AND p.product_id = $2 AND p.min_quantity <= $3
  AND l.company_id = $1 AND l.active AND l.currency = $4
  AND (l.valid_from = '' OR l.valid_from <= $5) AND (l.valid_to = '' OR l.valid_to >= $5)
  AND ((l.customer_id = '' AND l.customer_group = '')
    OR (l.customer_id <> '' AND l.customer_id = $6)
    OR (l.customer_group <> '' AND l.customer_group = $7))
ORDER BY l.priority DESC,
  CASE WHEN l.customer_id <> '' THEN 0 WHEN l.customer_group <> '' THEN 1 ELSE 2 END,
  l.code, p.min_quantity DESC
LIMIT 1`

type listPrice struct {
	found           bool
	listID          string
	inclusive       bool
	unit, discountP money.Decimal
}

func lookupPrice(ctx context.Context, q db.Querier, companyID, productID string, qty money.Decimal, cur money.Currency, date, customerID, group string) (listPrice, error) {
	p := listPrice{found: true}
	err := q.QueryRowContext(ctx, priceSQL, companyID, productID, money.Quantity(&qty), string(cur), date, customerID, group).
		Scan(&p.listID, &p.inclusive, money.Price(&p.unit), money.Price(&p.discountP))
	if errors.Is(err, sql.ErrNoRows) {
		return listPrice{}, nil
	}
	if err != nil {
		return listPrice{}, fmt.Errorf("look up price of %s: %w", productID, err)
	}
	return p, nil
}

type product struct {
	ID  string `json:"-"`
	SKU string `json:"-"`
	// From the document: only what a quote needs, so the catalog can grow
	// without this package.
	Name          string        `json:"name"`
	ListPrice     money.Decimal `json:"list_price"`
	Currency      string        `json:"currency"`
	TaxCategoryID string        `json:"tax_category_id"`
	Active        bool          `json:"active"`
}

func loadProduct(ctx context.Context, q db.Querier, companyID, column, value string) (product, bool, error) {
	var p product
	var doc string
	err := q.QueryRowContext(ctx, `SELECT id, sku, doc FROM products WHERE company_id = $1 AND `+column+` = $2`, companyID, value).Scan(&p.ID, &p.SKU, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return product{}, false, nil
	}
	if err != nil {
		return product{}, false, fmt.Errorf("load product %s: %w", value, err)
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return product{}, false, fmt.Errorf("decode product %s: %w", p.ID, err)
	}
	return p, true, nil
}

// customer holds what a quote needs of a customer. It is read from the
// stored document without the resource engine, so members the engine
// keeps encrypted (tax id, bank accounts) are never opened here.
type customer struct {
	Currency      string `json:"currency"`
	CustomerGroup string `json:"customer_group"`
	TaxExempt     bool   `json:"tax_exempt"`
}

func loadCustomer(ctx context.Context, q db.Querier, companyID, id string) (customer, bool, error) {
	var c customer
	var doc string
	err := q.QueryRowContext(ctx, `SELECT doc FROM customers WHERE company_id = $1 AND id = $2`, companyID, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return customer{}, false, nil
	}
	if err != nil {
		return customer{}, false, fmt.Errorf("load customer %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return customer{}, false, fmt.Errorf("decode customer %s: %w", id, err)
	}
	return c, true, nil
}

func loadCompany(ctx context.Context, q db.Querier, id string) (company.Company, bool, error) {
	var c company.Company
	var doc string
	err := q.QueryRowContext(ctx, `SELECT doc FROM companies WHERE id = $1`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("load company %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return c, false, fmt.Errorf("decode company %s: %w", id, err)
	}
	return c, true, nil
}

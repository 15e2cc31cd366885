package supplierprices

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// lookupSQL takes the largest quantity break not above the quantity; of
// breaks at the same quantity the latest valid_from (a newer price list
// of the supplier), then the id so the answer is stable.
const lookupSQL = `SELECT id, unit_price FROM supplier_prices
WHERE company_id = $1 AND supplier_id = $2 AND product_id = $3 AND currency = $4 AND active
  AND min_quantity <= $5 AND (valid_from = '' OR valid_from <= $6) AND (valid_to = '' OR valid_to >= $6)
ORDER BY min_quantity DESC, valid_from DESC, id
LIMIT 1`

// Lookup finds the supplier's price of a product for a quantity (stock
// units) in a currency on a date: its id and unit price, found false when
// the supplier has none.
func Lookup(ctx context.Context, q db.Querier, companyID, supplierID, productID string, cur money.Currency, qty money.Decimal, date string) (string, money.Decimal, bool, error) {
	var (
		id    string
		price money.Decimal
	)
	err := q.QueryRowContext(ctx, lookupSQL, companyID, supplierID, productID, string(cur), money.Quantity(&qty), date).Scan(&id, money.Price(&price))
	if errors.Is(err, sql.ErrNoRows) {
		return "", money.Decimal{}, false, nil
	}
	if err != nil {
		return "", money.Decimal{}, false, fmt.Errorf("supplier price of %s from %s: %w", productID, supplierID, err)
	}
	return id, price.Normalize(), true, nil
}

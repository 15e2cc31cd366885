package availability

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// known is what resolve found of the request's names.
type known struct {
	bySKU      map[string]string // sku → product id
	byID       map[string]string // product id → sku
	warehouses map[string]string // code → warehouse id
}

// args numbers query arguments; $1 is always the company.
type args []any

func (a *args) list(values []string) string {
	marks := make([]string, len(values))
	for i, v := range values {
		*a = append(*a, v)
		marks[i] = fmt.Sprintf("$%d", len(*a))
	}
	return strings.Join(marks, ", ")
}

// lookup answers a request in one round trip: the requested SKUs,
// product ids and warehouse codes as found, each on its own unique index,
// and the stock levels of those products summed per product and
// warehouse. A transit location counts towards the warehouse its stock
// travels to, as incoming, every other location towards its own
// warehouse. Levels are read by stock_levels' primary key prefix
// (company_id, product_id), so the cost follows the products asked for,
// not the size of the catalog or the history. Warehouses where everything
// is 0 are left out; rows come per product in warehouse code order.
func lookup(ctx context.Context, q db.Querier, companyID string, skus, productIDs, warehouseCodes []string) (known, map[string][]WarehouseAvailability, error) {
	k := known{bySKU: map[string]string{}, byID: map[string]string{}, warehouses: map[string]string{}}
	stock := map[string][]WarehouseAvailability{}
	a := args{companyID}
	var parts, products []string
	if len(skus) > 0 {
		list := a.list(skus)
		parts = append(parts, "SELECT 's', id, sku, '', 0, 0, 0, 0 FROM products WHERE company_id = $1 AND sku IN ("+list+")")
		products = append(products, "SELECT id FROM products WHERE company_id = $1 AND sku IN ("+list+")")
	}
	if len(productIDs) > 0 {
		list := a.list(productIDs)
		parts = append(parts, "SELECT 'i', id, sku, '', 0, 0, 0, 0 FROM products WHERE company_id = $1 AND id IN ("+list+")")
		products = append(products, "SELECT id FROM products WHERE company_id = $1 AND id IN ("+list+")")
	}
	where := ""
	if len(warehouseCodes) > 0 {
		list := a.list(warehouseCodes)
		parts = append(parts, "SELECT 'w', id, code, '', 0, 0, 0, 0 FROM warehouses WHERE company_id = $1 AND code IN ("+list+")")
		where = " WHERE w.code IN (" + list + ")"
	}
	if len(products) == 0 {
		return k, stock, nil
	}
	parts = append(parts, `SELECT 'l', x.product_id, x.warehouse_id, w.code,
    SUM(x.on_hand), SUM(x.reserved), SUM(x.held), SUM(x.incoming)
FROM (
    SELECT s.product_id,
        CASE WHEN l.kind = 'transit' THEN l.to_warehouse_id ELSE l.warehouse_id END AS warehouse_id,
        CASE WHEN l.kind = 'transit' THEN 0 ELSE s.on_hand END AS on_hand,
        CASE WHEN l.kind = 'transit' THEN 0 ELSE s.reserved END AS reserved,
        CASE WHEN l.kind = 'transit' THEN 0 ELSE s.held END AS held,
        CASE WHEN l.kind = 'transit' THEN s.on_hand ELSE 0 END AS incoming
    FROM stock_levels s
    JOIN locations l ON l.id = s.location_id AND l.company_id = s.company_id
    WHERE s.company_id = $1 AND s.product_id IN (`+strings.Join(products, " UNION ALL ")+`)
      AND (s.on_hand <> 0 OR s.reserved <> 0 OR s.held <> 0)
) x
JOIN warehouses w ON w.id = x.warehouse_id AND w.company_id = $1`+where+`
GROUP BY x.product_id, x.warehouse_id, w.code`)
	rows, err := q.QueryContext(ctx, strings.Join(parts, "\nUNION ALL\n")+"\nORDER BY 1, 2, 4", a...)
	if err != nil {
		return k, nil, fmt.Errorf("availability: %w", err)
	}
	type row struct {
		kind, id, name string
		w              WarehouseAvailability
	}
	rs, err := db.Collect(rows, func(rows *sql.Rows) (row, error) {
		var r row
		err := rows.Scan(&r.kind, &r.id, &r.name, &r.w.Code,
			money.Quantity(&r.w.OnHand), money.Quantity(&r.w.Reserved), money.Quantity(&r.w.Held), money.Quantity(&r.w.Incoming))
		return r, err
	})
	if err != nil {
		return k, nil, fmt.Errorf("availability: %w", err)
	}
	for _, r := range rs {
		switch r.kind {
		case "s":
			k.bySKU[r.name] = r.id
		case "i":
			k.byID[r.id] = r.name
		case "w":
			k.warehouses[r.name] = r.id
		case "l":
			w := r.w
			if w.OnHand.IsZero() && w.Reserved.IsZero() && w.Held.IsZero() && w.Incoming.IsZero() {
				continue
			}
			w.WarehouseID = r.name
			w.Available = w.OnHand.Sub(w.Reserved).Sub(w.Held)
			if w.Available.IsNegative() {
				w.Available = money.Decimal{}
			}
			w.OnHand, w.Reserved, w.Held = w.OnHand.Normalize(), w.Reserved.Normalize(), w.Held.Normalize()
			w.Incoming, w.Available = w.Incoming.Normalize(), w.Available.Normalize()
			stock[r.id] = append(stock[r.id], w)
		}
	}
	return k, stock, nil
}

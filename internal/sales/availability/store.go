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

// resolve looks up the requested SKUs, product ids and warehouse codes in
// one round trip, each branch on its own unique index.
func resolve(ctx context.Context, q db.Querier, companyID string, skus, productIDs, warehouseCodes []string) (known, error) {
	k := known{bySKU: map[string]string{}, byID: map[string]string{}, warehouses: map[string]string{}}
	a := args{companyID}
	var parts []string
	if len(skus) > 0 {
		parts = append(parts, "SELECT 's', id, sku FROM products WHERE company_id = $1 AND sku IN ("+a.list(skus)+")")
	}
	if len(productIDs) > 0 {
		parts = append(parts, "SELECT 'i', id, sku FROM products WHERE company_id = $1 AND id IN ("+a.list(productIDs)+")")
	}
	if len(warehouseCodes) > 0 {
		parts = append(parts, "SELECT 'w', id, code FROM warehouses WHERE company_id = $1 AND code IN ("+a.list(warehouseCodes)+")")
	}
	if len(parts) == 0 {
		return k, nil
	}
	rows, err := q.QueryContext(ctx, strings.Join(parts, "\nUNION ALL\n"), a...)
	if err != nil {
		return k, fmt.Errorf("resolve availability request: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, id, name string
		if err := rows.Scan(&kind, &id, &name); err != nil {
			return k, fmt.Errorf("resolve availability request: %w", err)
		}
		switch kind {
		case "s":
			k.bySKU[name] = id
		case "i":
			k.byID[id] = name
		case "w":
			k.warehouses[name] = id
		}
	}
	if err := rows.Err(); err != nil {
		return k, fmt.Errorf("resolve availability request: %w", err)
	}
	return k, nil
}

// levels sums the stock levels of the products per product and
// warehouse in one pass: a transit location counts towards the warehouse
// its stock travels to, as incoming, every other location towards its own
// warehouse. It reads stock_levels by its primary key's (company_id,
// product_id) prefix, so the cost follows the products asked for, not
// the size of the catalog or the history.
// Warehouses where everything is 0 are left out; rows come per product in
// warehouse code order.
func levels(ctx context.Context, q db.Querier, companyID string, productIDs, warehouseIDs []string) (map[string][]WarehouseAvailability, error) {
	out := map[string][]WarehouseAvailability{}
	if len(productIDs) == 0 {
		return out, nil
	}
	a := args{companyID}
	where := ""
	products := a.list(productIDs)
	if len(warehouseIDs) > 0 {
		where = " WHERE x.warehouse_id IN (" + a.list(warehouseIDs) + ")"
	}
	rows, err := q.QueryContext(ctx, `SELECT x.product_id, x.warehouse_id, w.code,
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
    WHERE s.company_id = $1 AND s.product_id IN (`+products+`)
      AND (s.on_hand <> 0 OR s.reserved <> 0 OR s.held <> 0)
) x
JOIN warehouses w ON w.id = x.warehouse_id AND w.company_id = $1`+where+`
GROUP BY x.product_id, x.warehouse_id, w.code
ORDER BY x.product_id, w.code`, a...)
	if err != nil {
		return nil, fmt.Errorf("availability levels: %w", err)
	}
	type row struct {
		productID string
		w         WarehouseAvailability
	}
	rs, err := db.Collect(rows, func(rows *sql.Rows) (row, error) {
		var r row
		err := rows.Scan(&r.productID, &r.w.WarehouseID, &r.w.Code,
			money.Quantity(&r.w.OnHand), money.Quantity(&r.w.Reserved), money.Quantity(&r.w.Held), money.Quantity(&r.w.Incoming))
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("availability levels: %w", err)
	}
	for _, r := range rs {
		w := r.w
		if w.OnHand.IsZero() && w.Reserved.IsZero() && w.Held.IsZero() && w.Incoming.IsZero() {
			continue
		}
		w.Available = w.OnHand.Sub(w.Reserved).Sub(w.Held)
		if w.Available.IsNegative() {
			w.Available = money.Decimal{}
		}
		w.OnHand, w.Reserved, w.Held = w.OnHand.Normalize(), w.Reserved.Normalize(), w.Held.Normalize()
		w.Incoming, w.Available = w.Incoming.Normalize(), w.Available.Normalize()
		out[r.productID] = append(out[r.productID], w)
	}
	return out, nil
}

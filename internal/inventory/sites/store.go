package sites

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// firstID runs a query answering at most one id; no row is "".
func firstID(ctx context.Context, q db.Querier, sqlText string, args ...any) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, sqlText, args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// storedWarehouse is the warehouse a location is stored with; found is
// false before the location's first write.
func storedWarehouse(ctx context.Context, q db.Querier, locationID string) (string, bool, error) {
	id, err := firstID(ctx, q, `SELECT warehouse_id FROM locations WHERE id = $1`, locationID)
	if err != nil {
		return "", false, fmt.Errorf("stored warehouse: %w", err)
	}
	return id, id != "", nil
}

func otherDefault(ctx context.Context, q db.Querier, l *Location) (string, error) {
	id, err := firstID(ctx, q, `SELECT id FROM locations
WHERE company_id = $1 AND warehouse_id = $2 AND kind = $3 AND is_default AND id <> $4
LIMIT 1`, l.CompanyID, l.WarehouseID, l.Kind, l.ID)
	if err != nil {
		return "", fmt.Errorf("look for another default location: %w", err)
	}
	return id, nil
}

func otherReorderRule(ctx context.Context, q db.Querier, r *ReorderRule) (string, error) {
	id, err := firstID(ctx, q, `SELECT id FROM reorder_rules
WHERE company_id = $1 AND product_id = $2 AND warehouse_id = $3 AND id <> $4
LIMIT 1`, r.CompanyID, r.ProductID, r.WarehouseID, r.ID)
	if err != nil {
		return "", fmt.Errorf("look for another reorder rule: %w", err)
	}
	return id, nil
}

func warehouseExists(ctx context.Context, q db.Querier, companyID, warehouseID string) (bool, error) {
	id, err := firstID(ctx, q, `SELECT id FROM warehouses WHERE id = $1 AND company_id = $2`, warehouseID, companyID)
	if err != nil {
		return false, fmt.Errorf("look up warehouse: %w", err)
	}
	return id != "", nil
}

func productExists(ctx context.Context, q db.Querier, companyID, productID string) (bool, error) {
	id, err := firstID(ctx, q, `SELECT id FROM products WHERE id = $1 AND company_id = $2`, productID, companyID)
	if err != nil {
		return false, fmt.Errorf("look up product: %w", err)
	}
	return id != "", nil
}

// defaultLocation finds the active default; validateLocation keeps
// defaults active, so an inactive one only exists if written around the
// engine, and is then no answer either.
func defaultLocation(ctx context.Context, q db.Querier, companyID, warehouseID, kind string) (string, error) {
	return firstID(ctx, q, `SELECT id FROM locations
WHERE company_id = $1 AND warehouse_id = $2 AND kind = $3 AND is_default AND active
ORDER BY id LIMIT 1`, companyID, warehouseID, kind)
}

func loadLocation(ctx context.Context, q db.Querier, companyID, locationID string) (Info, bool, error) {
	var l Info
	err := q.QueryRowContext(ctx, `SELECT id, warehouse_id, code, kind, to_warehouse_id, is_default, active
FROM locations WHERE id = $1 AND company_id = $2`, locationID, companyID).
		Scan(&l.ID, &l.WarehouseID, &l.Code, &l.Kind, &l.ToWarehouseID, &l.IsDefault, &l.Active)
	if errors.Is(err, sql.ErrNoRows) {
		return Info{}, false, nil
	}
	if err != nil {
		return Info{}, false, fmt.Errorf("load location: %w", err)
	}
	return l, true, nil
}

// companyTimeZone is the zone the company's business dates are in.
func companyTimeZone(ctx context.Context, q db.Querier, companyID string) (string, error) {
	var doc string
	if err := q.QueryRowContext(ctx, `SELECT doc FROM companies WHERE id = $1`, companyID).Scan(&doc); err != nil {
		return "", fmt.Errorf("company %s: %w", companyID, err)
	}
	var c struct {
		TimeZone string `json:"time_zone"`
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return "", fmt.Errorf("company %s document: %w", companyID, err)
	}
	return c.TimeZone, nil
}

// position is a reorder rule with the stock it watches.
type position struct {
	ruleID, productID, sku, productName, warehouseID, warehouseCode string
	reorderPoint, reorderQuantity, available, incoming              money.Decimal
	leadTimeDays                                                    int
}

// positionsSQL reads every active rule of an active product and warehouse
// with its stock. available counts the warehouse's own locations, transit
// excluded (that stock is leaving: it belongs to the source warehouse only
// until it arrives); incoming is what transit locations carry towards the
// warehouse. Reserved and held stock in transit is still on its way, so
// incoming counts all of on_hand. An empty filter matches every rule.
const positionsSQL = `SELECT r.id, r.product_id, p.sku, p.name, r.warehouse_id, w.code,
  r.reorder_point, r.reorder_quantity, r.lead_time_days,
  COALESCE((SELECT SUM(s.on_hand - s.reserved - s.held) FROM stock_levels s
            JOIN locations l ON l.id = s.location_id AND l.company_id = s.company_id
            WHERE s.company_id = r.company_id AND s.product_id = r.product_id
              AND l.warehouse_id = r.warehouse_id AND l.kind <> 'transit'), 0),
  COALESCE((SELECT SUM(s.on_hand) FROM stock_levels s
            JOIN locations l ON l.id = s.location_id AND l.company_id = s.company_id
            WHERE s.company_id = r.company_id AND s.product_id = r.product_id
              AND l.kind = 'transit' AND l.to_warehouse_id = r.warehouse_id), 0)
FROM reorder_rules r
JOIN products p ON p.id = r.product_id AND p.company_id = r.company_id
JOIN warehouses w ON w.id = r.warehouse_id AND w.company_id = r.company_id
WHERE r.company_id = $1 AND r.active AND p.active AND w.active
  AND ($2 = '' OR r.warehouse_id = $2) AND ($3 = '' OR r.product_id = $3)
ORDER BY w.code, p.sku, r.id`

func positions(ctx context.Context, q db.Querier, companyID, warehouseID, productID string) ([]position, error) {
	rows, err := q.QueryContext(ctx, positionsSQL, companyID, warehouseID, productID)
	if err != nil {
		return nil, fmt.Errorf("reorder positions: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (position, error) {
		var p position
		var lead int64
		err := rows.Scan(&p.ruleID, &p.productID, &p.sku, &p.productName, &p.warehouseID, &p.warehouseCode,
			money.Quantity(&p.reorderPoint), money.Quantity(&p.reorderQuantity), &lead,
			money.Quantity(&p.available), money.Quantity(&p.incoming))
		p.leadTimeDays = int(lead)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("reorder positions: %w", err)
	}
	return out, nil
}

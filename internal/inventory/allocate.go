package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// WarehouseLine asks for stock of a product anywhere in a warehouse, in
// stock units.
type WarehouseLine struct {
	ProductID string
	Quantity  money.Decimal
}

// Shortage is a line a warehouse cannot fill.
type Shortage struct {
	Line      int           `json:"line" doc:"Index of the line in the request, from 0."`
	ProductID string        `json:"product_id"`
	Requested money.Decimal `json:"requested"`
	Available money.Decimal `json:"available"`
}

// Allocation is what was reserved for one line.
type Allocation struct {
	Reserved     money.Decimal
	Reservations []StockReservation
}

// ReserveInWarehouse reserves every line from the warehouse's own
// locations (not transit), splitting a line over locations and lots as
// needed. All level rows of the products in the warehouse are locked in
// one sorted order before anything is allocated, so concurrent orders
// queue instead of overselling or deadlocking, and a line is only short
// when the warehouse really is. Without partial, one short line refuses
// them all (409 listing every short line); with partial, short lines
// reserve what there is (a backorder).
func ReserveInWarehouse(ctx context.Context, tx *db.Tx, companyID string, src Source, warehouseID string, lines []WarehouseLine, partial bool) ([]Allocation, []Shortage, error) {
	if len(lines) == 0 {
		return nil, nil, nil
	}
	products := make([]any, 0, len(lines))
	marks := make([]string, 0, len(lines))
	seen := map[string]bool{}
	for _, l := range lines {
		if !seen[l.ProductID] {
			seen[l.ProductID] = true
			products = append(products, l.ProductID)
			marks = append(marks, fmt.Sprintf("$%d", len(products)+2))
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT s.product_id, s.location_id, s.lot FROM stock_levels s
JOIN locations l ON l.id = s.location_id AND l.company_id = s.company_id
WHERE s.company_id = $1 AND l.warehouse_id = $2 AND l.kind <> 'transit' AND l.active AND s.product_id IN (`+strings.Join(marks, ", ")+`)`,
		append([]any{companyID, warehouseID}, products...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("stock of warehouse %s: %w", warehouseID, err)
	}
	keys, err := db.Collect(rows, func(rows *sql.Rows) (levelKey, error) {
		var k levelKey
		return k, rows.Scan(&k.product, &k.location, &k.lot)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("stock of warehouse %s: %w", warehouseID, err)
	}
	keys = sortKeys(keys)
	levels, err := lockLevels(ctx, tx, companyID, keys)
	if err != nil {
		return nil, nil, err
	}
	allocs := make([]Allocation, len(lines))
	var short []Shortage
	type chunk struct {
		line int
		k    levelKey
		qty  money.Decimal
	}
	var chunks []chunk
	for i, l := range lines {
		need := l.Quantity
		var total money.Decimal
		for _, k := range keys {
			if k.product != l.ProductID || need.Sign() <= 0 {
				continue
			}
			lv := levels[k]
			avail := lv.OnHand.Sub(lv.Reserved).Sub(lv.Held)
			if avail.Sign() <= 0 {
				continue
			}
			take := need
			if avail.Cmp(take) < 0 {
				take = avail
			}
			lv.Reserved = lv.Reserved.Add(take)
			chunks = append(chunks, chunk{i, k, take})
			need, total = need.Sub(take), total.Add(take)
		}
		if need.Sign() > 0 {
			short = append(short, Shortage{Line: i, ProductID: l.ProductID, Requested: l.Quantity, Available: total})
		}
		allocs[i].Reserved = total
	}
	if len(short) > 0 && !partial {
		return nil, short, nil
	}
	for _, c := range chunks {
		r := StockReservation{ID: id.New("res"), ProductID: c.k.product, LocationID: c.k.location, Lot: c.k.lot, Quantity: c.qty.Normalize(),
			Requested: c.qty.Normalize(), SourceType: src.Type, SourceID: src.ID, Status: "active", CreatedAt: tx.Now()}
		qty := c.qty
		if _, err := tx.ExecContext(ctx, `INSERT INTO stock_reservations (id, company_id, product_id, location_id, lot, quantity, source_type, source_id, status, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9)`, r.ID, companyID, r.ProductID, r.LocationID, r.Lot, money.Quantity(&qty), src.Type, src.ID, r.CreatedAt); err != nil {
			return nil, nil, fmt.Errorf("reserve %s: %w", r.ProductID, err)
		}
		allocs[c.line].Reservations = append(allocs[c.line].Reservations, r)
	}
	for _, k := range keys {
		if err := saveLevel(ctx, tx, companyID, levels[k]); err != nil {
			return nil, nil, err
		}
	}
	for _, a := range allocs {
		if err := recordReservations(ctx, tx, companyID, EventReserved, a.Reservations); err != nil {
			return nil, nil, err
		}
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: "stock.reserve", ResourceType: "stock_reservation", ResourceID: src.Type + "/" + src.ID, CompanyID: companyID,
		Details: map[string]any{"warehouse_id": warehouseID, "lines": len(lines)}}); err != nil {
		return nil, nil, err
	}
	return allocs, short, nil
}

// ShortageError is the 409 for lines a warehouse cannot fill, naming each.
func ShortageError(short []Shortage, pointer func(line int) string) error {
	fields := make([]apperr.FieldError, len(short))
	for i, s := range short {
		fields[i] = apperr.FieldError{Pointer: pointer(s.Line), Detail: fmt.Sprintf("%s of %s available, %s asked", s.Available.Normalize(), s.ProductID, s.Requested.Normalize())}
	}
	return apperr.New(apperr.Conflict, "Not enough stock for %d line(s).", len(short)).WithFields(fields...)
}

// SalesToStock converts a quantity in a product's sales unit into its
// stock unit (× sales_unit_factor), exactly.
func SalesToStock(ctx context.Context, q db.Querier, companyID, productID string, qty money.Decimal, pointer string) (money.Decimal, error) {
	p, err := loadProduct(ctx, q, companyID, productID, pointer)
	if err != nil {
		return money.Decimal{}, err
	}
	return p.toStockUnits(ctx, q, companyID, p.SalesUnitID, qty, pointer)
}

// ActiveReservations lists a document's active reservations of a product.
func ActiveReservations(ctx context.Context, q db.Querier, companyID string, src Source, productID string) ([]StockReservation, error) {
	return listReservations(ctx, q, `SELECT id, product_id, location_id, lot, quantity, source_type, source_id, status, created_at FROM stock_reservations
WHERE company_id = $1 AND source_type = $2 AND source_id = $3 AND product_id = $4 AND status = 'active' ORDER BY location_id, lot, id`,
		companyID, src.Type, src.ID, productID)
}

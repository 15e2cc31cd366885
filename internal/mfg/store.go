package mfg

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// maxDepth bounds bill-of-materials levels: deeper is a modelling error
// (or a cycle the write checks missed), never a real product.
const maxDepth = 20

func toStock(ctx context.Context, q db.Querier, companyID, productID, unitID string, qty money.Decimal, pointer string) (money.Decimal, error) {
	return inventory.ToStockUnitsUp(ctx, q, companyID, productID, unitID, qty, pointer)
}

// loadDoc reads one resource document of the company.
func loadDoc(ctx context.Context, q db.Querier, table, what, companyID, id string, v any) error {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM "+table+" WHERE id = $1 AND company_id = $2", id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.New(apperr.NotFound, "No %s %q.", what, id)
	}
	if err != nil {
		return fmt.Errorf("read %s %s: %w", what, id, err)
	}
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return fmt.Errorf("decode %s %s: %w", what, id, err)
	}
	return nil
}

// LoadBOM reads a bill of materials of the company (404 if none).
func LoadBOM(ctx context.Context, q db.Querier, companyID, id string) (BOM, error) {
	var b BOM
	return b, loadDoc(ctx, q, "boms", "bill of materials", companyID, id, &b)
}

func loadWorkCenter(ctx context.Context, q db.Querier, companyID, id string) (WorkCenter, error) {
	var w WorkCenter
	return w, loadDoc(ctx, q, "work_centers", "work center", companyID, id, &w)
}

func loadPlan(ctx context.Context, q db.Querier, companyID, id string) (InspectionPlan, error) {
	var p InspectionPlan
	return p, loadDoc(ctx, q, "inspection_plans", "inspection plan", companyID, id, &p)
}

func collectDocs[T any](rows *sql.Rows, err error, what string) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (T, error) {
		var doc string
		var v T
		if err := rows.Scan(&doc); err != nil {
			return v, err
		}
		return v, json.Unmarshal([]byte(doc), &v)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// bomsOf lists every version of a product's bill, oldest first.
func bomsOf(ctx context.Context, q db.Querier, companyID, productID string) ([]BOM, error) {
	rows, err := q.QueryContext(ctx, "SELECT doc FROM boms WHERE company_id = $1 AND product_id = $2 ORDER BY valid_from, id", companyID, productID)
	return collectDocs[BOM](rows, err, "bills of "+productID)
}

// ActiveBOM is the active version of a product's bill valid on date, if
// any.
func ActiveBOM(ctx context.Context, q db.Querier, companyID, productID, date string) (BOM, bool, error) {
	boms, err := bomsOf(ctx, q, companyID, productID)
	if err != nil {
		return BOM{}, false, err
	}
	for _, b := range boms {
		if b.Active && (b.ValidFrom == "" || b.ValidFrom <= date) && (b.ValidTo == "" || date <= b.ValidTo) {
			return b, true, nil
		}
	}
	return BOM{}, false, nil
}

// Production orders.

var errExternalTaken = errors.New("external id taken")

func insertOrder(ctx context.Context, tx *db.Tx, o *ProductionOrder) error {
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode production order: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO production_orders (id, company_id, external_id, version, status, product_id, bom_id, quantity,
warehouse_id, lot, doc, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
		o.ID, o.CompanyID, o.ExternalID, o.Version, o.Status, o.ProductID, o.BOMID, money.Quantity(&o.Quantity), o.WarehouseID, o.Lot,
		string(doc), o.CreatedAt)
	if db.IsUniqueViolation(err) {
		return errExternalTaken
	}
	if err != nil {
		return fmt.Errorf("insert production order: %w", err)
	}
	return nil
}

// updateOrder writes a changed order, guarded by its version.
func updateOrder(ctx context.Context, tx *db.Tx, o *ProductionOrder) error {
	prev := o.Version
	o.Version++
	o.UpdatedAt = tx.Now()
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode production order: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE production_orders SET version = $1, status = $2, lot = $3, doc = $4, updated_at = $5
WHERE id = $6 AND version = $7`, o.Version, o.Status, o.Lot, string(doc), o.UpdatedAt, o.ID, prev)
	if err != nil {
		return fmt.Errorf("update production order %s: %w", o.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "Production order %s changed while this request ran; read it and retry.", o.ID)
	}
	return nil
}

// loadOrder reads an order of the company; lock takes its row for the
// rest of the transaction (PostgreSQL; SQLite has one writer), so actions
// and shop-floor intake on one order queue while other orders proceed.
func loadOrder(ctx context.Context, q db.Querier, companyID, id string, lock bool) (ProductionOrder, error) {
	suffix := ""
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		suffix = " FOR UPDATE"
	}
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM production_orders WHERE id = $1 AND company_id = $2"+suffix, id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return ProductionOrder{}, apperr.New(apperr.NotFound, "No production order %q.", id)
	}
	if err != nil {
		return ProductionOrder{}, fmt.Errorf("read production order %s: %w", id, err)
	}
	var o ProductionOrder
	if err := json.Unmarshal([]byte(doc), &o); err != nil {
		return ProductionOrder{}, fmt.Errorf("decode production order %s: %w", id, err)
	}
	return o, nil
}

// OrderFilter selects production orders.
type OrderFilter struct {
	Status, ProductID string
	After             string
	Limit             int
}

// ListOrders returns a company's production orders, oldest first.
func ListOrders(ctx context.Context, q db.Querier, companyID string, f OrderFilter) ([]ProductionOrder, error) {
	where, args := []string{"company_id = $1"}, []any{companyID}
	for _, c := range []struct{ col, v string }{{"status", f.Status}, {"product_id", f.ProductID}} {
		if c.v != "" {
			args = append(args, c.v)
			where = append(where, fmt.Sprintf("%s = $%d", c.col, len(args)))
		}
	}
	if f.After != "" {
		args = append(args, f.After)
		where = append(where, fmt.Sprintf("id > $%d", len(args)))
	}
	args = append(args, f.Limit)
	rows, err := q.QueryContext(ctx, "SELECT doc FROM production_orders WHERE "+strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args...)
	out, err := collectDocs[ProductionOrder](rows, err, "list production orders")
	if out == nil && err == nil {
		out = []ProductionOrder{}
	}
	return out, err
}

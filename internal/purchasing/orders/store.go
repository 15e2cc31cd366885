package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

var errExternalTaken = errors.New("external id taken")

func nullNumber(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n != 0} }

func insertOrder(ctx context.Context, tx *db.Tx, o *PurchaseOrder) error {
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode purchase order: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO purchase_orders (id, company_id, number, external_id, version, status, supplier_id, currency,
order_date, expected_date, warehouse_id, net_total, tax_total, gross_total, doc, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)`,
		o.ID, o.CompanyID, nullNumber(o.Number), o.ExternalID, o.Version, o.Status, o.SupplierID, string(o.Currency), o.OrderDate,
		o.ExpectedDate, o.WarehouseID, money.Amount(&o.NetTotal), money.Amount(&o.TaxTotal), money.Amount(&o.GrossTotal), string(doc), o.CreatedAt)
	if db.IsUniqueViolation(err) {
		return errExternalTaken
	}
	if err != nil {
		return fmt.Errorf("insert purchase order: %w", err)
	}
	return nil
}

// updateOrder writes a changed order, guarded by its version.
func updateOrder(ctx context.Context, tx *db.Tx, o *PurchaseOrder) error {
	prev := o.Version
	o.Version++
	o.UpdatedAt = tx.Now()
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode purchase order: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE purchase_orders SET version = $1, status = $2, number = $3, expected_date = $4,
net_total = $5, tax_total = $6, gross_total = $7, doc = $8, updated_at = $9 WHERE id = $10 AND version = $11`,
		o.Version, o.Status, nullNumber(o.Number), o.ExpectedDate, money.Amount(&o.NetTotal), money.Amount(&o.TaxTotal),
		money.Amount(&o.GrossTotal), string(doc), o.UpdatedAt, o.ID, prev)
	if err != nil {
		return fmt.Errorf("update purchase order %s: %w", o.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "Purchase order %s changed while this request ran; read it and retry.", o.ID)
	}
	return nil
}

// loadOrder reads an order of the company; lock takes its row for the
// rest of the transaction (PostgreSQL; SQLite has one writer).
func loadOrder(ctx context.Context, q db.Querier, companyID, id string, lock bool) (PurchaseOrder, error) {
	suffix := ""
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		suffix = " FOR UPDATE"
	}
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM purchase_orders WHERE id = $1 AND company_id = $2"+suffix, id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return PurchaseOrder{}, apperr.New(apperr.NotFound, "No purchase order %q.", id)
	}
	if err != nil {
		return PurchaseOrder{}, fmt.Errorf("read purchase order %s: %w", id, err)
	}
	var o PurchaseOrder
	if err := json.Unmarshal([]byte(doc), &o); err != nil {
		return PurchaseOrder{}, fmt.Errorf("decode purchase order %s: %w", id, err)
	}
	return o, nil
}

// nextNumber takes the company's next purchase order number. The upsert
// locks the company's counter row until the transaction ends and a
// rollback undoes the increment, so numbers are gapless; only sends of
// the same company wait for each other, and drafts take no number.
func nextNumber(ctx context.Context, tx *db.Tx, companyID string) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `INSERT INTO purchase_order_sequences (company_id, last_number) VALUES ($1, 1)
ON CONFLICT (company_id) DO UPDATE SET last_number = purchase_order_sequences.last_number + 1
RETURNING last_number`, companyID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("take purchase order number for %s: %w", companyID, err)
	}
	return n, nil
}

// ListFilter selects orders.
type ListFilter struct {
	SupplierID, Status string
	After              string // the previous page's last id
	Limit              int
}

// List returns a company's purchase orders, oldest first.
func List(ctx context.Context, q db.Querier, companyID string, f ListFilter) ([]PurchaseOrder, error) {
	where, args := []string{"company_id = $1"}, []any{companyID}
	if f.SupplierID != "" {
		args = append(args, f.SupplierID)
		where = append(where, fmt.Sprintf("supplier_id = $%d", len(args)))
	}
	if f.Status != "" {
		args = append(args, f.Status)
		where = append(where, fmt.Sprintf("status = $%d", len(args)))
	}
	if f.After != "" {
		args = append(args, f.After)
		where = append(where, fmt.Sprintf("id > $%d", len(args)))
	}
	args = append(args, f.Limit)
	// Ids are time-ordered, so id order is creation order and a keyset on
	// it pages stably.
	rows, err := q.QueryContext(ctx, "SELECT doc FROM purchase_orders WHERE "+strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list purchase orders: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (PurchaseOrder, error) {
		var doc string
		var o PurchaseOrder
		if err := rows.Scan(&doc); err != nil {
			return o, err
		}
		return o, json.Unmarshal([]byte(doc), &o)
	})
	if err != nil {
		return nil, fmt.Errorf("list purchase orders: %w", err)
	}
	if out == nil {
		out = []PurchaseOrder{}
	}
	return out, nil
}

func insertReceipt(ctx context.Context, tx *db.Tx, r *GoodsReceipt) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode goods receipt: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO goods_receipts (id, company_id, purchase_order_id, receipt_date, doc, created_at)
VALUES ($1, $2, $3, $4, $5, $6)`, r.ID, r.CompanyID, r.PurchaseOrderID, r.Date, string(doc), r.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert goods receipt: %w", err)
	}
	for _, l := range r.Lines {
		qty, price, value := l.Quantity, l.UnitPrice, l.Value
		_, err = tx.ExecContext(ctx, `INSERT INTO goods_receipt_lines (receipt_id, line_no, purchase_order_id, order_line_no, product_id,
quantity, unit_price, value, stock_move_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.ID, l.LineNo, r.PurchaseOrderID, l.OrderLineNo, l.ProductID, money.Quantity(&qty), money.Price(&price), money.Amount(&value), l.StockMoveID)
		if err != nil {
			return fmt.Errorf("insert goods receipt %s line %d: %w", r.ID, l.LineNo, err)
		}
	}
	return nil
}

// GetReceipt reads a goods receipt of the company.
func GetReceipt(ctx context.Context, q db.Querier, companyID, id string) (GoodsReceipt, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM goods_receipts WHERE id = $1 AND company_id = $2", id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return GoodsReceipt{}, apperr.New(apperr.NotFound, "No goods receipt %q.", id)
	}
	if err != nil {
		return GoodsReceipt{}, fmt.Errorf("read goods receipt %s: %w", id, err)
	}
	var r GoodsReceipt
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return GoodsReceipt{}, fmt.Errorf("decode goods receipt %s: %w", id, err)
	}
	return r, nil
}

// ReceiptFilter selects goods receipts.
type ReceiptFilter struct {
	PurchaseOrderID string
	After           string
	Limit           int
}

// ListReceipts returns a company's goods receipts, oldest first.
func ListReceipts(ctx context.Context, q db.Querier, companyID string, f ReceiptFilter) ([]GoodsReceipt, error) {
	where, args := []string{"company_id = $1"}, []any{companyID}
	if f.PurchaseOrderID != "" {
		args = append(args, f.PurchaseOrderID)
		where = append(where, fmt.Sprintf("purchase_order_id = $%d", len(args)))
	}
	if f.After != "" {
		args = append(args, f.After)
		where = append(where, fmt.Sprintf("id > $%d", len(args)))
	}
	args = append(args, f.Limit)
	rows, err := q.QueryContext(ctx, "SELECT doc FROM goods_receipts WHERE "+strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list goods receipts: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (GoodsReceipt, error) {
		var doc string
		var r GoodsReceipt
		if err := rows.Scan(&doc); err != nil {
			return r, err
		}
		return r, json.Unmarshal([]byte(doc), &r)
	})
	if err != nil {
		return nil, fmt.Errorf("list goods receipts: %w", err)
	}
	if out == nil {
		out = []GoodsReceipt{}
	}
	return out, nil
}

// supplier is what an order needs of a supplier.
type supplier struct {
	currency money.Currency
	active   bool
}

func loadSupplier(ctx context.Context, q db.Querier, companyID, id string) (supplier, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM suppliers WHERE id = $1 AND company_id = $2", id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return supplier{}, apperr.Field("/supplier_id", "No supplier %q in this company.", id)
	}
	if err != nil {
		return supplier{}, fmt.Errorf("read supplier %s: %w", id, err)
	}
	var s struct {
		Currency money.Currency `json:"currency"`
		Active   bool           `json:"active"`
	}
	if err := json.Unmarshal([]byte(doc), &s); err != nil {
		return supplier{}, fmt.Errorf("decode supplier %s: %w", id, err)
	}
	return supplier{currency: s.Currency, active: s.Active}, nil
}

// product is what an order line needs of a product.
type product struct {
	SKU           string `json:"sku"`
	TaxCategoryID string `json:"tax_category_id"`
	Active        bool   `json:"active"`
}

// loadProduct reads a product; found false when the company has none.
func loadProduct(ctx context.Context, q db.Querier, companyID, id string) (product, bool, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM products WHERE id = $1 AND company_id = $2", id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return product{}, false, nil
	}
	if err != nil {
		return product{}, false, fmt.Errorf("read product %s: %w", id, err)
	}
	var p product
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return product{}, false, fmt.Errorf("decode product %s: %w", id, err)
	}
	return p, true, nil
}

func loadCompany(ctx context.Context, q db.Querier, id string) (company.Company, error) {
	var doc, cur string
	if err := q.QueryRowContext(ctx, "SELECT base_currency, doc FROM companies WHERE id = $1", id).Scan(&cur, &doc); err != nil {
		return company.Company{}, fmt.Errorf("company %s: %w", id, err)
	}
	var c company.Company
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return company.Company{}, fmt.Errorf("decode company %s: %w", id, err)
	}
	c.BaseCurrency = money.Currency(cur)
	return c, nil
}

// defaultWarehouse is the company's first active warehouse by code.
func defaultWarehouse(ctx context.Context, q db.Querier, companyID string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, "SELECT id FROM warehouses WHERE company_id = $1 AND active ORDER BY code LIMIT 1", companyID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.Field("/warehouse_id", "The company has no active warehouse to receive into; create one at /v1/warehouses.")
	}
	if err != nil {
		return "", fmt.Errorf("default warehouse: %w", err)
	}
	return id, nil
}

func checkWarehouse(ctx context.Context, q db.Querier, companyID, id string) error {
	var active bool
	err := q.QueryRowContext(ctx, "SELECT active FROM warehouses WHERE id = $1 AND company_id = $2", id, companyID).Scan(&active)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Field("/warehouse_id", "No warehouse %q in this company.", id)
	}
	if err != nil {
		return fmt.Errorf("warehouse %s: %w", id, err)
	}
	if !active {
		return apperr.Field("/warehouse_id", "Warehouse %s is archived.", id)
	}
	return nil
}

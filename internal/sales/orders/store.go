package orders

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func insertOrder(ctx context.Context, tx *db.Tx, o *SalesOrder, hash string) error {
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode sales order: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO sales_orders (id, company_id, external_id, content_hash, version, status, fulfilment_status,
invoicing_status, payment_status, customer_id, currency, order_date, warehouse_id, allow_backorder, net_total, tax_total, gross_total,
doc, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19)`,
		o.ID, o.CompanyID, o.ExternalID, hash, o.Version, o.Status, o.FulfilmentStatus, o.InvoicingStatus, o.PaymentStatus, o.CustomerID,
		string(o.Currency), o.OrderDate, o.WarehouseID, o.AllowBackorder, money.Amount(&o.NetTotal), money.Amount(&o.TaxTotal),
		money.Amount(&o.GrossTotal), string(doc), o.CreatedAt)
	if db.IsUniqueViolation(err) {
		return errExternalTaken
	}
	if err != nil {
		return fmt.Errorf("insert sales order: %w", err)
	}
	return nil
}

var errExternalTaken = errors.New("external id taken")

// updateOrder writes a changed order, guarded by its version.
func updateOrder(ctx context.Context, tx *db.Tx, o *SalesOrder) error {
	prev := o.Version
	o.Version++
	o.UpdatedAt = tx.Now()
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encode sales order: %w", err)
	}
	var confirmed any
	if o.ConfirmedAt != nil {
		confirmed = *o.ConfirmedAt
	}
	res, err := tx.ExecContext(ctx, `UPDATE sales_orders SET version = $1, status = $2, fulfilment_status = $3, invoicing_status = $4,
payment_status = $5, doc = $6, updated_at = $7, confirmed_at = $8 WHERE id = $9 AND version = $10`,
		o.Version, o.Status, o.FulfilmentStatus, o.InvoicingStatus, o.PaymentStatus, string(doc), o.UpdatedAt, confirmed, o.ID, prev)
	if err != nil {
		return fmt.Errorf("update sales order %s: %w", o.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "Sales order %s changed while this request ran; read it and retry.", o.ID)
	}
	return nil
}

// loadOrder reads an order of the company; lock takes its row for the
// rest of the transaction (PostgreSQL; SQLite has one writer).
func loadOrder(ctx context.Context, q db.Querier, companyID, id string, lock bool) (SalesOrder, string, error) {
	suffix := ""
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		suffix = " FOR UPDATE"
	}
	var doc, hash string
	err := q.QueryRowContext(ctx, "SELECT doc, content_hash FROM sales_orders WHERE id = $1 AND company_id = $2"+suffix, id, companyID).Scan(&doc, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return SalesOrder{}, "", apperr.New(apperr.NotFound, "No sales order %q.", id)
	}
	if err != nil {
		return SalesOrder{}, "", fmt.Errorf("read sales order %s: %w", id, err)
	}
	var o SalesOrder
	if err := json.Unmarshal([]byte(doc), &o); err != nil {
		return SalesOrder{}, "", fmt.Errorf("decode sales order %s: %w", id, err)
	}
	return o, hash, nil
}

func orderByExternalID(ctx context.Context, q db.Querier, companyID, externalID string) (string, bool, error) {
	var id string
	err := q.QueryRowContext(ctx, "SELECT id FROM sales_orders WHERE company_id = $1 AND external_id = $2 AND external_id <> ''", companyID, externalID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("sales order %s: %w", externalID, err)
	}
	return id, true, nil
}

// ListFilter selects orders.
type ListFilter struct {
	CustomerID, Status string
	After              string // the previous page's last id
	Limit              int
}

// List returns a company's orders, oldest first.
func List(ctx context.Context, q db.Querier, companyID string, f ListFilter) ([]SalesOrder, error) {
	where, args := []string{"company_id = $1"}, []any{companyID}
	if f.CustomerID != "" {
		args = append(args, f.CustomerID)
		where = append(where, fmt.Sprintf("customer_id = $%d", len(args)))
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
	// Order ids are time-ordered (ULIDs), so id order is creation order and
	// a plain keyset on it pages stably.
	rows, err := q.QueryContext(ctx, "SELECT doc FROM sales_orders WHERE "+strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list sales orders: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (SalesOrder, error) {
		var doc string
		var o SalesOrder
		if err := rows.Scan(&doc); err != nil {
			return o, err
		}
		return o, json.Unmarshal([]byte(doc), &o)
	})
	if err != nil {
		return nil, fmt.Errorf("list sales orders: %w", err)
	}
	if out == nil {
		out = []SalesOrder{}
	}
	return out, nil
}

// openExposure is what a customer owes and has on order: confirmed,
// uncancelled orders not yet paid, in one currency.
func openExposure(ctx context.Context, q db.Querier, companyID, customerID string, cur money.Currency, except string) (money.Decimal, error) {
	var v money.Decimal
	err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(gross_total), 0) FROM sales_orders WHERE company_id = $1 AND customer_id = $2
AND currency = $3 AND status = 'confirmed' AND payment_status <> 'paid' AND id <> $4`, companyID, customerID, string(cur), except).Scan(money.Amount(&v))
	if err != nil {
		return v, fmt.Errorf("open orders of %s: %w", customerID, err)
	}
	return v, nil
}

func insertShipment(ctx context.Context, tx *db.Tx, s *Shipment) error {
	doc, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode shipment: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO shipments (id, company_id, order_id, status, ship_date, carrier_id, tracking_number, doc, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, s.ID, s.CompanyID, s.OrderID, s.Status, s.Date, s.CarrierID, s.TrackingNumber, string(doc), s.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert shipment: %w", err)
	}
	return nil
}

// GetShipment reads a shipment of the company.
func GetShipment(ctx context.Context, q db.Querier, companyID, id string) (Shipment, error) {
	return getShipment(ctx, q, companyID, id, false)
}

func saveShipment(ctx context.Context, tx *db.Tx, s *Shipment) error {
	doc, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode shipment: %w", err)
	}
	_, err = tx.ExecContext(ctx, "UPDATE shipments SET status = $1, ship_date = $2, carrier_id = $3, tracking_number = $4, doc = $5 WHERE id = $6",
		s.Status, s.Date, s.CarrierID, s.TrackingNumber, string(doc), s.ID)
	if err != nil {
		return fmt.Errorf("save shipment %s: %w", s.ID, err)
	}
	return nil
}

func getShipment(ctx context.Context, q db.Querier, companyID, id string, lock bool) (Shipment, error) {
	suffix := ""
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		suffix = " FOR UPDATE"
	}
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM shipments WHERE id = $1 AND company_id = $2"+suffix, id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return Shipment{}, apperr.New(apperr.NotFound, "No shipment %q.", id)
	}
	if err != nil {
		return Shipment{}, fmt.Errorf("read shipment %s: %w", id, err)
	}
	var s Shipment
	return s, json.Unmarshal([]byte(doc), &s)
}

// customer is what an order needs of a customer.
type customer struct {
	currency    money.Currency
	creditLimit *money.Decimal
	active      bool
}

func loadCustomer(ctx context.Context, q db.Querier, companyID, id string) (customer, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM customers WHERE id = $1 AND company_id = $2", id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return customer{}, apperr.Field("/customer_id", "No customer %q in this company.", id)
	}
	if err != nil {
		return customer{}, fmt.Errorf("read customer %s: %w", id, err)
	}
	var c struct {
		Currency    money.Currency `json:"currency"`
		CreditLimit *money.Decimal `json:"credit_limit"`
		Active      bool           `json:"active"`
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return customer{}, fmt.Errorf("decode customer %s: %w", id, err)
	}
	return customer{currency: c.Currency, creditLimit: c.CreditLimit, active: c.Active}, nil
}

// defaultWarehouse is the company's first active warehouse by code.
func defaultWarehouse(ctx context.Context, q db.Querier, companyID string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, "SELECT id FROM warehouses WHERE company_id = $1 AND active ORDER BY code LIMIT 1", companyID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.Field("/warehouse_id", "The company has no active warehouse to ship from; create one at /v1/warehouses.")
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

func hasCarriers(ctx context.Context, q db.Querier, companyID string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM carriers WHERE company_id = $1 AND active", companyID).Scan(&n); err != nil {
		return false, fmt.Errorf("carriers: %w", err)
	}
	return n > 0, nil
}

// companyDefaults is the company's base currency and time zone; a
// checkout asks three times, so a transaction reads them once.
func companyDefaults(ctx context.Context, q db.Querier, companyID string) (money.Currency, string, error) {
	tx, ok := q.(*db.Tx)
	if !ok {
		return readCompanyDefaults(ctx, q, companyID)
	}
	d, err := db.Memo(tx, "sales-company-defaults:"+companyID, func() ([2]string, error) {
		cur, zone, err := readCompanyDefaults(ctx, q, companyID)
		return [2]string{string(cur), zone}, err
	})
	return money.Currency(d[0]), d[1], err
}

func readCompanyDefaults(ctx context.Context, q db.Querier, companyID string) (money.Currency, string, error) {
	var cur, doc string
	if err := q.QueryRowContext(ctx, "SELECT base_currency, doc FROM companies WHERE id = $1", companyID).Scan(&cur, &doc); err != nil {
		return "", "", fmt.Errorf("company %s: %w", companyID, err)
	}
	var c struct {
		TimeZone string `json:"time_zone"`
	}
	_ = json.Unmarshal([]byte(doc), &c)
	return money.Currency(cur), c.TimeZone, nil
}

// LoadHistory inserts orders as they are, in tx, many rows per
// statement: for loading an order history (a migration from another
// system, or the load generator's dataset), not for taking orders. It
// writes no events and reserves nothing; the orders must be complete.
func LoadHistory(ctx context.Context, tx *db.Tx, os []SalesOrder) error {
	const cols = 19
	const perStmt = 200 // × 19 parameters, under SQLite's limit
	for start := 0; start < len(os); start += perStmt {
		chunk := os[start:min(start+perStmt, len(os))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO sales_orders (id, company_id, external_id, content_hash, version, status, fulfilment_status,
invoicing_status, payment_status, customer_id, currency, order_date, warehouse_id, allow_backorder, net_total, tax_total, gross_total,
doc, created_at, updated_at, confirmed_at) VALUES `)
		args := make([]any, 0, len(chunk)*cols)
		for i := range chunk {
			o := &chunk[i]
			doc, err := json.Marshal(o)
			if err != nil {
				return fmt.Errorf("encode sales order %s: %w", o.ID, err)
			}
			if i > 0 {
				sb.WriteString(", ")
			}
			n := len(args)
			sb.WriteByte('(')
			for c := 1; c <= cols; c++ {
				fmt.Fprintf(&sb, "$%d, ", n+c)
			}
			fmt.Fprintf(&sb, "$%d, $%d)", n+cols, n+cols) // updated_at and confirmed_at: created_at
			args = append(args, o.ID, o.CompanyID, o.ExternalID, "", o.Version, o.Status, o.FulfilmentStatus, o.InvoicingStatus, o.PaymentStatus,
				o.CustomerID, string(o.Currency), o.OrderDate, o.WarehouseID, o.AllowBackorder, money.Amount(&o.NetTotal), money.Amount(&o.TaxTotal),
				money.Amount(&o.GrossTotal), string(doc), o.CreatedAt)
		}
		if _, err := tx.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("load sales orders: %w", err)
		}
	}
	return nil
}

package invoicing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// seller is what invoicing needs of the company.
type seller struct {
	base      money.Currency
	zone      string
	legalName string
	addresses []company.Address
	taxIDs    []company.TaxID
	invoiceOn string
	series    string
}

func loadSeller(ctx context.Context, q db.Querier, companyID string) (seller, error) {
	var cur, doc string
	err := q.QueryRowContext(ctx, "SELECT base_currency, doc FROM companies WHERE id = $1", companyID).Scan(&cur, &doc)
	if err != nil {
		return seller{}, fmt.Errorf("company %s: %w", companyID, err)
	}
	var c company.Company
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return seller{}, fmt.Errorf("decode company %s: %w", companyID, err)
	}
	s := seller{base: money.Currency(cur), zone: c.TimeZone, legalName: c.LegalName, addresses: c.Addresses, taxIDs: c.TaxIDs,
		invoiceOn: c.InvoiceOn, series: c.InvoiceSeries}
	if s.invoiceOn == "" {
		s.invoiceOn = OnShipment
	}
	if s.series == "" {
		s.series = DefaultSeries
	}
	return s, nil
}

// address picks the address printed on an invoice: the registered one,
// else billing, else the first.
func (s seller) address() *company.Address {
	for _, kind := range []string{"registered", "billing"} {
		for i := range s.addresses {
			if s.addresses[i].Kind == kind {
				return &s.addresses[i]
			}
		}
	}
	if len(s.addresses) > 0 {
		return &s.addresses[0]
	}
	return nil
}

// buyer is what invoicing needs of the customer.
type buyer struct {
	name           string
	billing        *company.Address
	group          string
	paymentTermsID string
}

func loadBuyer(ctx context.Context, q db.Querier, companyID, id string) (buyer, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM customers WHERE id = $1 AND company_id = $2", id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return buyer{}, apperr.New(apperr.NotFound, "No customer %q in this company.", id)
	}
	if err != nil {
		return buyer{}, fmt.Errorf("read customer %s: %w", id, err)
	}
	var c struct {
		Name           string           `json:"name"`
		BillingAddress *company.Address `json:"billing_address"`
		CustomerGroup  string           `json:"customer_group"`
		PaymentTermsID string           `json:"payment_terms_id"`
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return buyer{}, fmt.Errorf("decode customer %s: %w", id, err)
	}
	return buyer{name: c.Name, billing: c.BillingAddress, group: c.CustomerGroup, paymentTermsID: c.PaymentTermsID}, nil
}

func loadPaymentTerms(ctx context.Context, q db.Querier, companyID, id string) (*InvoicePaymentTerms, error) {
	if id == "" {
		return nil, nil
	}
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM payment_terms WHERE id = $1 AND company_id = $2", id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read payment terms %s: %w", id, err)
	}
	t := InvoicePaymentTerms{ID: id}
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return nil, fmt.Errorf("decode payment terms %s: %w", id, err)
	}
	t.ID = id
	return &t, nil
}

// carrierTaxCategory is the tax category a carrier's charge is taxed as.
func carrierTaxCategory(ctx context.Context, q db.Querier, companyID, carrierID string) (string, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM carriers WHERE id = $1 AND company_id = $2", carrierID, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read carrier %s: %w", carrierID, err)
	}
	var c struct {
		TaxCategoryID string `json:"tax_category_id"`
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return "", fmt.Errorf("decode carrier %s: %w", carrierID, err)
	}
	return c.TaxCategoryID, nil
}

func insertInvoice(ctx context.Context, tx *db.Tx, inv *Invoice) error {
	doc, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("encode invoice: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO invoices (id, company_id, kind, series, status, payment_status, customer_id, sales_order_id,
credit_of, currency, invoice_date, due_date, net_total, tax_total, gross_total, doc, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		inv.ID, inv.CompanyID, inv.Kind, inv.Series, inv.Status, inv.PaymentStatus, inv.CustomerID, inv.SalesOrderID, inv.CreditOf,
		string(inv.Currency), inv.InvoiceDate, inv.DueDate, money.Amount(&inv.NetTotal), money.Amount(&inv.TaxTotal),
		money.Amount(&inv.GrossTotal), string(doc), inv.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert invoice: %w", err)
	}
	return nil
}

// markFinalized stores the number, dates and receivable of a draft.
func markFinalized(ctx context.Context, tx *db.Tx, inv *Invoice) error {
	doc, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("encode invoice: %w", err)
	}
	var entry any
	var line any
	if inv.JournalEntryID != "" {
		entry, line = inv.JournalEntryID, inv.ReceivableLineNo
	}
	res, err := tx.ExecContext(ctx, `UPDATE invoices SET status = $1, number = $2, invoice_date = $3, due_date = $4,
journal_entry_id = $5, receivable_line_no = $6, doc = $7, finalized_at = $8 WHERE id = $9 AND status = $10`,
		Finalized, inv.Number, inv.InvoiceDate, inv.DueDate, entry, line, string(doc), *inv.FinalizedAt, inv.ID, Draft)
	if err != nil {
		return fmt.Errorf("finalize invoice %s: %w", inv.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return apperr.New(apperr.Conflict, "Invoice %s was finalized by another request.", inv.ID)
	}
	return nil
}

// nextNumber takes the next number of a company's series. The row is
// locked until the transaction ends, and a failed finalization rolls the
// increment back, so numbers have no gaps; it is touched only when a
// document is finalized, never at checkout.
func nextNumber(ctx context.Context, tx *db.Tx, companyID, series string) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `INSERT INTO invoice_sequences (company_id, series, last_number) VALUES ($1, $2, 1)
ON CONFLICT (company_id, series) DO UPDATE SET last_number = invoice_sequences.last_number + 1
RETURNING last_number`, companyID, series).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("take invoice number %s for %s: %w", series, companyID, err)
	}
	return n, nil
}

const invoiceColumns = `doc, status, number, payment_status, journal_entry_id, receivable_line_no`

func scanInvoice(row interface{ Scan(...any) error }) (Invoice, error) {
	var (
		doc, status, pay string
		number           sql.NullInt64
		entry            sql.NullString
		line             sql.NullInt64
		inv              Invoice
	)
	if err := row.Scan(&doc, &status, &number, &pay, &entry, &line); err != nil {
		return inv, err
	}
	if err := json.Unmarshal([]byte(doc), &inv); err != nil {
		return inv, fmt.Errorf("decode invoice: %w", err)
	}
	// The columns are the truth for what changes after the document was
	// written: payments set payment_status.
	inv.Status, inv.Number, inv.PaymentStatus = status, number.Int64, pay
	inv.JournalEntryID, inv.ReceivableLineNo = entry.String, int(line.Int64)
	if inv.Number > 0 {
		inv.DocumentNumber = fmt.Sprintf("%s-%d", inv.Series, inv.Number)
	}
	return inv, nil
}

// loadInvoice reads an invoice of the company; lock holds its row until
// the transaction ends (PostgreSQL; SQLite has one writer).
func loadInvoice(ctx context.Context, q db.Querier, companyID, id string, lock bool) (Invoice, error) {
	suffix := ""
	if lock {
		if tx, ok := q.(*db.Tx); ok && tx.Engine() == db.Postgres {
			suffix = " FOR UPDATE"
		}
	}
	inv, err := scanInvoice(q.QueryRowContext(ctx, "SELECT "+invoiceColumns+" FROM invoices WHERE id = $1 AND company_id = $2"+suffix, id, companyID))
	if errors.Is(err, sql.ErrNoRows) {
		return Invoice{}, apperr.New(apperr.NotFound, "No invoice %q.", id)
	}
	if err != nil {
		return Invoice{}, fmt.Errorf("read invoice %s: %w", id, err)
	}
	return inv, nil
}

// orderInvoices are every invoice and credit note of an order, drafts
// included (a draft already bills what it holds), oldest first.
func orderInvoices(ctx context.Context, q db.Querier, companyID, orderID string) ([]Invoice, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+invoiceColumns+" FROM invoices WHERE company_id = $1 AND sales_order_id = $2 ORDER BY id", companyID, orderID)
	if err != nil {
		return nil, fmt.Errorf("invoices of order %s: %w", orderID, err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (Invoice, error) { return scanInvoice(rows) })
	if err != nil {
		return nil, fmt.Errorf("invoices of order %s: %w", orderID, err)
	}
	return out, nil
}

// ListFilter selects invoices.
type ListFilter struct {
	CustomerID, SalesOrderID, Status, PaymentStatus string
	After                                           string // previous page's last id
	Limit                                           int
}

// List returns a company's invoices and credit notes, oldest first.
func List(ctx context.Context, q db.Querier, companyID string, f ListFilter) ([]Invoice, error) {
	where, args := []string{"company_id = $1"}, []any{companyID}
	for _, c := range []struct{ col, v string }{{"customer_id", f.CustomerID}, {"sales_order_id", f.SalesOrderID}, {"status", f.Status},
		{"payment_status", f.PaymentStatus}, {"id >", f.After}} {
		if c.v == "" {
			continue
		}
		args = append(args, c.v)
		op := " ="
		if strings.HasSuffix(c.col, ">") {
			op = ""
		}
		where = append(where, fmt.Sprintf("%s%s $%d", c.col, op, len(args)))
	}
	args = append(args, f.Limit)
	// Ids are time-ordered, so id order is creation order and a keyset on
	// it pages stably.
	rows, err := q.QueryContext(ctx, "SELECT "+invoiceColumns+" FROM invoices WHERE "+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (Invoice, error) { return scanInvoice(rows) })
	if err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	if out == nil {
		out = []Invoice{}
	}
	return out, nil
}

// openAmount is what is left of an invoice's receivable in its currency:
// the receivable line less every posted line settling it (payments,
// credit notes), less credit notes of the invoice that could not settle it
// (more than was open when they were made). Read with plain SQL so a GET
// needs no write transaction.
func openAmount(ctx context.Context, q db.Querier, inv Invoice) (money.Decimal, error) {
	var open, credited money.Decimal
	err := q.QueryRowContext(ctx, `SELECT l.txn_amount + COALESCE((SELECT SUM(s.txn_amount) FROM journal_lines s
JOIN journal_entries e ON e.id = s.entry_id
WHERE s.settles_entry_id = l.entry_id AND s.settles_line_no = l.line_no AND e.status = 'posted'), 0)
FROM journal_lines l WHERE l.entry_id = $1 AND l.line_no = $2`, inv.JournalEntryID, inv.ReceivableLineNo).Scan(money.Amount(&open))
	if err != nil {
		return money.Decimal{}, fmt.Errorf("open amount of invoice %s: %w", inv.ID, err)
	}
	err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(c.gross_total), 0) FROM invoices c
JOIN journal_lines cl ON cl.entry_id = c.journal_entry_id AND cl.line_no = c.receivable_line_no
WHERE c.company_id = $1 AND c.credit_of = $2 AND c.status = 'finalized' AND cl.settles_entry_id IS NULL`, inv.CompanyID, inv.ID).
		Scan(money.Amount(&credited))
	if err != nil {
		return money.Decimal{}, fmt.Errorf("credit notes of invoice %s: %w", inv.ID, err)
	}
	open = open.Sub(credited)
	if open.IsNegative() {
		open = money.Decimal{}
	}
	return open.Normalize(), nil
}

// shippedCost is what the shipments of an order line took out of stock:
// value and quantity of their issue moves.
func shippedCost(ctx context.Context, q db.Querier, companyID, orderID string, lineNo int) (value, qty money.Decimal, err error) {
	err = q.QueryRowContext(ctx, `SELECT COALESCE(SUM(ABS(m.value)), 0), COALESCE(SUM(m.quantity), 0) FROM stock_moves m
JOIN shipments s ON s.id = m.source_id
WHERE m.company_id = $1 AND m.source_type = 'shipment' AND s.order_id = $2 AND m.purpose LIKE $3`,
		companyID, orderID, fmt.Sprintf("line %d.%%", lineNo)).Scan(money.Amount(&value), money.Quantity(&qty))
	if err != nil {
		return value, qty, fmt.Errorf("shipped cost of %s line %d: %w", orderID, lineNo, err)
	}
	return value, qty, nil
}

func insertReturn(ctx context.Context, tx *db.Tx, r *CustomerReturn) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode return: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO customer_returns (id, company_id, sales_order_id, return_date, credit_note_id, doc, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.ID, r.CompanyID, r.SalesOrderID, r.Date, r.CreditNoteID, string(doc), r.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert return: %w", err)
	}
	return nil
}

func scanReturn(row interface{ Scan(...any) error }) (CustomerReturn, error) {
	var doc string
	var r CustomerReturn
	if err := row.Scan(&doc); err != nil {
		return r, err
	}
	return r, json.Unmarshal([]byte(doc), &r)
}

// GetReturn reads a return of the company.
func GetReturn(ctx context.Context, q db.Querier, companyID, id string) (CustomerReturn, error) {
	r, err := scanReturn(q.QueryRowContext(ctx, "SELECT doc FROM customer_returns WHERE id = $1 AND company_id = $2", id, companyID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, apperr.New(apperr.NotFound, "No return %q.", id)
	}
	if err != nil {
		return r, fmt.Errorf("read return %s: %w", id, err)
	}
	return r, nil
}

func orderReturns(ctx context.Context, q db.Querier, companyID, orderID string) ([]CustomerReturn, error) {
	rows, err := q.QueryContext(ctx, "SELECT doc FROM customer_returns WHERE company_id = $1 AND sales_order_id = $2 ORDER BY id", companyID, orderID)
	if err != nil {
		return nil, fmt.Errorf("returns of order %s: %w", orderID, err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (CustomerReturn, error) { return scanReturn(rows) })
	if err != nil {
		return nil, fmt.Errorf("returns of order %s: %w", orderID, err)
	}
	return out, nil
}

func dateAfter(date string, days int) (string, error) {
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return "", fmt.Errorf("invoice date %q: %w", date, err)
	}
	return d.AddDate(0, 0, days).Format(time.DateOnly), nil
}

package payments

import (
	"bytes"
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

// company is what payments need of the company.
type company struct {
	base money.Currency
	zone string
}

func loadCompany(ctx context.Context, q db.Querier, companyID string) (company, error) {
	var cur, doc string
	if err := q.QueryRowContext(ctx, "SELECT base_currency, doc FROM companies WHERE id = $1", companyID).Scan(&cur, &doc); err != nil {
		return company{}, fmt.Errorf("company %s: %w", companyID, err)
	}
	var c struct {
		TimeZone string `json:"time_zone"`
	}
	_ = json.Unmarshal([]byte(doc), &c)
	return company{base: money.Currency(cur), zone: c.TimeZone}, nil
}

type customer struct {
	currency money.Currency
	group    string
}

func loadCustomer(ctx context.Context, q db.Querier, companyID, id string) (customer, bool, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM customers WHERE id = $1 AND company_id = $2", id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return customer{}, false, nil
	}
	if err != nil {
		return customer{}, false, fmt.Errorf("read customer %s: %w", id, err)
	}
	var c struct {
		Currency money.Currency `json:"currency"`
		Group    string         `json:"customer_group"`
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return customer{}, false, fmt.Errorf("decode customer %s: %w", id, err)
	}
	return customer{currency: c.Currency, group: c.Group}, true, nil
}

// bankAccount checks that an account may take a payment: the company's,
// active, an asset.
func bankAccount(ctx context.Context, q db.Querier, companyID, id string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM accounts WHERE id = $1 AND company_id = $2 AND active AND type = 'asset'", id, companyID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read account %s: %w", id, err)
	}
	return n == 1, nil
}

// invoice is the part of an invoice a payment needs.
type invoice struct {
	ID            string
	Kind          string
	Status        string
	PaymentStatus string
	CustomerID    string
	SalesOrderID  string
	Currency      money.Currency
	EntryID       string
	LineNo        int
	Account       string // the receivable line's account
	// The receivable line's transaction currency and the entry's (the
	// company's): equal when the ledger cannot settle the line.
	LineCurrency, BaseCurrency money.Currency
}

func loadInvoice(ctx context.Context, q db.Querier, companyID, id string) (invoice, bool, error) {
	var inv invoice
	var cur string
	var entry, account, lineCur, base sql.NullString
	var line sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT i.id, i.kind, i.status, i.payment_status, i.customer_id, i.sales_order_id, i.currency,
i.journal_entry_id, i.receivable_line_no, l.account_id, l.txn_currency, e.currency
FROM invoices i LEFT JOIN journal_lines l ON l.entry_id = i.journal_entry_id AND l.line_no = i.receivable_line_no
LEFT JOIN journal_entries e ON e.id = i.journal_entry_id
WHERE i.id = $1 AND i.company_id = $2`, id, companyID).
		Scan(&inv.ID, &inv.Kind, &inv.Status, &inv.PaymentStatus, &inv.CustomerID, &inv.SalesOrderID, &cur, &entry, &line, &account, &lineCur, &base)
	if errors.Is(err, sql.ErrNoRows) {
		return invoice{}, false, nil
	}
	if err != nil {
		return invoice{}, false, fmt.Errorf("read invoice %s: %w", id, err)
	}
	inv.Currency, inv.EntryID, inv.LineNo, inv.Account = money.Currency(cur), entry.String, int(line.Int64), account.String
	inv.LineCurrency, inv.BaseCurrency = money.Currency(lineCur.String), money.Currency(base.String)
	return inv, true, nil
}

// setInvoicePaymentStatus writes the column and, when the invoice's
// document carries the field, the document too, so the invoice reads the
// same whichever the invoicing module serves from.
func setInvoicePaymentStatus(ctx context.Context, tx *db.Tx, companyID, id, status string) error {
	var doc string
	if err := tx.QueryRowContext(ctx, "SELECT doc FROM invoices WHERE id = $1 AND company_id = $2", id, companyID).Scan(&doc); err != nil {
		return fmt.Errorf("read invoice %s: %w", id, err)
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) == nil && m != nil {
		if _, ok := m["payment_status"]; ok {
			m["payment_status"] = status
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(m); err != nil {
				return fmt.Errorf("encode invoice %s: %w", id, err)
			}
			doc = strings.TrimSuffix(buf.String(), "\n")
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE invoices SET payment_status = $1, doc = $2 WHERE id = $3 AND company_id = $4", status, doc, id, companyID); err != nil {
		return fmt.Errorf("update invoice %s: %w", id, err)
	}
	return nil
}

// orderInvoiceStatuses are the payment statuses of an order's finalized
// invoices (credit notes left out).
func orderInvoiceStatuses(ctx context.Context, q db.Querier, companyID, orderID string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT payment_status FROM invoices WHERE company_id = $1 AND sales_order_id = $2
AND kind = 'invoice' AND status = 'finalized'`, companyID, orderID)
	if err != nil {
		return nil, fmt.Errorf("invoices of order %s: %w", orderID, err)
	}
	return db.Collect(rows, func(r *sql.Rows) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
}

const paymentColumns = "doc, content_hash"

func insertPayment(ctx context.Context, tx *db.Tx, p *Payment, hash string) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode payment: %w", err)
	}
	var line any
	if p.UnappliedLineNo > 0 {
		line = p.UnappliedLineNo
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO payments (id, company_id, external_id, content_hash, direction, customer_id, currency, amount,
payment_date, bank_account_id, reference, status, unapplied, unapplied_line_no, journal_entry_id, doc, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		p.ID, p.CompanyID, p.ExternalID, hash, p.Direction, p.CustomerID, string(p.Currency), money.Amount(&p.Amount), p.Date,
		p.BankAccountID, p.Reference, p.Status, money.Amount(&p.Unapplied), line, p.JournalEntryID, string(doc), p.CreatedAt)
	if db.IsUniqueViolation(err) {
		return errExternalTaken
	}
	if err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	return nil
}

var errExternalTaken = errors.New("external id taken")

// updatePayment writes a payment's unapplied credit (the only thing that
// changes after it is posted; allocations have their own rows).
func updatePayment(ctx context.Context, tx *db.Tx, p *Payment) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode payment: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE payments SET unapplied = $1, doc = $2 WHERE id = $3",
		money.Amount(&p.Unapplied), string(doc), p.ID); err != nil {
		return fmt.Errorf("update payment %s: %w", p.ID, err)
	}
	return nil
}

func insertAllocation(ctx context.Context, tx *db.Tx, paymentID, companyID string, a *PaymentAllocation) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO payment_allocations (id, payment_id, company_id, kind, invoice_id, amount, alloc_date,
journal_entry_id, line_no, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		a.ID, paymentID, companyID, a.Kind, a.InvoiceID, money.Amount(&a.Amount), a.Date, a.JournalEntryID, a.LineNo, a.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert allocation of payment %s: %w", paymentID, err)
	}
	return nil
}

// loadPayment reads a payment of the company with its allocations; lock
// takes its row (PostgreSQL; SQLite has one writer) so that two
// applications or refunds of one credit queue.
func loadPayment(ctx context.Context, q db.Querier, companyID, id string, lock bool) (Payment, string, error) {
	suffix := ""
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		suffix = " FOR UPDATE"
	}
	var doc, hash string
	err := q.QueryRowContext(ctx, "SELECT "+paymentColumns+" FROM payments WHERE id = $1 AND company_id = $2"+suffix, id, companyID).Scan(&doc, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return Payment{}, "", apperr.New(apperr.NotFound, "No payment %q.", id)
	}
	if err != nil {
		return Payment{}, "", fmt.Errorf("read payment %s: %w", id, err)
	}
	p, err := decodePayment(doc)
	if err != nil {
		return Payment{}, "", err
	}
	p.Allocations, err = loadAllocations(ctx, q, id)
	return p, hash, err
}

func decodePayment(doc string) (Payment, error) {
	var p Payment
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return Payment{}, fmt.Errorf("decode payment: %w", err)
	}
	return p, nil
}

func findByExternal(ctx context.Context, q db.Querier, companyID, external string) (string, bool, error) {
	var id string
	err := q.QueryRowContext(ctx, "SELECT id FROM payments WHERE company_id = $1 AND external_id = $2 AND external_id <> ''", companyID, external).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("find payment by external id: %w", err)
	}
	return id, true, nil
}

func loadAllocations(ctx context.Context, q db.Querier, paymentID string) ([]PaymentAllocation, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, kind, invoice_id, amount, alloc_date, journal_entry_id, line_no, created_at
FROM payment_allocations WHERE payment_id = $1 ORDER BY created_at, id`, paymentID)
	if err != nil {
		return nil, fmt.Errorf("allocations of payment %s: %w", paymentID, err)
	}
	out, err := db.Collect(rows, func(r *sql.Rows) (PaymentAllocation, error) {
		var a PaymentAllocation
		return a, r.Scan(&a.ID, &a.Kind, &a.InvoiceID, money.Amount(&a.Amount), &a.Date, &a.JournalEntryID, &a.LineNo, &a.CreatedAt)
	})
	if out == nil {
		out = []PaymentAllocation{}
	}
	return out, err
}

// ListFilter narrows a list; After is the last id of the previous page.
type ListFilter struct {
	CustomerID string
	After      string
	Limit      int
}

// List returns a company's payments, oldest first.
func List(ctx context.Context, q db.Querier, companyID string, f ListFilter) ([]Payment, error) {
	args := []any{companyID}
	where := []string{"company_id = $1"}
	if f.CustomerID != "" {
		args = append(args, f.CustomerID)
		where = append(where, fmt.Sprintf("customer_id = $%d", len(args)))
	}
	if f.After != "" {
		args = append(args, f.After)
		where = append(where, fmt.Sprintf("id > $%d", len(args)))
	}
	args = append(args, f.Limit)
	rows, err := q.QueryContext(ctx, fmt.Sprintf("SELECT doc FROM payments WHERE %s ORDER BY id LIMIT $%d", strings.Join(where, " AND "), len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	list, err := db.Collect(rows, func(r *sql.Rows) (Payment, error) {
		var doc string
		if err := r.Scan(&doc); err != nil {
			return Payment{}, err
		}
		return decodePayment(doc)
	})
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Allocations, err = loadAllocations(ctx, q, list[i].ID); err != nil {
			return nil, err
		}
	}
	if list == nil {
		list = []Payment{}
	}
	return list, nil
}

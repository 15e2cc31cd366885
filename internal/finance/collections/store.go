package collections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// openItem is a receivable and what was left of it on a date: a finalized
// invoice or credit note (its receivable line), or a payment's unapplied
// credit (its unapplied line), signed (debit, owed to us, positive).
type openItem struct {
	Kind       string // invoice, credit_note, payment
	ID         string
	CustomerID string
	Currency   money.Currency
	DueDate    string
	Open       money.Decimal
}

// settlements sums the posted settlements of line l dated on or before the
// as-of date ($2): payments, credit notes, reversals.
const settlements = `COALESCE((SELECT SUM(s.txn_amount) FROM journal_lines s JOIN journal_entries se ON se.id = s.entry_id
WHERE s.settles_entry_id = l.entry_id AND s.settles_line_no = l.line_no AND se.status = 'posted' AND se.entry_date <= $2), 0)`

// openItems reads, without locks, every receivable of the company (or of
// one customer) still open on asOf: invoices and credit notes (their
// receivable line, less what settled it by then), and payments' unapplied
// credit (the amount less allocations and refunds dated by then, negative).
// A credit note whose receivable line itself settles an invoice is
// already in that invoice's open amount, so it is left out.
func openItems(ctx context.Context, q db.Querier, companyID, asOf, customerID string) ([]openItem, error) {
	filterInv, filterPay := "", ""
	args := []any{companyID, asOf}
	if customerID != "" {
		args = append(args, customerID)
		filterInv, filterPay = " AND i.customer_id = $3", " AND p.customer_id = $3"
	}
	rows, err := q.QueryContext(ctx, `SELECT i.kind, i.id, i.customer_id, i.currency, i.due_date, l.txn_amount + `+settlements+`
FROM invoices i JOIN journal_lines l ON l.entry_id = i.journal_entry_id AND l.line_no = i.receivable_line_no
WHERE i.company_id = $1 AND i.status = 'finalized' AND i.invoice_date <= $2 AND l.settles_entry_id IS NULL`+filterInv+`
UNION ALL
SELECT 'payment', p.id, p.customer_id, p.currency, p.payment_date,
COALESCE((SELECT SUM(a.amount) FROM payment_allocations a WHERE a.payment_id = p.id AND a.alloc_date <= $2), 0) - p.amount
FROM payments p
WHERE p.company_id = $1 AND p.direction = 'incoming' AND p.payment_date <= $2`+filterPay, args...)
	if err != nil {
		return nil, fmt.Errorf("open receivables of %s: %w", companyID, err)
	}
	items, err := db.Collect(rows, func(r *sql.Rows) (openItem, error) {
		var it openItem
		var cur string
		err := r.Scan(&it.Kind, &it.ID, &it.CustomerID, &cur, &it.DueDate, money.Amount(&it.Open))
		it.Currency = money.Currency(cur)
		return it, err
	})
	if err != nil {
		return nil, fmt.Errorf("open receivables of %s: %w", companyID, err)
	}
	out := items[:0]
	for _, it := range items {
		if !it.Open.IsZero() {
			out = append(out, it)
		}
	}
	return out, nil
}

// customerExists answers 404 for another company's customer.
func customerExists(ctx context.Context, q db.Querier, companyID, id string) error {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM customers WHERE id = $1 AND company_id = $2", id, companyID).Scan(&n); err != nil {
		return fmt.Errorf("read customer %s: %w", id, err)
	}
	if n == 0 {
		return apperr.New(apperr.NotFound, "No customer %q.", id)
	}
	return nil
}

// movement is one document on a customer's statement.
type movement struct {
	Date      string
	Type      string
	ID        string
	Reference string
	Currency  money.Currency
	Amount    money.Decimal
}

// movements are a customer's documents dated up to `to`, oldest first:
// invoices and credit notes at their receivable line's amount, payments
// (received, so negative) and refunds (paid back, positive). Applying
// unapplied credit moves nothing between the customer and us, so it is
// not a movement.
func movements(ctx context.Context, q db.Querier, companyID, customerID, to string) ([]movement, error) {
	rows, err := q.QueryContext(ctx, `SELECT i.invoice_date, i.kind, i.id, i.series || '-' || CAST(i.number AS TEXT), i.currency, l.txn_amount
FROM invoices i JOIN journal_lines l ON l.entry_id = i.journal_entry_id AND l.line_no = i.receivable_line_no
WHERE i.company_id = $1 AND i.customer_id = $2 AND i.status = 'finalized' AND i.invoice_date <= $3
UNION ALL
SELECT p.payment_date, 'payment', p.id, p.reference, p.currency, -p.amount
FROM payments p WHERE p.company_id = $1 AND p.customer_id = $2 AND p.direction = 'incoming' AND p.payment_date <= $3
UNION ALL
SELECT a.alloc_date, 'refund', a.id, p.reference, p.currency, a.amount
FROM payment_allocations a JOIN payments p ON p.id = a.payment_id
WHERE p.company_id = $1 AND p.customer_id = $2 AND a.kind = 'refund' AND a.alloc_date <= $3
ORDER BY 1, 3`, companyID, customerID, to)
	if err != nil {
		return nil, fmt.Errorf("statement of customer %s: %w", customerID, err)
	}
	return db.Collect(rows, func(r *sql.Rows) (movement, error) {
		var m movement
		var cur string
		var ref sql.NullString
		err := r.Scan(&m.Date, &m.Type, &m.ID, &ref, &cur, money.Amount(&m.Amount))
		m.Currency, m.Reference = money.Currency(cur), ref.String
		return m, err
	})
}

// lastNotice is an invoice's latest dunning notice.
type lastNotice struct {
	Level int
	AsOf  string
}

func lastNotices(ctx context.Context, q db.Querier, companyID string) (map[string]lastNotice, error) {
	rows, err := q.QueryContext(ctx, `SELECT invoice_id, level, as_of FROM dunning_notices WHERE company_id = $1 ORDER BY as_of, created_at, id`, companyID)
	if err != nil {
		return nil, fmt.Errorf("dunning notices of %s: %w", companyID, err)
	}
	out := map[string]lastNotice{}
	for rows.Next() {
		var inv string
		var n lastNotice
		if err := rows.Scan(&inv, &n.Level, &n.AsOf); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("dunning notices of %s: %w", companyID, err)
		}
		out[inv] = n
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return out, rows.Err()
}

func insertRun(ctx context.Context, tx *db.Tx, r *DunningRun) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO dunning_runs (id, company_id, as_of, created_at) VALUES ($1, $2, $3, $4)",
		r.ID, r.CompanyID, r.AsOf, r.CreatedAt); err != nil {
		return fmt.Errorf("insert dunning run: %w", err)
	}
	for i := range r.Notices {
		n := &r.Notices[i]
		if _, err := tx.ExecContext(ctx, `INSERT INTO dunning_notices (id, run_id, company_id, invoice_id, customer_id, level, as_of,
days_overdue, currency, open_amount, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			n.ID, r.ID, r.CompanyID, n.InvoiceID, n.CustomerID, n.Level, r.AsOf, n.DaysOverdue, string(n.Currency), money.Amount(&n.OpenAmount), r.CreatedAt); err != nil {
			return fmt.Errorf("insert dunning notice: %w", err)
		}
	}
	return nil
}

func loadRun(ctx context.Context, q db.Querier, companyID, id string) (DunningRun, error) {
	r := DunningRun{Notices: []DunningNotice{}}
	err := q.QueryRowContext(ctx, "SELECT id, company_id, as_of, created_at FROM dunning_runs WHERE id = $1 AND company_id = $2", id, companyID).
		Scan(&r.ID, &r.CompanyID, &r.AsOf, &r.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return DunningRun{}, apperr.New(apperr.NotFound, "No dunning run %q.", id)
	}
	if err != nil {
		return DunningRun{}, fmt.Errorf("read dunning run %s: %w", id, err)
	}
	rows, err := q.QueryContext(ctx, `SELECT n.id, n.invoice_id, n.customer_id, n.level, n.days_overdue, n.currency, n.open_amount, i.due_date
FROM dunning_notices n JOIN invoices i ON i.id = n.invoice_id WHERE n.run_id = $1 ORDER BY n.id`, id)
	if err != nil {
		return DunningRun{}, fmt.Errorf("notices of dunning run %s: %w", id, err)
	}
	notices, err := db.Collect(rows, func(r *sql.Rows) (DunningNotice, error) {
		var n DunningNotice
		var cur string
		err := r.Scan(&n.ID, &n.InvoiceID, &n.CustomerID, &n.Level, &n.DaysOverdue, &cur, money.Amount(&n.OpenAmount), &n.DueDate)
		n.Currency = money.Currency(cur)
		return n, err
	})
	if err != nil {
		return DunningRun{}, fmt.Errorf("notices of dunning run %s: %w", id, err)
	}
	if notices != nil {
		r.Notices = notices
	}
	return r, nil
}

// companyZone is the company's time zone, for "today".
func companyZone(ctx context.Context, q db.Querier, companyID string) (string, error) {
	return company.Zone(ctx, q, companyID)
}

// listRuns returns a company's dunning runs after an id, oldest first,
// each with its notices.
func listRuns(ctx context.Context, q db.Querier, companyID, after string, limit int) ([]DunningRun, error) {
	rows, err := q.QueryContext(ctx, "SELECT id FROM dunning_runs WHERE company_id = $1 AND id > $2 ORDER BY id LIMIT $3", companyID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("dunning runs: %w", err)
	}
	ids, err := db.Collect(rows, func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("dunning runs: %w", err)
	}
	out := make([]DunningRun, 0, len(ids))
	for _, id := range ids {
		run, err := loadRun(ctx, q, companyID, id)
		if err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, nil
}

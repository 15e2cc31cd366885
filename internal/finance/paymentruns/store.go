package paymentruns

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// runDoc is what the doc column keeps; the columns hold the rest.
type runDoc struct {
	Criteria      Criteria                `json:"criteria"`
	Items         []PaymentRunItem        `json:"items"`
	Skipped       []PaymentRunSkippedBill `json:"skipped"`
	Payments      []PaymentRunPayment     `json:"payments"`
	DiscountTotal money.Decimal           `json:"discount_total"`
}

const runColumns = `id, company_id, status, currency, payment_date, total, item_count, proposed_by, approved_by, approved_at, executed_at,
operation_id, doc, created_at, updated_at`

func encodeDoc(r *PaymentRun) (string, error) {
	b, err := json.Marshal(runDoc{Criteria: r.Criteria, Items: r.Items, Skipped: r.Skipped, Payments: r.Payments, DiscountTotal: r.DiscountTotal})
	if err != nil {
		return "", fmt.Errorf("encode payment run %s: %w", r.ID, err)
	}
	return string(b), nil
}

func insertRun(ctx context.Context, tx *db.Tx, r *PaymentRun) error {
	doc, err := encodeDoc(r)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO payment_runs (id, company_id, status, currency, payment_date, total, item_count, proposed_by, doc,
created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
		r.ID, r.CompanyID, r.Status, string(r.Currency), r.PaymentDate, money.Amount(&r.Total), r.ItemCount, r.ProposedBy, doc, r.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert payment run: %w", err)
	}
	return nil
}

// saveRun writes a run's status, approval, execution and document; files,
// when given, are the sealed bank files.
func saveRun(ctx context.Context, tx *db.Tx, r *PaymentRun, pain001, csv string) error {
	doc, err := encodeDoc(r)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE payment_runs SET status = $1, approved_by = $2, approved_at = $3, executed_at = $4, operation_id = $5,
doc = $6, pain001 = $7, csv = $8, updated_at = $9 WHERE id = $10 AND company_id = $11`,
		r.Status, r.ApprovedBy, r.ApprovedAt, r.ExecutedAt, r.OperationID, doc, pain001, csv, r.UpdatedAt, r.ID, r.CompanyID)
	if err != nil {
		return fmt.Errorf("save payment run %s: %w", r.ID, err)
	}
	return nil
}

func scanRun(row interface{ Scan(...any) error }) (PaymentRun, error) {
	var (
		r                      PaymentRun
		cur, doc               string
		approvedAt, executedAt sql.NullTime
	)
	if err := row.Scan(&r.ID, &r.CompanyID, &r.Status, &cur, &r.PaymentDate, money.Amount(&r.Total), &r.ItemCount, &r.ProposedBy, &r.ApprovedBy,
		&approvedAt, &executedAt, &r.OperationID, &doc, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return r, err
	}
	var d runDoc
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return r, fmt.Errorf("decode payment run %s: %w", r.ID, err)
	}
	r.Currency, r.Criteria, r.Items, r.Skipped, r.Payments, r.DiscountTotal = money.Currency(cur), d.Criteria, d.Items, d.Skipped, d.Payments, d.DiscountTotal
	if r.Items == nil {
		r.Items = []PaymentRunItem{}
	}
	if r.Skipped == nil {
		r.Skipped = []PaymentRunSkippedBill{}
	}
	if r.Payments == nil {
		r.Payments = []PaymentRunPayment{}
	}
	if approvedAt.Valid {
		t := approvedAt.Time.UTC()
		r.ApprovedAt = &t
	}
	if executedAt.Valid {
		t := executedAt.Time.UTC()
		r.ExecutedAt = &t
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, nil
}

// loadRun reads a run of the company; another company's is 404. lock
// holds its row until the transaction ends (PostgreSQL; SQLite has one
// writer), so two executes of a run queue and the second sees it executed.
func loadRun(ctx context.Context, q db.Querier, companyID, id string, lock bool) (PaymentRun, error) {
	suffix := ""
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		suffix = " FOR UPDATE"
	}
	r, err := scanRun(q.QueryRowContext(ctx, "SELECT "+runColumns+" FROM payment_runs WHERE id = $1 AND company_id = $2"+suffix, id, companyID))
	if errors.Is(err, sql.ErrNoRows) {
		return PaymentRun{}, apperr.New(apperr.NotFound, "No payment run %q.", id)
	}
	if err != nil {
		return PaymentRun{}, fmt.Errorf("read payment run %s: %w", id, err)
	}
	return r, nil
}

// loadFiles returns a run's stored (sealed) bank files.
func loadFiles(ctx context.Context, q db.Querier, companyID, id string) (pain001, csv string, err error) {
	err = q.QueryRowContext(ctx, "SELECT pain001, csv FROM payment_runs WHERE id = $1 AND company_id = $2", id, companyID).Scan(&pain001, &csv)
	if err != nil {
		return "", "", fmt.Errorf("read files of payment run %s: %w", id, err)
	}
	return pain001, csv, nil
}

// listRuns returns a company's runs in id order (creation order).
func listRuns(ctx context.Context, q db.Querier, companyID, status, after string, limit int) ([]PaymentRun, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+runColumns+` FROM payment_runs WHERE company_id = $1 AND ($2 = '' OR status = $2) AND id > $3
ORDER BY id LIMIT $4`, companyID, status, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list payment runs: %w", err)
	}
	out, err := db.Collect(rows, func(r *sql.Rows) (PaymentRun, error) { return scanRun(r) })
	if err != nil {
		return nil, fmt.Errorf("list payment runs: %w", err)
	}
	if out == nil {
		out = []PaymentRun{}
	}
	return out, nil
}

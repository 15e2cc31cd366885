package payroll

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// runDoc is what the doc column keeps besides the columns: aggregates
// only. Adjustments name people and amounts, so they are kept sealed.
type runDoc struct {
	Totals      PayTotals  `json:"totals"`
	Memo        string     `json:"memo,omitempty"`
	CreatedBy   string     `json:"created_by"`
	ApprovedBy  string     `json:"approved_by,omitempty"`
	ApprovedAt  *time.Time `json:"approved_at,omitempty"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	EmployeeIDs []string   `json:"employee_ids,omitempty"`
	Adjustments string     `json:"adjustments,omitempty"`
}

const runCols = `id, company_id, status, kind, pay_schedule_id, period_start, period_end, pay_date, currency, employee_count, journal_entry_id,
payment_entry_id, operation_id, calculated_at, posted_at, doc, created_at, updated_at`

type storedRun struct {
	PayrollRun
	doc runDoc
}

func scanRun(row interface{ Scan(...any) error }) (storedRun, error) {
	var r storedRun
	var cur, doc string
	var posted sql.NullTime
	if err := row.Scan(&r.ID, &r.CompanyID, &r.Status, &r.Kind, &r.PayScheduleID, &r.PeriodStart, &r.PeriodEnd, &r.PayDate, &cur, &r.EmployeeCount,
		&r.JournalEntryID, &r.PaymentEntryID, &r.OperationID, &r.CalculatedAt, &posted, &doc, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(doc), &r.doc); err != nil {
		return r, fmt.Errorf("decode payroll run %s: %w", r.ID, err)
	}
	r.Currency = moneyCurrency(cur)
	if posted.Valid {
		t := posted.Time
		r.PostedAt = &t
	}
	r.Totals, r.Memo, r.CreatedBy, r.ApprovedBy, r.ApprovedAt, r.PaidAt = r.doc.Totals, r.doc.Memo, r.doc.CreatedBy, r.doc.ApprovedBy, r.doc.ApprovedAt, r.doc.PaidAt
	return r, nil
}

func insertRun(ctx context.Context, tx *db.Tx, r *storedRun) error {
	doc, err := json.Marshal(r.doc)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO payroll_runs (`+runCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		r.ID, r.CompanyID, r.Status, r.Kind, r.PayScheduleID, r.PeriodStart, r.PeriodEnd, r.PayDate, string(r.Currency), r.EmployeeCount,
		r.JournalEntryID, r.PaymentEntryID, r.OperationID, r.CalculatedAt, r.PostedAt, string(doc), r.CreatedAt, r.UpdatedAt)
	if db.IsUniqueViolation(err) {
		return apperr.New(apperr.Conflict, "Another regular run of this schedule's period was created at the same time; list the runs and use it.").
			WithFields(apperr.FieldError{Pointer: "/period_start", Detail: "already has a regular run"})
	}
	if err != nil {
		return fmt.Errorf("insert payroll run: %w", err)
	}
	return nil
}

func saveRun(ctx context.Context, tx *db.Tx, r *storedRun) error {
	r.doc.Totals, r.doc.Memo, r.doc.ApprovedBy, r.doc.ApprovedAt, r.doc.PaidAt = r.Totals, r.Memo, r.ApprovedBy, r.ApprovedAt, r.PaidAt
	doc, err := json.Marshal(r.doc)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE payroll_runs SET status = $1, employee_count = $2, journal_entry_id = $3, payment_entry_id = $4, operation_id = $5,
calculated_at = $6, posted_at = $7, doc = $8, updated_at = $9 WHERE id = $10 AND company_id = $11`,
		r.Status, r.EmployeeCount, r.JournalEntryID, r.PaymentEntryID, r.OperationID, r.CalculatedAt, r.PostedAt, string(doc), r.UpdatedAt, r.ID, r.CompanyID)
	if err != nil {
		return fmt.Errorf("save payroll run %s: %w", r.ID, err)
	}
	return nil
}

func loadRun(ctx context.Context, q db.Querier, companyID, runID string, lock bool) (storedRun, error) {
	sqlText := "SELECT " + runCols + " FROM payroll_runs WHERE id = $1 AND company_id = $2"
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		sqlText += " FOR UPDATE"
	}
	r, err := scanRun(q.QueryRowContext(ctx, sqlText, runID, companyID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, apperr.New(apperr.NotFound, "No payroll run %q.", runID)
	}
	if err != nil {
		return r, fmt.Errorf("load payroll run %s: %w", runID, err)
	}
	return r, nil
}

func listRuns(ctx context.Context, q db.Querier, companyID, status, after string, limit int) ([]PayrollRun, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+runCols+" FROM payroll_runs WHERE company_id = $1 AND ($2 = '' OR status = $2) AND id > $3 ORDER BY id LIMIT $4",
		companyID, status, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list payroll runs: %w", err)
	}
	defer rows.Close()
	out := []PayrollRun{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list payroll runs: %w", err)
		}
		out = append(out, r.PayrollRun)
	}
	return out, rows.Err()
}

// slipRow is a stored payslip before it is opened.
type slipRow struct {
	ID, RunID, EmployeeID, Doc string
}

func insertSlip(ctx context.Context, tx *db.Tx, companyID string, p *Payslip, sealed string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO payslips (id, company_id, run_id, employee_id, period_start, period_end, pay_date, doc, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, p.ID, companyID, p.PayrollRunID, p.EmployeeID, p.PeriodStart, p.PeriodEnd, p.PayDate, sealed, p.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert payslip: %w", err)
	}
	return nil
}

func scanSlips(rows *sql.Rows, err error) ([]slipRow, error) {
	if err != nil {
		return nil, fmt.Errorf("read payslips: %w", err)
	}
	defer rows.Close()
	var out []slipRow
	for rows.Next() {
		var s slipRow
		if err := rows.Scan(&s.ID, &s.RunID, &s.EmployeeID, &s.Doc); err != nil {
			return nil, fmt.Errorf("read payslips: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func slipsOfRun(ctx context.Context, q db.Querier, companyID, runID string) ([]slipRow, error) {
	return scanSlips(q.QueryContext(ctx, "SELECT id, run_id, employee_id, doc FROM payslips WHERE company_id = $1 AND run_id = $2 ORDER BY employee_id", companyID, runID))
}

// postedSlips are an employee's payslips of posted or paid runs whose
// periods end between from and to.
func postedSlips(ctx context.Context, q db.Querier, companyID, empID, from, to string) ([]slipRow, error) {
	return scanSlips(q.QueryContext(ctx, `SELECT p.id, p.run_id, p.employee_id, p.doc FROM payslips p JOIN payroll_runs r ON r.id = p.run_id
WHERE p.company_id = $1 AND p.employee_id = $2 AND r.status IN ('posted', 'paid') AND p.period_end >= $3 AND p.period_end <= $4 ORDER BY p.id`,
		companyID, empID, from, to))
}

func listSlips(ctx context.Context, q db.Querier, companyID, empID, runID, after string, limit int) ([]slipRow, error) {
	return scanSlips(q.QueryContext(ctx, `SELECT id, run_id, employee_id, doc FROM payslips WHERE company_id = $1 AND ($2 = '' OR employee_id = $2)
AND ($3 = '' OR run_id = $3) AND id > $4 ORDER BY id LIMIT $5`, companyID, empID, runID, after, limit))
}

func loadSlip(ctx context.Context, q db.Querier, companyID, id string) (slipRow, error) {
	rows, err := scanSlips(q.QueryContext(ctx, "SELECT id, run_id, employee_id, doc FROM payslips WHERE company_id = $1 AND id = $2", companyID, id))
	if err != nil {
		return slipRow{}, err
	}
	if len(rows) == 0 {
		return slipRow{}, apperr.New(apperr.NotFound, "No payslip %q.", id)
	}
	return rows[0], nil
}

package closing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// yearOf reads the first and last day of a fiscal year from its periods;
// 404 when the company has no such year.
func yearOf(ctx context.Context, q db.Querier, companyID string, year int, currency money.Currency) (Year, error) {
	y := Year{CompanyID: companyID, FiscalYear: year, Status: "open", Currency: currency}
	var start, end sql.NullString
	err := q.QueryRowContext(ctx, `SELECT MIN(start_date), MAX(end_date) FROM fiscal_periods WHERE company_id = $1 AND fiscal_year = $2`,
		companyID, year).Scan(&start, &end)
	if err != nil {
		return Year{}, fmt.Errorf("fiscal year %d: %w", year, err)
	}
	if !start.Valid {
		return Year{}, apperr.New(apperr.NotFound, "No fiscal year %d; open it with POST /v1/fiscal-years.", year)
	}
	y.Start, y.End = start.String, end.String
	return y, nil
}

// balance is an account's debit − credit.
type balance struct {
	account string
	amount  money.Decimal
}

// resultBalances are the balances of the income and expense accounts over
// the posted entries dated in [start, end], closing entries included: a
// closing entry and its reversal cancel out, so after a reopen the year's
// result shows again.
func resultBalances(ctx context.Context, q db.Querier, companyID, start, end string) ([]balance, error) {
	rows, err := q.QueryContext(ctx, `SELECT l.account_id, SUM(l.debit) - SUM(l.credit)
FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id JOIN accounts a ON a.id = l.account_id
WHERE e.company_id = $1 AND e.status = 'posted' AND e.entry_date >= $2 AND e.entry_date <= $3 AND a.type IN ('income', 'expense')
GROUP BY l.account_id HAVING SUM(l.debit) <> SUM(l.credit) ORDER BY l.account_id`, companyID, start, end)
	if err != nil {
		return nil, fmt.Errorf("result balances %s…%s: %w", start, end, err)
	}
	return collect(rows)
}

// closingBalances are the balances a closing entry closed: the negation
// of its lines on income and expense accounts.
func closingBalances(ctx context.Context, q db.Querier, entryID string) ([]balance, error) {
	rows, err := q.QueryContext(ctx, `SELECT l.account_id, l.credit - l.debit
FROM journal_lines l JOIN accounts a ON a.id = l.account_id
WHERE l.entry_id = $1 AND a.type IN ('income', 'expense') ORDER BY l.line_no`, entryID)
	if err != nil {
		return nil, fmt.Errorf("closing entry %s: %w", entryID, err)
	}
	return collect(rows)
}

func collect(rows *sql.Rows) ([]balance, error) {
	out, err := db.Collect(rows, func(rows *sql.Rows) (balance, error) {
		var b balance
		err := rows.Scan(&b.account, money.Amount(&b.amount))
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("balances: %w", err)
	}
	return out, nil
}

// retainedEarnings is the company's active account with that role.
func retainedEarnings(ctx context.Context, q db.Querier, companyID string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, "SELECT id FROM accounts WHERE company_id = $1 AND role = 'retained_earnings' AND active", companyID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.New(apperr.Conflict, "The company has no active account with role retained_earnings to close the year into.")
	}
	if err != nil {
		return "", fmt.Errorf("retained earnings account: %w", err)
	}
	return id, nil
}

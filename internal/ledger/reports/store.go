package reports

// The SQL of the reports, apart from the rules in reports.go. Every figure
// is a SUM over the scaled-integer amounts of posted lines: exact on both
// engines (PostgreSQL's SUM(bigint) is numeric; SQLite's integer SUM fails
// rather than overflow). Nothing reads a stored balance, because there is
// none (DESIGN §5, no hot rows).

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

const statusPosted = "posted"

// kindClosing marks year-end closing entries (journal_entries.kind), which
// profit and loss leaves out.
const kindClosing = "closing"

// company is what the reports need of a company.
type company struct {
	currency        money.Currency
	fiscalYearStart string // MM-DD
}

func loadCompany(ctx context.Context, q db.Querier, companyID string) (company, error) {
	var c company
	var currency, doc string
	err := q.QueryRowContext(ctx, "SELECT base_currency, doc FROM companies WHERE id = $1", companyID).Scan(&currency, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return c, apperr.Field("query:company_id", "No company %q.", companyID)
	}
	if err != nil {
		return c, fmt.Errorf("company %s: %w", companyID, err)
	}
	var d struct {
		FiscalYearStart string `json:"fiscal_year_start"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return c, fmt.Errorf("company %s document: %w", companyID, err)
	}
	c.currency, c.fiscalYearStart = money.Currency(currency), d.FiscalYearStart
	if c.fiscalYearStart == "" {
		c.fiscalYearStart = "01-01"
	}
	return c, nil
}

// loadChart reads the company's accounts, archived ones included: an
// archived account keeps its postings.
func loadChart(ctx context.Context, q db.Querier, companyID string) ([]ReportAccount, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, code, name, type, parent_id FROM accounts WHERE company_id = $1 ORDER BY code, id`, companyID)
	if err != nil {
		return nil, fmt.Errorf("chart of accounts of %s: %w", companyID, err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (ReportAccount, error) {
		var a ReportAccount
		err := rows.Scan(&a.ID, &a.Code, &a.Name, &a.Type, &a.ParentID)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("chart of accounts of %s: %w", companyID, err)
	}
	return out, nil
}

// loadAccount reads one account of the company.
func loadAccount(ctx context.Context, q db.Querier, companyID, accountID string) (ReportAccount, bool, error) {
	var a ReportAccount
	err := q.QueryRowContext(ctx, `SELECT id, code, name, type, parent_id FROM accounts WHERE id = $1 AND company_id = $2`,
		accountID, companyID).Scan(&a.ID, &a.Code, &a.Name, &a.Type, &a.ParentID)
	if errors.Is(err, sql.ErrNoRows) {
		return a, false, nil
	}
	if err != nil {
		return a, false, fmt.Errorf("account %s: %w", accountID, err)
	}
	return a, true, nil
}

// sums is one account's posted debits and credits before a period
// (opening) and within it.
type sums struct {
	openDebit, openCredit, debit, credit money.Decimal
}

// accountSums sums the company's posted lines dated on or before p.To per
// account, split at p.From into opening and period figures in the same
// pass (without From, everything is in the period). closing=false leaves out year-end closing entries, for
// profit and loss. accountID, when not empty, limits the sums to one
// account.
func accountSums(ctx context.Context, q db.Querier, companyID string, p Period, closing bool, accountID string) (map[string]sums, error) {
	args := []any{companyID, statusPosted, p.To}
	// Each account's lines fall in two groups, before the period (0) and
	// within it (1). Grouping by that flag costs about what the plain sum
	// does, where four CASE sums cost a quarter more over a million lines.
	split := `1`
	if p.From != "" {
		args = append(args, p.From)
		split = fmt.Sprintf(`CASE WHEN e.entry_date < $%d THEN 0 ELSE 1 END`, len(args))
	}
	where := ""
	if !closing {
		args = append(args, kindClosing)
		where += fmt.Sprintf(" AND e.kind <> $%d", len(args))
	}
	if accountID != "" {
		args = append(args, accountID)
		where += fmt.Sprintf(" AND l.account_id = $%d", len(args))
	}
	rows, err := q.QueryContext(ctx, `SELECT l.account_id, `+split+`, SUM(l.debit), SUM(l.credit)
FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
WHERE e.company_id = $1 AND e.status = $2 AND e.entry_date <= $3`+where+`
GROUP BY 1, 2`, args...)
	if err != nil {
		return nil, fmt.Errorf("sum postings of %s: %w", companyID, err)
	}
	defer rows.Close()
	out := map[string]sums{}
	for rows.Next() {
		var id string
		var inPeriod int
		var debit, credit money.Decimal
		if err := rows.Scan(&id, &inPeriod, money.Amount(&debit), money.Amount(&credit)); err != nil {
			return nil, fmt.Errorf("sum postings of %s: %w", companyID, err)
		}
		s := out[id]
		if inPeriod == 1 {
			s.debit, s.credit = debit, credit
		} else {
			s.openDebit, s.openCredit = debit, credit
		}
		out[id] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sum postings of %s: %w", companyID, err)
	}
	return out, nil
}

// position is a place in an account's ledger order: entry date, entry
// number (unique per company), line number.
type position struct {
	date   string
	number int64
	lineNo int64
}

// ledgerLines reads up to limit posted lines of one account dated within
// p, in ledger order, strictly after `after` when given (keyset paging).
func ledgerLines(ctx context.Context, q db.Querier, companyID, accountID string, p Period, after *position, limit int) ([]GeneralLedgerLine, error) {
	args := []any{companyID, statusPosted, accountID, p.From, p.To}
	keyset := ""
	if after != nil {
		args = append(args, after.date, after.number, after.lineNo)
		keyset = ` AND (e.entry_date > $6 OR (e.entry_date = $6 AND (e.number > $7 OR (e.number = $7 AND l.line_no > $8))))`
	}
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, `SELECT e.id, e.number, e.entry_date, e.memo, e.source_type, e.source_id, l.line_no, l.memo, l.debit, l.credit
FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
WHERE e.company_id = $1 AND e.status = $2 AND l.account_id = $3 AND e.entry_date >= $4 AND e.entry_date <= $5`+keyset+`
ORDER BY e.entry_date, e.number, l.line_no LIMIT $`+fmt.Sprint(len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("ledger of account %s: %w", accountID, err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (GeneralLedgerLine, error) {
		var l GeneralLedgerLine
		err := rows.Scan(&l.EntryID, &l.EntryNumber, &l.Date, &l.Memo, &l.SourceType, &l.SourceID, &l.LineNo, &l.LineMemo,
			money.Amount(&l.Debit), money.Amount(&l.Credit))
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger of account %s: %w", accountID, err)
	}
	return out, nil
}

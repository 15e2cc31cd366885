// Package closing is year-end closing: moving a fiscal year's profit or
// loss into retained earnings with one closing entry, locking the year's
// periods, and undoing it.
package closing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/periods"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// SourceType is the source type of closing entries.
const SourceType = "fiscal_year"

// Event types of fiscal years.
const (
	EventCreated  = "mainstay.ledger.fiscal_year.created"
	EventClosed   = "mainstay.ledger.fiscal_year.closed"
	EventReopened = "mainstay.ledger.fiscal_year.reopened"
)

// CreateYear opens the company's fiscal year starting in year: its twelve
// periods (periods.CreateYear), and the created event with the year as GET
// /v1/fiscal-years/{year} reads it, which periods cannot build (closing
// imports periods).
func CreateYear(ctx context.Context, tx *db.Tx, companyID string, year int, start string, currency money.Currency) ([]periods.Period, error) {
	out, err := periods.CreateYear(ctx, tx, companyID, year, start)
	if err != nil {
		return nil, err
	}
	return out, record(ctx, tx, companyID, year, currency, EventCreated)
}

// record writes a fiscal year's event with the year as GET reads it.
func record(ctx context.Context, tx *db.Tx, companyID string, year int, currency money.Currency, event string) error {
	y, err := Get(ctx, tx, companyID, year, currency)
	if err != nil {
		return err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: fmt.Sprint(year), CompanyID: companyID, Data: y}); err != nil {
		return fmt.Errorf("fiscal year %d: %w", year, err)
	}
	return nil
}

// Year is the closing state of a fiscal year.
type Year struct {
	CompanyID      string         `json:"company_id"`
	FiscalYear     int            `json:"fiscal_year"`
	Start          string         `json:"start"`
	End            string         `json:"end"`
	Status         string         `json:"status" enum:"open,closed"`
	ClosingEntryID string         `json:"closing_entry_id,omitempty" doc:"The entry that moved the year's result into retained earnings; absent when there was none to move."`
	NetResult      money.Decimal  `json:"net_result" doc:"Income less expense of the year in the company currency (a loss is negative)."`
	ClosedAt       *time.Time     `json:"closed_at,omitempty"`
	Currency       money.Currency `json:"currency"`
}

// Close closes fiscal year year of the company: it closes every open
// period of the year first — after waiting for postings in flight
// (periods.LockForClose) — then posts the closing
// entry dated the last day of the year, crediting each expense and
// debiting each income account by its balance for the year, with the net
// to the account with role retained_earnings. A second close is a 409.
func Close(ctx context.Context, tx *db.Tx, companyID string, year int, currency money.Currency) (Year, error) {
	y, err := yearOf(ctx, tx, companyID, year, currency)
	if err != nil {
		return Year{}, err
	}
	if err := periods.LockForClose(ctx, tx); err != nil {
		return Year{}, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO fiscal_year_closes (company_id, fiscal_year, status, closed_at) VALUES ($1, $2, 'closed', $3)
ON CONFLICT (company_id, fiscal_year) DO UPDATE SET status = 'closed', closed_at = $3, closing_entry_id = NULL
WHERE fiscal_year_closes.status = 'open'`, companyID, year, tx.Now())
	if err != nil {
		return Year{}, fmt.Errorf("close fiscal year %d: %w", year, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Year{}, apperr.New(apperr.Conflict, "Fiscal year %d is already closed.", year)
	}
	open, err := openPeriods(ctx, tx, companyID, year)
	if err != nil {
		return Year{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE fiscal_periods SET status = $1, closed_at = $2
WHERE company_id = $3 AND fiscal_year = $4 AND status = $5`, periods.Closed, tx.Now(), companyID, year, periods.Open); err != nil {
		return Year{}, fmt.Errorf("close periods of %d: %w", year, err)
	}
	all, err := periods.List(ctx, tx, companyID)
	if err != nil {
		return Year{}, err
	}
	for _, p := range all {
		if open[p.ID] {
			if err := periods.Record(ctx, tx, companyID, p); err != nil {
				return Year{}, err
			}
		}
	}
	balances, err := resultBalances(ctx, tx, companyID, y.Start, y.End)
	if err != nil {
		return Year{}, err
	}
	p := ledger.Posting{
		CompanyID: companyID, Date: y.End, Currency: currency, Kind: ledger.KindClosing,
		SourceType: SourceType, SourceID: id.New("ycl"), Purpose: "year_end_close",
		Memo: fmt.Sprintf("Year-end closing %d", year),
	}
	var net money.Decimal // debit − credit of income and expense: −profit
	for _, b := range balances {
		net = net.Add(b.amount)
		p.Lines = append(p.Lines, sideOf(b.account, b.amount.Neg(), "Close to retained earnings"))
	}
	y.NetResult = money.RoundAmount(net.Neg(), currency, money.HalfEven)
	if len(p.Lines) > 0 && !net.IsZero() {
		re, err := retainedEarnings(ctx, tx, companyID)
		if err != nil {
			return Year{}, err
		}
		p.Lines = append(p.Lines, sideOf(re, net, fmt.Sprintf("Result of %d", year)))
	}
	if len(p.Lines) >= 2 {
		e, err := ledger.Post(ctx, tx, p)
		if err != nil {
			return Year{}, fmt.Errorf("post closing entry of %d: %w", year, err)
		}
		y.ClosingEntryID = e.ID
		if _, err := tx.ExecContext(ctx, "UPDATE fiscal_year_closes SET closing_entry_id = $1 WHERE company_id = $2 AND fiscal_year = $3",
			e.ID, companyID, year); err != nil {
			return Year{}, fmt.Errorf("close fiscal year %d: %w", year, err)
		}
	}
	now := tx.Now()
	y.Status, y.ClosedAt = periods.Closed, &now
	if err := audit.Record(ctx, tx, audit.Entry{
		Action: "fiscal_year.close", ResourceType: "fiscal_year", ResourceID: fmt.Sprint(year), CompanyID: companyID,
		Details: map[string]any{"closing_entry_id": y.ClosingEntryID, "net_result": y.NetResult.String()},
	}); err != nil {
		return Year{}, err
	}
	return y, record(ctx, tx, companyID, year, currency, EventClosed)
}

// openPeriods are the IDs of the year's open periods: those a close closes.
func openPeriods(ctx context.Context, tx *db.Tx, companyID string, year int) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, "SELECT id FROM fiscal_periods WHERE company_id = $1 AND fiscal_year = $2 AND status = $3",
		companyID, year, periods.Open)
	if err != nil {
		return nil, fmt.Errorf("open periods of %d: %w", year, err)
	}
	ids, err := db.Collect(rows, func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("open periods of %d: %w", year, err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// Reopen reopens a closed fiscal year: the closing entry is reversed on
// the same date, so the year's income and expense show again. Its periods
// stay closed; reopen the ones to correct (admin), then close the year
// again.
func Reopen(ctx context.Context, tx *db.Tx, companyID string, year int, currency money.Currency) (Year, error) {
	y, err := yearOf(ctx, tx, companyID, year, currency)
	if err != nil {
		return Year{}, err
	}
	lock := ""
	if tx.Engine() == db.Postgres {
		lock = " FOR UPDATE"
	}
	var (
		status  string
		entryID sql.NullString
	)
	err = tx.QueryRowContext(ctx, `SELECT status, closing_entry_id FROM fiscal_year_closes WHERE company_id = $1 AND fiscal_year = $2`+lock,
		companyID, year).Scan(&status, &entryID)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && status != periods.Closed) {
		return Year{}, apperr.New(apperr.Conflict, "Fiscal year %d is not closed.", year)
	}
	if err != nil {
		return Year{}, fmt.Errorf("reopen fiscal year %d: %w", year, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE fiscal_year_closes SET status = 'open', closed_at = NULL, closing_entry_id = NULL
WHERE company_id = $1 AND fiscal_year = $2`, companyID, year); err != nil {
		return Year{}, fmt.Errorf("reopen fiscal year %d: %w", year, err)
	}
	if entryID.Valid {
		if _, err := ledger.Reverse(ctx, tx, entryID.String, y.End); err != nil {
			return Year{}, fmt.Errorf("reverse closing entry of %d: %w", year, err)
		}
	}
	if err := audit.Record(ctx, tx, audit.Entry{
		Action: "fiscal_year.reopen", ResourceType: "fiscal_year", ResourceID: fmt.Sprint(year), CompanyID: companyID,
		Details: map[string]any{"reversed_entry_id": entryID.String},
	}); err != nil {
		return Year{}, err
	}
	y.Status = periods.Open
	return y, record(ctx, tx, companyID, year, currency, EventReopened)
}

// Get returns the closing state of a fiscal year.
func Get(ctx context.Context, q db.Querier, companyID string, year int, currency money.Currency) (Year, error) {
	y, err := yearOf(ctx, q, companyID, year, currency)
	if err != nil {
		return Year{}, err
	}
	var (
		status   string
		entryID  sql.NullString
		closedAt sql.NullTime
	)
	err = q.QueryRowContext(ctx, `SELECT status, closing_entry_id, closed_at FROM fiscal_year_closes WHERE company_id = $1 AND fiscal_year = $2`,
		companyID, year).Scan(&status, &entryID, &closedAt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Year{}, fmt.Errorf("fiscal year %d: %w", year, err)
	}
	if status == periods.Closed {
		y.Status, y.ClosingEntryID = status, entryID.String
		if closedAt.Valid {
			t := closedAt.Time.UTC()
			y.ClosedAt = &t
		}
	}
	balances, err := resultBalances(ctx, q, companyID, y.Start, y.End)
	if err != nil {
		return Year{}, err
	}
	if y.Status == periods.Closed && y.ClosingEntryID != "" {
		// After closing, the year's income and expense net to zero; the
		// result is what the closing entry moved.
		balances, err = closingBalances(ctx, q, y.ClosingEntryID)
		if err != nil {
			return Year{}, err
		}
	}
	var net money.Decimal
	for _, b := range balances {
		net = net.Add(b.amount)
	}
	y.NetResult = money.RoundAmount(net.Neg(), currency, money.HalfEven)
	return y, nil
}

func sideOf(account string, amount money.Decimal, memo string) ledger.Line {
	if amount.IsNegative() {
		return ledger.Line{AccountID: account, Credit: amount.Neg(), Memo: memo}
	}
	return ledger.Line{AccountID: account, Debit: amount, Memo: memo}
}

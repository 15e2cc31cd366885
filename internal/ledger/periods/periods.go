// Package periods holds a company's fiscal years and their periods, and
// the one check every dated source (journal entries now; stock moves,
// shipments, bills and payroll runs later) makes before it writes: a date
// in a closed period is refused with 409.
package periods

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

// Statuses of a period.
const (
	Open   = "open"
	Closed = "closed"
)

// Period is one month of a fiscal year.
type Period struct {
	ID         string     `json:"id"`
	FiscalYear int        `json:"fiscal_year" doc:"The calendar year the fiscal year starts in."`
	Number     int        `json:"number" minimum:"1" maximum:"12"`
	Start      string     `json:"start" doc:"First day, YYYY-MM-DD."`
	End        string     `json:"end" doc:"Last day, YYYY-MM-DD."`
	Status     string     `json:"status" enum:"open,closed"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`
}

// Event types of periods.
const (
	EventClosed   = "mainstay.ledger.fiscal_period.closed"
	EventReopened = "mainstay.ledger.fiscal_period.reopened"
)

// ErrClosed is the answer for a date in a closed period.
var ErrClosed = apperr.New(apperr.Conflict, "The period is closed.")

// CheckOpen refuses a date that falls in a closed period of the company.
// A date no fiscal year covers is allowed: the books work before years are
// set up, and closing is what locks them.
//
// Inside a PostgreSQL transaction the writer holds fiscal_periods in ROW
// SHARE mode until it commits, and closing takes it in EXCLUSIVE mode
// (LockForClose): a close waits for the writers in flight, writers after
// it queue behind it and then see the period closed, so nothing lands in
// a period after it was closed. The lock manager queues fairly, which row
// locks would not (a stream of shared lockers could starve the close);
// writers do not block each other, and plain reads are never blocked.
func CheckOpen(ctx context.Context, q db.Querier, companyID, date string) error {
	if tx, ok := q.(*db.Tx); ok && tx.Engine() == db.Postgres {
		if _, err := tx.ExecContext(ctx, "LOCK TABLE fiscal_periods IN ROW SHARE MODE"); err != nil {
			return fmt.Errorf("check period of %s: %w", date, err)
		}
	}
	var pid, status string
	err := q.QueryRowContext(ctx, `SELECT id, status FROM fiscal_periods WHERE company_id = $1 AND start_date <= $2 AND end_date >= $2`,
		companyID, date).Scan(&pid, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check period of %s: %w", date, err)
	}
	if status == Closed {
		return apperr.New(apperr.Conflict, "The period holding %s (%s) is closed; date the change into an open period.", date, pid).
			WithFields(apperr.FieldError{Pointer: "/date", Detail: "in a closed period"})
	}
	return nil
}

// LockForClose waits until no transaction is writing a dated document
// and holds them off until tx ends (see CheckOpen). Closing takes a few
// milliseconds, and is rare, so holding every company's writers for that
// long is the price of a close nothing slips past. A no-op on SQLite,
// whose single writer already excludes them.
func LockForClose(ctx context.Context, tx *db.Tx) error {
	if tx.Engine() != db.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "LOCK TABLE fiscal_periods IN EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("lock fiscal periods: %w", err)
	}
	return nil
}

// CreateYear makes the twelve periods of the fiscal year starting in year
// on the company's fiscal-year start (MM-DD).
func CreateYear(ctx context.Context, tx *db.Tx, companyID string, year int, start string) ([]Period, error) {
	first, err := time.Parse(time.DateOnly, fmt.Sprintf("%04d-%s", year, start))
	if err != nil {
		return nil, apperr.Field("/year", "The fiscal-year start %q does not make a date in %d.", start, year)
	}
	var exists int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM fiscal_periods WHERE company_id = $1 AND fiscal_year = $2", companyID, year).Scan(&exists); err != nil {
		return nil, err
	}
	if exists > 0 {
		return nil, apperr.New(apperr.Conflict, "Fiscal year %d exists.", year).WithFields(apperr.FieldError{Pointer: "/year", Detail: "exists"})
	}
	var out []Period
	for n := 1; n <= 12; n++ {
		s := first.AddDate(0, n-1, 0)
		e := first.AddDate(0, n, -1)
		p := Period{ID: id.New("fp"), FiscalYear: year, Number: n, Start: s.Format(time.DateOnly), End: e.Format(time.DateOnly), Status: Open}
		_, err := tx.ExecContext(ctx, `INSERT INTO fiscal_periods (id, company_id, fiscal_year, number, start_date, end_date, status)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, p.ID, companyID, year, n, p.Start, p.End, Open)
		if db.IsUniqueViolation(err) {
			return nil, apperr.New(apperr.Conflict, "Fiscal year %d overlaps an existing one.", year)
		}
		if err != nil {
			return nil, fmt.Errorf("create period %d/%d: %w", year, n, err)
		}
		out = append(out, p)
	}
	if err := checkNoOverlap(ctx, tx, companyID); err != nil {
		return nil, err
	}
	return out, audit.Record(ctx, tx, audit.Entry{Action: "fiscal_year.create", ResourceType: "fiscal_year", ResourceID: fmt.Sprint(year), CompanyID: companyID})
}

// checkNoOverlap refuses periods that cover one day twice (a year whose
// start moved).
func checkNoOverlap(ctx context.Context, tx *db.Tx, companyID string) error {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM fiscal_periods a JOIN fiscal_periods b
ON a.company_id = b.company_id AND a.id < b.id AND a.start_date <= b.end_date AND b.start_date <= a.end_date
WHERE a.company_id = $1`, companyID).Scan(&n)
	if err != nil {
		return err
	}
	if n > 0 {
		return apperr.New(apperr.Conflict, "The fiscal year overlaps an existing one.")
	}
	return nil
}

// List returns a company's periods in date order.
func List(ctx context.Context, q db.Querier, companyID string) ([]Period, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, fiscal_year, number, start_date, end_date, status, closed_at
FROM fiscal_periods WHERE company_id = $1 ORDER BY start_date`, companyID)
	if err != nil {
		return nil, err
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (Period, error) {
		var p Period
		var closed sql.NullTime
		err := rows.Scan(&p.ID, &p.FiscalYear, &p.Number, &p.Start, &p.End, &p.Status, &closed)
		if closed.Valid {
			t := closed.Time.UTC()
			p.ClosedAt = &t
		}
		return p, err
	})
	if out == nil {
		out = []Period{}
	}
	return out, err
}

// SetStatus closes or reopens a period of the company, audited.
func SetStatus(ctx context.Context, tx *db.Tx, companyID, periodID, status string) (Period, error) {
	if status == Open {
		// A period of a closed year stays closed: its result was moved to
		// retained earnings, and a posting now would not be.
		var n int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM fiscal_year_closes y JOIN fiscal_periods p
ON p.company_id = y.company_id AND p.fiscal_year = y.fiscal_year WHERE p.id = $1 AND y.status = 'closed'`, periodID).Scan(&n)
		if err != nil {
			return Period{}, fmt.Errorf("year of period %s: %w", periodID, err)
		}
		if n > 0 {
			return Period{}, apperr.New(apperr.Conflict, "The fiscal year of period %s is closed; reopen the year first.", periodID)
		}
	}
	var closedAt any
	if status == Closed {
		if err := LockForClose(ctx, tx); err != nil {
			return Period{}, err
		}
		closedAt = tx.Now()
	}
	res, err := tx.ExecContext(ctx, `UPDATE fiscal_periods SET status = $1, closed_at = $2 WHERE id = $3 AND company_id = $4`,
		status, closedAt, periodID, companyID)
	if err != nil {
		return Period{}, fmt.Errorf("set period %s %s: %w", periodID, status, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return Period{}, apperr.New(apperr.NotFound, "No fiscal period %q.", periodID)
	}
	action := "fiscal_period.close"
	if status == Open {
		action = "fiscal_period.reopen"
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: action, ResourceType: "fiscal_period", ResourceID: periodID, CompanyID: companyID}); err != nil {
		return Period{}, err
	}
	all, err := List(ctx, tx, companyID)
	if err != nil {
		return Period{}, err
	}
	for _, p := range all {
		if p.ID == periodID {
			return p, Record(ctx, tx, companyID, p)
		}
	}
	return Period{}, apperr.New(apperr.NotFound, "No fiscal period %q.", periodID)
}

// Record writes the closed or reopened event of a period whose status was
// just set, in tx; closing a year calls it for the periods it closes.
func Record(ctx context.Context, tx *db.Tx, companyID string, p Period) error {
	event := EventReopened
	if p.Status == Closed {
		event = EventClosed
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: p.ID, CompanyID: companyID, Data: p}); err != nil {
		return fmt.Errorf("fiscal period %s: %w", p.ID, err)
	}
	return nil
}

// CompanyOf returns the company a period belongs to.
func CompanyOf(ctx context.Context, q db.Querier, periodID string) (string, error) {
	var c string
	err := q.QueryRowContext(ctx, "SELECT company_id FROM fiscal_periods WHERE id = $1", periodID).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.New(apperr.NotFound, "No fiscal period %q.", periodID)
	}
	return c, err
}

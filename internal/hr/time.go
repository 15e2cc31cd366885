package hr

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// Timesheet and leave statuses. A client moves them with a merge patch of
// status; the allowed moves are checked against the stored status.
const (
	Draft     = "draft"
	Submitted = "submitted"
	Requested = "requested"
	Approved  = "approved"
	Rejected  = "rejected"
	Cancelled = "cancelled"
)

// Timesheet is the hours an employee worked on one day for one project
// or cost center. Approved hours pay hourly components.
type Timesheet struct {
	resource.Meta
	resource.Owned
	EmployeeID string        `json:"employee_id"`
	WorkDate   string        `json:"work_date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"`
	Hours      money.Decimal `json:"hours" doc:"More than 0, at most 24."`
	Project    string        `json:"project,omitempty" maxLength:"100"`
	CostCenter string        `json:"cost_center,omitempty" pattern:"^[A-Za-z0-9_.-]{0,30}$"`
	Note       string        `json:"note,omitempty" maxLength:"500"`
	Status     string        `json:"status" required:"false" enum:"draft,submitted,approved,rejected" doc:"draft → submitted → approved or rejected (PATCH {\"status\": …}); rejected may go back to draft. Approved hours are paid and cannot change."`
}

// LeaveType is a kind of absence and how it accrues.
type LeaveType struct {
	resource.Meta
	resource.Owned
	Code           string         `json:"code" pattern:"^[A-Za-z0-9_.-]{1,30}$"`
	Name           string         `json:"name" minLength:"1" maxLength:"100"`
	Paid           bool           `json:"paid" doc:"Unpaid leave reduces salary for its days in payroll."`
	AccrualPerYear *money.Decimal `json:"accrual_per_year,omitempty" doc:"Days a full-time employee accrues per calendar year, pro rata to the days employed; absent: no balance is kept (and none is checked)."`
	Active         bool           `json:"active" required:"false"`
}

// LeaveRequest asks for leave between two dates.
type LeaveRequest struct {
	resource.Meta
	resource.Owned
	EmployeeID  string         `json:"employee_id"`
	LeaveTypeID string         `json:"leave_type_id"`
	StartDate   string         `json:"start_date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"`
	EndDate     string         `json:"end_date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"`
	Days        *money.Decimal `json:"days,omitempty" doc:"Working days taken; default the weekdays (Monday to Friday) from start_date to end_date. Send it for half days."`
	Note        string         `json:"note,omitempty" maxLength:"500"`
	Status      string         `json:"status" required:"false" enum:"requested,approved,rejected,cancelled" doc:"requested → approved or rejected (PATCH {\"status\": …}); approved or requested → cancelled. Approving more than the balance of an accruing type is 409."`
}

var timesheetMoves = map[string][]string{"": {Draft, Submitted}, Draft: {Draft, Submitted}, Submitted: {Submitted, Approved, Rejected, Draft}, Rejected: {Rejected, Draft}, Approved: {Approved}}
var leaveMoves = map[string][]string{"": {Requested}, Requested: {Requested, Approved, Rejected, Cancelled}, Approved: {Approved, Cancelled}, Rejected: {Rejected}, Cancelled: {Cancelled}}

func storedStatus(ctx context.Context, tx *db.Tx, table, id string) (string, string, error) {
	var status, doc string
	err := tx.QueryRowContext(ctx, "SELECT status, doc FROM "+table+" WHERE id = $1", id).Scan(&status, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	return status, doc, err
}

func checkMove(moves map[string][]string, from, to string) error {
	if contains(moves[from], to) {
		return nil
	}
	return apperr.New(apperr.Conflict, "Status %s cannot become %s.", from, to).WithFields(apperr.FieldError{Pointer: "/status", Detail: "is " + from})
}

func checkEmployee(ctx context.Context, tx *db.Tx, companyID, empID string) error {
	ok, err := Exists(ctx, tx, companyID, empID)
	if err != nil {
		return err
	}
	if !ok {
		return apperr.Field("/employee_id", "No employee %q in this company.", empID)
	}
	return nil
}

// TimesheetSpec declares /v1/timesheets.
var TimesheetSpec = resource.Spec[Timesheet]{
	Module: "hr", Plural: "timesheets", Singular: "timesheet", Title: "Timesheet", Prefix: "ts", Scoped: true,
	Description: "Hours per employee, day and project or cost center; approved hours pay hourly pay components in the payroll run of their period.",
	Columns: []resource.Column[Timesheet]{
		str("employee_id", false, func(t *Timesheet) string { return t.EmployeeID }),
		{Field: query.Field{Name: "work_date", Column: "work_date", Kind: query.String, Sortable: true}, Value: func(t *Timesheet) any { return t.WorkDate }},
		{Field: query.Field{Name: "hours", Column: "hours", Kind: query.Decimal, Scale: money.QuantityScale, Sortable: true}, Value: func(t *Timesheet) any { return money.Quantity(&t.Hours) }},
		str("cost_center", false, func(t *Timesheet) string { return t.CostCenter }),
		str("project", false, func(t *Timesheet) string { return t.Project }),
		{Field: query.Field{Name: "status", Column: "status", Kind: query.Enum, Values: []string{Draft, Submitted, Approved, Rejected}}, Value: func(t *Timesheet) any { return t.Status }},
	},
	Defaults: map[string]any{"status": Draft},
	Validate: func(_ context.Context, t *Timesheet) []apperr.FieldError {
		var errs []apperr.FieldError
		if !validDate(t.WorkDate) {
			errs = append(errs, apperr.FieldError{Pointer: "/work_date", Detail: "must be a date YYYY-MM-DD"})
		}
		if t.Hours.Sign() <= 0 || t.Hours.Cmp(money.FromInt(24)) > 0 {
			errs = append(errs, apperr.FieldError{Pointer: "/hours", Detail: "must be more than 0 and at most 24"})
		} else if _, err := t.Hours.Scaled(money.QuantityScale); err != nil {
			errs = append(errs, apperr.FieldError{Pointer: "/hours", Detail: "too many decimals"})
		}
		return errs
	},
	BeforeWrite: func(ctx context.Context, tx *db.Tx, t *Timesheet) error {
		if err := checkEmployee(ctx, tx, t.CompanyID, t.EmployeeID); err != nil {
			return err
		}
		from, _, err := storedStatus(ctx, tx, "timesheets", t.ID)
		if err != nil {
			return fmt.Errorf("timesheet %s: %w", t.ID, err)
		}
		if from == Approved {
			return apperr.New(apperr.Conflict, "Timesheet %s is approved; its hours are paid and cannot change.", t.ID).
				WithFields(apperr.FieldError{Pointer: "/status", Detail: "is approved"})
		}
		return checkMove(timesheetMoves, from, t.Status)
	},
}

// LeaveTypeSpec declares /v1/leave-types.
var LeaveTypeSpec = resource.Spec[LeaveType]{
	Module: "hr", Plural: "leave-types", Singular: "leave_type", Title: "Leave type", Prefix: "lvt", Scoped: true,
	Description: "Kinds of absence (vacation, sick, unpaid) and their yearly accrual.",
	Columns: []resource.Column[LeaveType]{
		func() resource.Column[LeaveType] {
			c := str("code", true, func(l *LeaveType) string { return l.Code })
			c.Unique = true
			return c
		}(),
		str("name", true, func(l *LeaveType) string { return l.Name }),
		boolean("paid", func(l *LeaveType) bool { return l.Paid }),
		boolean("active", func(l *LeaveType) bool { return l.Active }),
	},
	Defaults: map[string]any{"active": true},
	Validate: func(_ context.Context, l *LeaveType) []apperr.FieldError {
		if l.AccrualPerYear != nil && (l.AccrualPerYear.IsNegative() || l.AccrualPerYear.Cmp(money.FromInt(366)) > 0) {
			return []apperr.FieldError{{Pointer: "/accrual_per_year", Detail: "must be from 0 to 366"}}
		}
		return nil
	},
}

// Weekdays counts Monday to Friday from one date to another, inclusive.
func Weekdays(from, to string) int {
	a, err1 := time.Parse(time.DateOnly, from)
	b, err2 := time.Parse(time.DateOnly, to)
	if err1 != nil || err2 != nil {
		return 0
	}
	n := 0
	for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n++
		}
	}
	return n
}

// LeaveRequestSpec declares /v1/leave-requests.
var LeaveRequestSpec = resource.Spec[LeaveRequest]{
	Module: "hr", Plural: "leave-requests", Singular: "leave_request", Title: "Leave request", Prefix: "lvr", Scoped: true,
	Description: "Requests for leave and their approval. Approved unpaid leave reduces salary in payroll; approved leave of an accruing type " +
		"is taken from the balance (GET /v1/employees/{id}/leave-balances).",
	Columns: []resource.Column[LeaveRequest]{
		str("employee_id", false, func(l *LeaveRequest) string { return l.EmployeeID }),
		str("leave_type_id", false, func(l *LeaveRequest) string { return l.LeaveTypeID }),
		{Field: query.Field{Name: "start_date", Column: "start_date", Kind: query.String, Sortable: true}, Value: func(l *LeaveRequest) any { return l.StartDate }},
		{Field: query.Field{Name: "end_date", Column: "end_date", Kind: query.String, Sortable: true}, Value: func(l *LeaveRequest) any { return l.EndDate }},
		{Field: query.Field{Name: "days", Column: "days", Kind: query.Decimal, Scale: money.QuantityScale, Sortable: true}, Value: func(l *LeaveRequest) any { return money.NullQuantity(&l.Days) }},
		{Field: query.Field{Name: "status", Column: "status", Kind: query.Enum, Values: []string{Requested, Approved, Rejected, Cancelled}}, Value: func(l *LeaveRequest) any { return l.Status }},
	},
	Refs:     []resource.Ref[LeaveRequest]{{Pointer: "/leave_type_id", Target: "leave-types", IDs: func(l *LeaveRequest) []string { return []string{l.LeaveTypeID} }}},
	Defaults: map[string]any{"status": Requested},
	Validate: func(_ context.Context, l *LeaveRequest) []apperr.FieldError {
		var errs []apperr.FieldError
		if !validDate(l.StartDate) {
			errs = append(errs, apperr.FieldError{Pointer: "/start_date", Detail: "must be a date YYYY-MM-DD"})
		}
		if !validDate(l.EndDate) || l.EndDate < l.StartDate {
			errs = append(errs, apperr.FieldError{Pointer: "/end_date", Detail: "must be a date on or after start_date"})
		} else if l.StartDate[:4] != l.EndDate[:4] {
			errs = append(errs, apperr.FieldError{Pointer: "/end_date", Detail: "a request stays within one calendar year (balances are yearly); split it"})
		}
		if l.Days != nil && (l.Days.Sign() <= 0 || l.Days.Cmp(money.FromInt(366)) > 0) {
			errs = append(errs, apperr.FieldError{Pointer: "/days", Detail: "must be more than 0"})
		}
		return errs
	},
	BeforeWrite: func(ctx context.Context, tx *db.Tx, l *LeaveRequest) error {
		if err := checkEmployee(ctx, tx, l.CompanyID, l.EmployeeID); err != nil {
			return err
		}
		if l.Days == nil {
			d := money.FromInt(int64(Weekdays(l.StartDate, l.EndDate)))
			if d.IsZero() {
				return apperr.Field("/end_date", "the request covers no weekday; send days")
			}
			l.Days = &d
		}
		from, _, err := storedStatus(ctx, tx, "leave_requests", l.ID)
		if err != nil {
			return fmt.Errorf("leave request %s: %w", l.ID, err)
		}
		if err := checkMove(leaveMoves, from, l.Status); err != nil {
			return err
		}
		if l.Status == Approved && from != Approved {
			bal, ok, err := balanceOf(ctx, tx, l.CompanyID, l.EmployeeID, l.LeaveTypeID, l.EndDate, l.ID)
			if err != nil {
				return err
			}
			if ok && bal.Cmp(*l.Days) < 0 {
				return apperr.New(apperr.Conflict, "The employee has %s days of this leave as of %s; the request takes %s.", bal.Normalize(), l.EndDate, l.Days.Normalize()).
					WithFields(apperr.FieldError{Pointer: "/days", Detail: "more than the balance " + bal.Normalize().String()})
			}
		}
		return nil
	},
}

// LeaveBalance is one leave type's balance of an employee in a year.
type LeaveBalance struct {
	LeaveTypeID string        `json:"leave_type_id"`
	Code        string        `json:"code"`
	Year        int           `json:"year"`
	Accrued     money.Decimal `json:"accrued" doc:"accrual_per_year × fte × days employed this year up to as_of / days in the year, to 2 decimals."`
	Taken       money.Decimal `json:"taken" doc:"Approved days this year."`
	Balance     money.Decimal `json:"balance"`
}

// LeaveBalances is the answer of GET /v1/employees/{id}/leave-balances.
type LeaveBalances struct {
	EmployeeID string         `json:"employee_id"`
	AsOf       string         `json:"as_of"`
	Balances   []LeaveBalance `json:"balances"`
}

func daysBetween(from, to string) int64 {
	a, _ := time.Parse(time.DateOnly, from)
	b, _ := time.Parse(time.DateOnly, to)
	return int64(b.Sub(a).Hours()/24) + 1
}

// balanceOf is an employee's balance of an accruing leave type in the
// year of asOf, leaving out one request (the one being approved); ok is
// false for a type that keeps no balance.
func balanceOf(ctx context.Context, q db.Querier, companyID, empID, typeID, asOf, exclude string) (money.Decimal, bool, error) {
	b, ok, err := balance(ctx, q, companyID, empID, typeID, asOf, exclude)
	return b.Balance, ok, err
}

func balance(ctx context.Context, q db.Querier, companyID, empID, typeID, asOf, exclude string) (LeaveBalance, bool, error) {
	out := LeaveBalance{LeaveTypeID: typeID}
	var ltDoc string
	if err := q.QueryRowContext(ctx, "SELECT doc FROM leave_types WHERE id = $1 AND company_id = $2", typeID, companyID).Scan(&ltDoc); err != nil {
		return out, false, fmt.Errorf("leave type %s: %w", typeID, err)
	}
	var lt LeaveType
	if err := jsonUnmarshal(ltDoc, &lt); err != nil {
		return out, false, err
	}
	out.Code = lt.Code
	if lt.AccrualPerYear == nil {
		return out, false, nil
	}
	year := asOf[:4]
	fmt.Sscan(year, &out.Year)
	var start, end, doc string
	err := q.QueryRowContext(ctx, `SELECT start_date, end_date, doc FROM employee_versions WHERE employee_id = $1 AND company_id = $2 AND effective_from <= $3
ORDER BY effective_from DESC LIMIT 1`, empID, companyID, asOf).Scan(&start, &end, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return out, true, nil
	}
	if err != nil {
		return out, false, fmt.Errorf("employment of %s: %w", empID, err)
	}
	var e struct {
		FTE *money.Decimal `json:"fte"`
	}
	_ = jsonUnmarshal(doc, &e)
	fte := money.FromInt(1)
	if e.FTE != nil {
		fte = *e.FTE
	}
	from, to := year+"-01-01", asOf
	if start > from {
		from = start
	}
	if end != "" && end < to {
		to = end
	}
	if from <= to {
		yearDays := daysBetween(year+"-01-01", year+"-12-31")
		acc, err := lt.AccrualPerYear.Mul(fte).Mul(money.FromInt(daysBetween(from, to))).DivRound(money.FromInt(yearDays), 2, money.HalfEven)
		if err != nil {
			return out, false, err
		}
		out.Accrued = acc
	}
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(days), 0) FROM leave_requests WHERE company_id = $1 AND employee_id = $2 AND leave_type_id = $3
AND status = 'approved' AND start_date >= $4 AND start_date <= $5 AND id <> $6`, companyID, empID, typeID, year+"-01-01", year+"-12-31", exclude).
		Scan(money.Quantity(&out.Taken)); err != nil {
		return out, false, fmt.Errorf("leave taken by %s: %w", empID, err)
	}
	out.Accrued, out.Taken = out.Accrued.Normalize(), out.Taken.Normalize()
	out.Balance = out.Accrued.Sub(out.Taken).Normalize()
	return out, true, nil
}

// Balances lists an employee's balances of every accruing leave type as
// of a date.
func Balances(ctx context.Context, q db.Querier, companyID, empID, asOf string) ([]LeaveBalance, error) {
	rows, err := q.QueryContext(ctx, "SELECT id FROM leave_types WHERE company_id = $1 AND active ORDER BY code", companyID)
	if err != nil {
		return nil, fmt.Errorf("leave types: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := []LeaveBalance{}
	for _, id := range ids {
		b, ok, err := balance(ctx, q, companyID, empID, id, asOf, "")
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, b)
		}
	}
	return out, nil
}

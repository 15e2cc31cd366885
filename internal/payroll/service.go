package payroll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/mainstay-erp/mainstay/internal/hr"
	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/rules"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func moneyCurrency(s string) money.Currency { return money.Currency(s) }

// MinGroup is the fewest employees a cost center's line in the ledger
// may stand for: smaller groups are pooled, so that a finance reader
// cannot read one person's pay off the journal.
const MinGroup = 3

// Source of the run's journal entries.
const (
	SourceType     = "payroll_run"
	PurposePayroll = "payroll"
	PurposePayment = "net_pay"
	// NetPay is the payroll_component key of the net-pay liability.
	NetPay = "NET_PAY"
)

// Service computes, approves, posts and pays payroll runs.
type Service struct {
	DB        *db.DB
	Employees *hr.Employees
	// Keyring seals payslips and payment files; nil keeps them as they are.
	Keyring *crypto.Keyring
}

type companyInfo struct {
	Currency money.Currency
	Rounding money.RoundingMode
	Name     string
	IBAN     string
	BIC      string
}

func loadCompany(ctx context.Context, q db.Querier, companyID string) (companyInfo, error) {
	var doc string
	if err := q.QueryRowContext(ctx, "SELECT doc FROM companies WHERE id = $1", companyID).Scan(&doc); err != nil {
		return companyInfo{}, fmt.Errorf("company %s: %w", companyID, err)
	}
	var c struct {
		LegalName    string `json:"legal_name"`
		BaseCurrency string `json:"base_currency"`
		RoundingMode string `json:"rounding_mode"`
		BankAccount  *struct {
			IBAN string `json:"iban"`
			BIC  string `json:"bic"`
		} `json:"bank_account"`
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return companyInfo{}, fmt.Errorf("company %s: %w", companyID, err)
	}
	mode, _ := money.ParseRoundingMode(c.RoundingMode)
	out := companyInfo{Currency: money.Currency(c.BaseCurrency), Rounding: mode, Name: c.LegalName}
	if c.BankAccount != nil {
		out.IBAN, out.BIC = c.BankAccount.IBAN, c.BankAccount.BIC
	}
	return out, nil
}

func (s *Service) seal(ctx context.Context, tx *db.Tx, owner, recordID, field, text string) (string, error) {
	if s.Keyring == nil {
		return text, nil
	}
	v, err := s.Keyring.Encrypt(db.ContextWithTx(ctx, tx), owner, recordID, field, text)
	if err != nil {
		return "", fmt.Errorf("seal %s of %s: %w", field, recordID, err)
	}
	return v, nil
}

func (s *Service) open(ctx context.Context, recordID, field, stored string) (string, error) {
	if s.Keyring == nil || !crypto.IsEncrypted(stored) {
		return stored, nil
	}
	v, err := s.Keyring.Decrypt(ctx, recordID, field, stored)
	if errors.Is(err, crypto.ErrDestroyed) {
		return "", apperr.New(apperr.Conflict, "The data of %s was erased.", recordID)
	}
	if err != nil {
		return "", fmt.Errorf("open %s of %s: %w", field, recordID, err)
	}
	return v, nil
}

func (s *Service) openSlip(ctx context.Context, r slipRow) (Payslip, error) {
	text, err := s.open(ctx, r.ID, "payslip", r.Doc)
	if err != nil {
		return Payslip{}, err
	}
	var p Payslip
	if err := json.Unmarshal([]byte(text), &p); err != nil {
		return Payslip{}, fmt.Errorf("decode payslip %s: %w", r.ID, err)
	}
	return p, nil
}

func (s *Service) openSlips(ctx context.Context, rows []slipRow) ([]Payslip, error) {
	out := make([]Payslip, 0, len(rows))
	for _, r := range rows {
		p, err := s.openSlip(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (s *Service) validate(ctx context.Context, tx *db.Tx, companyID string, in *PayrollRunRequest) (PaySchedule, error) {
	var fields []apperr.FieldError
	bad := func(p, f string, a ...any) {
		fields = append(fields, apperr.FieldError{Pointer: p, Detail: fmt.Sprintf(f, a...)})
	}
	if in.Kind == "" {
		in.Kind = Regular
	}
	for _, d := range []struct{ p, v string }{{"/period_start", in.PeriodStart}, {"/period_end", in.PeriodEnd}, {"/pay_date", in.PayDate}} {
		if !validDate(d.v) {
			bad(d.p, "must be a date YYYY-MM-DD")
		}
	}
	if validDate(in.PeriodStart) && validDate(in.PeriodEnd) {
		if in.PeriodEnd < in.PeriodStart {
			bad("/period_end", "must be on or after period_start")
		} else if days(in.PeriodStart, in.PeriodEnd) > 31 {
			bad("/period_end", "a pay period is at most 31 days")
		}
	}
	var sched PaySchedule
	if in.PayScheduleID != "" {
		var doc string
		err := tx.QueryRowContext(ctx, "SELECT doc FROM pay_schedules WHERE id = $1 AND company_id = $2", in.PayScheduleID, companyID).Scan(&doc)
		if err != nil {
			bad("/pay_schedule_id", "No pay schedule %q in this company.", in.PayScheduleID)
		} else if err := json.Unmarshal([]byte(doc), &sched); err != nil {
			return sched, fmt.Errorf("pay schedule %s: %w", in.PayScheduleID, err)
		}
	} else if in.Kind == Regular {
		bad("/pay_schedule_id", "is required for a regular run")
	}
	if sched.ID != "" && validDate(in.PeriodStart) && validDate(in.PeriodEnd) {
		if msg := checkPeriod(sched, in.PeriodStart, in.PeriodEnd); msg != "" {
			bad("/period_start", "%s", msg)
		}
	}
	if in.Kind == Regular && len(in.Adjustments) > 0 {
		bad("/adjustments", "adjustments belong in an off-cycle run")
	}
	if in.Kind == OffCycle && len(in.EmployeeIDs) == 0 && len(in.Adjustments) == 0 {
		bad("/employee_ids", "an off-cycle run names its employees (employee_ids or adjustments)")
	}
	for i, e := range in.EmployeeIDs {
		if ok, err := hr.Exists(ctx, tx, companyID, e); err != nil {
			return sched, err
		} else if !ok {
			bad(fmt.Sprintf("/employee_ids/%d", i), "No employee %q in this company.", e)
		}
	}
	for i, a := range in.Adjustments {
		if ok, err := hr.Exists(ctx, tx, companyID, a.EmployeeID); err != nil {
			return sched, err
		} else if !ok {
			bad(fmt.Sprintf("/adjustments/%d/employee_id", i), "No employee %q in this company.", a.EmployeeID)
		}
		if a.Amount.IsZero() {
			bad(fmt.Sprintf("/adjustments/%d/amount", i), "must not be 0")
		}
	}
	if len(fields) > 0 {
		return sched, apperr.Fields(fields...)
	}
	return sched, nil
}

// checkPeriod says what is wrong with a period for a schedule ("" if
// nothing): monthly periods are calendar months, biweekly ones 14 days
// starting a whole number of fortnights from the anchor.
func checkPeriod(sched PaySchedule, start, end string) string {
	s, _ := time.Parse(time.DateOnly, start)
	e, _ := time.Parse(time.DateOnly, end)
	switch sched.Frequency {
	case Monthly:
		if s.Day() != 1 || e != s.AddDate(0, 1, -1) {
			return "a monthly schedule's period is a calendar month (the 1st to the last day)"
		}
	case Biweekly:
		a, _ := time.Parse(time.DateOnly, sched.AnchorDate)
		d := int(s.Sub(a).Hours() / 24)
		if d%14 != 0 || e != s.AddDate(0, 0, 13) {
			return "a biweekly schedule's period is 14 days starting a whole number of fortnights from anchor_date " + sched.AnchorDate
		}
	}
	return ""
}

// Create computes a draft run for everyone in scope.
func (s *Service) Create(ctx context.Context, tx *db.Tx, companyID string, in PayrollRunRequest, opID string) (PayrollRun, error) {
	sched, err := s.validate(ctx, tx, companyID, &in)
	if err != nil {
		return PayrollRun{}, err
	}
	if in.Kind == Regular {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT id FROM payroll_runs WHERE company_id = $1 AND kind = 'regular' AND pay_schedule_id = $2
AND status <> 'cancelled' AND period_start <= $3 AND period_end >= $4 LIMIT 1`, companyID, in.PayScheduleID, in.PeriodEnd, in.PeriodStart).Scan(&other)
		if err == nil {
			return PayrollRun{}, apperr.New(apperr.Conflict, "Regular run %s already covers this schedule's period; correct it with an off-cycle run, or cancel it if it is not posted.", other).
				WithFields(apperr.FieldError{Pointer: "/period_start", Detail: "covered by " + other})
		}
	}
	co, err := loadCompany(ctx, tx, companyID)
	if err != nil {
		return PayrollRun{}, err
	}
	p, _ := auth.FromContext(ctx)
	now := tx.Now().UTC().Truncate(time.Microsecond)
	r := storedRun{PayrollRun: PayrollRun{ID: id.New("prun"), CompanyID: companyID, Status: Draft, Kind: in.Kind, PayScheduleID: in.PayScheduleID,
		PeriodStart: in.PeriodStart, PeriodEnd: in.PeriodEnd, PayDate: in.PayDate, Currency: co.Currency, Memo: in.Memo, OperationID: opID,
		CreatedBy: p.ClientID, CalculatedAt: now, CreatedAt: now, UpdatedAt: now}}
	r.doc.CreatedBy, r.doc.EmployeeIDs = p.ClientID, in.EmployeeIDs
	if len(in.Adjustments) > 0 {
		b, _ := json.Marshal(in.Adjustments)
		if r.doc.Adjustments, err = s.seal(ctx, tx, r.ID, r.ID, "adjustments", string(b)); err != nil {
			return PayrollRun{}, err
		}
	}
	if err := insertRun(ctx, tx, &r); err != nil {
		return PayrollRun{}, err
	}
	if err := s.calculate(ctx, tx, &r, co, sched, in.Adjustments); err != nil {
		return PayrollRun{}, err
	}
	return r.PayrollRun, s.record(ctx, tx, &r, "calculated", map[string]any{"employees": r.EmployeeCount, "kind": r.Kind, "period_start": r.PeriodStart})
}

// calculate computes the run's payslips and totals (replacing any).
func (s *Service) calculate(ctx context.Context, tx *db.Tx, r *storedRun, co companyInfo, sched PaySchedule, adjustments []PayAdjustment) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM payslips WHERE run_id = $1", r.ID); err != nil {
		return fmt.Errorf("recalculate %s: %w", r.ID, err)
	}
	var ids []string
	if r.Kind == Regular {
		var err error
		if ids, err = hr.OnSchedule(ctx, tx, r.CompanyID, r.PayScheduleID, r.PeriodStart, r.PeriodEnd); err != nil {
			return err
		}
		if len(r.doc.EmployeeIDs) > 0 {
			keep := map[string]bool{}
			for _, e := range r.doc.EmployeeIDs {
				keep[e] = true
			}
			var in []string
			for _, e := range ids {
				if keep[e] {
					in = append(in, e)
				}
			}
			ids = in
		}
	} else {
		seen := map[string]bool{}
		for _, e := range r.doc.EmployeeIDs {
			if !seen[e] {
				seen[e] = true
				ids = append(ids, e)
			}
		}
		for _, a := range adjustments {
			if !seen[a.EmployeeID] {
				seen[a.EmployeeID] = true
				ids = append(ids, a.EmployeeID)
			}
		}
		sort.Strings(ids)
	}
	periods := 12
	if sched.Frequency != "" {
		periods = PeriodsPerYear(sched.Frequency)
	}
	tables, err := loadTables(ctx, tx, r.CompanyID, r.PayDate)
	if err != nil {
		return err
	}
	r.Totals, r.EmployeeCount = PayTotals{}, 0
	var slips []Payslip
	for _, empID := range ids {
		slip, ok, err := s.slipFor(ctx, tx, r, co, periods, tables, adjustments, empID)
		if err != nil {
			return err
		}
		if ok {
			slips = append(slips, slip)
		}
	}
	var all []PayslipLine
	for i := range slips {
		b, _ := json.Marshal(slips[i])
		sealed, err := s.seal(ctx, tx, r.ID, slips[i].ID, "payslip", string(b))
		if err != nil {
			return err
		}
		if err := insertSlip(ctx, tx, r.CompanyID, &slips[i], sealed); err != nil {
			return err
		}
		all = append(all, slips[i].Lines...)
	}
	r.Totals, r.EmployeeCount = Sum(all), len(slips)
	r.CalculatedAt = tx.Now().UTC().Truncate(time.Microsecond)
	r.UpdatedAt = r.CalculatedAt
	return saveRun(ctx, tx, r)
}

func loadTables(ctx context.Context, q db.Querier, companyID, payDate string) ([]RateTable, error) {
	rows, err := q.QueryContext(ctx, `SELECT doc FROM payroll_rate_tables WHERE company_id = $1 AND active AND valid_from <= $2 AND (valid_to = '' OR valid_to >= $2)
ORDER BY code`, companyID, payDate)
	if err != nil {
		return nil, fmt.Errorf("rate tables: %w", err)
	}
	defer rows.Close()
	var out []RateTable
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("rate tables: %w", err)
		}
		var t RateTable
		if err := json.Unmarshal([]byte(doc), &t); err != nil {
			return nil, fmt.Errorf("rate tables: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// segments cuts the period into the stretches each version of the record
// applies to, within the employment.
func segments(timeline []hr.Dated, from, to string) []Segment {
	var out []Segment
	for i, d := range timeline {
		start, end := d.From, to
		if start < from {
			start = from
		}
		if i+1 < len(timeline) {
			next, _ := time.Parse(time.DateOnly, timeline[i+1].From)
			if last := next.AddDate(0, 0, -1).Format(time.DateOnly); last < end {
				end = last
			}
		}
		e := d.Employee
		if e.StartDate > start {
			start = e.StartDate
		}
		if e.EndDate != "" && e.EndDate < end {
			end = e.EndDate
		}
		if start <= end {
			out = append(out, Segment{From: start, To: end, Employee: e})
		}
	}
	return out
}

func (s *Service) slipFor(ctx context.Context, tx *db.Tx, r *storedRun, co companyInfo, periods int, tables []RateTable, adjustments []PayAdjustment, empID string) (Payslip, bool, error) {
	timeline, err := s.Employees.Timeline(ctx, tx, r.CompanyID, empID)
	if err != nil {
		return Payslip{}, false, err
	}
	segs := segments(timeline, r.PeriodStart, r.PeriodEnd)
	if r.Kind == Regular {
		// Only the days the employee was on this schedule count.
		var on []Segment
		for _, sg := range segs {
			if sg.Employee.PayScheduleID == r.PayScheduleID {
				on = append(on, sg)
			}
		}
		segs = on
	}
	last := timeline[len(timeline)-1].Employee
	if len(segs) > 0 {
		last = segs[len(segs)-1].Employee
	}
	for _, sg := range segs {
		if sg.Employee.Pay != nil && sg.Employee.Pay.Currency != co.Currency {
			return Payslip{}, false, apperr.New(apperr.Conflict, "Employee %s is paid in %s, the company's books are in %s; payroll pays in the company currency.",
				empID, sg.Employee.Pay.Currency, co.Currency).WithFields(apperr.FieldError{Pointer: "/employee_ids", Detail: empID + " is paid in " + string(sg.Employee.Pay.Currency)})
		}
	}
	in := Input{PeriodStart: r.PeriodStart, PeriodEnd: r.PeriodEnd, PeriodsPerYear: periods, Currency: co.Currency, Rounding: co.Rounding, Segments: segs,
		UnpaidLeave: map[string]bool{}, YTDBase: map[string]money.Decimal{}}
	if last.TaxSettings != nil {
		for _, t := range tables {
			if t.Jurisdiction == last.TaxSettings.Jurisdiction && !contains(last.TaxSettings.Exemptions, t.Code) {
				in.Tables = append(in.Tables, t)
			}
		}
	}
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(hours), 0) FROM timesheets WHERE company_id = $1 AND employee_id = $2 AND status = 'approved'
AND work_date >= $3 AND work_date <= $4`, r.CompanyID, empID, r.PeriodStart, r.PeriodEnd).Scan(money.Quantity(&in.Hours)); err != nil {
		return Payslip{}, false, fmt.Errorf("timesheet hours of %s: %w", empID, err)
	}
	if in.UnpaidLeave, err = unpaidLeave(ctx, tx, r.CompanyID, empID, r.PeriodStart, r.PeriodEnd); err != nil {
		return Payslip{}, false, err
	}
	for _, a := range adjustments {
		if a.EmployeeID == empID {
			in.Adjustments = append(in.Adjustments, a)
		}
	}
	// Bases of earlier periods this year count against yearly caps; what
	// posted runs paid for this same period is what an off-cycle run
	// corrects.
	yearStart := r.PeriodStart[:4] + "-01-01"
	rows, err := postedSlips(ctx, tx, r.CompanyID, empID, yearStart, r.PeriodEnd)
	if err != nil {
		return Payslip{}, false, err
	}
	earlier, err := s.openSlips(db.ContextWithTx(ctx, tx), rows)
	if err != nil {
		return Payslip{}, false, err
	}
	var same []Result
	for _, p := range earlier {
		switch {
		case p.PeriodStart == r.PeriodStart && p.PeriodEnd == r.PeriodEnd:
			same = append(same, Result{Lines: p.Lines, Bases: p.Bases})
		case p.PeriodEnd < r.PeriodStart:
			for code, b := range p.Bases {
				in.YTDBase[code] = in.YTDBase[code].Add(b)
			}
		}
	}
	full, err := Calculate(in)
	if err != nil {
		return Payslip{}, false, err
	}
	res := Difference(full, same)
	if len(res.Lines) == 0 {
		return Payslip{}, false, nil
	}
	cc := last.CostCenter
	if cc == "" && last.DepartmentID != "" {
		var doc string
		if err := tx.QueryRowContext(ctx, "SELECT cost_center FROM departments WHERE id = $1", last.DepartmentID).Scan(&doc); err == nil {
			cc = doc
		}
	}
	return Payslip{ID: id.New("pslip"), CompanyID: r.CompanyID, PayrollRunID: r.ID, RunKind: r.Kind, EmployeeID: empID, EmployeeNumber: last.EmployeeNumber,
		EmployeeName: last.GivenName + " " + last.FamilyName, CostCenter: cc, PeriodStart: r.PeriodStart, PeriodEnd: r.PeriodEnd, PayDate: r.PayDate,
		Currency: co.Currency, PaidDays: res.PaidDays, PeriodDays: res.PeriodDays, Lines: res.Lines, Totals: res.Totals, Bases: res.Bases,
		CreatedAt: tx.Now().UTC().Truncate(time.Microsecond)}, true, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unpaidLeave lists the days of approved unpaid leave in a period.
func unpaidLeave(ctx context.Context, q db.Querier, companyID, empID, from, to string) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT r.start_date, r.end_date, t.doc FROM leave_requests r JOIN leave_types t ON t.id = r.leave_type_id
WHERE r.company_id = $1 AND r.employee_id = $2 AND r.status = 'approved' AND r.start_date <= $3 AND r.end_date >= $4`, companyID, empID, to, from)
	if err != nil {
		return nil, fmt.Errorf("leave of %s: %w", empID, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var start, end, doc string
		if err := rows.Scan(&start, &end, &doc); err != nil {
			return nil, fmt.Errorf("leave of %s: %w", empID, err)
		}
		var lt struct {
			Paid bool `json:"paid"`
		}
		_ = json.Unmarshal([]byte(doc), &lt)
		if lt.Paid {
			continue
		}
		d, _ := time.Parse(time.DateOnly, start)
		e, _ := time.Parse(time.DateOnly, end)
		for ; !d.After(e); d = d.AddDate(0, 0, 1) {
			if s := d.Format(time.DateOnly); s >= from && s <= to {
				out[s] = true
			}
		}
	}
	return out, rows.Err()
}

// record writes a run's event and audit row.
func (s *Service) record(ctx context.Context, tx *db.Tx, r *storedRun, what string, details map[string]any) error {
	summary := r.PayrollRun
	summary.Employees = nil
	if _, err := events.Record(ctx, tx, events.Event{Type: "mainstay.payroll.payroll_run." + what, Source: "/v1/payroll-runs", Subject: r.ID,
		CompanyID: r.CompanyID, Data: summary}); err != nil {
		return err
	}
	action := map[string]string{"calculated": "calculate", "recalculated": "recalculate", "approved": "approve", "posted": "post", "paid": "pay", "cancelled": "cancel"}[what]
	return audit.Record(ctx, tx, audit.Entry{Action: "payroll_run." + action, ResourceType: "payroll_run", ResourceID: r.ID, CompanyID: r.CompanyID, Details: details})
}

func stateConflict(r *storedRun, want string) error {
	return apperr.New(apperr.Conflict, "Payroll run %s is %s; %s.", r.ID, r.Status, want).WithFields(apperr.FieldError{Pointer: "/status", Detail: r.Status})
}

// Recalculate computes a draft again (after employees, timesheets or
// rate tables changed, or another run was posted).
func (s *Service) Recalculate(ctx context.Context, tx *db.Tx, companyID, runID string) (PayrollRun, error) {
	r, err := loadRun(ctx, tx, companyID, runID, true)
	if err != nil {
		return PayrollRun{}, err
	}
	switch r.Status {
	case Draft:
	case Approved:
		// What was approved is no longer what would be posted: it goes
		// back to draft and needs approving again.
		r.Status, r.ApprovedBy, r.ApprovedAt = Draft, "", nil
	default:
		return PayrollRun{}, stateConflict(&r, "only a draft or approved run is recalculated; correct a posted run with an off-cycle run")
	}
	co, err := loadCompany(ctx, tx, companyID)
	if err != nil {
		return PayrollRun{}, err
	}
	var sched PaySchedule
	if r.PayScheduleID != "" {
		var doc string
		if err := tx.QueryRowContext(ctx, "SELECT doc FROM pay_schedules WHERE id = $1", r.PayScheduleID).Scan(&doc); err != nil {
			return PayrollRun{}, fmt.Errorf("pay schedule %s: %w", r.PayScheduleID, err)
		}
		_ = json.Unmarshal([]byte(doc), &sched)
	}
	var adj []PayAdjustment
	if r.doc.Adjustments != "" {
		text, err := s.open(db.ContextWithTx(ctx, tx), r.ID, "adjustments", r.doc.Adjustments)
		if err != nil {
			return PayrollRun{}, err
		}
		if err := json.Unmarshal([]byte(text), &adj); err != nil {
			return PayrollRun{}, fmt.Errorf("adjustments of %s: %w", r.ID, err)
		}
	}
	if err := s.calculate(ctx, tx, &r, co, sched, adj); err != nil {
		return PayrollRun{}, err
	}
	return r.PayrollRun, s.record(ctx, tx, &r, "recalculated", map[string]any{"employees": r.EmployeeCount})
}

// Approve releases a draft for posting; an approved (or later) run is
// returned as it is.
func (s *Service) Approve(ctx context.Context, tx *db.Tx, companyID, runID string) (PayrollRun, error) {
	r, err := loadRun(ctx, tx, companyID, runID, true)
	if err != nil {
		return PayrollRun{}, err
	}
	switch r.Status {
	case Approved, Posted, Paid:
		return r.PayrollRun, nil
	case Cancelled:
		return PayrollRun{}, stateConflict(&r, "it cannot be approved")
	}
	if r.EmployeeCount == 0 {
		return PayrollRun{}, apperr.New(apperr.Conflict, "Payroll run %s pays nobody.", r.ID).WithFields(apperr.FieldError{Pointer: "/employee_count", Detail: "0"})
	}
	p, _ := auth.FromContext(ctx)
	now := tx.Now().UTC().Truncate(time.Microsecond)
	r.Status, r.ApprovedBy, r.ApprovedAt, r.UpdatedAt = Approved, p.ClientID, &now, now
	if err := saveRun(ctx, tx, &r); err != nil {
		return PayrollRun{}, err
	}
	return r.PayrollRun, s.record(ctx, tx, &r, "approved", map[string]any{"approved_by": p.ClientID})
}

// Cancel withdraws a draft or approved run; a posted run is immutable
// (409: correct it with an off-cycle run).
func (s *Service) Cancel(ctx context.Context, tx *db.Tx, companyID, runID string) (PayrollRun, error) {
	r, err := loadRun(ctx, tx, companyID, runID, true)
	if err != nil {
		return PayrollRun{}, err
	}
	switch r.Status {
	case Cancelled:
		return r.PayrollRun, nil
	case Posted, Paid:
		return PayrollRun{}, stateConflict(&r, "a posted run is immutable: correct it with an off-cycle run")
	}
	r.Status, r.UpdatedAt = Cancelled, tx.Now().UTC().Truncate(time.Microsecond)
	if err := saveRun(ctx, tx, &r); err != nil {
		return PayrollRun{}, err
	}
	return r.PayrollRun, s.record(ctx, tx, &r, "cancelled", nil)
}

type lineKey struct{ account, memo string }

type aggregate struct {
	order []lineKey
	sums  map[lineKey]money.Decimal
}

func (a *aggregate) add(k lineKey, d money.Decimal) {
	if a.sums == nil {
		a.sums = map[lineKey]money.Decimal{}
	}
	if _, ok := a.sums[k]; !ok {
		a.order = append(a.order, k)
	}
	a.sums[k] = a.sums[k].Add(d)
}

// JournalLines aggregates a run's payslips into the lines of its entry:
// salary expense and employer contributions per cost center (pooling
// cost centers of fewer than MinGroup people), one liability per tax,
// contribution and deduction, one for net pay. No line names a person.
func JournalLines(ctx context.Context, q db.Querier, companyID string, slips []Payslip) ([]ledger.Line, error) {
	count := map[string]int{}
	for _, p := range slips {
		count[p.CostCenter]++
	}
	group := func(cc string) string {
		if count[cc] >= MinGroup && cc != "" {
			return "cost center " + cc
		}
		return "pooled cost centers"
	}
	cache := map[string]string{}
	account := func(role, component string) (string, error) {
		k := role + "|" + component
		if a, ok := cache[k]; ok {
			return a, nil
		}
		a, err := rules.Determine(ctx, q, companyID, role, rules.Keys{PayrollComponent: component})
		if err != nil {
			return "", err
		}
		cache[k] = a
		return a, nil
	}
	var debit, credit aggregate
	var net money.Decimal
	for _, p := range slips {
		g := group(p.CostCenter)
		for _, l := range p.Lines {
			switch l.Kind {
			case LineEarning:
				a, err := account("payroll_expense", l.Code)
				if err != nil {
					return nil, err
				}
				debit.add(lineKey{a, "Salaries and wages, " + g}, l.Amount)
			case LineEmployerContrib, LineEmployerBenefit:
				a, err := account("payroll_expense", l.Code)
				if err != nil {
					return nil, err
				}
				debit.add(lineKey{a, "Employer " + l.Code + ", " + g}, l.Amount)
				b, err := account("payroll_liabilities", l.Code)
				if err != nil {
					return nil, err
				}
				credit.add(lineKey{b, "Payable " + l.Code}, l.Amount)
			default:
				b, err := account("payroll_liabilities", l.Code)
				if err != nil {
					return nil, err
				}
				credit.add(lineKey{b, "Payable " + l.Code}, l.Amount)
			}
		}
		net = net.Add(p.Totals.Net)
	}
	netAccount, err := account("payroll_liabilities", NetPay)
	if err != nil {
		return nil, err
	}
	credit.add(lineKey{netAccount, "Net pay"}, net)
	var out []ledger.Line
	emit := func(a *aggregate, isDebit bool) {
		for _, k := range a.order {
			d := a.sums[k].Normalize()
			if d.IsZero() {
				continue
			}
			l := ledger.Line{AccountID: k.account, Memo: k.memo}
			// A correction that takes pay back turns a side around.
			if (d.Sign() > 0) == isDebit {
				l.Debit = d.Abs()
			} else {
				l.Credit = d.Abs()
			}
			out = append(out, l)
		}
	}
	emit(&debit, true)
	emit(&credit, false)
	return out, nil
}

// Post books an approved run: one balanced entry dated period_end.
func (s *Service) Post(ctx context.Context, tx *db.Tx, companyID, runID string) (PayrollRun, error) {
	r, err := loadRun(ctx, tx, companyID, runID, true)
	if err != nil {
		return PayrollRun{}, err
	}
	switch r.Status {
	case Posted, Paid:
		return r.PayrollRun, nil
	case Approved:
	default:
		return PayrollRun{}, stateConflict(&r, "only an approved run is posted (POST /v1/payroll-runs/"+r.ID+"/approve)")
	}
	rows, err := slipsOfRun(ctx, tx, companyID, r.ID)
	if err != nil {
		return PayrollRun{}, err
	}
	// Another run posted since this one was calculated may have used up a
	// yearly cap or paid part of this period: compute it again first.
	var stale string
	err = tx.QueryRowContext(ctx, `SELECT r.id FROM payroll_runs r JOIN payslips p ON p.run_id = r.id
WHERE r.company_id = $1 AND r.id <> $2 AND r.status IN ('posted', 'paid') AND r.posted_at > $3 AND p.period_end >= $4
AND p.employee_id IN (SELECT employee_id FROM payslips WHERE run_id = $2) LIMIT 1`, companyID, r.ID, r.CalculatedAt, r.PeriodStart[:4]+"-01-01").Scan(&stale)
	if err == nil {
		return PayrollRun{}, apperr.New(apperr.Conflict, "Run %s was posted after this run was calculated and pays some of the same people this year; recalculate this run (POST /v1/payroll-runs/%s/recalculate) and approve it again.", stale, r.ID).
			WithFields(apperr.FieldError{Pointer: "/calculated_at", Detail: "older than run " + stale})
	}
	slips, err := s.openSlips(db.ContextWithTx(ctx, tx), rows)
	if err != nil {
		return PayrollRun{}, err
	}
	lines, err := JournalLines(ctx, tx, companyID, slips)
	if err != nil {
		return PayrollRun{}, err
	}
	memo := fmt.Sprintf("Payroll %s to %s", r.PeriodStart, r.PeriodEnd)
	if r.Kind == OffCycle {
		memo += " (off-cycle)"
	}
	entry, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: companyID, Date: r.PeriodEnd, Currency: r.Currency, SourceType: SourceType, SourceID: r.ID,
		Purpose: PurposePayroll, Memo: memo, Lines: lines})
	if err != nil {
		return PayrollRun{}, err
	}
	now := tx.Now().UTC().Truncate(time.Microsecond)
	r.Status, r.JournalEntryID, r.PostedAt, r.UpdatedAt = Posted, entry.ID, &now, now
	if err := saveRun(ctx, tx, &r); err != nil {
		return PayrollRun{}, err
	}
	return r.PayrollRun, s.record(ctx, tx, &r, "posted", map[string]any{"journal_entry_id": entry.ID})
}

// Pay pays a posted run's net pay: one entry (net-pay liability to bank)
// dated pay_date, and the payment file.
func (s *Service) Pay(ctx context.Context, tx *db.Tx, companyID, runID string) (PayrollRun, error) {
	r, err := loadRun(ctx, tx, companyID, runID, true)
	if err != nil {
		return PayrollRun{}, err
	}
	switch r.Status {
	case Paid:
		return r.PayrollRun, nil
	case Posted:
	default:
		return PayrollRun{}, stateConflict(&r, "only a posted run is paid")
	}
	rows, err := slipsOfRun(ctx, tx, companyID, r.ID)
	if err != nil {
		return PayrollRun{}, err
	}
	sctx := db.ContextWithTx(ctx, tx)
	slips, err := s.openSlips(sctx, rows)
	if err != nil {
		return PayrollRun{}, err
	}
	var payees []payee
	var missing []apperr.FieldError
	var total money.Decimal
	for _, p := range slips {
		if p.Totals.Net.Sign() <= 0 {
			continue
		}
		timeline, err := s.Employees.Timeline(sctx, tx, companyID, p.EmployeeID)
		if err != nil {
			return PayrollRun{}, err
		}
		var e *hr.Employee
		for _, d := range timeline {
			if d.From <= r.PayDate {
				e = d.Employee
			}
		}
		if e == nil || e.BankAccount == nil || (e.BankAccount.IBAN == "" && e.BankAccount.AccountNumber == "") {
			missing = append(missing, apperr.FieldError{Pointer: "/employees/" + p.EmployeeID + "/bank_account", Detail: "employee " + p.EmployeeNumber + " has no bank account"})
			continue
		}
		holder := e.BankAccount.Holder
		if holder == "" {
			holder = e.GivenName + " " + e.FamilyName
		}
		payees = append(payees, payee{Number: p.EmployeeNumber, Name: holder, IBAN: e.BankAccount.IBAN, BIC: e.BankAccount.BIC,
			Account: e.BankAccount.AccountNumber, Routing: e.BankAccount.RoutingNumber, Amount: p.Totals.Net, PayslipID: p.ID})
		total = total.Add(p.Totals.Net)
	}
	if len(missing) > 0 {
		return PayrollRun{}, apperr.Fields(missing...)
	}
	now := tx.Now().UTC().Truncate(time.Microsecond)
	if total.Sign() > 0 {
		bank, err := rules.Determine(ctx, tx, companyID, "bank", rules.Keys{})
		if err != nil {
			return PayrollRun{}, err
		}
		netAccount, err := rules.Determine(ctx, tx, companyID, "payroll_liabilities", rules.Keys{PayrollComponent: NetPay})
		if err != nil {
			return PayrollRun{}, err
		}
		entry, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: companyID, Date: r.PayDate, Currency: r.Currency, SourceType: SourceType, SourceID: r.ID,
			Purpose: PurposePayment, Memo: fmt.Sprintf("Net pay %s to %s", r.PeriodStart, r.PeriodEnd), Lines: []ledger.Line{
				{AccountID: netAccount, Debit: total, Memo: "Net pay"}, {AccountID: bank, Credit: total, Memo: "Net pay transfers"}}})
		if err != nil {
			return PayrollRun{}, err
		}
		r.PaymentEntryID = entry.ID
	}
	co, err := loadCompany(ctx, tx, companyID)
	if err != nil {
		return PayrollRun{}, err
	}
	var files paymentFiles
	if files.CSV, err = paymentCSV(&r.PayrollRun, payees); err != nil {
		return PayrollRun{}, err
	}
	if files.Pain001, err = paymentPain001(&r.PayrollRun, co, payees, now); err != nil {
		return PayrollRun{}, err
	}
	sealed, err := s.seal(ctx, tx, r.ID, r.ID, "payment_file", encodeFiles(files))
	if err != nil {
		return PayrollRun{}, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE payroll_runs SET payment_file = $1 WHERE id = $2", sealed, r.ID); err != nil {
		return PayrollRun{}, fmt.Errorf("store payment file of %s: %w", r.ID, err)
	}
	r.Status, r.PaidAt, r.UpdatedAt = Paid, &now, now
	if err := saveRun(ctx, tx, &r); err != nil {
		return PayrollRun{}, err
	}
	return r.PayrollRun, s.record(ctx, tx, &r, "paid", map[string]any{"payment_entry_id": r.PaymentEntryID, "transfers": len(payees)})
}

// Breakdown reads a run's per-employee figures from its payslips.
func (s *Service) Breakdown(ctx context.Context, q db.Querier, r *PayrollRun) error {
	rows, err := slipsOfRun(ctx, q, r.CompanyID, r.ID)
	if err != nil {
		return err
	}
	slips, err := s.openSlips(ctx, rows)
	if err != nil {
		return err
	}
	r.Employees = make([]PayrollRunEmployee, 0, len(slips))
	for _, p := range slips {
		r.Employees = append(r.Employees, PayrollRunEmployee{EmployeeID: p.EmployeeID, PayslipID: p.ID, CostCenter: p.CostCenter,
			Gross: p.Totals.Gross, Net: p.Totals.Net, EmployerCost: p.Totals.EmployerCost})
	}
	return nil
}

// PaymentFile returns a paid run's payment file: format "csv" or
// "pain.001".
func (s *Service) PaymentFile(ctx context.Context, q db.Querier, companyID, runID, format string) (string, error) {
	r, err := loadRun(ctx, q, companyID, runID, false)
	if err != nil {
		return "", err
	}
	if r.Status != Paid {
		return "", stateConflict(&r, "its payment file exists once it is paid")
	}
	var stored string
	if err := q.QueryRowContext(ctx, "SELECT payment_file FROM payroll_runs WHERE id = $1", r.ID).Scan(&stored); err != nil {
		return "", fmt.Errorf("payment file of %s: %w", r.ID, err)
	}
	text, err := s.open(ctx, r.ID, "payment_file", stored)
	if err != nil {
		return "", err
	}
	var files paymentFiles
	if err := json.Unmarshal([]byte(text), &files); err != nil {
		return "", fmt.Errorf("payment file of %s: %w", r.ID, err)
	}
	if format == "pain.001" {
		if files.Pain001 == "" {
			return "", apperr.New(apperr.Conflict, "Payroll run %s has no SEPA file: it needs EUR, the company's bank_account IBAN and an IBAN for every employee paid; use the CSV.", r.ID).
				WithFields(apperr.FieldError{Pointer: "query:format", Detail: "no pain.001 for this run"})
		}
		return files.Pain001, nil
	}
	return files.CSV, nil
}

// Slips returns a page of payslips, opened.
func (s *Service) Slips(ctx context.Context, q db.Querier, companyID, empID, runID, after string, limit int) ([]Payslip, error) {
	rows, err := listSlips(ctx, q, companyID, empID, runID, after, limit)
	if err != nil {
		return nil, err
	}
	out, err := s.openSlips(ctx, rows)
	if err != nil {
		return nil, err
	}
	return s.withStatus(ctx, q, out)
}

// Slip returns one payslip.
func (s *Service) Slip(ctx context.Context, q db.Querier, companyID, id string) (Payslip, error) {
	row, err := loadSlip(ctx, q, companyID, id)
	if err != nil {
		return Payslip{}, err
	}
	p, err := s.openSlip(ctx, row)
	if err != nil {
		return Payslip{}, err
	}
	out, err := s.withStatus(ctx, q, []Payslip{p})
	if err != nil {
		return Payslip{}, err
	}
	return out[0], nil
}

func (s *Service) withStatus(ctx context.Context, q db.Querier, slips []Payslip) ([]Payslip, error) {
	status := map[string]string{}
	for i := range slips {
		st, ok := status[slips[i].PayrollRunID]
		if !ok {
			if err := q.QueryRowContext(ctx, "SELECT status FROM payroll_runs WHERE id = $1", slips[i].PayrollRunID).Scan(&st); err != nil {
				return nil, fmt.Errorf("run of payslip %s: %w", slips[i].ID, err)
			}
			status[slips[i].PayrollRunID] = st
		}
		slips[i].RunStatus = st
	}
	return slips, nil
}

package app

import (
	"context"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/hr"
	"github.com/mainstay-erp/mainstay/internal/payroll"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// seedDemoStaff gives the demo company two departments, five employees
// (one part-time, one with a raise scheduled next month), German-style
// rate tables, leave types, and last month's payroll run, posted.
func (a *App) seedDemoStaff(ctx context.Context, company string, w *hrWiring) error {
	today, err := hr.Today(ctx, a.db, company, a.db.Now())
	if err != nil {
		return err
	}
	now, _ := time.Parse(time.DateOnly, today)
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	periodStart, periodEnd := first.AddDate(0, -1, 0), first.AddDate(0, 0, -1)
	nextMonth := first.AddDate(0, 1, 0).Format(time.DateOnly)
	yearStart := fmt.Sprintf("%d-01-01", periodStart.Year())
	create := func(what string, fn func() (string, error)) (string, error) {
		id, err := fn()
		if err != nil {
			return "", fmt.Errorf("seed demo %s: %w", what, err)
		}
		return id, nil
	}
	ops, err := create("department", func() (string, error) {
		return metaID(w.hr.Departments.Create(ctx, company, map[string]any{"code": "OPS", "name": "Operations", "cost_center": "CC-OPS"}))
	})
	if err != nil {
		return err
	}
	sales, err := create("department", func() (string, error) {
		return metaID(w.hr.Departments.Create(ctx, company, map[string]any{"code": "SALES", "name": "Sales", "cost_center": "CC-SALES"}))
	})
	if err != nil {
		return err
	}
	sched, err := create("pay schedule", func() (string, error) {
		return metaID(w.payroll.Schedules.Create(ctx, company, map[string]any{"code": "MONTHLY", "name": "Monthly", "frequency": "monthly"}))
	})
	if err != nil {
		return err
	}
	for _, t := range []map[string]any{
		{"code": "DE_INCOME_TAX", "name": "Income tax (simplified)", "jurisdiction": "DE", "category": "tax", "party": "employee", "basis": "taxable",
			"method": "brackets", "valid_from": yearStart, "brackets": []any{
				map[string]any{"from": "0", "rate": "0"}, map[string]any{"from": "12096", "rate": "0.14"},
				map[string]any{"from": "17443", "rate": "0.24"}, map[string]any{"from": "68480", "rate": "0.42"}, map[string]any{"from": "277825", "rate": "0.45"}}},
		{"code": "DE_PENSION_EE", "name": "Pension insurance (employee)", "jurisdiction": "DE", "category": "contribution", "party": "employee",
			"basis": "gross", "method": "flat", "rate": "0.093", "yearly_cap": "96600", "valid_from": yearStart},
		{"code": "DE_PENSION_ER", "name": "Pension insurance (employer)", "jurisdiction": "DE", "category": "contribution", "party": "employer",
			"basis": "gross", "method": "flat", "rate": "0.093", "yearly_cap": "96600", "valid_from": yearStart},
		{"code": "DE_HEALTH_EE", "name": "Health insurance (employee)", "jurisdiction": "DE", "category": "contribution", "party": "employee",
			"basis": "gross", "method": "flat", "rate": "0.0815", "yearly_cap": "66150", "threshold": "556", "valid_from": yearStart},
		{"code": "DE_HEALTH_ER", "name": "Health insurance (employer)", "jurisdiction": "DE", "category": "contribution", "party": "employer",
			"basis": "gross", "method": "flat", "rate": "0.0815", "yearly_cap": "66150", "threshold": "556", "valid_from": yearStart},
	} {
		if _, err := create("rate table", func() (string, error) { return metaID(w.payroll.Tables.Create(ctx, company, t)) }); err != nil {
			return err
		}
	}
	for _, lt := range []map[string]any{
		{"code": "VACATION", "name": "Vacation", "paid": true, "accrual_per_year": "30"},
		{"code": "SICK", "name": "Sick leave", "paid": true},
		{"code": "UNPAID", "name": "Unpaid leave", "paid": false},
	} {
		if _, err := create("leave type", func() (string, error) { return metaID(w.hr.LeaveTypes.Create(ctx, company, lt)) }); err != nil {
			return err
		}
	}
	staff := []struct {
		number, given, family, dept, salary, fte, start, iban string
	}{
		{"1001", "Anna", "Becker", ops, "62000", "", "2021-04-01", "DE89370400440532013000"},
		{"1002", "Jonas", "Schmidt", ops, "48000", "", "2022-09-01", "DE02120300000000202051"},
		{"1003", "Lea", "Wagner", ops, "54000", "0.6", "2023-02-15", "DE02500105170137075030"},
		{"1004", "Emre", "Yılmaz", sales, "71000", "", "2020-01-06", "DE02100500000054540402"},
		{"1005", "Sofia", "Rossi", sales, "45000", "", periodStart.AddDate(0, 0, 14).Format(time.DateOnly), "DE02300209000106531065"},
	}
	var raise string
	err = a.db.Transact(ctx, func(tx *db.Tx) error {
		for i, s := range staff {
			body := map[string]any{
				"employee_number": s.number, "given_name": s.given, "family_name": s.family, "email": fmt.Sprintf("%s.%s@example.com", s.given, s.family),
				"start_date": s.start, "department_id": s.dept, "pay_schedule_id": sched, "work_location": "Berlin",
				"external_id": fmt.Sprintf("hris:%s", s.number), "national_id": fmt.Sprintf("65 %06d A %03d", 170380+i, 123+i),
				"bank_account": map[string]any{"iban": s.iban}, "tax_settings": map[string]any{"jurisdiction": "DE", "tax_code": "I"},
				"pay": map[string]any{"currency": "EUR", "components": []any{map[string]any{"code": "SALARY", "kind": "salary", "amount": s.salary}}},
			}
			if s.fte != "" {
				body["fte"] = s.fte
			}
			e, _, err := w.hr.Employees.Create(ctx, tx, company, body)
			if err != nil {
				return fmt.Errorf("seed demo employee %s: %w", s.number, err)
			}
			if i == 0 {
				raise = e.ID
			}
		}
		// A raise scheduled for next month: GET …?as_of= shows it coming.
		_, _, err := w.hr.Employees.Update(ctx, tx, raise, hr.Change{Effective: nextMonth, Body: map[string]any{"pay": map[string]any{"currency": "EUR",
			"components": []any{map[string]any{"code": "SALARY", "kind": "salary", "amount": "66000"}, map[string]any{"code": "JOBTICKET", "kind": "employer_contribution", "amount": "49"}}}}})
		if err != nil {
			return fmt.Errorf("seed demo raise: %w", err)
		}
		run, err := w.payroll.Service.Create(ctx, tx, company, payroll.PayrollRunRequest{PayScheduleID: sched, PeriodStart: periodStart.Format(time.DateOnly),
			PeriodEnd: periodEnd.Format(time.DateOnly), PayDate: periodEnd.AddDate(0, 0, -3).Format(time.DateOnly), Memo: "Demo payroll"}, "")
		if err != nil {
			return fmt.Errorf("seed demo payroll run: %w", err)
		}
		for _, step := range []func(context.Context, *db.Tx, string, string) (payroll.PayrollRun, error){w.payroll.Service.Approve, w.payroll.Service.Post} {
			if _, err := step(ctx, tx, company, run.ID); err != nil {
				return fmt.Errorf("seed demo payroll run: %w", err)
			}
		}
		return nil
	})
	return err
}

package payroll_test

import (
	"context"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/hr"
	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/chart"
	"github.com/mainstay-erp/mainstay/internal/ledger/periods"
	"github.com/mainstay-erp/mainstay/internal/payroll"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type fixture struct {
	ctx   context.Context
	d     *db.DB
	co    string
	h     *hr.Module
	p     *payroll.Module
	sched string
	ids   []string
}

func setup(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{ClientID: "cli_test", Scopes: auth.AllScopes()})
	api := rest.NewAPI("test", "1", "http://localhost")
	eng := resource.NewEngine(d, api)
	companies := resource.Register[company.Company](eng, company.Spec)
	accounts := resource.Register[chart.Account](eng, chart.Spec)
	f := &fixture{ctx: ctx, d: d}
	f.h = hr.Mount(api, eng, d, nil)
	f.p = payroll.Mount(api, eng, d, f.h.Employees, nil)
	co, err := companies.Create(ctx, "", map[string]any{"legal_name": "Acme", "base_currency": "EUR", "time_zone": "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	f.co = co.Value.ID
	if err := d.Transact(ctx, func(tx *db.Tx) error { return chart.Seed(db.ContextWithTx(ctx, tx), accounts, f.co) }); err != nil {
		t.Fatal(err)
	}
	s, err := f.p.Schedules.Create(ctx, f.co, map[string]any{"code": "M", "name": "Monthly", "frequency": "monthly"})
	if err != nil {
		t.Fatal(err)
	}
	f.sched = s.Value.ID
	if _, err := f.p.Tables.Create(ctx, f.co, map[string]any{"code": "PENSION", "name": "Pension", "jurisdiction": "DE", "category": "contribution",
		"party": "employee", "basis": "gross", "method": "flat", "rate": "0.1", "yearly_cap": "25000", "valid_from": "2026-01-01"}); err != nil {
		t.Fatal(err)
	}
	for i, salary := range []string{"120000", "60000", "36000"} {
		var e *hr.Employee
		err := d.Transact(ctx, func(tx *db.Tx) error {
			var err error
			e, _, err = f.h.Employees.Create(ctx, tx, f.co, map[string]any{"employee_number": string(rune('A' + i)), "given_name": "G", "family_name": "F",
				"start_date": "2025-01-01", "pay_schedule_id": f.sched, "tax_settings": map[string]any{"jurisdiction": "DE"},
				"bank_account": map[string]any{"iban": "DE89370400440532013000"},
				"pay":          map[string]any{"currency": "EUR", "components": []any{map[string]any{"code": "SALARY", "kind": "salary", "amount": salary}}}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		f.ids = append(f.ids, e.ID)
	}
	return f
}

func (f *fixture) run(t *testing.T, month string, last string) payroll.PayrollRun {
	t.Helper()
	var out payroll.PayrollRun
	err := f.d.Transact(f.ctx, func(tx *db.Tx) error {
		r, err := f.p.Service.Create(f.ctx, tx, f.co, payroll.PayrollRunRequest{PayScheduleID: f.sched, PeriodStart: "2026-" + month + "-01",
			PeriodEnd: "2026-" + month + "-" + last, PayDate: "2026-" + month + "-25"}, "")
		if err != nil {
			return err
		}
		for _, step := range []func(context.Context, *db.Tx, string, string) (payroll.PayrollRun, error){f.p.Service.Approve, f.p.Service.Post} {
			if r, err = step(f.ctx, tx, f.co, r.ID); err != nil {
				return err
			}
		}
		out = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestYearlyCapAcrossRuns: a 25,000 pension cap is reached in March by
// the 10,000-a-month earner (10,000 + 10,000 + 5,000), not by the others;
// pension per month: 1,000 + 500 + 300, then A's room shrinks to 500
// in March and to nothing in April; every posted entry balances and equals the employer cost of its run.
func TestYearlyCapAcrossRuns(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		for i, m := range []struct{ month, last string }{{"01", "31"}, {"02", "28"}, {"03", "31"}, {"04", "30"}} {
			r := f.run(t, m.month, m.last)
			if got := r.Totals.EmployeeContributions.String(); got != map[int]string{0: "1800", 1: "1800", 2: "1300", 3: "800"}[i] {
				t.Fatalf("month %s contributions %s", m.month, got)
			}
			e, err := ledger.Get(f.ctx, d, r.JournalEntryID)
			if err != nil {
				t.Fatal(err)
			}
			var debit, credit money.Decimal
			for _, l := range e.Lines {
				debit, credit = debit.Add(l.Debit), credit.Add(l.Credit)
			}
			if !debit.Equal(credit) || !debit.Equal(r.Totals.EmployerCost) {
				t.Fatalf("entry %s/%s, employer cost %s", debit, credit, r.Totals.EmployerCost)
			}
		}
	})
}

// TestClosedPeriodRefusesPosting and posted runs are immutable.
func TestClosedPeriodRefusesPosting(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		var runID string
		err := d.Transact(f.ctx, func(tx *db.Tx) error {
			if _, err := periods.CreateYear(f.ctx, tx, f.co, 2026, "01-01"); err != nil {
				return err
			}
			list, err := periods.List(f.ctx, tx, f.co)
			if err != nil {
				return err
			}
			if _, err := periods.SetStatus(f.ctx, tx, f.co, list[0].ID, "closed"); err != nil {
				return err
			}
			r, err := f.p.Service.Create(f.ctx, tx, f.co, payroll.PayrollRunRequest{PayScheduleID: f.sched, PeriodStart: "2026-01-01", PeriodEnd: "2026-01-31", PayDate: "2026-01-28"}, "")
			if err != nil {
				return err
			}
			runID = r.ID
			_, err = f.p.Service.Approve(f.ctx, tx, f.co, r.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		err = d.Transact(f.ctx, func(tx *db.Tx) error {
			_, err := f.p.Service.Post(f.ctx, tx, f.co, runID)
			return err
		})
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("posting into a closed period: %v", err)
		}
	})
}

// TestStaleDraftMustBeRecalculated: February is computed before January
// is posted, so its year-to-date misses January: posting it is 409 until
// it is recalculated (back to draft) and approved again. Also: a period
// that is not a calendar month is 422, a second regular run 409.
func TestStaleDraftMustBeRecalculated(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		f := setup(t, d)
		tx := func(fn func(tx *db.Tx) error) error { return d.Transact(f.ctx, fn) }
		var feb payroll.PayrollRun
		if err := tx(func(tx *db.Tx) error {
			var err error
			feb, err = f.p.Service.Create(f.ctx, tx, f.co, payroll.PayrollRunRequest{PayScheduleID: f.sched, PeriodStart: "2026-02-01", PeriodEnd: "2026-02-28", PayDate: "2026-02-25"}, "")
			if err != nil {
				return err
			}
			_, err = f.p.Service.Approve(f.ctx, tx, f.co, feb.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		f.run(t, "01", "31")
		err := tx(func(tx *db.Tx) error { _, err := f.p.Service.Post(f.ctx, tx, f.co, feb.ID); return err })
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("stale post: %v", err)
		}
		var r payroll.PayrollRun
		if err := tx(func(tx *db.Tx) error {
			var err error
			if r, err = f.p.Service.Recalculate(f.ctx, tx, f.co, feb.ID); err != nil {
				return err
			}
			if r.Status != payroll.Draft {
				t.Fatalf("recalculated run is %s", r.Status)
			}
			if _, err = f.p.Service.Approve(f.ctx, tx, f.co, feb.ID); err != nil {
				return err
			}
			r, err = f.p.Service.Post(f.ctx, tx, f.co, feb.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if r.Totals.EmployeeContributions.String() != "1800" || r.Status != payroll.Posted {
			t.Fatalf("february %s %s", r.Status, r.Totals.EmployeeContributions)
		}
		err = tx(func(tx *db.Tx) error {
			_, err := f.p.Service.Create(f.ctx, tx, f.co, payroll.PayrollRunRequest{PayScheduleID: f.sched, PeriodStart: "2026-02-01", PeriodEnd: "2026-02-28", PayDate: "2026-02-25"}, "")
			return err
		})
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("second regular run: %v", err)
		}
		err = tx(func(tx *db.Tx) error {
			_, err := f.p.Service.Create(f.ctx, tx, f.co, payroll.PayrollRunRequest{PayScheduleID: f.sched, PeriodStart: "2026-03-05", PeriodEnd: "2026-04-04", PayDate: "2026-04-01"}, "")
			return err
		})
		if apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("not a calendar month: %v", err)
		}
	})
}

// TestConcurrentRegularRunsPostgres: four clients start the same month's
// regular run at once; exactly one is created, the others get 409 (the
// unique index, not only the check before it).
func TestConcurrentRegularRunsPostgres(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	f := setup(t, d)
	const n = 4
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			<-start
			errs <- d.Transact(f.ctx, func(tx *db.Tx) error {
				_, err := f.p.Service.Create(f.ctx, tx, f.co, payroll.PayrollRunRequest{PayScheduleID: f.sched, PeriodStart: "2026-05-01", PeriodEnd: "2026-05-31", PayDate: "2026-05-27"}, "")
				return err
			})
		}()
	}
	close(start)
	created, conflicts := 0, 0
	for i := 0; i < n; i++ {
		err := <-errs
		switch {
		case err == nil:
			created++
		case apperr.CodeOf(err) == apperr.Conflict:
			conflicts++
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Fatalf("created %d, conflicts %d", created, conflicts)
	}
}

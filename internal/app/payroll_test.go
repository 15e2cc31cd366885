package app_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func (w *hrWorld) rateTables(t *testing.T) {
	t.Helper()
	for _, body := range []map[string]any{
		{"code": "DE_INCOME_TAX", "name": "Income tax", "jurisdiction": "DE", "category": "tax", "party": "employee", "basis": "taxable", "method": "brackets",
			"valid_from": "2026-01-01", "brackets": []any{map[string]any{"from": "0", "rate": "0"}, map[string]any{"from": "12000", "rate": "0.2"}, map[string]any{"from": "48000", "rate": "0.4"}}},
		{"code": "DE_PENSION_EE", "name": "Pension (employee)", "jurisdiction": "DE", "category": "contribution", "party": "employee", "basis": "gross", "method": "flat",
			"rate": "0.093", "yearly_cap": "90000", "valid_from": "2026-01-01"},
		{"code": "DE_PENSION_ER", "name": "Pension (employer)", "jurisdiction": "DE", "category": "contribution", "party": "employer", "basis": "gross", "method": "flat",
			"rate": "0.093", "yearly_cap": "90000", "valid_from": "2026-01-01"},
	} {
		w.payroll.Do(t, "POST", "/v1/payroll-rate-tables", body).Expect(t, 201)
	}
}

// runPayroll computes a run (202 + operation) and returns the run.
func runPayroll(t *testing.T, c *apitest.Caller, body map[string]any) map[string]any {
	t.Helper()
	resp := c.Do(t, "POST", "/v1/payroll-runs", body).Expect(t, 202)
	op := resp.JSON(t)
	if op["status"] != "succeeded" || resp.Header.Get("Location") != "/v1/operations/"+op["id"].(string) {
		t.Fatalf("operation %v", op)
	}
	op = c.Do(t, "GET", "/v1/operations/"+op["id"].(string), nil).Expect(t, 200).JSON(t)
	runID := op["result"].(map[string]any)["id"].(string)
	return c.Do(t, "GET", "/v1/payroll-runs/"+runID, nil).Expect(t, 200).JSON(t)
}

func pdec(v any) money.Decimal { return money.MustParse(toString(v)) }

func TestPayrollRunEndToEnd(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newHRWorld(t, e)
		w.rateTables(t)
		var ids []string
		for i, s := range []string{"60000", "48000", "120000"} {
			ids = append(ids, w.employee(t, fmt.Sprintf("E%d", i+1), s, nil)["id"].(string))
		}
		// One in a cost center of her own: pooled in the ledger.
		ids = append(ids, w.employee(t, "E4", "36000", map[string]any{"cost_center": "CC-OPS", "fte": "0.5"})["id"].(string))
		// A joiner mid-March.
		ids = append(ids, w.employee(t, "E5", "60000", map[string]any{"start_date": "2026-03-16"})["id"].(string))

		run := runPayroll(t, w.payroll, map[string]any{"pay_schedule_id": w.sched, "period_start": "2026-03-01", "period_end": "2026-03-31", "pay_date": "2026-03-27"})
		runID := run["id"].(string)
		if run["status"] != "draft" || run["employee_count"] != float64(5) || len(run["employees"].([]any)) != 5 {
			t.Fatalf("run %v", run)
		}
		totals := run["totals"].(map[string]any)
		// 5,000 + 4,000 + 10,000 + 1,500 + 2,580.65 (16 of 31 days of 5,000)
		if pdec(totals["gross"]).String() != "23080.65" {
			t.Fatalf("gross %v", totals)
		}
		// Finance may read the ledger, not the run.
		w.finance.Do(t, "GET", "/v1/payroll-runs/"+runID, nil).ExpectProblem(t, 403, apperr.Forbidden)
		w.payroll.Do(t, "POST", "/v1/payroll-runs/"+runID+"/post", nil).ExpectProblem(t, 409, apperr.Conflict)
		w.payroll.Do(t, "POST", "/v1/payroll-runs", map[string]any{"pay_schedule_id": w.sched, "period_start": "2026-03-01", "period_end": "2026-03-31", "pay_date": "2026-03-27"}).
			ExpectProblem(t, 409, apperr.Conflict)
		w.payroll.Do(t, "POST", "/v1/payroll-runs/"+runID+"/approve", nil).Expect(t, 200)
		posted := w.payroll.Do(t, "POST", "/v1/payroll-runs/"+runID+"/post", nil).Expect(t, 200).JSON(t)
		entry := w.finance.Do(t, "GET", "/v1/journal-entries/"+posted["journal_entry_id"].(string), nil).Expect(t, 200).JSON(t)
		var debit, credit money.Decimal
		memos := ""
		for _, l := range entry["lines"].([]any) {
			m := l.(map[string]any)
			debit, credit = debit.Add(pdec(m["debit"])), credit.Add(pdec(m["credit"]))
			memos += m["memo"].(string) + "|"
		}
		if !debit.Equal(credit) || !debit.Equal(pdec(totals["employer_cost"])) {
			t.Fatalf("entry %s / %s, employer cost %v", debit, credit, totals["employer_cost"])
		}
		if !strings.Contains(memos, "cost center CC-ENG") || !strings.Contains(memos, "pooled cost centers") {
			t.Fatalf("memos %s", memos)
		}
		for _, id := range ids {
			if strings.Contains(string(mustJSON(entry)), id) {
				t.Fatal("the journal entry names an employee")
			}
		}
		// Posted runs are immutable.
		w.payroll.Do(t, "POST", "/v1/payroll-runs/"+runID+"/cancel", nil).ExpectProblem(t, 409, apperr.Conflict)
		w.payroll.Do(t, "POST", "/v1/payroll-runs/"+runID+"/recalculate", nil).ExpectProblem(t, 409, apperr.Conflict)
		coTag := w.admin.Do(t, "GET", "/v1/companies/"+w.company, nil).Expect(t, 200).Header.Get("ETag")
		w.admin.Do(t, "PATCH", "/v1/companies/"+w.company, map[string]any{"bank_account": map[string]any{"iban": "DE02120300000000202051", "bic": "BYLADEM1001"}},
			"Content-Type", "application/merge-patch+json", "If-Match", coTag).Expect(t, 200)
		bank := accountByCode(t, w.admin, "1000")
		paid := w.payroll.Do(t, "POST", "/v1/payroll-runs/"+runID+"/pay", nil).Expect(t, 200).JSON(t)
		if paid["status"] != "paid" || paid["payment_entry_id"] == nil {
			t.Fatalf("paid %v", paid)
		}
		if got := balanceOf(t, w.admin, bank, "2026-03-31"); got != pdec(totals["net"]).Neg().String() {
			t.Fatalf("bank %s, net %v", got, totals["net"])
		}
		file := w.payroll.Do(t, "GET", "/v1/payroll-runs/"+runID+"/payment-file", nil).Expect(t, 200)
		if lines := strings.Split(strings.TrimSpace(string(file.Body)), "\n"); len(lines) != 6 || !strings.Contains(lines[1], "DE89370400440532013000") {
			t.Fatalf("payment file %s", file.Body)
		}
		sepa := w.payroll.Do(t, "GET", "/v1/payroll-runs/"+runID+"/payment-file?format=pain.001", nil).Expect(t, 200)
		if body := string(sepa.Body); !strings.Contains(body, "<Cd>SALA</Cd>") || !strings.Contains(body, "<CtrlSum>"+pdec(totals["net"]).StringFixed(2)+"</CtrlSum>") ||
			!strings.Contains(body, "<NbOfTxs>5</NbOfTxs>") {
			t.Fatalf("pain.001 %s", body)
		}
		w.payroll.Do(t, "GET", "/v1/payroll-runs/"+runID+"/payment-file?format=mt940", nil).ExpectProblem(t, 400, apperr.BadRequest)
		// Payslips, JSON and XML.
		slips := w.payroll.Do(t, "GET", "/v1/payslips?payroll_run_id="+runID, nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(slips) != 5 {
			t.Fatalf("payslips %v", slips)
		}
		var sum money.Decimal
		var first string
		for _, s := range slips {
			m := s.(map[string]any)
			sum = sum.Add(pdec(m["totals"].(map[string]any)["net"]))
			if m["employee_id"] == ids[0] {
				first = m["id"].(string)
				if pdec(m["totals"].(map[string]any)["net"]).String() != "3535" {
					// 5,000 − 1,000 tax (annualized 60,000) − 465 pension
					t.Fatalf("E1 payslip %v", m)
				}
			}
		}
		if !sum.Equal(pdec(totals["net"])) {
			t.Fatalf("payslips net %s, run %v", sum, totals["net"])
		}
		x := w.payroll.Do(t, "GET", "/v1/payslips/"+first, nil, "Accept", "application/xml").Expect(t, 200)
		if !strings.Contains(string(x.Body), "<payslip>") || !strings.Contains(string(x.Body), "<net>3535</net>") {
			t.Fatalf("xml %s", x.Body)
		}
		// An off-cycle correction: a 1,000 bonus for E1 in March pays the
		// difference (1,000 gross; 400 more tax at the 40 % band; 93 pension).
		corr := runPayroll(t, w.payroll, map[string]any{"kind": "off_cycle", "period_start": "2026-03-01", "period_end": "2026-03-31", "pay_date": "2026-04-10",
			"adjustments": []any{map[string]any{"employee_id": ids[0], "code": "BONUS", "kind": "earning", "amount": "1000"}}})
		ct := corr["totals"].(map[string]any)
		if corr["employee_count"] != float64(1) || pdec(ct["gross"]).String() != "1000" || pdec(ct["taxes"]).String() != "400" || pdec(ct["net"]).String() != "507" {
			t.Fatalf("correction %v", corr)
		}
		w.payroll.Do(t, "POST", "/v1/payroll-runs/"+corr["id"].(string)+"/approve", nil).Expect(t, 200)
		w.payroll.Do(t, "POST", "/v1/payroll-runs/"+corr["id"].(string)+"/post", nil).Expect(t, 200)
		if n := len(w.payroll.Do(t, "GET", "/v1/payslips?employee_id="+ids[0], nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 2 {
			t.Fatalf("E1 has %d payslips", n)
		}
		// April: E3's pension base reaches the cap later; here just check
		// the year-to-date is used (E3 earns 10,000 a month: March used 10,000).
		w.payroll.Do(t, "GET", "/v1/payroll-runs?status=paid", nil).Expect(t, 200)
		w.sales.Do(t, "GET", "/v1/payroll-runs", nil).ExpectProblem(t, 403, apperr.Forbidden)
		// The sales client's batch learns nothing either.
		b := w.sales.Do(t, "POST", "/v1/batch", map[string]any{"operations": []any{map[string]any{"method": "GET", "path": "/v1/payslips/" + first}}})
		if b.Status != 403 || strings.Contains(string(b.Body), "3535") {
			t.Fatalf("sales batch %d %s", b.Status, b.Body)
		}
	})
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestPayrollEventsAreScoped: the catalogue sends pay and payroll events
// only to payroll readers, employee events only to HR readers; a sales or
// readonly client is sent none of them.
func TestPayrollEventsAreScoped(t *testing.T) {
	roles := auth.Roles()
	for _, role := range []string{"sales", "readonly", "auditor", "finance", "inventory", "purchasing"} {
		scopes := roles[role]
		has := func(s string) bool {
			for _, x := range scopes {
				if x == s {
					return true
				}
			}
			return false
		}
		for _, typ := range events.Catalogue() {
			if has(typ.Scope) && (strings.HasPrefix(typ.Name, "mainstay.payroll.") || strings.HasPrefix(typ.Name, "mainstay.hr.")) {
				t.Errorf("role %s is sent %s", role, typ.Name)
			}
		}
	}
	for _, typ := range []string{"mainstay.payroll.payroll_run.posted", "mainstay.payroll.employee.pay_changed"} {
		d, ok := events.Lookup(typ)
		if !ok || d.Scope != "payroll:read" {
			t.Errorf("%s declared %+v", typ, d)
		}
	}
}

// TestPayrollPostedRunsBalanceProperty: random staff (salaries, part
// time, joiners and leavers, pre-tax deductions) in random months; every
// posted run's entry balances, its debits equal the payslips' employer
// cost and its net-pay credit their net. Fixed seed: reproducible.
func TestPayrollPostedRunsBalanceProperty(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newHRWorld(t, e)
		w.rateTables(t)
		rng := rand.New(rand.NewSource(12))
		netAccount := accountByCode(t, w.admin, "2300")
		for month := 1; month <= 4; month++ {
			n := 2 + rng.Intn(4)
			for i := 0; i < n; i++ {
				extra := map[string]any{"start_date": fmt.Sprintf("2026-%02d-%02d", month, 1+rng.Intn(28))}
				if rng.Intn(3) == 0 {
					extra["end_date"] = fmt.Sprintf("2026-%02d-28", month)
				}
				if rng.Intn(3) == 0 {
					extra["fte"] = []string{"0.5", "0.8", "0.25"}[rng.Intn(3)]
				}
				if rng.Intn(2) == 0 {
					extra["cost_center"] = []string{"A", "B"}[rng.Intn(2)]
				}
				comps := []any{map[string]any{"code": "SALARY", "kind": "salary", "amount": fmt.Sprintf("%d.%02d", 20000+rng.Intn(150000), rng.Intn(100))}}
				if rng.Intn(2) == 0 {
					comps = append(comps, map[string]any{"code": "PENSION_PLAN", "kind": "pre_tax_deduction", "amount": fmt.Sprintf("%d", 50+rng.Intn(300))})
				}
				body := map[string]any{"employee_number": fmt.Sprintf("P%d-%d", month, i), "given_name": "R", "family_name": "Nd", "pay_schedule_id": w.sched,
					"tax_settings": map[string]any{"jurisdiction": "DE"}, "pay": map[string]any{"currency": "EUR", "components": comps}}
				for k, v := range extra {
					body[k] = v
				}
				w.admin.Do(t, "POST", "/v1/employees", body).Expect(t, 201)
			}
			last := []string{"", "31", "28", "31", "30"}[month]
			run := runPayroll(t, w.payroll, map[string]any{"pay_schedule_id": w.sched, "period_start": fmt.Sprintf("2026-%02d-01", month),
				"period_end": fmt.Sprintf("2026-%02d-%s", month, last), "pay_date": fmt.Sprintf("2026-%02d-25", month)})
			id := run["id"].(string)
			w.payroll.Do(t, "POST", "/v1/payroll-runs/"+id+"/approve", nil).Expect(t, 200)
			posted := w.payroll.Do(t, "POST", "/v1/payroll-runs/"+id+"/post", nil).Expect(t, 200).JSON(t)
			entry := w.admin.Do(t, "GET", "/v1/journal-entries/"+posted["journal_entry_id"].(string), nil).Expect(t, 200).JSON(t)
			var debit, credit, netCredit money.Decimal
			for _, l := range entry["lines"].([]any) {
				m := l.(map[string]any)
				debit, credit = debit.Add(pdec(m["debit"])), credit.Add(pdec(m["credit"]))
				if m["account_id"] == netAccount && m["memo"] == "Net pay" {
					netCredit = netCredit.Add(pdec(m["credit"]))
				}
			}
			var cost, net money.Decimal
			slips := w.payroll.Do(t, "GET", "/v1/payslips?page_size=500&payroll_run_id="+id, nil).Expect(t, 200).JSON(t)["data"].([]any)
			for _, s := range slips {
				tot := s.(map[string]any)["totals"].(map[string]any)
				cost, net = cost.Add(pdec(tot["employer_cost"])), net.Add(pdec(tot["net"]))
				if pdec(tot["net"]).IsNegative() {
					t.Fatalf("negative net %v", tot)
				}
			}
			if !debit.Equal(credit) || !debit.Equal(cost) || !netCredit.Equal(net) || len(slips) != int(run["employee_count"].(float64)) {
				t.Fatalf("month %d: debit %s credit %s cost %s net-pay %s net %s", month, debit, credit, cost, netCredit, net)
			}
		}
	})
}

// TestPayrollFeedIsScoped: after hiring, a raise and a posted run, the
// change feed shows a sales client no HR or payroll event, an HR client
// the employee events but no pay or payroll event, and a payroll client
// the pay change and the run's events — whose data holds no one's pay.
func TestPayrollFeedIsScoped(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newHRWorld(t, e)
		w.rateTables(t)
		// Each role subscribes a webhook endpoint to everything.
		hooks := map[string]*receiver{}
		for name, c := range map[string]*apitest.Caller{"sales": w.sales, "hr": w.hr, "payroll": w.payroll} {
			hooks[name] = newReceiver(t)
			subscribe(t, c, hooks[name].srv.URL, "*")
		}
		id := w.employee(t, "F1", "60000", nil)["id"].(string)
		w.employee(t, "F2", "48000", nil)
		w.payroll.Do(t, "POST", "/v1/employees/"+id+"/pay-changes", map[string]any{"effective_date": "2026-04-01",
			"pay": map[string]any{"currency": "EUR", "components": []any{map[string]any{"code": "SALARY", "kind": "salary", "amount": "61234"}}}}).Expect(t, 200)
		run := runPayroll(t, w.payroll, map[string]any{"pay_schedule_id": w.sched, "period_start": "2026-03-01", "period_end": "2026-03-31", "pay_date": "2026-03-27"})
		w.payroll.Do(t, "POST", "/v1/payroll-runs/"+run["id"].(string)+"/approve", nil).Expect(t, 200)
		w.payroll.Do(t, "POST", "/v1/payroll-runs/"+run["id"].(string)+"/post", nil).Expect(t, 200)
		drainFeed(t, w.s.App.DB())
		feed := func(c *apitest.Caller) (types []string) {
			page := c.Do(t, "GET", "/v1/events?after=0&page_size=500", nil).Expect(t, 200)
			for _, ev := range page.JSON(t)["events"].([]any) {
				m := ev.(map[string]any)
				types = append(types, m["type"].(string))
				if data, ok := m["data"].(map[string]any); ok {
					for _, k := range []string{"national_id", "bank_account", "birth_date", "pay", "employees"} {
						if _, leak := data[k]; leak {
							t.Fatalf("%s event carries %s: %v", m["type"], k, data)
						}
					}
				}
			}
			return types
		}
		has := func(types []string, prefix string) bool {
			for _, typ := range types {
				if strings.HasPrefix(typ, prefix) {
					return true
				}
			}
			return false
		}
		if sales := feed(w.sales); has(sales, "mainstay.hr.") || has(sales, "mainstay.payroll.") {
			t.Fatalf("sales feed %v", sales)
		}
		if hrTypes := feed(w.hr); !has(hrTypes, "mainstay.hr.employee.created") || has(hrTypes, "mainstay.payroll.") {
			t.Fatalf("hr feed %v", hrTypes)
		}
		if pTypes := feed(w.payroll); !has(pTypes, "mainstay.payroll.employee.pay_changed") || !has(pTypes, "mainstay.payroll.payroll_run.posted") {
			t.Fatalf("payroll feed %v", pTypes)
		}
		// The same through webhooks: the payroll client's endpoint gets the
		// posted run; the hr one employees but no payroll event; the sales
		// one neither; no delivery carries a sensitive member.
		hooked := func(name string) []string {
			var types []string
			for _, d := range hooks[name].all() {
				types = append(types, d.event["type"].(string))
				for _, k := range []string{"national_id", "bank_account", "birth_date", "pay"} {
					if strings.Contains(string(d.body), `"`+k+`"`) {
						t.Fatalf("%s endpoint got %s carrying %s", name, d.event["type"], k)
					}
				}
			}
			return types
		}
		hooks["payroll"].waitFor(t, "the posted run", func(d []delivered) bool { return len(ofType(d, "mainstay.payroll.payroll_run.posted")) == 1 })
		hooks["hr"].waitFor(t, "employees", func(d []delivered) bool { return len(ofType(d, "mainstay.hr.employee.created")) == 2 })
		time.Sleep(300 * time.Millisecond) // anything misrouted has had time to arrive
		if got := hooked("sales"); has(got, "mainstay.hr.") || has(got, "mainstay.payroll.") {
			t.Fatalf("sales endpoint received %v", got)
		}
		if got := hooked("hr"); has(got, "mainstay.payroll.") {
			t.Fatalf("hr endpoint received %v", got)
		}
		hooked("payroll")
	})
}

package payroll

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/hr"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

var update = flag.Bool("update", false, "rewrite the golden payslips")

// TestPayslipGolden pins whole payslips (every line, base, rate and
// total) of a rich case, monthly and biweekly: salary, allowance, a
// pre-tax pension plan, a post-tax deduction, an employer benefit, a
// bracket tax on the taxable base, a capped contribution on both sides.
// Run with -update after an intended change and review the diff.
func TestPayslipGolden(t *testing.T) {
	e := emp("2024-01-01", "", "0.8",
		salary("75000"),
		hr.EmployeePayComponent{Code: "CAR", Kind: hr.Allowance, Amount: dec("250"), Name: "Car allowance"},
		hr.EmployeePayComponent{Code: "PENSION_PLAN", Kind: hr.PreTaxDeduction, Amount: dec("150")},
		hr.EmployeePayComponent{Code: "UNION", Kind: hr.PostTaxDeduction, Amount: dec("12.50")},
		hr.EmployeePayComponent{Code: "JOBTICKET", Kind: hr.EmployerContrib, Amount: dec("49")})
	cases := map[string]Input{
		"monthly.json": {PeriodStart: "2026-06-01", PeriodEnd: "2026-06-30", PeriodsPerYear: 12, Currency: "EUR",
			Segments: []Segment{{From: "2026-06-01", To: "2026-06-30", Employee: e}},
			Tables:   []RateTable{incomeTax, pension, pensionER, miniJob},
			YTDBase:  map[string]money.Decimal{"PENSION_EE": dec("84000"), "PENSION_ER": dec("84000")}},
		"biweekly.json": {PeriodStart: "2026-06-01", PeriodEnd: "2026-06-14", PeriodsPerYear: 26, Currency: "EUR",
			Segments: []Segment{{From: "2026-06-01", To: "2026-06-14", Employee: e}},
			Tables:   []RateTable{incomeTax, pension, pensionER, miniJob}},
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := Calculate(in)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(r, "", "  ")
			got = append(got, '\n')
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("payslip differs from %s:\n%s", path, got)
			}
			// Whatever the figures, a payslip adds up.
			tot := r.Totals
			if !tot.Gross.Sub(tot.PreTaxDeductions).Sub(tot.Taxes).Sub(tot.EmployeeContributions).Sub(tot.PostTaxDeductions).Equal(tot.Net) {
				t.Fatalf("net does not add up: %+v", tot)
			}
		})
	}
}

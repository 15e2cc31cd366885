package payroll

import (
	"encoding/json"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/hr"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func dec(s string) money.Decimal { return money.MustParse(s) }
func decp(s string) *money.Decimal {
	d := money.MustParse(s)
	return &d
}

func emp(start, end, fte string, comps ...hr.EmployeePayComponent) *hr.Employee {
	e := &hr.Employee{ID: "emp_1", StartDate: start, EndDate: end, Pay: &hr.EmployeePay{Currency: "EUR", Components: comps}}
	if fte != "" {
		e.FTE = decp(fte)
	}
	return e
}

func salary(annual string) hr.EmployeePayComponent {
	return hr.EmployeePayComponent{Code: "SALARY", Kind: hr.Salary, Amount: dec(annual)}
}

var incomeTax = RateTable{Code: "INCOME_TAX", Name: "Income tax", Jurisdiction: "XX", Category: CategoryTax, Party: PartyEmployee, Basis: BasisTaxable,
	Method: MethodBrackets, Brackets: []RateBracket{{From: dec("0"), Rate: dec("0")}, {From: dec("12000"), Rate: dec("0.2")}, {From: dec("48000"), Rate: dec("0.4")}}}

var pension = RateTable{Code: "PENSION_EE", Name: "Pension (employee)", Jurisdiction: "XX", Category: CategoryContribution, Party: PartyEmployee, Basis: BasisGross,
	Method: MethodFlat, Rate: decp("0.093"), YearlyCap: decp("90000")}

var pensionER = RateTable{Code: "PENSION_ER", Name: "Pension (employer)", Jurisdiction: "XX", Category: CategoryContribution, Party: PartyEmployer, Basis: BasisGross,
	Method: MethodFlat, Rate: decp("0.093"), YearlyCap: decp("90000")}

var flatTax = RateTable{Code: "FLAT_TAX", Name: "Flat tax", Category: CategoryTax, Party: PartyEmployee, Basis: BasisTaxable, Method: MethodFlat, Rate: decp("0.2")}

var miniJob = RateTable{Code: "HEALTH", Name: "Health", Category: CategoryContribution, Party: PartyEmployee, Basis: BasisGross, Method: MethodFlat,
	Rate: decp("0.07"), Threshold: decp("556")}

func march(segs ...Segment) Input {
	return Input{PeriodStart: "2026-03-01", PeriodEnd: "2026-03-31", PeriodsPerYear: 12, Currency: "EUR", Segments: segs}
}

func whole(e *hr.Employee) Segment { return Segment{From: "2026-03-01", To: "2026-03-31", Employee: e} }

// TestGrossToNetGolden pins gross to net for the cases payroll must get
// right; each figure is worked out by hand in the comment beside it.
func TestGrossToNetGolden(t *testing.T) {
	type want struct{ gross, taxable, taxes, contributions, postTax, net, employer string }
	cases := []struct {
		name string
		in   Input
		want want
		line map[string]string // code → amount of single lines to check
	}{
		{
			// 60,000 a year: 5,000 a month. Annualized 60,000 taxed
			// 36,000 × 20 % + 12,000 × 40 % = 12,000 a year, 1,000 a month.
			name: "brackets", in: func() Input {
				in := march(whole(emp("2020-01-01", "", "", salary("60000"))))
				in.Tables = []RateTable{incomeTax}
				return in
			}(),
			want: want{"5000", "5000", "1000", "0", "0", "4000", "5000"},
		},
		{
			// 120,000 a year: 10,000 a month; 85,000 of the 90,000 cap used
			// by February's end... so only 5,000 is charged: 465.00 each side.
			name: "yearly cap crossed mid-year", in: func() Input {
				in := march(whole(emp("2020-01-01", "", "", salary("120000"))))
				in.Tables = []RateTable{pension, pensionER}
				in.YTDBase = map[string]money.Decimal{"PENSION_EE": dec("85000"), "PENSION_ER": dec("85000")}
				return in
			}(),
			want: want{"10000", "10000", "0", "465", "0", "9535", "10465"},
			line: map[string]string{"PENSION_EE": "465", "PENSION_ER": "465"},
		},
		{
			// Cap already reached: nothing charged, no line.
			name: "yearly cap reached", in: func() Input {
				in := march(whole(emp("2020-01-01", "", "", salary("120000"))))
				in.Tables = []RateTable{pension}
				in.YTDBase = map[string]money.Decimal{"PENSION_EE": dec("90000")}
				return in
			}(),
			want: want{"10000", "10000", "0", "0", "0", "10000", "10000"},
		},
		{
			// 5,000 less 200 pension before tax: 4,800 taxed at 20 % = 960.
			name: "pre-tax deduction", in: func() Input {
				in := march(whole(emp("2020-01-01", "", "", salary("60000"), hr.EmployeePayComponent{Code: "PENSION_PLAN", Kind: hr.PreTaxDeduction, Amount: dec("200")})))
				in.Tables = []RateTable{flatTax}
				return in
			}(),
			want: want{"5000", "4800", "960", "0", "0", "3840", "5000"},
		},
		{
			// Half time: 60,000 × 0.5 / 12 = 2,500; below no threshold.
			name: "part-time", in: march(whole(emp("2020-01-01", "", "0.5", salary("60000")))),
			want: want{"2500", "2500", "0", "0", "0", "2500", "2500"},
		},
		{
			// Under the 556 threshold: no health contribution at all.
			name: "threshold", in: func() Input {
				in := march(whole(emp("2020-01-01", "", "", salary("6000"))))
				in.Tables = []RateTable{miniJob}
				return in
			}(),
			want: want{"500", "500", "0", "0", "0", "500", "500"},
		},
		{
			// Joins on the 16th: 16 of 31 days of 5,000 = 2,580.645… → 2,580.65.
			name: "mid-period joiner", in: march(Segment{From: "2026-03-16", To: "2026-03-31", Employee: emp("2026-03-16", "", "", salary("60000"))}),
			want: want{"2580.65", "2580.65", "0", "0", "0", "2580.65", "2580.65"},
		},
		{
			// Leaves on the 10th: 10 of 31 days = 1,612.903… → 1,612.90; the
			// 100 allowance likewise: 32.258… → 32.26.
			name: "mid-period leaver", in: march(Segment{From: "2026-03-01", To: "2026-03-10",
				Employee: emp("2020-01-01", "2026-03-10", "", salary("60000"), hr.EmployeePayComponent{Code: "PHONE", Kind: hr.Allowance, Amount: dec("100")})}),
			want: want{"1645.16", "1645.16", "0", "0", "0", "1645.16", "1645.16"},
			line: map[string]string{"SALARY": "1612.9", "PHONE": "32.26"},
		},
		{
			// A raise to 72,000 from the 15th: 5,000 × 14/31 + 6,000 × 17/31
			// = 2,258.0645… + 3,290.3225… = 5,548.387… → 5,548.39.
			name: "raise effective mid-period", in: march(
				Segment{From: "2026-03-01", To: "2026-03-14", Employee: emp("2020-01-01", "", "", salary("60000"))},
				Segment{From: "2026-03-15", To: "2026-03-31", Employee: emp("2020-01-01", "", "", salary("72000"))}),
			want: want{"5548.39", "5548.39", "0", "0", "0", "5548.39", "5548.39"},
		},
		{
			// Hourly: 80 approved hours at 25.50; employer benefit 50 on top.
			name: "hourly with employer benefit", in: func() Input {
				in := march(whole(emp("2020-01-01", "", "", hr.EmployeePayComponent{Code: "HOURLY", Kind: hr.Hourly, Amount: dec("25.50")},
					hr.EmployeePayComponent{Code: "MEAL", Kind: hr.EmployerContrib, Amount: dec("50")})))
				in.Hours = dec("80")
				return in
			}(),
			want: want{"2040", "2040", "0", "0", "0", "2040", "2090"},
		},
		{
			// Two days of unpaid leave: 29 of 31 days of 5,000 = 4,677.419… → 4,677.42.
			name: "unpaid leave", in: func() Input {
				in := march(whole(emp("2020-01-01", "", "", salary("60000"))))
				in.UnpaidLeave = map[string]bool{"2026-03-09": true, "2026-03-10": true}
				return in
			}(),
			want: want{"4677.42", "4677.42", "0", "0", "0", "4677.42", "4677.42"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Calculate(c.in)
			if err != nil {
				t.Fatal(err)
			}
			got := want{r.Totals.Gross.String(), r.Totals.Taxable.String(), r.Totals.Taxes.String(),
				r.Totals.EmployeeContributions.String(), r.Totals.PostTaxDeductions.String(), r.Totals.Net.String(), r.Totals.EmployerCost.String()}
			if got != c.want {
				b, _ := json.MarshalIndent(r, "", " ")
				t.Fatalf("got %+v, want %+v\n%s", got, c.want, b)
			}
			for code, amount := range c.line {
				found := false
				for _, l := range r.Lines {
					if l.Code == code {
						found = true
						if l.Amount.String() != amount {
							t.Errorf("%s = %s, want %s", code, l.Amount, amount)
						}
					}
				}
				if !found {
					t.Errorf("no line %s", code)
				}
			}
		})
	}
}

// TestOffCycleCorrectionPaysTheDifference: March was posted with 5,000
// and 1,000 tax; a 1,000 bonus for March recomputes the period at 6,000
// (annualized 72,000: 36,000 × 20 % + 24,000 × 40 % = 16,800, 1,400 a
// month) and pays only the difference: 1,000 gross, 400 tax, 600 net.
func TestOffCycleCorrectionPaysTheDifference(t *testing.T) {
	base := march(whole(emp("2020-01-01", "", "", salary("60000"))))
	base.Tables = []RateTable{incomeTax}
	posted, err := Calculate(base)
	if err != nil {
		t.Fatal(err)
	}
	corr := base
	corr.Adjustments = []PayAdjustment{{EmployeeID: "emp_1", Code: "BONUS", Kind: LineEarning, Amount: dec("1000")}}
	full, err := Calculate(corr)
	if err != nil {
		t.Fatal(err)
	}
	diff := Difference(full, []Result{posted})
	if diff.Totals.Gross.String() != "1000" || diff.Totals.Taxes.String() != "400" || diff.Totals.Net.String() != "600" {
		t.Fatalf("difference %+v", diff.Totals)
	}
	if len(diff.Lines) != 2 {
		t.Fatalf("lines %+v", diff.Lines)
	}
	if diff.Bases["INCOME_TAX"].String() != "1000" {
		t.Fatalf("bases %+v", diff.Bases)
	}
	// Recomputing what was posted pays nothing.
	if again := Difference(posted, []Result{posted}); len(again.Lines) != 0 || !again.Totals.Net.IsZero() {
		t.Fatalf("a repeat pays %+v", again)
	}
}

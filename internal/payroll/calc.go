package payroll

import (
	"fmt"
	"sort"
	"time"

	"github.com/mainstay-erp/mainstay/internal/hr"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// PayslipLine kinds on a payslip.
const (
	LineEarning          = "earning"
	LinePreTax           = "pre_tax_deduction"
	LineTax              = "tax"
	LineEmployeeContrib  = "employee_contribution"
	LinePostTax          = "post_tax_deduction"
	LineEmployerContrib  = "employer_contribution"
	LineEmployerBenefit  = "employer_benefit"
	intermediatePrecison = 10
)

// Segment is a stretch of a pay period over which one version of the
// employee's record applies (a raise on the 15th makes two).
type Segment struct {
	From, To string // inclusive, within the period and the employment
	Employee *hr.Employee
}

// PayAdjustment is a one-off line of an off-cycle run (a bonus, a
// correction of last month's allowance).
type PayAdjustment struct {
	EmployeeID string        `json:"employee_id"`
	Code       string        `json:"code" pattern:"^[A-Za-z0-9._-]{1,50}$"`
	Kind       string        `json:"kind" enum:"earning,pre_tax_deduction,post_tax_deduction" doc:"earning: taxable pay (a bonus); the deductions reduce pay before or after tax."`
	Amount     money.Decimal `json:"amount" doc:"Positive adds; negative takes back (a correction)."`
	Name       string        `json:"name,omitempty" maxLength:"100"`
}

// Input is everything gross-to-net needs for one employee and period.
type Input struct {
	PeriodStart, PeriodEnd string
	PeriodsPerYear         int
	Currency               money.Currency
	Rounding               money.RoundingMode
	Segments               []Segment
	// Hours are the approved timesheet hours in the period (hourly pay).
	Hours money.Decimal
	// UnpaidLeave are the days of approved unpaid leave in the period:
	// salary and per-period components are not paid for them.
	UnpaidLeave map[string]bool
	// Tables are the rate tables valid on the pay date.
	Tables []RateTable
	// YTDBase is each table's base already charged this calendar year, in
	// periods before this one (for yearly caps).
	YTDBase     map[string]money.Decimal
	Adjustments []PayAdjustment
}

// PayslipLine is one line of a payslip.
type PayslipLine struct {
	Code   string         `json:"code"`
	Kind   string         `json:"kind" enum:"earning,pre_tax_deduction,tax,employee_contribution,post_tax_deduction,employer_contribution,employer_benefit"`
	Name   string         `json:"name,omitempty"`
	Base   *money.Decimal `json:"base,omitempty" doc:"What a tax or contribution was charged on (after caps and thresholds)."`
	Rate   *money.Decimal `json:"rate,omitempty" doc:"The flat rate of a flat table (absent for bracket tables, which annualize the base)."`
	Hours  *money.Decimal `json:"hours,omitempty"`
	Amount money.Decimal  `json:"amount"`
}

// PayTotals sum a payslip's lines.
type PayTotals struct {
	Gross                 money.Decimal `json:"gross" doc:"Earnings."`
	PreTaxDeductions      money.Decimal `json:"pre_tax_deductions"`
	Taxable               money.Decimal `json:"taxable" doc:"Gross less pre-tax deductions."`
	Taxes                 money.Decimal `json:"taxes"`
	EmployeeContributions money.Decimal `json:"employee_contributions"`
	PostTaxDeductions     money.Decimal `json:"post_tax_deductions"`
	Net                   money.Decimal `json:"net" doc:"Paid to the employee: gross less every deduction, tax and employee contribution."`
	EmployerContributions money.Decimal `json:"employer_contributions" doc:"Employer contributions and benefits: a cost on top of gross."`
	EmployerCost          money.Decimal `json:"employer_cost" doc:"Gross plus employer contributions."`
}

// Result is gross to net for one employee and period.
type Result struct {
	Lines  []PayslipLine            `json:"lines"`
	Totals PayTotals                `json:"totals"`
	Bases  map[string]money.Decimal `json:"bases" doc:"Per rate table, the base charged in this period (what counts against yearly caps)."`
	// PaidDays and PeriodDays say how much of the period was paid.
	PaidDays   int `json:"paid_days"`
	PeriodDays int `json:"period_days"`
}

func days(from, to string) int {
	a, _ := time.Parse(time.DateOnly, from)
	b, _ := time.Parse(time.DateOnly, to)
	return int(b.Sub(a).Hours()/24) + 1
}

func (in *Input) paidDays(s Segment) int {
	n := days(s.From, s.To)
	for d := range in.UnpaidLeave {
		if d >= s.From && d <= s.To {
			n--
		}
	}
	if n < 0 {
		return 0
	}
	return n
}

func exact(n money.Decimal, d int64) money.Decimal {
	q, err := n.DivRound(money.FromInt(d), intermediatePrecison, money.HalfEven)
	if err != nil {
		return money.Decimal{}
	}
	return q
}

// Calculate computes gross to net. Every line is rounded to the
// currency's minor unit once, after its segments are summed; the totals
// are sums of rounded lines, so a payslip always adds up.
func Calculate(in Input) (Result, error) {
	if in.PeriodsPerYear <= 0 {
		return Result{}, fmt.Errorf("calculate: periods per year %d", in.PeriodsPerYear)
	}
	res := Result{Bases: map[string]money.Decimal{}, PeriodDays: days(in.PeriodStart, in.PeriodEnd)}
	type acc struct {
		line  PayslipLine
		exact money.Decimal
	}
	var order []string
	lines := map[string]*acc{}
	add := func(kind, code, name string, amount money.Decimal) *acc {
		key := kind + "|" + code
		a, ok := lines[key]
		if !ok {
			a = &acc{line: PayslipLine{Code: code, Kind: kind, Name: name}}
			lines[key] = a
			order = append(order, key)
		}
		a.exact = a.exact.Add(amount)
		return a
	}
	periodDays := int64(res.PeriodDays)
	P := int64(in.PeriodsPerYear)
	for _, s := range in.Segments {
		e := s.Employee
		if e.Pay == nil {
			continue
		}
		paid := int64(in.paidDays(s))
		res.PaidDays += int(paid)
		fte := money.FromInt(1)
		if e.FTE != nil {
			fte = *e.FTE
		}
		for _, c := range e.Pay.Components {
			switch c.Kind {
			case hr.Salary:
				add(LineEarning, c.Code, c.Name, exact(c.Amount.Mul(fte).Mul(money.FromInt(paid)), P*periodDays))
			case hr.Allowance:
				add(LineEarning, c.Code, c.Name, exact(c.Amount.Mul(money.FromInt(paid)), periodDays))
			case hr.PreTaxDeduction:
				add(LinePreTax, c.Code, c.Name, exact(c.Amount.Mul(money.FromInt(paid)), periodDays))
			case hr.PostTaxDeduction:
				add(LinePostTax, c.Code, c.Name, exact(c.Amount.Mul(money.FromInt(paid)), periodDays))
			case hr.EmployerContrib:
				add(LineEmployerBenefit, c.Code, c.Name, exact(c.Amount.Mul(money.FromInt(paid)), periodDays))
			case hr.Hourly:
				// Hours belong to the period, not to a segment: the rate in
				// effect at the end of the period pays them.
			}
		}
	}
	if n := len(in.Segments); n > 0 && in.Segments[n-1].Employee.Pay != nil && in.Hours.Sign() > 0 {
		for _, c := range in.Segments[n-1].Employee.Pay.Components {
			if c.Kind == hr.Hourly {
				a := add(LineEarning, c.Code, c.Name, c.Amount.Mul(in.Hours))
				h := in.Hours
				a.line.Hours = &h
			}
		}
	}
	for _, adj := range in.Adjustments {
		add(adj.Kind, adj.Code, adj.Name, adj.Amount)
	}
	round := func(d money.Decimal) money.Decimal { return money.RoundAmount(d, in.Currency, in.Rounding).Normalize() }
	var gross, preTax money.Decimal
	for _, k := range order {
		a := lines[k]
		a.line.Amount = round(a.exact)
		switch a.line.Kind {
		case LineEarning:
			gross = gross.Add(a.line.Amount)
		case LinePreTax:
			preTax = preTax.Add(a.line.Amount)
		}
	}
	taxable := gross.Sub(preTax)
	// Rate tables in a stable order, so payslips read the same every run.
	tables := append([]RateTable(nil), in.Tables...)
	sort.Slice(tables, func(i, j int) bool { return tables[i].Code < tables[j].Code })
	for _, t := range tables {
		base := gross
		if t.Basis == BasisTaxable {
			base = taxable
		}
		if base.Sign() <= 0 || (t.Threshold != nil && base.Cmp(*t.Threshold) < 0) {
			continue
		}
		if t.YearlyCap != nil {
			room := t.YearlyCap.Sub(in.YTDBase[t.Code])
			if room.Sign() <= 0 {
				continue
			}
			if base.Cmp(room) > 0 {
				base = room
			}
		}
		var amount money.Decimal
		var rate *money.Decimal
		switch t.Method {
		case MethodFlat:
			r := *t.Rate
			rate = &r
			amount = base.Mul(r)
		case MethodBrackets:
			annual := base.Mul(money.FromInt(P))
			var tax money.Decimal
			for i, b := range t.Brackets {
				if annual.Cmp(b.From) <= 0 {
					break
				}
				top := annual
				if i+1 < len(t.Brackets) && top.Cmp(t.Brackets[i+1].From) > 0 {
					top = t.Brackets[i+1].From
				}
				tax = tax.Add(top.Sub(b.From).Mul(b.Rate))
			}
			amount = exact(tax, P)
		}
		kind := LineTax
		switch {
		case t.Party == PartyEmployer:
			kind = LineEmployerContrib
		case t.Category == CategoryContribution:
			kind = LineEmployeeContrib
		}
		b := base.Normalize()
		l := PayslipLine{Code: t.Code, Kind: kind, Name: t.Name, Base: &b, Rate: rate, Amount: round(amount)}
		res.Bases[t.Code] = b
		key := kind + "|" + t.Code
		lines[key] = &acc{line: l}
		order = append(order, key)
	}
	for _, k := range order {
		if l := lines[k].line; !l.Amount.IsZero() || l.Base != nil {
			res.Lines = append(res.Lines, l)
		}
	}
	res.Totals = Sum(res.Lines)
	return res, nil
}

// Sum totals a payslip's lines.
func Sum(lines []PayslipLine) PayTotals {
	var t PayTotals
	for _, l := range lines {
		switch l.Kind {
		case LineEarning:
			t.Gross = t.Gross.Add(l.Amount)
		case LinePreTax:
			t.PreTaxDeductions = t.PreTaxDeductions.Add(l.Amount)
		case LineTax:
			t.Taxes = t.Taxes.Add(l.Amount)
		case LineEmployeeContrib:
			t.EmployeeContributions = t.EmployeeContributions.Add(l.Amount)
		case LinePostTax:
			t.PostTaxDeductions = t.PostTaxDeductions.Add(l.Amount)
		case LineEmployerContrib, LineEmployerBenefit:
			t.EmployerContributions = t.EmployerContributions.Add(l.Amount)
		}
	}
	t.Taxable = t.Gross.Sub(t.PreTaxDeductions)
	t.Net = t.Taxable.Sub(t.Taxes).Sub(t.EmployeeContributions).Sub(t.PostTaxDeductions)
	t.EmployerCost = t.Gross.Add(t.EmployerContributions)
	n := func(d *money.Decimal) { *d = d.Normalize() }
	for _, d := range []*money.Decimal{&t.Gross, &t.PreTaxDeductions, &t.Taxable, &t.Taxes, &t.EmployeeContributions, &t.PostTaxDeductions, &t.Net, &t.EmployerContributions, &t.EmployerCost} {
		n(d)
	}
	return t
}

// Difference is what an off-cycle run pays: the period recomputed less
// what posted runs already paid for it, line by line; bases likewise, so
// yearly caps count each euro once.
func Difference(full Result, posted []Result) Result {
	if len(posted) == 0 {
		return full
	}
	type key struct{ kind, code string }
	out := Result{Bases: map[string]money.Decimal{}, PaidDays: full.PaidDays, PeriodDays: full.PeriodDays}
	idx := map[key]int{}
	for _, l := range full.Lines {
		idx[key{l.Kind, l.Code}] = len(out.Lines)
		out.Lines = append(out.Lines, l)
	}
	for _, p := range posted {
		for _, l := range p.Lines {
			k := key{l.Kind, l.Code}
			i, ok := idx[k]
			if !ok {
				idx[k] = len(out.Lines)
				out.Lines = append(out.Lines, PayslipLine{Code: l.Code, Kind: l.Kind, Name: l.Name, Amount: l.Amount.Neg()})
				continue
			}
			out.Lines[i].Amount = out.Lines[i].Amount.Sub(l.Amount)
		}
	}
	var kept []PayslipLine
	for _, l := range out.Lines {
		l.Amount = l.Amount.Normalize()
		if !l.Amount.IsZero() {
			l.Base, l.Rate = nil, nil
			kept = append(kept, l)
		}
	}
	out.Lines = kept
	for code, b := range full.Bases {
		out.Bases[code] = b
	}
	for _, p := range posted {
		for code, b := range p.Bases {
			out.Bases[code] = out.Bases[code].Sub(b)
		}
	}
	for code, b := range out.Bases {
		if b.IsZero() {
			delete(out.Bases, code)
		} else {
			out.Bases[code] = b.Normalize()
		}
	}
	out.Totals = Sum(out.Lines)
	return out
}

// Package payroll pays employees: pay schedules, tax and contribution
// rules kept as data (rate tables with brackets, yearly caps and
// thresholds, per jurisdiction, versioned by date), payroll runs that
// compute gross to net for everyone in scope (draft), are approved, posted
// to the ledger as one balanced, aggregated entry, and paid with a
// payment file; payslips per employee and run. A posted run is immutable:
// corrections are off-cycle runs, which pay the difference between the
// period recomputed and what was already posted for it.
package payroll

import (
	"context"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// Scopes.
var (
	Read  = auth.Scope("payroll", auth.Read)
	Write = auth.Scope("payroll", auth.Write)
)

// Pay frequencies.
const (
	Monthly  = "monthly"
	Biweekly = "biweekly"
)

// PaySchedule says how often a group of employees is paid.
type PaySchedule struct {
	resource.Meta
	resource.Owned
	Code       string `json:"code" pattern:"^[A-Za-z0-9_.-]{1,30}$"`
	Name       string `json:"name" minLength:"1" maxLength:"100"`
	Frequency  string `json:"frequency" enum:"monthly,biweekly" doc:"monthly: calendar months (12 periods a year); biweekly: 14-day periods from anchor_date (26 a year)."`
	AnchorDate string `json:"anchor_date,omitempty" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"biweekly: the first day of any one period."`
	Active     bool   `json:"active" required:"false"`
}

// PeriodsPerYear is how many pay periods a frequency has in a year.
func PeriodsPerYear(frequency string) int {
	if frequency == Biweekly {
		return 26
	}
	return 12
}

// ScheduleSpec declares /v1/pay-schedules.
var ScheduleSpec = resource.Spec[PaySchedule]{
	Module: "payroll", Plural: "pay-schedules", Singular: "pay_schedule", Title: "Pay schedule", Prefix: "psch", Scoped: true,
	Description: "How often employees are paid. Employees name theirs in pay_schedule_id; a regular payroll run pays one schedule's period.",
	Columns: []resource.Column[PaySchedule]{
		{Field: query.Field{Name: "code", Column: "code", Kind: query.String, Sortable: true}, Unique: true, Value: func(p *PaySchedule) any { return p.Code }},
		{Field: query.Field{Name: "name", Column: "name", Kind: query.String, Sortable: true}, Value: func(p *PaySchedule) any { return p.Name }},
		{Field: query.Field{Name: "frequency", Column: "frequency", Kind: query.Enum, Values: []string{Monthly, Biweekly}}, Value: func(p *PaySchedule) any { return p.Frequency }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(p *PaySchedule) any { return p.Active }},
	},
	Defaults: map[string]any{"active": true},
	Validate: func(_ context.Context, p *PaySchedule) []apperr.FieldError {
		if p.Frequency == Biweekly && !validDate(p.AnchorDate) {
			return []apperr.FieldError{{Pointer: "/anchor_date", Detail: "a biweekly schedule needs the first day of one of its periods"}}
		}
		return nil
	},
}

// Rate table categories, parties, bases and methods.
const (
	CategoryTax          = "tax"
	CategoryContribution = "contribution"
	PartyEmployee        = "employee"
	PartyEmployer        = "employer"
	BasisGross           = "gross"
	BasisTaxable         = "taxable"
	MethodBrackets       = "brackets"
	MethodFlat           = "flat"
)

// RateBracket is one band of a progressive table: income from From (a yearly
// amount) up to the next bracket's From is charged at Rate.
type RateBracket struct {
	From money.Decimal `json:"from" doc:"Yearly income where the band starts."`
	Rate money.Decimal `json:"rate" doc:"The marginal rate as a fraction: \"0.14\" is 14 %."`
}

// RateTable is one tax or contribution rule of a jurisdiction, valid for
// a range of pay dates. The rule is data: brackets, a flat rate, a yearly
// cap on the base, a per-period threshold.
type RateTable struct {
	resource.Meta
	resource.Owned
	Code         string         `json:"code" pattern:"^[A-Za-z0-9._-]{1,50}$" doc:"Stable code of the rule across its versions (DE_INCOME_TAX); payslip lines and posting rules (payroll_component) use it."`
	Name         string         `json:"name" minLength:"1" maxLength:"100"`
	Jurisdiction string         `json:"jurisdiction" pattern:"^[A-Z]{2}(-[A-Z0-9]{1,3})?$" doc:"Applies to employees whose tax_settings.jurisdiction is this."`
	Category     string         `json:"category" enum:"tax,contribution"`
	Party        string         `json:"party" enum:"employee,employer" doc:"employee: withheld from pay; employer: paid on top (an employer cost)."`
	Basis        string         `json:"basis" enum:"gross,taxable" doc:"gross: all earnings; taxable: earnings less pre-tax deductions."`
	Method       string         `json:"method" enum:"brackets,flat" doc:"brackets: the period's base is annualized (× periods per year), charged by the brackets, and divided back; flat: base × rate."`
	Brackets     []RateBracket  `json:"brackets,omitempty" maxItems:"50" doc:"For brackets: ascending From, the first at 0."`
	Rate         *money.Decimal `json:"rate,omitempty" doc:"For flat: the rate as a fraction."`
	YearlyCap    *money.Decimal `json:"yearly_cap,omitempty" doc:"The base is charged only up to this much per calendar year (a contribution ceiling): once the year's base so far reaches it, nothing more is charged."`
	Threshold    *money.Decimal `json:"threshold,omitempty" doc:"A period's base below this is not charged at all."`
	ValidFrom    string         `json:"valid_from" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"First pay date this version applies to."`
	ValidTo      string         `json:"valid_to,omitempty" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"Last pay date it applies to; open when absent."`
	Active       bool           `json:"active" required:"false"`
}

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func validateTable(_ context.Context, t *RateTable) []apperr.FieldError {
	var errs []apperr.FieldError
	bad := func(p, f string, a ...any) {
		errs = append(errs, apperr.FieldError{Pointer: p, Detail: fmt.Sprintf(f, a...)})
	}
	if !validDate(t.ValidFrom) {
		bad("/valid_from", "must be a date YYYY-MM-DD")
	}
	if t.ValidTo != "" && (!validDate(t.ValidTo) || t.ValidTo < t.ValidFrom) {
		bad("/valid_to", "must be a date on or after valid_from")
	}
	rate := func(p string, r money.Decimal) {
		if r.IsNegative() || r.Cmp(money.FromInt(1)) > 0 {
			bad(p, "must be a fraction from 0 to 1")
		}
	}
	switch t.Method {
	case MethodBrackets:
		if len(t.Brackets) == 0 {
			bad("/brackets", "a bracket table needs brackets")
		}
		for i, b := range t.Brackets {
			if i == 0 && !b.From.IsZero() {
				bad("/brackets/0/from", "the first bracket starts at 0")
			}
			if i > 0 && b.From.Cmp(t.Brackets[i-1].From) <= 0 {
				bad(fmt.Sprintf("/brackets/%d/from", i), "must be above the previous bracket's")
			}
			rate(fmt.Sprintf("/brackets/%d/rate", i), b.Rate)
		}
		if t.Rate != nil {
			bad("/rate", "a bracket table has no flat rate")
		}
	case MethodFlat:
		if t.Rate == nil {
			bad("/rate", "a flat table needs a rate")
		} else {
			rate("/rate", *t.Rate)
		}
		if len(t.Brackets) > 0 {
			bad("/brackets", "a flat table has no brackets")
		}
	}
	for _, a := range []struct {
		p string
		v *money.Decimal
	}{{"/yearly_cap", t.YearlyCap}, {"/threshold", t.Threshold}} {
		if a.v != nil && a.v.Sign() <= 0 {
			bad(a.p, "must be greater than 0")
		}
	}
	return errs
}

// checkOverlap refuses two active versions of one rule valid on the same
// day: which one applies would be a guess.
func checkOverlap(ctx context.Context, tx *db.Tx, t *RateTable) error {
	if !t.Active {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, valid_from, valid_to FROM payroll_rate_tables WHERE company_id = $1 AND code = $2 AND id <> $3 AND active`,
		t.CompanyID, t.Code, t.ID)
	if err != nil {
		return fmt.Errorf("check rate table versions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var other, from, to string
		if err := rows.Scan(&other, &from, &to); err != nil {
			return fmt.Errorf("check rate table versions: %w", err)
		}
		if (to == "" || to >= t.ValidFrom) && (t.ValidTo == "" || t.ValidTo >= from) {
			return apperr.New(apperr.Conflict, "Rate table %s (%s, valid %s to %s) is valid on some of the same days; end it (valid_to) first.", other, t.Code, from, openEnd(to)).
				WithFields(apperr.FieldError{Pointer: "/valid_from", Detail: "overlaps " + other})
		}
	}
	return rows.Err()
}

func openEnd(s string) string {
	if s == "" {
		return "open"
	}
	return s
}

// TableSpec declares /v1/payroll-rate-tables.
var TableSpec = resource.Spec[RateTable]{
	Module: "payroll", Plural: "payroll-rate-tables", Singular: "payroll_rate_table", Title: "Payroll rate table", Prefix: "prt", Scoped: true,
	Description: "Tax and contribution rules as data, per jurisdiction and versioned by pay date: a new year's brackets are a new version " +
		"(same code, later valid_from) after ending the old one (valid_to). A run uses the version valid on its pay date.",
	Columns: []resource.Column[RateTable]{
		{Field: query.Field{Name: "code", Column: "code", Kind: query.String, Sortable: true}, Value: func(t *RateTable) any { return t.Code }},
		{Field: query.Field{Name: "jurisdiction", Column: "jurisdiction", Kind: query.String, Sortable: true}, Value: func(t *RateTable) any { return t.Jurisdiction }},
		{Field: query.Field{Name: "category", Column: "category", Kind: query.Enum, Values: []string{CategoryTax, CategoryContribution}}, Value: func(t *RateTable) any { return t.Category }},
		{Field: query.Field{Name: "party", Column: "party", Kind: query.Enum, Values: []string{PartyEmployee, PartyEmployer}}, Value: func(t *RateTable) any { return t.Party }},
		{Field: query.Field{Name: "valid_from", Column: "valid_from", Kind: query.String, Sortable: true}, Value: func(t *RateTable) any { return t.ValidFrom }},
		{Field: query.Field{Name: "valid_to", Column: "valid_to", Kind: query.String, Sortable: true}, Value: func(t *RateTable) any { return t.ValidTo }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(t *RateTable) any { return t.Active }},
	},
	Defaults:    map[string]any{"active": true},
	Validate:    validateTable,
	BeforeWrite: checkOverlap,
}

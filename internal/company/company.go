// Package company holds the company, the root every business record
// belongs to: its legal name, base currency, time zone (which decides
// business dates and period boundaries) and fiscal-year start.
package company

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// Company is a legal entity keeping its own books.
type Company struct {
	resource.Meta
	LegalName       string         `json:"legal_name" minLength:"1" maxLength:"200"`
	BaseCurrency    money.Currency `json:"base_currency" doc:"The currency the books are kept in."`
	TimeZone        string         `json:"time_zone" maxLength:"64" doc:"IANA time zone (e.g. Europe/Berlin); business dates and fiscal periods follow it."`
	FiscalYearStart string         `json:"fiscal_year_start" pattern:"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$" doc:"Month and day the fiscal year starts, MM-DD."`
	RoundingMode    string         `json:"rounding_mode" required:"false" enum:"half_even,half_up" doc:"How amounts are rounded to the currency's minor unit; half_even unless chosen otherwise."`
	TaxRounding     string         `json:"tax_rounding,omitempty" required:"false" enum:"line,document" doc:"Where sales tax is rounded to the currency's minor unit: line (the default) rounds each line's tax and sums the lines; document rounds once per tax category and rate over the sum of the lines' net amounts, then allocates that tax back to the lines (largest remainder) so they still add up. The two can differ by a few minor units on the same cart; see docs/storefront.md."`
	InvoiceOn       string         `json:"invoice_on,omitempty" required:"false" enum:"shipment,confirmation" doc:"When sales orders are invoiced: on each shipment (the default, billing what shipped) or in full on confirmation."`
	InvoiceSeries   string         `json:"invoice_series,omitempty" required:"false" pattern:"^[A-Za-z0-9_-]{1,20}$" doc:"Series invoice numbers are taken from, gaplessly; default INV (credit notes use CN)."`
	// BillPriceTolerancePercent lets a supplier bill's unit price differ
	// from the order's by this much (either way) and still match.
	BillPriceTolerancePercent *money.Decimal `json:"bill_price_tolerance_percent,omitempty" required:"false" doc:"Three-way matching of supplier bills: how far (in percent, either way) a billed unit price may differ from the purchase order's and still match; default 0."`
	Addresses                 []Address      `json:"addresses,omitempty" maxItems:"20"`
	TaxIDs                    []TaxID        `json:"tax_ids,omitempty" maxItems:"20"`
	Active                    bool           `json:"active" required:"false"`

	// A pointer so that companies stored before the field existed read as
	// not set (0 %) rather than as a value someone chose.
	OverReceiptTolerancePercent *money.Decimal `json:"over_receipt_tolerance_percent,omitempty" required:"false" doc:"How much more than ordered goods receipts may bring in, in percent of a purchase order line's quantity (0 to 100, e.g. \"5\"); default 0: never more than ordered."`

	BankAccount                   *CompanyBankAccount `json:"bank_account,omitempty" required:"false" doc:"The company's own account that payment runs pay from (the debtor account of pain.001 bank files)."`
	PaymentRunsNeedSecondApprover bool                `json:"payment_runs_need_second_approver,omitempty" required:"false" doc:"Payment runs must be approved by a different client than the one that proposed them (four-eyes principle)."`
}

// CompanyBankAccount is the company's own bank account.
type CompanyBankAccount struct {
	IBAN   string `json:"iban" pattern:"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"`
	BIC    string `json:"bic,omitempty" pattern:"^[A-Z0-9]{8}([A-Z0-9]{3})?$"`
	Holder string `json:"holder,omitempty" maxLength:"140"`
}

// Address is a postal address.
type Address struct {
	Kind       string `json:"kind,omitempty" enum:"registered,billing,shipping,other"`
	Name       string `json:"name,omitempty" maxLength:"200"`
	Line1      string `json:"line1" minLength:"1" maxLength:"200"`
	Line2      string `json:"line2,omitempty" maxLength:"200"`
	City       string `json:"city" minLength:"1" maxLength:"100"`
	Region     string `json:"region,omitempty" maxLength:"100"`
	PostalCode string `json:"postal_code,omitempty" maxLength:"20"`
	Country    string `json:"country" pattern:"^[A-Z]{2}$" doc:"ISO 3166-1 alpha-2 code."`
}

// TaxID is a tax registration.
type TaxID struct {
	Scheme string `json:"scheme" minLength:"1" maxLength:"20" doc:"e.g. eu_vat, us_ein, gb_vat."`
	Value  string `json:"value" minLength:"1" maxLength:"50"`
}

// Spec declares the companies resource.
var Spec = resource.Spec[Company]{
	Module: "companies", Plural: "companies", Singular: "company", Title: "Company", Prefix: "co",
	Description: "Companies keep their own books; every business record belongs to one.",
	Columns: []resource.Column[Company]{
		{Field: query.Field{Name: "legal_name", Column: "legal_name", Kind: query.String, Sortable: true}, Value: func(c *Company) any { return c.LegalName }},
		{Field: query.Field{Name: "base_currency", Column: "base_currency", Kind: query.String, Sortable: true}, Value: func(c *Company) any { return string(c.BaseCurrency) }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(c *Company) any { return c.Active }},
	},
	Defaults: map[string]any{"active": true, "rounding_mode": "half_even", "tax_rounding": "line", "fiscal_year_start": "01-01", "time_zone": "UTC"},
	Validate: validate,
}

func validate(_ context.Context, c *Company) []apperr.FieldError {
	var errs []apperr.FieldError
	if _, err := money.ParseCurrency(string(c.BaseCurrency)); err != nil {
		errs = append(errs, apperr.FieldError{Pointer: "/base_currency", Detail: err.Error()})
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" || c.TimeZone == "Local" {
		errs = append(errs, apperr.FieldError{Pointer: "/time_zone", Detail: fmt.Sprintf("%q is not an IANA time zone such as Europe/Berlin.", c.TimeZone)})
	}
	if _, err := time.Parse("2006-01-02", "2001-"+c.FiscalYearStart); err != nil {
		errs = append(errs, apperr.FieldError{Pointer: "/fiscal_year_start", Detail: fmt.Sprintf("%q is not a day of the year (MM-DD).", c.FiscalYearStart)})
	}
	if p := c.OverReceiptTolerancePercent; p != nil {
		if p.IsNegative() || p.Cmp(money.FromInt(100)) > 0 {
			errs = append(errs, apperr.FieldError{Pointer: "/over_receipt_tolerance_percent", Detail: "must be from 0 to 100 (percent)"})
		} else if _, err := p.Scaled(money.PriceScale); err != nil {
			errs = append(errs, apperr.FieldError{Pointer: "/over_receipt_tolerance_percent", Detail: "at most 6 decimal places"})
		}
	}
	if p := c.BillPriceTolerancePercent; p != nil {
		if p.IsNegative() || p.Cmp(money.FromInt(100)) > 0 {
			errs = append(errs, apperr.FieldError{Pointer: "/bill_price_tolerance_percent", Detail: "must be from 0 to 100 (percent)"})
		} else if _, err := p.Scaled(money.PriceScale); err != nil {
			errs = append(errs, apperr.FieldError{Pointer: "/bill_price_tolerance_percent", Detail: "at most 6 decimal places"})
		}
	}
	return errs
}

// LocalDate is now's calendar date in a company's time zone (UTC when it
// has none): the default date of every document a company dates.
func LocalDate(zone string, now time.Time) string {
	if loc, err := time.LoadLocation(zone); err == nil && zone != "" {
		return now.In(loc).Format(time.DateOnly)
	}
	return now.UTC().Format(time.DateOnly)
}

// Zone reads a company's time zone ("" when it has none, which LocalDate
// reads as UTC).
func Zone(ctx context.Context, q db.Querier, companyID string) (string, error) {
	var doc string
	if err := q.QueryRowContext(ctx, "SELECT doc FROM companies WHERE id = $1", companyID).Scan(&doc); err != nil {
		return "", fmt.Errorf("company %s: %w", companyID, err)
	}
	var c struct {
		TimeZone string `json:"time_zone"`
	}
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return "", fmt.Errorf("company %s: %w", companyID, err)
	}
	return c.TimeZone, nil
}

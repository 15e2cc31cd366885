// Package fx holds exchange rates: the resource at /v1/exchange-rates and
// the one rule every conversion uses to pick a rate.
//
// A rate is quoted per company, from a foreign currency into the company
// currency: 1 unit of Currency = Rate units of the company currency on
// Date. The rule for a posting dated D is the rate of the latest date on
// or before D; there is no interpolation and no rate from a later day, so
// a posting's figures never change when a newer rate is entered.
package fx

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

// Rate is one day's rate of a foreign currency.
type Rate struct {
	resource.Meta
	resource.Owned
	Currency money.Currency `json:"currency" doc:"The foreign currency (ISO 4217); the company currency is the quote side."`
	Date     string         `json:"date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"The day the rate applies from, YYYY-MM-DD; it holds until a later day's rate."`
	Rate     money.Decimal  `json:"rate" doc:"Units of the company currency for one unit of currency, at most 10 decimal places."`
	Source   string         `json:"source,omitempty" maxLength:"100" doc:"Where the rate came from, e.g. ECB."`
}

// Spec declares the exchange-rates resource.
var Spec = resource.Spec[Rate]{
	Module: "ledger", Plural: "exchange-rates", Singular: "exchange_rate", Title: "Exchange rate", Prefix: "fxr", Scoped: true,
	Description: "Daily exchange rates into the company currency. A posting dated D in a foreign currency uses the rate of the latest date on or before D; without one it is refused (422 naming the line's currency).",
	Columns: []resource.Column[Rate]{
		{Field: query.Field{Name: "currency", Column: "currency", Kind: query.String, Sortable: true}, Value: func(r *Rate) any { return string(r.Currency) }},
		{Field: query.Field{Name: "date", Column: "rate_date", Kind: query.String, Sortable: true}, Value: func(r *Rate) any { return r.Date }},
		{Field: query.Field{Name: "rate", Column: "rate", Kind: query.Decimal, Scale: money.RateScale, Sortable: true}, Value: func(r *Rate) any { return money.Rate(&r.Rate) }},
	},
	Validate: func(_ context.Context, r *Rate) []apperr.FieldError {
		var out []apperr.FieldError
		if !r.Currency.Valid() {
			out = append(out, apperr.FieldError{Pointer: "/currency", Detail: fmt.Sprintf("must be a known ISO 4217 currency code, got %q", r.Currency)})
		}
		if t, err := time.Parse(time.DateOnly, r.Date); err != nil || t.Format(time.DateOnly) != r.Date {
			out = append(out, apperr.FieldError{Pointer: "/date", Detail: fmt.Sprintf("must be a calendar date as YYYY-MM-DD, got %q", r.Date)})
		}
		if r.Rate.Sign() <= 0 {
			out = append(out, apperr.FieldError{Pointer: "/rate", Detail: "must be positive"})
		} else if _, err := r.Rate.Scaled(money.RateScale); err != nil {
			out = append(out, apperr.FieldError{Pointer: "/rate", Detail: fmt.Sprintf("at most %d decimal places and 8 integer digits", money.RateScale)})
		}
		return out
	},
}

// Rates is the registered exchange-rates resource.
type Rates = resource.Resource[Rate, *Rate]

// ErrNoRate is the answer when no rate is on record on or before a date.
var ErrNoRate = errors.New("no exchange rate")

// Lookup returns the rate of currency into the company currency for a
// posting dated date — the rate of the latest day on or before it — and
// that day. It fails with ErrNoRate when there is none.
func Lookup(ctx context.Context, q db.Querier, companyID string, currency money.Currency, date string) (money.Decimal, string, error) {
	var (
		rate money.Decimal
		day  string
	)
	err := q.QueryRowContext(ctx, `SELECT rate, rate_date FROM exchange_rates
WHERE company_id = $1 AND currency = $2 AND rate_date <= $3 ORDER BY rate_date DESC LIMIT 1`,
		companyID, string(currency), date).Scan(money.Rate(&rate), &day)
	if errors.Is(err, sql.ErrNoRows) {
		return money.Decimal{}, "", fmt.Errorf("%w for %s on or before %s", ErrNoRate, currency, date)
	}
	if err != nil {
		return money.Decimal{}, "", fmt.Errorf("exchange rate of %s on %s: %w", currency, date, err)
	}
	return rate, day, nil
}

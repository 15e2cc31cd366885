// Package pricing decides what a cart costs: price lists per currency and
// customer group (with quantity breaks, validity dates and customer-specific
// lists), tax rates per tax category and jurisdiction, and Quote, which
// turns a customer and a cart into exact unit prices, discounts, taxes and
// totals. Sales orders call Quote inside their own transaction, so an
// order is priced by the same rules a storefront showed.
//
// The rules are documented in docs/storefront.md (## Prices, ## Taxes).
package pricing

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// PriceList is a set of prices in one currency for all customers, a
// customer group or one customer, valid between two dates.
type PriceList struct {
	resource.Meta
	resource.Owned
	Code          string           `json:"code" pattern:"^[A-Za-z0-9_.-]{1,30}$" doc:"Short code, unique per company."`
	Name          string           `json:"name" minLength:"1" maxLength:"100"`
	Currency      money.Currency   `json:"currency" doc:"The currency of its prices; a quote uses only lists in its own currency."`
	TaxInclusive  bool             `json:"tax_inclusive" required:"false" doc:"Prices include tax (gross, as shown to consumers); the net is derived from the gross at the line's tax rate. false: prices are net and tax is added."`
	CustomerGroup string           `json:"customer_group,omitempty" maxLength:"50" doc:"Only for customers of this customer_group; empty: for every customer."`
	CustomerID    string           `json:"customer_id,omitempty" doc:"Only for this customer (a customer-specific list); not together with customer_group."`
	ValidFrom     string           `json:"valid_from,omitempty" pattern:"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$" doc:"First day the list applies (YYYY-MM-DD); empty: since always."`
	ValidTo       string           `json:"valid_to,omitempty" pattern:"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$" doc:"Last day the list applies, inclusive; empty: open-ended."`
	Priority      int              `json:"priority" required:"false" minimum:"-1000000" maximum:"1000000" doc:"Among the lists that apply and have a price for the product, the highest priority wins; on a tie a customer-specific list beats a group list, which beats a list for everyone."`
	Prices        []PriceListPrice `json:"prices,omitempty" maxItems:"5000" doc:"One entry per product and min_quantity (quantity breaks)."`
	Active        bool             `json:"active" required:"false"`
}

// PriceListPrice is the price of a product from a quantity on.
type PriceListPrice struct {
	ProductID       string         `json:"product_id"`
	MinQuantity     money.Decimal  `json:"min_quantity" required:"false" doc:"The price applies from this quantity on, in the product's sales unit (quantity breaks); 0 by default. A line takes the entry with the largest min_quantity not above its quantity."`
	UnitPrice       money.Decimal  `json:"unit_price" doc:"Per sales unit, at most 6 decimal places; gross when the list is tax-inclusive."`
	DiscountPercent *money.Decimal `json:"discount_percent,omitempty" doc:"Discount off the line amount, 0 to 100 percent (e.g. \"12.5\")."`
}

// TaxRateRecord is the rate of a tax category in a jurisdiction from a
// date on. (The Go name leaves TaxRate to the look-up function.)
type TaxRateRecord struct {
	resource.Meta
	resource.Owned
	TaxCategoryID string        `json:"tax_category_id" doc:"The products' tax category this rate applies to."`
	Country       string        `json:"country" pattern:"^[A-Z]{2}$" doc:"ISO 3166-1 alpha-2 code, e.g. DE, US."`
	Region        string        `json:"region,omitempty" pattern:"^([A-Z0-9]{1,3})?$" doc:"ISO 3166-2 subdivision code without the country prefix (CA for California, BY for Bavaria); empty: the whole country. A region's rate beats the country's."`
	Rate          money.Decimal `json:"rate" doc:"Percent, 0 to 100, at most 4 decimal places (\"19\", \"7.25\")."`
	ValidFrom     string        `json:"valid_from,omitempty" pattern:"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$" doc:"First day the rate applies; the latest rate starting on or before a date applies on it. Empty: since always."`
	Name          string        `json:"name" minLength:"1" maxLength:"100" doc:"e.g. DE VAT standard."`
	Active        bool          `json:"active" required:"false"`
}

// PriceLists is the registered price-lists resource.
type PriceLists = resource.Resource[PriceList, *PriceList]

// TaxRates is the registered tax-rates resource.
type TaxRates = resource.Resource[TaxRateRecord, *TaxRateRecord]

var hundred = money.FromInt(100)

// PriceListSpec declares the price-lists resource.
var PriceListSpec = resource.Spec[PriceList]{
	Module: "sales", Plural: "price-lists", Singular: "price_list", Title: "Price list", Prefix: "pl", Scoped: true,
	Description: "Prices per currency, for everyone, a customer group or one customer, between two dates, with quantity breaks " +
		"and discounts. POST /v1/prices/quote applies them: among the active lists valid on the date in the quote's currency that " +
		"apply to the customer and have a price for the product at the quantity, the highest priority wins, then a customer-specific " +
		"list, then a group list; within it the entry with the largest min_quantity not above the quantity. See docs/storefront.md.",
	Columns: []resource.Column[PriceList]{
		{Field: query.Field{Name: "code", Column: "code", Kind: query.String, Sortable: true}, Unique: true, Value: func(p *PriceList) any { return p.Code }},
		{Field: query.Field{Name: "name", Column: "name", Kind: query.String, Sortable: true}, Value: func(p *PriceList) any { return p.Name }},
		{Field: query.Field{Name: "currency", Column: "currency", Kind: query.String, Sortable: true}, Value: func(p *PriceList) any { return string(p.Currency) }},
		{Field: query.Field{Name: "tax_inclusive", Column: "tax_inclusive", Kind: query.Bool}, Value: func(p *PriceList) any { return p.TaxInclusive }},
		{Field: query.Field{Name: "customer_group", Column: "customer_group", Kind: query.String, Sortable: true}, Value: func(p *PriceList) any { return p.CustomerGroup }},
		{Field: query.Field{Name: "customer_id", Column: "customer_id", Kind: query.String}, Value: func(p *PriceList) any { return p.CustomerID }},
		{Field: query.Field{Name: "valid_from", Column: "valid_from", Kind: query.String, Sortable: true}, Value: func(p *PriceList) any { return p.ValidFrom }},
		{Field: query.Field{Name: "valid_to", Column: "valid_to", Kind: query.String, Sortable: true}, Value: func(p *PriceList) any { return p.ValidTo }},
		{Field: query.Field{Name: "priority", Column: "priority", Kind: query.Int, Sortable: true}, Value: func(p *PriceList) any { return int64(p.Priority) }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(p *PriceList) any { return p.Active }},
	},
	Refs: []resource.Ref[PriceList]{
		{Pointer: "/customer_id", Target: "customers", IDs: func(p *PriceList) []string { return []string{p.CustomerID} }},
		{Pointer: "/prices", Target: "products", IDs: func(p *PriceList) []string {
			ids := make([]string, len(p.Prices))
			for i, e := range p.Prices {
				ids[i] = e.ProductID
			}
			return ids
		}},
	},
	Defaults:    map[string]any{"active": true, "tax_inclusive": false, "priority": 0},
	Validate:    validatePriceList,
	BeforeWrite: storePrices,
}

// TaxRateSpec declares the tax-rates resource.
var TaxRateSpec = resource.Spec[TaxRateRecord]{
	Module: "sales", Plural: "tax-rates", Singular: "tax_rate", Title: "Tax rate", Prefix: "txr", Scoped: true,
	Description: "Sales tax rates per tax category and jurisdiction (country, optionally region) from a date on. A line is taxed at the " +
		"rate of its product's tax category in the most specific jurisdiction that has one (country and region, else the country), " +
		"the latest valid_from on or before the date. No rate is a configuration error (422), never a silent 0: give a 0 % rate for " +
		"zero-rated goods. One rate per category, country, region and valid_from.",
	Columns: []resource.Column[TaxRateRecord]{
		{Field: query.Field{Name: "tax_category_id", Column: "tax_category_id", Kind: query.String}, Value: func(r *TaxRateRecord) any { return r.TaxCategoryID }},
		{Field: query.Field{Name: "country", Column: "country", Kind: query.String, Sortable: true}, Value: func(r *TaxRateRecord) any { return r.Country }},
		{Field: query.Field{Name: "region", Column: "region", Kind: query.String, Sortable: true}, Value: func(r *TaxRateRecord) any { return r.Region }},
		{Field: query.Field{Name: "rate", Column: "rate", Kind: query.Decimal, Scale: money.PriceScale, Sortable: true}, Value: func(r *TaxRateRecord) any { return money.Price(&r.Rate) }},
		{Field: query.Field{Name: "valid_from", Column: "valid_from", Kind: query.String, Sortable: true}, Value: func(r *TaxRateRecord) any { return r.ValidFrom }},
		{Field: query.Field{Name: "name", Column: "name", Kind: query.String, Sortable: true}, Value: func(r *TaxRateRecord) any { return r.Name }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(r *TaxRateRecord) any { return r.Active }},
	},
	Refs: []resource.Ref[TaxRateRecord]{
		{Pointer: "/tax_category_id", Target: "tax-categories", IDs: func(r *TaxRateRecord) []string { return []string{r.TaxCategoryID} }},
	},
	Defaults:    map[string]any{"active": true},
	Validate:    validateTaxRate,
	BeforeWrite: checkTaxRate,
}

// Wire connects the price lists to their price table: deleting a list
// deletes its copied prices in the same transaction.
func Wire(lists *PriceLists) {
	lists.BeforeDelete(func(ctx context.Context, tx *db.Tx, id string) error {
		return deletePrices(ctx, tx, id)
	})
}

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func validatePriceList(_ context.Context, p *PriceList) []apperr.FieldError {
	var errs []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if _, err := money.ParseCurrency(string(p.Currency)); err != nil {
		add("/currency", "%v", err)
	}
	// A list for one customer and a group at once would apply to nobody
	// when the customer leaves the group, silently.
	if p.CustomerID != "" && p.CustomerGroup != "" {
		add("/customer_group", "give customer_id or customer_group, not both")
	}
	if p.ValidFrom != "" && !validDate(p.ValidFrom) {
		add("/valid_from", "%q is not a date (YYYY-MM-DD)", p.ValidFrom)
	}
	if p.ValidTo != "" && !validDate(p.ValidTo) {
		add("/valid_to", "%q is not a date (YYYY-MM-DD)", p.ValidTo)
	}
	if p.ValidFrom != "" && p.ValidTo != "" && p.ValidTo < p.ValidFrom {
		add("/valid_to", "must not be before valid_from %s", p.ValidFrom)
	}
	type key struct{ product, qty string }
	seen := map[key]int{}
	for i, e := range p.Prices {
		at := fmt.Sprintf("/prices/%d/", i)
		if e.MinQuantity.IsNegative() {
			add(at+"min_quantity", "must not be negative")
		} else if _, err := e.MinQuantity.Scaled(money.QuantityScale); err != nil {
			add(at+"min_quantity", "at most %d decimal places and 12 integer digits", money.QuantityScale)
		}
		if e.UnitPrice.IsNegative() {
			add(at+"unit_price", "must not be negative")
		} else if _, err := e.UnitPrice.Scaled(money.PriceScale); err != nil {
			add(at+"unit_price", "at most %d decimal places and 12 integer digits", money.PriceScale)
		}
		if d := e.DiscountPercent; d != nil {
			if d.IsNegative() || d.Cmp(hundred) > 0 {
				add(at+"discount_percent", "must be from 0 to 100")
			} else if _, err := d.Scaled(money.PriceScale); err != nil {
				add(at+"discount_percent", "at most %d decimal places", money.PriceScale)
			}
		}
		k := key{e.ProductID, e.MinQuantity.Normalize().String()}
		if j, dup := seen[k]; dup {
			add(at+"min_quantity", "product %s already has a price from quantity %s at /prices/%d", e.ProductID, k.qty, j)
			continue
		}
		seen[k] = i
	}
	return errs
}

// storePrices copies the list's prices to price_list_prices, which quotes
// query. It runs in the list's write transaction, after the engine has
// checked that the products belong to the company.
func storePrices(ctx context.Context, tx *db.Tx, p *PriceList) error {
	if err := deletePrices(ctx, tx, p.ID); err != nil {
		return err
	}
	for _, e := range p.Prices {
		if err := insertPrice(ctx, tx, p.ID, p.CompanyID, e); err != nil {
			return err
		}
	}
	return nil
}

func validateTaxRate(_ context.Context, r *TaxRateRecord) []apperr.FieldError {
	var errs []apperr.FieldError
	if r.Rate.IsNegative() || r.Rate.Cmp(hundred) > 0 {
		errs = append(errs, apperr.FieldError{Pointer: "/rate", Detail: "must be from 0 to 100 (percent)"})
	} else if r.Rate.Normalize().Scale() > 4 {
		errs = append(errs, apperr.FieldError{Pointer: "/rate", Detail: "at most 4 decimal places"})
	}
	if r.ValidFrom != "" && !validDate(r.ValidFrom) {
		errs = append(errs, apperr.FieldError{Pointer: "/valid_from", Detail: fmt.Sprintf("%q is not a date (YYYY-MM-DD)", r.ValidFrom)})
	}
	return errs
}

// checkTaxRate refuses a second rate for the same category, jurisdiction
// and start date: which one applied would be a guess.
func checkTaxRate(ctx context.Context, tx *db.Tx, r *TaxRateRecord) error {
	other, err := duplicateRate(ctx, tx, r)
	if err != nil {
		return fmt.Errorf("tax rate %s: %w", r.ID, err)
	}
	if other == "" {
		return nil
	}
	where := r.Country
	if r.Region != "" {
		where += "-" + r.Region
	}
	from := r.ValidFrom
	if from == "" {
		from = "(always)"
	}
	return apperr.New(apperr.Conflict, "Tax rate %s already sets tax category %s in %s from %s.", other, r.TaxCategoryID, where, from).
		WithFields(apperr.FieldError{Pointer: "/valid_from", Detail: "the category already has a rate in " + strings.TrimSpace(where) + " from this date: " + other})
}

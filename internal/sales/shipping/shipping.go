// Package shipping holds carriers with their rate tables and quotes what
// shipping a cart to a destination costs. A carrier's zones cover
// countries, optionally narrowed to postal-code prefixes; each zone prices
// weight bands and may ship free above a goods value. The sales order
// taxes the shipping line like the carrier's tax category: a quote is net.
package shipping

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// TrackingPlaceholder is replaced by a shipment's tracking number in a
// carrier's tracking_url_template.
const TrackingPlaceholder = "{tracking_number}"

// Carrier ships goods at the prices of its rate table.
type Carrier struct {
	resource.Meta
	resource.Owned
	Code                string         `json:"code" pattern:"^[A-Za-z0-9._-]{1,30}$" doc:"Short code, unique per company, e.g. DHL-DE."`
	Name                string         `json:"name" minLength:"1" maxLength:"200"`
	Currency            money.Currency `json:"currency" doc:"The currency of every amount in the rate table; quotes in another currency leave the carrier out."`
	TaxCategoryID       string         `json:"tax_category_id,omitempty" doc:"Shipping is taxed like this tax category; the sales order does the taxing, quotes are net."`
	TrackingURLTemplate string         `json:"tracking_url_template,omitempty" maxLength:"1000" doc:"An http(s) URL containing {tracking_number}, e.g. https://track.example/?n={tracking_number}."`
	Zones               []CarrierZone  `json:"zones" minItems:"1" maxItems:"200" doc:"Where the carrier ships and at what price. A destination is priced by the zone listing its country with the longest matching postal prefix (a zone without prefixes matches the whole country with length 0); the first listed wins a tie."`
	Active              bool           `json:"active" required:"false"`
}

// CarrierZone is a set of destinations priced alike.
type CarrierZone struct {
	Name           string         `json:"name" minLength:"1" maxLength:"100" doc:"Unique within the carrier; quotes name it."`
	Countries      []string       `json:"countries" minItems:"1" maxItems:"300" doc:"ISO 3166-1 alpha-2 codes in upper case, e.g. [\"DE\", \"AT\"]."`
	PostalPrefixes []string       `json:"postal_prefixes,omitempty" maxItems:"1000" doc:"Postal-code prefixes (letters upper case, no spaces), e.g. [\"80\", \"81\"]; absent or empty: the whole countries. A destination's postal code is compared with spaces and hyphens removed and letters upper-cased."`
	Rates          []CarrierRate  `json:"rates" minItems:"1" maxItems:"100" doc:"Weight bands with strictly increasing max_weight_kg; a cart takes the first band whose max_weight_kg is at or above its weight. A cart heavier than the last band cannot ship with this carrier."`
	FreeAbove      *money.Decimal `json:"free_above,omitempty" doc:"Goods value (in the carrier's currency) at or above which shipping to this zone is free."`
}

// CarrierRate is one weight band of a zone.
type CarrierRate struct {
	MaxWeightKg money.Decimal `json:"max_weight_kg" doc:"The band's upper bound in kilograms, inclusive; > 0, at most 6 decimal places."`
	Amount      money.Decimal `json:"amount" doc:"Net price of shipping in the band, ≥ 0, at most the currency's minor unit places."`
}

// Carriers is the registered resource.
type Carriers = resource.Resource[Carrier, *Carrier]

// Spec declares the carriers resource.
var Spec = resource.Spec[Carrier]{
	Module: "sales", Plural: "carriers", Singular: "carrier", Title: "Carrier", Prefix: "car", Scoped: true,
	Description: "Carriers and their rate tables (zones by country and postal prefix, weight bands, free shipping above a goods value). " +
		"POST /v1/shipping/quote prices a cart with them.",
	Columns: []resource.Column[Carrier]{
		{Field: query.Field{Name: "code", Column: "code", Kind: query.String, Sortable: true}, Unique: true, Value: func(c *Carrier) any { return c.Code }},
		{Field: query.Field{Name: "name", Column: "name", Kind: query.String, Sortable: true}, Value: func(c *Carrier) any { return c.Name }},
		{Field: query.Field{Name: "currency", Column: "currency", Kind: query.String, Sortable: true}, Value: func(c *Carrier) any { return string(c.Currency) }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(c *Carrier) any { return c.Active }},
	},
	Refs: []resource.Ref[Carrier]{
		{Pointer: "/tax_category_id", Target: "tax-categories", IDs: func(c *Carrier) []string { return []string{c.TaxCategoryID} }},
	},
	Defaults: map[string]any{"active": true},
	Validate: validateCarrier,
}

var (
	countryCode  = regexp.MustCompile(`^[A-Z]{2}$`)
	postalPrefix = regexp.MustCompile(`^[A-Z0-9]{1,10}$`)
)

// validateCarrier checks the rate table. Amounts may not carry more places
// than the currency's minor unit, so a quote never has to round a price
// the company wrote.
func validateCarrier(_ context.Context, c *Carrier) []apperr.FieldError {
	var errs []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if _, err := money.ParseCurrency(string(c.Currency)); err != nil {
		add("/currency", "%v", err)
	}
	if t := c.TrackingURLTemplate; t != "" {
		u, err := url.Parse(strings.ReplaceAll(t, TrackingPlaceholder, "x"))
		switch {
		case !strings.Contains(t, TrackingPlaceholder):
			add("/tracking_url_template", "must contain %s", TrackingPlaceholder)
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			add("/tracking_url_template", "must be an absolute http or https URL")
		}
	}
	places := c.Currency.MinorUnits()
	amount := func(ptr string, d money.Decimal) {
		switch {
		case d.IsNegative():
			add(ptr, "must not be negative")
		case d.Scale() > places:
			add(ptr, "at most %d decimal places in %s", places, c.Currency)
		default:
			if _, err := d.Scaled(money.AmountScale); err != nil {
				add(ptr, "too large")
			}
		}
	}
	names := map[string]int{}
	for i, z := range c.Zones {
		zp := fmt.Sprintf("/zones/%d", i)
		if j, dup := names[z.Name]; dup {
			add(zp+"/name", "zone %d has the same name", j)
		} else {
			names[z.Name] = i
		}
		seen := map[string]bool{}
		for j, cc := range z.Countries {
			switch {
			case !countryCode.MatchString(cc):
				add(fmt.Sprintf("%s/countries/%d", zp, j), "%q is not an ISO 3166-1 alpha-2 code in upper case, like \"DE\"", cc)
			case seen[cc]:
				add(fmt.Sprintf("%s/countries/%d", zp, j), "%s is listed twice", cc)
			}
			seen[cc] = true
		}
		seen = map[string]bool{}
		for j, p := range z.PostalPrefixes {
			switch {
			case !postalPrefix.MatchString(p):
				add(fmt.Sprintf("%s/postal_prefixes/%d", zp, j), "%q is not a postal prefix: 1 to 10 digits or upper-case letters, without spaces", p)
			case seen[p]:
				add(fmt.Sprintf("%s/postal_prefixes/%d", zp, j), "%s is listed twice", p)
			}
			seen[p] = true
		}
		for j, r := range z.Rates {
			rp := fmt.Sprintf("%s/rates/%d", zp, j)
			if r.MaxWeightKg.Sign() <= 0 {
				add(rp+"/max_weight_kg", "must be greater than 0")
			} else if _, err := r.MaxWeightKg.Scaled(money.QuantityScale); err != nil {
				add(rp+"/max_weight_kg", "at most %d decimal places and 13 integer digits", money.QuantityScale)
			}
			if j > 0 && r.MaxWeightKg.Cmp(z.Rates[j-1].MaxWeightKg) <= 0 {
				add(rp+"/max_weight_kg", "must be greater than the previous band's %s: bands are listed lightest first", z.Rates[j-1].MaxWeightKg)
			}
			amount(rp+"/amount", r.Amount)
		}
		if z.FreeAbove != nil {
			amount(zp+"/free_above", *z.FreeAbove)
		}
	}
	return errs
}

// normalizePostal is how a destination postal code is compared with the
// prefixes: "sw1a 1aa" and "SW1A-1AA" both read SW1A1AA.
func normalizePostal(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

// matchZone returns the index of the zone pricing a destination, or -1:
// the zone listing the country with the longest prefix of the postal code
// (a zone without prefixes matches with length 0), the first listed on a
// tie, so a company can declare a whole-country fallback after its
// regional zones or before them with the same result.
func matchZone(zones []CarrierZone, country, postal string) int {
	postal = normalizePostal(postal)
	best, bestLen := -1, -1
	for i, z := range zones {
		if !slices.Contains(z.Countries, country) {
			continue
		}
		n := -1
		if len(z.PostalPrefixes) == 0 {
			n = 0
		}
		for _, p := range z.PostalPrefixes {
			if len(p) > n && strings.HasPrefix(postal, p) {
				n = len(p)
			}
		}
		if n > bestLen {
			best, bestLen = i, n
		}
	}
	return best
}

// band returns the index of the first band whose upper bound is at or
// above the weight, or -1 when the weight exceeds every band.
func band(rates []CarrierRate, weightKg money.Decimal) int {
	for i, r := range rates {
		if r.MaxWeightKg.Cmp(weightKg) >= 0 {
			return i
		}
	}
	return -1
}

package pricing_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/app"
	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
	"github.com/mainstay-erp/mainstay/internal/sales/pricing"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func anyETag(string) error { return nil }

// fixture is a German company (registered in DE, EUR) with products, tax
// rates, customers and price lists, driven through the services.
type fixture struct {
	ctx      context.Context
	db       *db.DB
	svc      app.Services
	co       string
	std, red string            // tax categories
	prod     map[string]string // sku → id
	cust     map[string]string // name → id
	lists    map[string]string // id → code
	listIDs  map[string]string // code → id
}

func newFixture(t *testing.T, e db.Engine) *fixture {
	t.Helper()
	s := apitest.Start(t, e)
	f := &fixture{
		ctx: auth.WithPrincipal(context.Background(), auth.Principal{ClientID: "test", Scopes: auth.AllScopes()}),
		db:  s.App.DB(), svc: s.App.Services(),
		prod: map[string]string{}, cust: map[string]string{}, lists: map[string]string{}, listIDs: map[string]string{},
	}
	f.co = f.company(t, "Preise GmbH", true)
	unit := create(t, f, f.svc.Units.Create, map[string]any{"code": "ea", "name": "Each"})
	f.std = create(t, f, f.svc.TaxCategories.Create, map[string]any{"code": "standard", "name": "Standard"})
	f.red = create(t, f, f.svc.TaxCategories.Create, map[string]any{"code": "reduced", "name": "Reduced"})
	for _, p := range []struct{ sku, price, cur, cat string }{
		{"CHEAP", "0.99", "EUR", f.std}, {"MUG", "9.99", "EUR", f.std}, {"BOOK", "25.00", "EUR", f.red},
		{"PEN", "1.50", "EUR", f.std}, {"NOTAX", "3.00", "EUR", ""}, {"OLD", "1.00", "EUR", f.std},
	} {
		body := map[string]any{"sku": p.sku, "name": "Thing " + p.sku, "stock_unit_id": unit, "list_price": p.price, "currency": p.cur}
		if p.cat != "" {
			body["tax_category_id"] = p.cat
		}
		if p.sku == "OLD" {
			body["active"] = false
		}
		f.prod[p.sku] = create(t, f, f.svc.Products.Create, body)
	}
	for _, r := range []map[string]any{
		{"tax_category_id": f.std, "country": "DE", "rate": "19", "name": "DE VAT standard"},
		{"tax_category_id": f.std, "country": "DE", "rate": "16", "valid_from": "2020-07-01", "name": "DE VAT standard (COVID)"},
		{"tax_category_id": f.std, "country": "DE", "rate": "19", "valid_from": "2021-01-01", "name": "DE VAT standard"},
		{"tax_category_id": f.red, "country": "DE", "rate": "7", "name": "DE VAT reduced"},
		{"tax_category_id": f.std, "country": "US", "region": "CA", "rate": "7.25", "name": "California sales tax"},
		{"tax_category_id": f.std, "country": "AT", "rate": "20", "name": "AT USt"},
		{"tax_category_id": f.std, "country": "AT", "region": "9", "rate": "0", "active": false, "name": "Inactive"},
	} {
		create(t, f, f.svc.TaxRates.Create, r)
	}
	for _, c := range []map[string]any{
		{"name": "retail", "currency": "EUR", "customer_group": "retail"},
		{"name": "wholesale", "currency": "EUR", "customer_group": "wholesale"},
		{"name": "vip", "currency": "EUR", "customer_group": "wholesale"},
		{"name": "consumer", "currency": "EUR", "customer_group": "consumer"},
		{"name": "exempt", "currency": "EUR", "customer_group": "consumer", "tax_exempt": true, "tax_exemption_reason": "Diplomatic mission"},
		{"name": "usbuyer", "currency": "USD"},
	} {
		f.cust[c["name"].(string)] = create(t, f, f.svc.Customers.Create, c)
	}
	prices := func(entries ...any) []any { return entries }
	price := func(sku, minQty, unit string, extra ...string) map[string]any {
		e := map[string]any{"product_id": f.prod[sku], "unit_price": unit}
		if minQty != "" {
			e["min_quantity"] = minQty
		}
		if len(extra) > 0 {
			e["discount_percent"] = extra[0]
		}
		return e
	}
	for _, l := range []map[string]any{
		{"code": "BASE", "name": "Base", "currency": "EUR", "prices": prices(
			price("CHEAP", "", "0.99"), price("MUG", "", "8.00"), price("MUG", "10", "7.50"), price("MUG", "100", "7"),
			price("BOOK", "", "20.00", "10"))},
		{"code": "WHOLESALE", "name": "Wholesale", "currency": "EUR", "customer_group": "wholesale", "prices": prices(price("MUG", "0", "6.00"))},
		{"code": "VIP", "name": "VIP", "currency": "EUR", "customer_id": f.cust["vip"], "prices": prices(price("MUG", "", "5.00"))},
		{"code": "PROMO", "name": "December promotion", "currency": "EUR", "priority": 5, "valid_from": "2024-12-01", "valid_to": "2024-12-31",
			"prices": prices(price("MUG", "", "4.00"))},
		{"code": "GROSS", "name": "Consumer shop", "currency": "EUR", "tax_inclusive": true, "customer_group": "consumer",
			"prices": prices(price("MUG", "", "9.99"), price("CHEAP", "", "0.99"))},
		{"code": "USD", "name": "Dollar", "currency": "USD", "prices": prices(price("MUG", "", "10.00"))},
		{"code": "OFF", "name": "Archived", "currency": "EUR", "priority": 100, "active": false, "prices": prices(price("MUG", "", "0.01"))},
	} {
		id := create(t, f, f.svc.PriceLists.Create, l)
		f.lists[id], f.listIDs[l["code"].(string)] = l["code"].(string), id
	}
	return f
}

func (f *fixture) company(t *testing.T, name string, withAddress bool) string {
	t.Helper()
	body := map[string]any{"legal_name": name, "base_currency": "EUR"}
	if withAddress {
		body["addresses"] = []any{map[string]any{"kind": "registered", "line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}}
	}
	co, err := f.svc.Companies.Create(f.ctx, "", body)
	if err != nil {
		t.Fatal(err)
	}
	return co.Value.ID
}

// create calls a service's Create in the fixture's company and returns
// the new id.
func create[T any](t *testing.T, f *fixture, fn func(context.Context, string, map[string]any) (resource.Versioned[T], error), body map[string]any) string {
	t.Helper()
	v, err := fn(f.ctx, f.co, body)
	if err != nil {
		t.Fatalf("create %v: %v", body, err)
	}
	return resource.ID(v.Value)
}

func (f *fixture) settings(t *testing.T, patch map[string]any) {
	t.Helper()
	if _, err := f.svc.Companies.Patch(f.ctx, f.co, patch, anyETag); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) quote(in pricing.QuoteInput) (pricing.Quotation, error) {
	if in.CompanyID == "" {
		in.CompanyID = f.co
	}
	return pricing.Quote(f.ctx, f.db, in)
}

func (f *fixture) cart(lines ...string) []pricing.CartLine {
	out := make([]pricing.CartLine, 0, len(lines)/2)
	for i := 0; i+1 < len(lines); i += 2 {
		out = append(out, pricing.CartLine{SKU: lines[i], Quantity: money.MustParse(lines[i+1])})
	}
	return out
}

// render writes a quote as one line per cart line and a total, so golden
// cases compare every number as the API prints it.
func (f *fixture) render(q pricing.Quotation) []string {
	var out []string
	for _, l := range q.Lines {
		s := fmt.Sprintf("%s %s x %s", l.SKU, l.Quantity, l.UnitPrice)
		if !l.Discount.IsZero() {
			s += fmt.Sprintf(" -%s (%s%%)", l.Discount, l.DiscountPercent)
		}
		list := "list_price"
		if l.PriceListID != "" {
			list = f.lists[l.PriceListID]
		}
		s += fmt.Sprintf(" = %s + %s (%s%%) = %s %s", l.NetAmount, l.TaxAmount, l.TaxRate, l.GrossAmount, list)
		if l.TaxInclusive {
			s += " incl"
		}
		out = append(out, s)
	}
	total := fmt.Sprintf("%s %s + %s = %s %s", q.Currency, q.NetTotal, q.TaxTotal, q.GrossTotal, q.Rounding)
	if q.TaxInclusive {
		total += " incl"
	}
	if q.Exempt {
		total += " exempt"
	}
	return append(out, total)
}

func TestQuoteGolden(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			day := "2024-06-15"
			for _, c := range []struct {
				name     string
				rounding string // the company's tax_rounding
				mode     string // the company's rounding_mode
				in       pricing.QuoteInput
				want     []string
			}{
				{
					name: "line rounding: three lines of 0.99 at 19 %", rounding: "line",
					in: pricing.QuoteInput{CustomerID: f.cust["retail"], Date: day, Lines: f.cart("CHEAP", "1", "CHEAP", "1", "CHEAP", "1")},
					want: []string{
						"CHEAP 1 x 0.99 = 0.99 + 0.19 (19%) = 1.18 BASE",
						"CHEAP 1 x 0.99 = 0.99 + 0.19 (19%) = 1.18 BASE",
						"CHEAP 1 x 0.99 = 0.99 + 0.19 (19%) = 1.18 BASE",
						"EUR 2.97 + 0.57 = 3.54 line",
					},
				},
				{
					name: "document rounding: the same cart, 2.97 × 19 % = 0.5643 → 0.56, allocated 0.19 0.19 0.18", rounding: "document",
					in: pricing.QuoteInput{CustomerID: f.cust["retail"], Date: day, Lines: f.cart("CHEAP", "1", "CHEAP", "1", "CHEAP", "1")},
					want: []string{
						"CHEAP 1 x 0.99 = 0.99 + 0.19 (19%) = 1.18 BASE",
						"CHEAP 1 x 0.99 = 0.99 + 0.19 (19%) = 1.18 BASE",
						"CHEAP 1 x 0.99 = 0.99 + 0.18 (19%) = 1.17 BASE",
						"EUR 2.97 + 0.56 = 3.53 document",
					},
				},
				{
					name: "tax-inclusive: 9.99 gross at 19 % is 8.39 net + 1.60 tax", rounding: "line",
					in: pricing.QuoteInput{CustomerID: f.cust["consumer"], Date: day, Lines: f.cart("MUG", "1")},
					want: []string{
						"MUG 1 x 9.99 = 8.39 + 1.60 (19%) = 9.99 GROSS incl",
						"EUR 8.39 + 1.60 = 9.99 line incl",
					},
				},
				{
					name: "tax-inclusive, line rounding: 3 × 0.99 gross", rounding: "line",
					in: pricing.QuoteInput{CustomerID: f.cust["consumer"], Date: day, Lines: f.cart("CHEAP", "1", "CHEAP", "1", "CHEAP", "1")},
					want: []string{
						"CHEAP 1 x 0.99 = 0.83 + 0.16 (19%) = 0.99 GROSS incl",
						"CHEAP 1 x 0.99 = 0.83 + 0.16 (19%) = 0.99 GROSS incl",
						"CHEAP 1 x 0.99 = 0.83 + 0.16 (19%) = 0.99 GROSS incl",
						"EUR 2.49 + 0.48 = 2.97 line incl",
					},
				},
				{
					name: "tax-inclusive, document rounding: 2.97 / 1.19 = 2.4958 → 2.50 net, 0.47 tax", rounding: "document",
					in: pricing.QuoteInput{CustomerID: f.cust["consumer"], Date: day, Lines: f.cart("CHEAP", "1", "CHEAP", "1", "CHEAP", "1")},
					want: []string{
						"CHEAP 1 x 0.99 = 0.83 + 0.16 (19%) = 0.99 GROSS incl",
						"CHEAP 1 x 0.99 = 0.83 + 0.16 (19%) = 0.99 GROSS incl",
						"CHEAP 1 x 0.99 = 0.84 + 0.15 (19%) = 0.99 GROSS incl",
						"EUR 2.50 + 0.47 = 2.97 document incl",
					},
				},
				{
					name: "quantity breaks: 9, 10 and 250 mugs", rounding: "line",
					in: pricing.QuoteInput{CustomerID: f.cust["retail"], Date: day, Lines: f.cart("MUG", "9", "MUG", "10", "MUG", "250")},
					want: []string{
						"MUG 9 x 8.00 = 72.00 + 13.68 (19%) = 85.68 BASE",
						"MUG 10 x 7.50 = 75.00 + 14.25 (19%) = 89.25 BASE",
						"MUG 250 x 7.00 = 1750.00 + 332.50 (19%) = 2082.50 BASE",
						"EUR 1897.00 + 360.43 = 2257.43 line",
					},
				},
				{
					name: "a fractional quantity below a break", rounding: "line",
					in: pricing.QuoteInput{Date: day, Lines: f.cart("MUG", "9.999")},
					want: []string{
						"MUG 9.999 x 8.00 = 79.99 + 15.20 (19%) = 95.19 BASE",
						"EUR 79.99 + 15.20 = 95.19 line",
					},
				},
				{
					name: "group list beats the list for everyone", rounding: "line",
					in:   pricing.QuoteInput{CustomerID: f.cust["wholesale"], Date: day, Lines: f.cart("MUG", "1")},
					want: []string{"MUG 1 x 6.00 = 6.00 + 1.14 (19%) = 7.14 WHOLESALE", "EUR 6.00 + 1.14 = 7.14 line"},
				},
				{
					name: "customer-specific list beats the customer's group list", rounding: "line",
					in:   pricing.QuoteInput{CustomerID: f.cust["vip"], Date: day, Lines: f.cart("MUG", "1")},
					want: []string{"MUG 1 x 5.00 = 5.00 + 0.95 (19%) = 5.95 VIP", "EUR 5.00 + 0.95 = 5.95 line"},
				},
				{
					name: "without a customer only lists for everyone apply", rounding: "line",
					in:   pricing.QuoteInput{Date: day, Lines: f.cart("MUG", "1")},
					want: []string{"MUG 1 x 8.00 = 8.00 + 1.52 (19%) = 9.52 BASE", "EUR 8.00 + 1.52 = 9.52 line"},
				},
				{
					name: "validity: a higher-priority promotion on its last day beats even a customer list", rounding: "line",
					in:   pricing.QuoteInput{CustomerID: f.cust["vip"], Date: "2024-12-31", Lines: f.cart("MUG", "1")},
					want: []string{"MUG 1 x 4.00 = 4.00 + 0.76 (19%) = 4.76 PROMO", "EUR 4.00 + 0.76 = 4.76 line"},
				},
				{
					name: "validity: the day after the promotion", rounding: "line",
					in:   pricing.QuoteInput{CustomerID: f.cust["retail"], Date: "2025-01-01", Lines: f.cart("MUG", "1")},
					want: []string{"MUG 1 x 8.00 = 8.00 + 1.52 (19%) = 9.52 BASE", "EUR 8.00 + 1.52 = 9.52 line"},
				},
				{
					name: "tax rate history: 16 % in the second half of 2020", rounding: "line",
					in:   pricing.QuoteInput{Date: "2020-08-01", Lines: f.cart("MUG", "1")},
					want: []string{"MUG 1 x 8.00 = 8.00 + 1.28 (16%) = 9.28 BASE", "EUR 8.00 + 1.28 = 9.28 line"},
				},
				{
					name: "discount and the reduced rate", rounding: "line",
					in:   pricing.QuoteInput{Date: day, Lines: f.cart("BOOK", "3")},
					want: []string{"BOOK 3 x 20.00 -6.00 (10%) = 54.00 + 3.78 (7%) = 57.78 BASE", "EUR 54.00 + 3.78 = 57.78 line"},
				},
				{
					name: "document rounding sums per category and rate", rounding: "document",
					in: pricing.QuoteInput{Date: day, Lines: f.cart("BOOK", "1", "CHEAP", "3", "PEN", "1")},
					want: []string{
						"BOOK 1 x 20.00 -2.00 (10%) = 18.00 + 1.26 (7%) = 19.26 BASE",
						// 0.5643 and 0.285 round down to 0.56 and 0.28; the
						// cent left over goes to the larger remainder.
						"CHEAP 3 x 0.99 = 2.97 + 0.56 (19%) = 3.53 BASE",
						"PEN 1 x 1.50 = 1.50 + 0.29 (19%) = 1.79 list_price",
						"EUR 22.47 + 2.11 = 24.58 document",
					},
				},
				{
					name: "line rounding on the same cart: 0.5643 → 0.56, 0.285 → 0.28", rounding: "line",
					in: pricing.QuoteInput{Date: day, Lines: f.cart("BOOK", "1", "CHEAP", "3", "PEN", "1")},
					want: []string{
						"BOOK 1 x 20.00 -2.00 (10%) = 18.00 + 1.26 (7%) = 19.26 BASE",
						"CHEAP 3 x 0.99 = 2.97 + 0.56 (19%) = 3.53 BASE",
						"PEN 1 x 1.50 = 1.50 + 0.28 (19%) = 1.78 list_price",
						"EUR 22.47 + 2.10 = 24.57 line",
					},
				},
				{
					name: "no list has the product: its list_price, net", rounding: "line",
					in:   pricing.QuoteInput{Date: day, Lines: f.cart("PEN", "2")},
					want: []string{"PEN 2 x 1.50 = 3.00 + 0.57 (19%) = 3.57 list_price", "EUR 3.00 + 0.57 = 3.57 line"},
				},
				{
					name: "exempt customer: no tax; the inclusive price loses its tax, the net one stays", rounding: "line",
					in: pricing.QuoteInput{CustomerID: f.cust["exempt"], Date: day, Lines: f.cart("MUG", "1", "PEN", "2")},
					want: []string{
						"MUG 1 x 9.99 = 8.39 + 0.00 (0%) = 8.39 GROSS incl",
						"PEN 2 x 1.50 = 3.00 + 0.00 (0%) = 3.00 list_price",
						"EUR 11.39 + 0.00 = 11.39 line exempt",
					},
				},
				{
					name: "region rate (US-CA 7.25 %), the customer's currency, half-even 0.725 → 0.72", rounding: "line",
					in: pricing.QuoteInput{CustomerID: f.cust["usbuyer"], Date: day, ShipTo: &pricing.Address{Country: "US", Region: "ca"},
						Lines: f.cart("MUG", "1")},
					want: []string{"MUG 1 x 10.00 = 10.00 + 0.72 (7.25%) = 10.72 USD", "USD 10.00 + 0.72 = 10.72 line"},
				},
				{
					name: "the company's half-up rounding: 0.725 → 0.73", rounding: "line", mode: "half_up",
					in: pricing.QuoteInput{CustomerID: f.cust["usbuyer"], Date: day, ShipTo: &pricing.Address{Country: "US", Region: "CA"},
						Lines: f.cart("MUG", "1")},
					want: []string{"MUG 1 x 10.00 = 10.00 + 0.73 (7.25%) = 10.73 USD", "USD 10.00 + 0.73 = 10.73 line"},
				},
				{
					name: "a region without its own rate takes the country's", rounding: "line",
					in:   pricing.QuoteInput{Date: day, ShipTo: &pricing.Address{Country: "AT", Region: "9"}, Lines: f.cart("MUG", "1")},
					want: []string{"MUG 1 x 8.00 = 8.00 + 1.60 (20%) = 9.60 BASE", "EUR 8.00 + 1.60 = 9.60 line"},
				},
				{
					name: "currency asked for explicitly beats the customer's", rounding: "line",
					in:   pricing.QuoteInput{CustomerID: f.cust["retail"], Currency: "USD", Date: day, Lines: f.cart("MUG", "2")},
					want: []string{"MUG 2 x 10.00 = 20.00 + 3.80 (19%) = 23.80 USD", "USD 20.00 + 3.80 = 23.80 line"},
				},
			} {
				t.Run(c.name, func(t *testing.T) {
					mode := c.mode
					if mode == "" {
						mode = "half_even"
					}
					f.settings(t, map[string]any{"tax_rounding": c.rounding, "rounding_mode": mode})
					q, err := f.quote(c.in)
					if err != nil {
						t.Fatal(err)
					}
					got := f.render(q)
					if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
						t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
					}
					checkSums(t, q)
				})
			}
		})
	}
}

// checkSums holds for every quote: net + tax = gross per line, the totals
// are the sums of the lines, and the tax summary adds up to the totals.
func checkSums(t *testing.T, q pricing.Quotation) {
	t.Helper()
	var net, tax, gross, base, taxes money.Decimal
	for i, l := range q.Lines {
		if !l.NetAmount.Add(l.TaxAmount).Equal(l.GrossAmount) {
			t.Errorf("line %d: %s + %s != %s", i, l.NetAmount, l.TaxAmount, l.GrossAmount)
		}
		net, tax, gross = net.Add(l.NetAmount), tax.Add(l.TaxAmount), gross.Add(l.GrossAmount)
	}
	for _, x := range q.Taxes {
		base, taxes = base.Add(x.Base), taxes.Add(x.Amount)
	}
	if !net.Equal(q.NetTotal) || !tax.Equal(q.TaxTotal) || !gross.Equal(q.GrossTotal) || !base.Equal(q.NetTotal) || !taxes.Equal(q.TaxTotal) {
		t.Errorf("sums %s %s %s (taxes %s %s) differ from totals %s %s %s", net, tax, gross, base, taxes, q.NetTotal, q.TaxTotal, q.GrossTotal)
	}
}

func TestQuoteTaxSummary(t *testing.T) {
	f := newFixture(t, db.SQLite)
	f.settings(t, map[string]any{"tax_rounding": "document"})
	q, err := f.quote(pricing.QuoteInput{Date: "2024-06-15", Lines: f.cart("BOOK", "1", "CHEAP", "3", "PEN", "1")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range q.Taxes {
		cat := map[string]string{f.std: "standard", f.red: "reduced"}[x.TaxCategoryID]
		got = append(got, fmt.Sprintf("%s %s%% on %s = %s", cat, x.Rate, x.Base, x.Amount))
	}
	// Standard: (2.97 + 1.50) × 19 % = 0.8493 → 0.85 once, where per line it
	// is 0.56 + 0.28 = 0.84.
	want := []string{"reduced 7% on 18.00 = 1.26", "standard 19% on 4.47 = 0.85"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("taxes %v, want %v", got, want)
	}
	if q.Jurisdiction != (pricing.Address{Country: "DE"}) || q.Date != "2024-06-15" {
		t.Fatalf("jurisdiction %+v date %s", q.Jurisdiction, q.Date)
	}
}

func wantFields(t *testing.T, err error, pointers ...string) *apperr.Error {
	t.Helper()
	e := apperr.As(err)
	if e.Code != apperr.Invalid {
		t.Fatalf("got %v, want 422", err)
	}
	have := map[string]bool{}
	for _, fe := range e.Fields {
		have[fe.Pointer] = true
	}
	for _, p := range pointers {
		if !have[p] {
			t.Errorf("no error at %s: %+v", p, e.Fields)
		}
	}
	if len(e.Fields) != len(pointers) {
		t.Errorf("errors %+v, want exactly %v", e.Fields, pointers)
	}
	return e
}

func TestQuoteRefusals(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			day := "2024-06-15"
			one := money.MustParse("1")
			_, err := f.quote(pricing.QuoteInput{Date: day, Lines: []pricing.CartLine{
				{SKU: "NOPE", Quantity: one},
				{ProductID: f.prod["MUG"], SKU: "MUG", Quantity: one},
				{Quantity: one},
				{SKU: "MUG"},
				{SKU: "MUG", Quantity: money.MustParse("0.0000001")},
				{SKU: "OLD", Quantity: one},
				{ProductID: "prod_nope", Quantity: one},
				{SKU: "MUG", Quantity: money.MustParse("-1")},
			}})
			wantFields(t, err, "/lines/0/sku", "/lines/1/sku", "/lines/2/product_id", "/lines/3/quantity", "/lines/4/quantity",
				"/lines/5/sku", "/lines/6/product_id", "/lines/7/quantity")

			_, err = f.quote(pricing.QuoteInput{CustomerID: "cus_nope", Currency: "XXX", Date: "2024-02-30", ShipTo: &pricing.Address{Country: "de"}})
			wantFields(t, err, "/customer_id", "/currency", "/date", "/ship_to/country", "/lines")

			// A missing tax rate is a configuration error naming the
			// product and the jurisdiction, not a silent 0.
			_, err = f.quote(pricing.QuoteInput{CustomerID: f.cust["usbuyer"], Date: day, ShipTo: &pricing.Address{Country: "US"}, Lines: f.cart("MUG", "1")})
			ae := wantFields(t, err, "/lines/0")
			if !errors.Is(err, pricing.ErrNoTaxRate) && !strings.Contains(ae.Fields[0].Detail, "No tax rate") {
				t.Errorf("missing rate: %v", err)
			}
			for _, m := range []string{"MUG", "US", day} {
				if !strings.Contains(ae.Fields[0].Detail, m) {
					t.Errorf("%q does not mention %q", ae.Fields[0].Detail, m)
				}
			}
			// An inactive rate is no rate.
			_, err = f.quote(pricing.QuoteInput{Date: day, ShipTo: &pricing.Address{Country: "FR"}, Lines: f.cart("MUG", "1")})
			wantFields(t, err, "/lines/0")
			// A product without a tax category cannot be taxed…
			_, err = f.quote(pricing.QuoteInput{Date: day, Lines: f.cart("NOTAX", "1")})
			ae = wantFields(t, err, "/lines/0")
			if !strings.Contains(ae.Fields[0].Detail, "NOTAX") {
				t.Errorf("%q does not name the product", ae.Fields[0].Detail)
			}
			// …except for an exempt customer, whose net line needs no rate.
			q, err := f.quote(pricing.QuoteInput{CustomerID: f.cust["exempt"], Date: day, ShipTo: &pricing.Address{Country: "US"}, Lines: f.cart("NOTAX", "1")})
			if err != nil || q.GrossTotal.String() != "3.00" || !q.Exempt {
				t.Fatalf("exempt NOTAX: %+v, %v", q, err)
			}
			// No price in the currency and a list_price in another is 422
			// naming the product.
			_, err = f.quote(pricing.QuoteInput{CustomerID: f.cust["usbuyer"], Date: day, Lines: f.cart("CHEAP", "1", "MUG", "1")})
			ae = wantFields(t, err, "/lines/0")
			if !strings.Contains(ae.Fields[0].Detail, "CHEAP") || !strings.Contains(ae.Fields[0].Detail, "USD") {
				t.Errorf("%q does not name the product and currency", ae.Fields[0].Detail)
			}
			// Another company's customer and products are unknown here.
			other := f.company(t, "Andere GmbH", false)
			_, err = f.quote(pricing.QuoteInput{CompanyID: other, CustomerID: f.cust["retail"], Date: day, Lines: f.cart("MUG", "1")})
			wantFields(t, err, "/customer_id")
			_, err = f.quote(pricing.QuoteInput{CompanyID: other, Date: day, Lines: f.cart("MUG", "1")})
			wantFields(t, err, "/lines/0/sku")
		})
	}
}

// A company without an address has no jurisdiction to fall back on.
func TestQuoteNeedsAJurisdiction(t *testing.T) {
	f := newFixture(t, db.SQLite)
	bare := f.company(t, "Ohne Adresse GmbH", false)
	co := f.co
	f.co = bare
	unit := create(t, f, f.svc.Units.Create, map[string]any{"code": "ea", "name": "Each"})
	cat := create(t, f, f.svc.TaxCategories.Create, map[string]any{"code": "standard", "name": "Standard"})
	create(t, f, f.svc.Products.Create, map[string]any{"sku": "X", "name": "X", "stock_unit_id": unit, "list_price": "1", "currency": "EUR", "tax_category_id": cat})
	create(t, f, f.svc.TaxRates.Create, map[string]any{"tax_category_id": cat, "country": "DE", "rate": "19", "name": "DE"})
	f.co = co
	_, err := f.quote(pricing.QuoteInput{CompanyID: bare, Lines: f.cart("X", "1", "X", "2")})
	wantFields(t, err, "/ship_to")
	q, err := f.quote(pricing.QuoteInput{CompanyID: bare, ShipTo: &pricing.Address{Country: "DE"}, Lines: f.cart("X", "1")})
	if err != nil || q.GrossTotal.String() != "1.19" {
		t.Fatalf("with ship_to: %+v, %v", q, err)
	}
	// An empty date is today (UTC, by the database clock).
	if q.Date != f.db.Now().UTC().Format("2006-01-02") {
		t.Fatalf("date %s", q.Date)
	}
}

func TestTaxRate(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			for _, c := range []struct {
				cat, country, region, date, want string
			}{
				{f.std, "DE", "", "2019-12-31", "19"},
				{f.std, "DE", "", "2020-07-01", "16"},
				{f.std, "DE", "", "2020-12-31", "16"},
				{f.std, "DE", "", "2021-01-01", "19"},
				{f.std, "DE", "BY", "2024-01-01", "19"},
				{f.red, "DE", "", "2024-01-01", "7"},
				{f.std, "US", "CA", "2024-01-01", "7.25"},
				{f.std, "AT", "9", "2024-01-01", "20"},
			} {
				got, err := pricing.TaxRate(f.ctx, f.db, f.co, c.cat, c.country, c.region, c.date)
				if err != nil || got.String() != c.want {
					t.Errorf("TaxRate(%s, %s-%s, %s) = %s, %v; want %s", c.cat, c.country, c.region, c.date, got, err, c.want)
				}
			}
			_, err := pricing.TaxRate(f.ctx, f.db, f.co, f.std, "US", "", "2024-01-01")
			if !errors.Is(err, pricing.ErrNoTaxRate) || apperr.CodeOf(err) != apperr.Invalid {
				t.Fatalf("US without a region: %v", err)
			}
			// Inside the caller's transaction, a rate written there counts.
			err = f.db.Transact(f.ctx, func(tx *db.Tx) error {
				if _, err := f.svc.TaxRates.Create(db.ContextWithTx(f.ctx, tx), f.co, map[string]any{"tax_category_id": f.std, "country": "US", "rate": "0", "name": "US federal"}); err != nil {
					return err
				}
				got, err := pricing.TaxRate(f.ctx, tx, f.co, f.std, "US", "NY", "2024-01-01")
				if err == nil && got.String() != "0" {
					t.Errorf("US-NY in the transaction: %s", got)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The copied price rows follow the list: rewritten on update, gone with it.
func TestPriceListRows(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			rows := func(list string) int {
				var n int
				if err := f.db.QueryRowContext(f.ctx, "SELECT COUNT(*) FROM price_list_prices WHERE price_list_id = $1", list).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			base := f.listIDs["BASE"]
			if n := rows(base); n != 5 {
				t.Fatalf("BASE has %d rows", n)
			}
			if _, err := f.svc.PriceLists.Patch(f.ctx, base, map[string]any{"prices": []any{
				map[string]any{"product_id": f.prod["MUG"], "unit_price": "8.50"},
			}}, anyETag); err != nil {
				t.Fatal(err)
			}
			if n := rows(base); n != 1 {
				t.Fatalf("BASE has %d rows after the update", n)
			}
			q, err := f.quote(pricing.QuoteInput{Date: "2024-06-15", Lines: f.cart("MUG", "100", "CHEAP", "1")})
			if err != nil || q.Lines[0].UnitPrice.String() != "8.50" || q.Lines[1].PriceListID != "" {
				t.Fatalf("after the update: %+v, %v", q, err)
			}
			if err := f.svc.PriceLists.Delete(f.ctx, base, anyETag); err != nil {
				t.Fatal(err)
			}
			if n := rows(base); n != 0 {
				t.Fatalf("%d rows left after the delete", n)
			}
			// An archived list is never chosen, however high its priority.
			if q, err := f.quote(pricing.QuoteInput{Date: "2024-06-15", Lines: f.cart("MUG", "1")}); err != nil || q.Lines[0].PriceListID != "" {
				t.Fatalf("after the delete: %+v, %v", q, err)
			}
		})
	}
}

func TestPriceListValidation(t *testing.T) {
	f := newFixture(t, db.SQLite)
	mug := f.prod["MUG"]
	for _, c := range []struct {
		body     map[string]any
		pointers []string
	}{
		{map[string]any{"code": "X1", "name": "x", "currency": "EUR", "prices": []any{
			map[string]any{"product_id": mug, "unit_price": "1"},
			map[string]any{"product_id": mug, "unit_price": "2", "min_quantity": "0.000"},
		}}, []string{"/prices/1/min_quantity"}},
		{map[string]any{"code": "X2", "name": "x", "currency": "EUR", "customer_id": f.cust["vip"], "customer_group": "retail"}, []string{"/customer_group"}},
		{map[string]any{"code": "X3", "name": "x", "currency": "EUR", "valid_from": "2024-02-01", "valid_to": "2024-01-31"}, []string{"/valid_to"}},
		{map[string]any{"code": "X4", "name": "x", "currency": "EUR", "prices": []any{
			map[string]any{"product_id": mug, "unit_price": "-1", "min_quantity": "-2", "discount_percent": "101"},
			map[string]any{"product_id": mug, "unit_price": "0.0000001", "min_quantity": "1"},
		}}, []string{"/prices/0/unit_price", "/prices/0/min_quantity", "/prices/0/discount_percent", "/prices/1/unit_price"}},
		{map[string]any{"code": "X5", "name": "x", "currency": "EUR", "prices": []any{map[string]any{"product_id": "prod_nope", "unit_price": "1"}}}, []string{"/prices"}},
		{map[string]any{"code": "X6", "name": "x", "currency": "EUR", "customer_id": "cus_nope"}, []string{"/customer_id"}},
	} {
		_, err := f.svc.PriceLists.Create(f.ctx, f.co, c.body)
		wantFields(t, err, c.pointers...)
	}
	// One rate per category, jurisdiction and start.
	_, err := f.svc.TaxRates.Create(f.ctx, f.co, map[string]any{"tax_category_id": f.std, "country": "DE", "rate": "18", "valid_from": "2021-01-01", "name": "dup"})
	if apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("duplicate rate: %v", err)
	}
	for _, c := range []struct {
		body    map[string]any
		pointer string
	}{
		{map[string]any{"tax_category_id": f.std, "country": "DE", "rate": "100.5", "name": "x"}, "/rate"},
		{map[string]any{"tax_category_id": f.std, "country": "DE", "rate": "7.12345", "name": "x"}, "/rate"},
		{map[string]any{"tax_category_id": f.std, "country": "DE", "rate": "7", "valid_from": "2024-13-01", "name": "x"}, "/valid_from"},
		{map[string]any{"tax_category_id": f.std, "country": "de", "rate": "7", "name": "x"}, "/country"},
		{map[string]any{"tax_category_id": "taxc_nope", "country": "DE", "rate": "7", "name": "x"}, "/tax_category_id"},
	} {
		_, err := f.svc.TaxRates.Create(f.ctx, f.co, c.body)
		wantFields(t, err, c.pointer)
	}
}

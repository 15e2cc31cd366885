package pricing

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// CartLine is one product and quantity to price.
type CartLine struct {
	ProductID string // or SKU: exactly one
	SKU       string
	Quantity  money.Decimal // in the product's sales unit (the unit its list_price is per)
}

// Address is a tax jurisdiction: an ISO 3166-1 alpha-2 country and,
// optionally, an ISO 3166-2 subdivision code without the country prefix.
type Address struct{ Country, Region string }

// QuoteInput is a customer and a cart.
type QuoteInput struct {
	CompanyID  string
	CustomerID string         // optional: group prices, customer prices, exemption
	Currency   money.Currency // empty: the customer's currency, else the company's base currency
	Date       string         // YYYY-MM-DD; empty: today in UTC
	ShipTo     *Address       // the tax jurisdiction; nil: the company's registered address
	Lines      []CartLine
}

// QuotedLine is a priced and taxed cart line. Amounts are rounded to the
// currency's minor unit; unit prices and percentages keep their precision.
type QuotedLine struct {
	ProductID, SKU, Name, TaxCategoryID, PriceListID string
	Quantity                                         money.Decimal
	UnitPrice                                        money.Decimal // as listed (gross when the list is tax-inclusive)
	DiscountPercent                                  money.Decimal
	Discount                                         money.Decimal // amount, currency minor units
	NetAmount                                        money.Decimal // after discount, before tax
	TaxRate                                          money.Decimal // percent
	TaxAmount                                        money.Decimal
	GrossAmount                                      money.Decimal // NetAmount + TaxAmount
	// TaxInclusive says the line's price came from a tax-inclusive list.
	TaxInclusive bool
}

// TaxLine is the tax of one category at one rate over the whole cart.
type TaxLine struct {
	TaxCategoryID      string
	Rate, Base, Amount money.Decimal
}

// Quotation is a priced cart. (Quote is the function that makes one.)
type Quotation struct {
	Currency                       money.Currency
	TaxInclusive                   bool   // every line's price came from a tax-inclusive list
	Rounding                       string // "line" or "document"
	Exempt                         bool
	Date                           string  // the date prices and rates were taken for
	Jurisdiction                   Address // where rates were looked up; empty when no rate was needed and none was known
	Lines                          []QuotedLine
	Taxes                          []TaxLine // per category and rate, in order of first appearance
	NetTotal, TaxTotal, GrossTotal money.Decimal
}

// The company's tax_rounding settings.
const (
	RoundLine     = "line"
	RoundDocument = "document"
)

// ErrNoTaxRate is wrapped by the 422 a missing tax rate gives, so callers
// can tell configuration gaps from other invalid input.
var ErrNoTaxRate = errors.New("pricing: no tax rate")

var (
	country2 = regexp.MustCompile(`^[A-Z]{2}$`)
	// perMillion is 100 % at the price scale: rates are percent × 10^6.
	perMillion = big.NewInt(100_000_000)
)

// TaxRate returns the rate (percent) of a tax category in a jurisdiction
// on a date: the region's rate if it has one, else the country's; of
// those, the latest valid_from on or before date. No rate is a 422
// wrapping ErrNoTaxRate: a configuration gap, never a silent 0. An empty
// date is today in UTC.
func TaxRate(ctx context.Context, q db.Querier, companyID, taxCategoryID, country, region, date string) (money.Decimal, error) {
	if date == "" {
		date = today(q)
	}
	rate, ok, err := lookupRate(ctx, q, companyID, taxCategoryID, country, region, date)
	if err != nil {
		return money.Decimal{}, fmt.Errorf("tax rate of %s in %s: %w", taxCategoryID, jurisdiction(country, region), err)
	}
	if !ok {
		return money.Decimal{}, apperr.New(apperr.Invalid, "No tax rate for tax category %s in %s on %s; add one with POST /v1/tax-rates.",
			taxCategoryID, jurisdiction(country, region), date).Wrap(ErrNoTaxRate)
	}
	return rate, nil
}

func jurisdiction(country, region string) string {
	if region == "" {
		return country
	}
	return country + "-" + region
}

// today is the current date in UTC, by the transaction's or database's
// clock when q has one, so tests that move the clock move quotes too.
func today(q db.Querier) string {
	now := time.Now()
	if c, ok := q.(interface{ Now() time.Time }); ok {
		now = c.Now()
	}
	return now.UTC().Format(time.DateOnly)
}

// line is a cart line on its way through the quote.
type line struct {
	out       QuotedLine
	inclusive bool
	// amount is the line amount after discount: the net for a
	// tax-exclusive price, the gross for a tax-inclusive one.
	amount money.Decimal
	// rate is the percent the line's tax is computed at (set when needed).
	rate money.Decimal
}

// quoter carries what every line of one quote shares.
type quoter struct {
	ctx     context.Context
	q       db.Querier
	in      QuoteInput
	cust    customer
	out     Quotation
	mode    money.RoundingMode
	minor   int32
	place   *Address
	rates   map[string]*money.Decimal // by tax category; nil: none found
	errs    []apperr.FieldError
	noPlace bool
}

func (qt *quoter) add(ptr, format string, args ...any) {
	qt.errs = append(qt.errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
}

// Quote prices a cart for a customer, exactly, by the rules of
// docs/storefront.md: each line's price from the applicable price list
// (else the product's list_price in its own currency), its discount, and
// its tax at the rate of its tax category in the jurisdiction, rounded
// per line or per document as the company's tax_rounding says. It reads
// through q (a transaction or the database) and writes nothing. Every
// invalid input is reported at once, each at its pointer in the
// POST /v1/prices/quote body (/lines/N/…).
func Quote(ctx context.Context, q db.Querier, in QuoteInput) (Quotation, error) {
	co, ok, err := loadCompany(ctx, q, in.CompanyID)
	if err != nil {
		return Quotation{}, fmt.Errorf("quote: %w", err)
	}
	if !ok {
		return Quotation{}, apperr.New(apperr.NotFound, "No company %q.", in.CompanyID)
	}
	qt := &quoter{ctx: ctx, q: q, in: in, rates: map[string]*money.Decimal{}}
	if m, err := money.ParseRoundingMode(co.RoundingMode); err == nil {
		qt.mode = m
	}
	qt.out.Rounding = RoundLine
	if co.TaxRounding == RoundDocument {
		qt.out.Rounding = RoundDocument
	}
	if err := qt.header(co); err != nil {
		return Quotation{}, err
	}
	if len(qt.errs) > 0 {
		return Quotation{}, apperr.Fields(qt.errs...)
	}
	lines := make([]line, len(in.Lines))
	for i, l := range in.Lines {
		if err := qt.price(i, l, &lines[i]); err != nil {
			return Quotation{}, err
		}
	}
	if len(qt.errs) > 0 {
		return Quotation{}, apperr.Fields(qt.errs...)
	}
	for i := range lines {
		if err := qt.rate(i, &lines[i]); err != nil {
			return Quotation{}, err
		}
	}
	if len(qt.errs) > 0 {
		return Quotation{}, apperr.Fields(qt.errs...)
	}
	if err := qt.tax(lines); err != nil {
		return Quotation{}, fmt.Errorf("quote: %w", err)
	}
	qt.totals(lines)
	return qt.out, nil
}

// header settles what the lines share: customer, currency, date and
// jurisdiction.
func (qt *quoter) header(co company.Company) error {
	in := qt.in
	if in.CustomerID != "" {
		c, found, err := loadCustomer(qt.ctx, qt.q, in.CompanyID, in.CustomerID)
		if err != nil {
			return fmt.Errorf("quote: %w", err)
		}
		if !found {
			qt.add("/customer_id", "No customer %q in this company.", in.CustomerID)
		}
		qt.cust = c
	}
	qt.out.Exempt = qt.cust.TaxExempt
	switch {
	case in.Currency != "":
		if !in.Currency.Valid() {
			qt.add("/currency", "%q is not an active ISO 4217 currency code", string(in.Currency))
		}
		qt.out.Currency = in.Currency
	case qt.cust.Currency != "":
		qt.out.Currency = money.Currency(qt.cust.Currency)
	default:
		qt.out.Currency = co.BaseCurrency
	}
	qt.minor = qt.out.Currency.MinorUnits()
	qt.out.Date = in.Date
	if qt.out.Date == "" {
		qt.out.Date = today(qt.q)
	} else if !validDate(qt.out.Date) {
		qt.add("/date", "%q is not a date (YYYY-MM-DD)", in.Date)
	}
	if in.ShipTo != nil {
		a := Address{Country: in.ShipTo.Country, Region: strings.ToUpper(strings.TrimSpace(in.ShipTo.Region))}
		if !country2.MatchString(a.Country) {
			qt.add("/ship_to/country", "%q is not an ISO 3166-1 alpha-2 country code such as DE", a.Country)
		}
		qt.place = &a
	} else if a, ok := registeredAddress(co); ok {
		qt.place = &a
	}
	if qt.place != nil {
		qt.out.Jurisdiction = *qt.place
	}
	if len(in.Lines) == 0 {
		qt.add("/lines", "a quote needs at least one line")
	}
	return nil
}

// registeredAddress is the company's registered address, else its first
// one: the origin of the sale when the caller names no destination.
func registeredAddress(co company.Company) (Address, bool) {
	for _, a := range co.Addresses {
		if a.Kind == "registered" {
			return Address{Country: a.Country, Region: strings.ToUpper(a.Region)}, true
		}
	}
	if len(co.Addresses) > 0 {
		a := co.Addresses[0]
		return Address{Country: a.Country, Region: strings.ToUpper(a.Region)}, true
	}
	return Address{}, false
}

// price finds line i's product and price and computes its amount after
// discount.
func (qt *quoter) price(i int, l CartLine, w *line) error {
	at := fmt.Sprintf("/lines/%d", i)
	var p product
	var found bool
	var err error
	idPtr := at + "/product_id"
	switch {
	case l.ProductID != "" && l.SKU != "":
		qt.add(at+"/sku", "give product_id or sku, not both")
	case l.ProductID != "":
		if p, found, err = loadProduct(qt.ctx, qt.q, qt.in.CompanyID, "id", l.ProductID); err == nil && !found {
			qt.add(idPtr, "No product %q in this company.", l.ProductID)
		}
	case l.SKU != "":
		idPtr = at + "/sku"
		if p, found, err = loadProduct(qt.ctx, qt.q, qt.in.CompanyID, "sku", l.SKU); err == nil && !found {
			qt.add(idPtr, "No product with SKU %q in this company.", l.SKU)
		}
	default:
		qt.add(idPtr, "product_id or sku is required")
	}
	if err != nil {
		return fmt.Errorf("quote line %d: %w", i, err)
	}
	qty := l.Quantity
	qtyOK := qty.Sign() > 0
	if !qtyOK {
		qt.add(at+"/quantity", "must be greater than 0")
	} else if _, err := qty.Scaled(money.QuantityScale); err != nil {
		qt.add(at+"/quantity", "at most %d decimal places and 12 integer digits", money.QuantityScale)
		qtyOK = false
	}
	if !found || !qtyOK {
		return nil
	}
	if !p.Active {
		qt.add(idPtr, "product %s is archived", p.SKU)
		return nil
	}
	cur := qt.out.Currency
	lp, err := lookupPrice(qt.ctx, qt.q, qt.in.CompanyID, p.ID, qty, cur, qt.out.Date, qt.in.CustomerID, qt.cust.CustomerGroup)
	if err != nil {
		return fmt.Errorf("quote line %d: %w", i, err)
	}
	if !lp.found {
		if p.Currency != string(cur) {
			qt.add(at, "No price for product %s in %s on %s: no applicable price list has one, and its list_price is in %s.", p.SKU, cur, qt.out.Date, p.Currency)
			return nil
		}
		// The catalog price is net by definition (catalog.Product).
		lp = listPrice{unit: p.ListPrice}
	}
	amount := money.RoundAmount(lp.unit.Mul(qty), cur, qt.mode)
	if _, err := amount.Scaled(money.AmountScale); err != nil {
		qt.add(at+"/quantity", "the line amount %s %s is too large", amount, cur)
		return nil
	}
	discount := money.New(0, -qt.minor)
	if lp.discountP.Sign() > 0 {
		if discount, err = amount.Mul(lp.discountP).DivRound(hundred, qt.minor, qt.mode); err != nil {
			return fmt.Errorf("quote line %d discount: %w", i, err)
		}
	}
	w.inclusive = lp.inclusive
	w.amount = amount.Sub(discount)
	w.out = QuotedLine{
		ProductID: p.ID, SKU: p.SKU, Name: p.Name, TaxCategoryID: p.TaxCategoryID, PriceListID: lp.listID,
		Quantity: qty, UnitPrice: display(lp.unit, qt.minor), DiscountPercent: lp.discountP.Normalize(), Discount: discount,
		TaxInclusive: lp.inclusive,
	}
	return nil
}

// display prints a unit price without the storage scale's trailing zeros
// but with at least the currency's minor places (10.000000 → 10.00,
// 0.125000 → 0.125).
func display(d money.Decimal, minor int32) money.Decimal {
	d = d.Normalize()
	if d.Scale() < minor {
		d = d.Round(minor, money.HalfEven)
	}
	return d
}

// rate looks up line i's tax rate where one is needed: always, except for
// an exempt customer's tax-exclusive line (its tax is 0 whatever the
// rate). An exempt customer's tax-inclusive line still needs it, to take
// the tax out of the price.
func (qt *quoter) rate(i int, w *line) error {
	if qt.out.Exempt && !w.inclusive {
		return nil
	}
	at := fmt.Sprintf("/lines/%d", i)
	cat := w.out.TaxCategoryID
	if cat == "" {
		qt.add(at, "product %s has no tax_category_id, so its tax cannot be looked up; give it one.", w.out.SKU)
		return nil
	}
	if qt.place == nil {
		if !qt.noPlace {
			qt.noPlace = true
			qt.add("/ship_to", "ship_to is required: the company has no address to take the tax jurisdiction from")
		}
		return nil
	}
	r, seen := qt.rates[cat]
	if !seen {
		rate, ok, err := lookupRate(qt.ctx, qt.q, qt.in.CompanyID, cat, qt.place.Country, qt.place.Region, qt.out.Date)
		if err != nil {
			return fmt.Errorf("quote line %d: %w", i, err)
		}
		if ok {
			r = &rate
		}
		qt.rates[cat] = r
	}
	if r == nil {
		qt.add(at, "No tax rate for product %s (tax category %s) in %s on %s; add one with POST /v1/tax-rates.",
			w.out.SKU, cat, jurisdiction(qt.place.Country, qt.place.Region), qt.out.Date)
		return nil
	}
	w.rate = *r
	return nil
}

// tax splits every line amount into net and tax. Per line: the tax of a
// net amount is amount × rate / 100, the net of a gross amount is
// amount × 100 / (100 + rate), each rounded once to the minor unit, and
// the other part is the difference, so net + tax = gross exactly. Per
// document: the same on the sum of the lines of one tax category, rate
// and kind (inclusive or not), the result allocated back to those lines.
func (qt *quoter) tax(lines []line) error {
	if qt.out.Rounding == RoundLine {
		for i := range lines {
			w := &lines[i]
			net, tax, err := split(w.amount, w.rate, w.inclusive, qt.minor, qt.mode)
			if err != nil {
				return err
			}
			qt.settle(w, net, tax)
		}
		return nil
	}
	type key struct {
		cat, rate string
		inclusive bool
	}
	groups := map[key][]int{}
	var order []key
	for i, w := range lines {
		k := key{w.out.TaxCategoryID, w.rate.Normalize().String(), w.inclusive}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		idx := groups[k]
		amounts := make([]money.Decimal, len(idx))
		sum := money.New(0, -qt.minor)
		for j, i := range idx {
			amounts[j] = lines[i].amount
			sum = sum.Add(lines[i].amount)
		}
		rate := lines[idx[0]].rate
		_, total, err := split(sum, rate, k.inclusive, qt.minor, qt.mode)
		if err != nil {
			return err
		}
		taxes, err := allocate(total, amounts, rate, k.inclusive, qt.minor)
		if err != nil {
			return fmt.Errorf("tax category %s at %s %%: %w", k.cat, k.rate, err)
		}
		for j, i := range idx {
			w := &lines[i]
			net := w.amount
			if w.inclusive {
				net = w.amount.Sub(taxes[j])
			}
			qt.settle(w, net, taxes[j])
		}
	}
	return nil
}

// settle writes a line's net, tax and gross. An exempt customer pays no
// tax: the tax is dropped, and for a tax-inclusive price that means the
// customer pays the net the price contains.
func (qt *quoter) settle(w *line, net, tax money.Decimal) {
	rate := w.rate.Normalize()
	if qt.out.Exempt {
		tax, rate = money.New(0, -qt.minor), money.FromInt(0)
	}
	w.out.NetAmount, w.out.TaxAmount, w.out.GrossAmount, w.out.TaxRate = net, tax, net.Add(tax), rate
}

// split divides amount into net and tax at rate (percent): amount is the
// net when exclusive, the gross when inclusive. The part computed is
// rounded once; the other is the difference.
func split(amount, rate money.Decimal, inclusive bool, minor int32, mode money.RoundingMode) (net, tax money.Decimal, err error) {
	if inclusive {
		net, err = amount.Mul(hundred).DivRound(hundred.Add(rate), minor, mode)
		if err != nil {
			return net, tax, err
		}
		return net, amount.Sub(net), nil
	}
	tax, err = amount.Mul(rate).DivRound(hundred, minor, mode)
	return amount, tax, err
}

// allocate distributes total, the rounded tax of a group of lines, over
// the lines by the largest-remainder method: each line first gets its
// exact share (amount × rate / 100, or amount × rate / (100 + rate) for
// gross amounts) rounded down to the minor unit; the minor units left
// over go one each to the lines with the largest remainders, ties to the
// earlier line. Shares are compared exactly, in integers.
func allocate(total money.Decimal, amounts []money.Decimal, rate money.Decimal, inclusive bool, minor int32) ([]money.Decimal, error) {
	r, err := rate.Scaled(money.PriceScale)
	if err != nil {
		return nil, fmt.Errorf("rate %s: %w", rate, err)
	}
	den := new(big.Int).Set(perMillion)
	if inclusive {
		den.Add(den, big.NewInt(r))
	}
	floors := make([]int64, len(amounts))
	rems := make([]*big.Int, len(amounts))
	var given int64
	for i, a := range amounts {
		u, err := a.Scaled(minor)
		if err != nil {
			return nil, fmt.Errorf("amount %s: %w", a, err)
		}
		q, rem := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(u), big.NewInt(r)), den, new(big.Int))
		floors[i], rems[i] = q.Int64(), rem
		given += floors[i]
	}
	t, err := total.Scaled(minor)
	if err != nil {
		return nil, fmt.Errorf("total %s: %w", total, err)
	}
	// The rounded total lies between the sum of the floors and that sum
	// plus one unit per line; anything else is a bug, not a rounding case.
	left := t - given
	if left < 0 || left > int64(len(amounts)) {
		return nil, fmt.Errorf("allocate %s over %d lines: %d units left over", total, len(amounts), left)
	}
	order := make([]int, len(amounts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rems[order[a]].Cmp(rems[order[b]]) > 0 })
	for k := int64(0); k < left; k++ {
		floors[order[k]]++
	}
	out := make([]money.Decimal, len(amounts))
	for i, f := range floors {
		out[i] = money.New(f, -minor)
	}
	return out, nil
}

// totals fills the quote's lines, tax summary and totals.
func (qt *quoter) totals(lines []line) {
	zero := money.New(0, -qt.minor)
	qt.out.NetTotal, qt.out.TaxTotal, qt.out.GrossTotal = zero, zero, zero
	qt.out.Lines = make([]QuotedLine, len(lines))
	qt.out.TaxInclusive = len(lines) > 0
	type key struct{ cat, rate string }
	at := map[key]int{}
	for i, w := range lines {
		l := w.out
		qt.out.Lines[i] = l
		qt.out.TaxInclusive = qt.out.TaxInclusive && w.inclusive
		qt.out.NetTotal = qt.out.NetTotal.Add(l.NetAmount)
		qt.out.TaxTotal = qt.out.TaxTotal.Add(l.TaxAmount)
		qt.out.GrossTotal = qt.out.GrossTotal.Add(l.GrossAmount)
		k := key{l.TaxCategoryID, l.TaxRate.String()}
		j, ok := at[k]
		if !ok {
			j = len(qt.out.Taxes)
			at[k] = j
			qt.out.Taxes = append(qt.out.Taxes, TaxLine{TaxCategoryID: l.TaxCategoryID, Rate: l.TaxRate, Base: zero, Amount: zero})
		}
		t := &qt.out.Taxes[j]
		t.Base, t.Amount = t.Base.Add(l.NetAmount), t.Amount.Add(l.TaxAmount)
	}
}

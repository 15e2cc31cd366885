package shipping

import (
	"context"
	"fmt"
	"sort"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Destination is where a cart ships to: an ISO 3166-1 alpha-2 country in
// upper case and, optionally, a postal code.
type Destination struct{ Country, PostalCode string }

// QuoteInput asks what shipping a cart costs.
type QuoteInput struct {
	CompanyID   string
	Currency    money.Currency // carriers in other currencies are skipped
	Destination Destination
	WeightKg    money.Decimal // total cart weight in kg
	GoodsValue  money.Decimal // for free_above, in Currency
	CarrierID   string        // optional: only this carrier
}

// Option is one carrier's price for a cart.
type Option struct {
	CarrierID, CarrierCode, CarrierName, Zone, TaxCategoryID string
	Amount                                                   money.Decimal // net, in Currency; 0 when free
	Free                                                     bool
	Currency                                                 money.Currency
}

// Skip is a carrier a quote left out, and why.
type Skip struct {
	CarrierID, CarrierCode, Reason string
}

// Quotation is a quote's options with the carriers it left out.
type Quotation struct {
	Options []Option
	Skipped []Skip
}

// Quote prices shipping a cart with every active carrier of the company
// (or only in.CarrierID), cheapest first, then by carrier code. Carriers
// that cannot take the cart are left out; QuoteAll says why.
func Quote(ctx context.Context, q db.Querier, in QuoteInput) ([]Option, error) {
	out, err := QuoteAll(ctx, q, in)
	return out.Options, err
}

// QuoteAll is Quote with the carriers it left out: those pricing in
// another currency, without a zone for the destination, or whose bands
// end below the cart's weight. Archived carriers are not considered,
// unless named by in.CarrierID (then they are skipped as archived).
//
// Input errors are 422 with pointers as the HTTP body of POST
// /v1/shipping/quote names them (/currency, /destination/country,
// /weight_kg, /goods_value, /carrier_id).
func QuoteAll(ctx context.Context, q db.Querier, in QuoteInput) (Quotation, error) {
	if err := checkInput(in); err != nil {
		return Quotation{}, err
	}
	carriers, err := loadCarriers(ctx, q, in.CompanyID, in.CarrierID)
	if err != nil {
		return Quotation{}, err
	}
	if in.CarrierID != "" && len(carriers) == 0 {
		return Quotation{}, apperr.Field("/carrier_id", "No carrier %q in this company.", in.CarrierID)
	}
	out := Quotation{Options: []Option{}, Skipped: []Skip{}}
	for _, c := range carriers {
		opt, reason := price(c, in)
		if reason == "" {
			out.Options = append(out.Options, opt)
			continue
		}
		if reason == archived && in.CarrierID == "" {
			continue
		}
		out.Skipped = append(out.Skipped, Skip{CarrierID: c.ID, CarrierCode: c.Code, Reason: reason})
	}
	sort.SliceStable(out.Options, func(i, j int) bool {
		a, b := out.Options[i], out.Options[j]
		if c := a.Amount.Cmp(b.Amount); c != 0 {
			return c < 0
		}
		if a.CarrierCode != b.CarrierCode {
			return a.CarrierCode < b.CarrierCode
		}
		return a.CarrierID < b.CarrierID
	})
	return out, nil
}

const archived = "The carrier is archived."

// price is a carrier's option for the cart, or the reason it has none.
func price(c *Carrier, in QuoteInput) (Option, string) {
	if !c.Active {
		return Option{}, archived
	}
	if c.Currency != in.Currency {
		return Option{}, fmt.Sprintf("The carrier prices in %s, not %s.", c.Currency, in.Currency)
	}
	zi := matchZone(c.Zones, in.Destination.Country, in.Destination.PostalCode)
	if zi < 0 {
		return Option{}, fmt.Sprintf("No zone of the carrier covers %s.", destinationText(in.Destination))
	}
	z := c.Zones[zi]
	bi := band(z.Rates, in.WeightKg)
	if bi < 0 {
		return Option{}, fmt.Sprintf("The cart weighs %s kg; zone %s takes at most %s kg.",
			in.WeightKg.Normalize(), z.Name, z.Rates[len(z.Rates)-1].MaxWeightKg)
	}
	opt := Option{
		CarrierID: c.ID, CarrierCode: c.Code, CarrierName: c.Name, Zone: z.Name, TaxCategoryID: c.TaxCategoryID,
		Amount: z.Rates[bi].Amount, Currency: c.Currency,
	}
	if z.FreeAbove != nil && in.GoodsValue.Cmp(*z.FreeAbove) >= 0 {
		opt.Amount, opt.Free = money.Decimal{}, true
	}
	// Stored amounts have at most the minor unit's places (validated), so
	// this only writes them with exactly that many: "4.90", "0.00".
	opt.Amount = money.RoundAmount(opt.Amount, c.Currency, money.HalfEven)
	return opt, ""
}

func destinationText(d Destination) string {
	if d.PostalCode == "" {
		return d.Country
	}
	return d.Country + " " + d.PostalCode
}

func checkInput(in QuoteInput) error {
	var errs []apperr.FieldError
	if !in.Currency.Valid() {
		errs = append(errs, apperr.FieldError{Pointer: "/currency", Detail: fmt.Sprintf("%q is not an active ISO 4217 currency code", in.Currency)})
	}
	if !countryCode.MatchString(in.Destination.Country) {
		errs = append(errs, apperr.FieldError{Pointer: "/destination/country", Detail: fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 code in upper case, like \"DE\"", in.Destination.Country)})
	}
	if in.WeightKg.IsNegative() {
		errs = append(errs, apperr.FieldError{Pointer: "/weight_kg", Detail: "must not be negative"})
	}
	if in.GoodsValue.IsNegative() {
		errs = append(errs, apperr.FieldError{Pointer: "/goods_value", Detail: "must not be negative"})
	}
	if len(errs) > 0 {
		return apperr.Fields(errs...)
	}
	return nil
}

// CartLine is a product and a quantity in its stock unit.
type CartLine struct {
	ProductID string
	Quantity  money.Decimal // quantity in stock units
}

// Kilograms per weight unit, exact by definition (the international
// avoirdupois pound is 0.45359237 kg and the ounce 1/16 of it).
var perKg = map[string]money.Decimal{
	"kg": money.FromInt(1),
	"g":  money.MustParse("0.001"),
	"lb": money.MustParse("0.45359237"),
	"oz": money.MustParse("0.028349523125"),
}

// CartWeightKg is the weight of a cart in kilograms, exactly: each line's
// quantity times its product's weight (per stock unit) converted from g,
// oz or lb. Products without a weight count 0. An unknown product (or
// another company's) is 422 at /lines/{i}/product_id, a negative quantity
// at /lines/{i}/quantity.
func CartWeightKg(ctx context.Context, q db.Querier, companyID string, lines []CartLine) (money.Decimal, error) {
	var errs []apperr.FieldError
	ids := make([]string, 0, len(lines))
	for i, l := range lines {
		if l.Quantity.IsNegative() {
			errs = append(errs, apperr.FieldError{Pointer: fmt.Sprintf("/lines/%d/quantity", i), Detail: "must not be negative"})
		}
		ids = append(ids, l.ProductID)
	}
	weights, err := productWeights(ctx, q, companyID, ids)
	if err != nil {
		return money.Decimal{}, err
	}
	var total money.Decimal
	for i, l := range lines {
		w, ok := weights[l.ProductID]
		if !ok {
			errs = append(errs, apperr.FieldError{Pointer: fmt.Sprintf("/lines/%d/product_id", i), Detail: fmt.Sprintf("No product %q in this company.", l.ProductID)})
			continue
		}
		if w.weight == nil {
			continue
		}
		factor, ok := perKg[w.unit]
		if !ok {
			return money.Decimal{}, fmt.Errorf("product %s: unknown weight unit %q", l.ProductID, w.unit)
		}
		total = total.Add(l.Quantity.Mul(*w.weight).Mul(factor))
	}
	if len(errs) > 0 {
		return money.Decimal{}, apperr.Fields(errs...)
	}
	return total.Normalize(), nil
}

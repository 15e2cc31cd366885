package shipping

import (
	"fmt"
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// ShippingQuoteRequest asks what shipping a cart costs.
type ShippingQuoteRequest struct {
	CompanyID   string                  `json:"company_id,omitempty"`
	Currency    money.Currency          `json:"currency" doc:"The currency to quote in; carriers pricing in another currency are skipped."`
	Destination ShippingDestination     `json:"destination"`
	Lines       []ShippingQuoteCartLine `json:"lines,omitempty" maxItems:"500" doc:"The cart; its weight is the sum of quantity × product weight, converted to kg. Send lines or weight_kg, not both."`
	WeightKg    *money.Decimal          `json:"weight_kg,omitempty" doc:"The cart's weight in kg, instead of lines."`
	GoodsValue  money.Decimal           `json:"goods_value" doc:"The value of the goods in currency, compared with each zone's free_above (at or above it, shipping is free)."`
	CarrierID   string                  `json:"carrier_id,omitempty" doc:"Quote only this carrier."`
}

// ShippingDestination is where the cart goes.
type ShippingDestination struct {
	Country    string `json:"country" doc:"ISO 3166-1 alpha-2 code in upper case, e.g. DE."`
	PostalCode string `json:"postal_code,omitempty" maxLength:"20" doc:"Compared with zones' postal prefixes with spaces and hyphens removed and letters upper-cased."`
}

// ShippingQuoteCartLine is a product of the cart.
type ShippingQuoteCartLine struct {
	ProductID string        `json:"product_id,omitempty" doc:"The product; or sku."`
	SKU       string        `json:"sku,omitempty" doc:"The product's SKU; or product_id."`
	Quantity  money.Decimal `json:"quantity" doc:"In the product's stock unit, > 0."`
}

// ShippingQuote is the answer of POST /v1/shipping/quote.
type ShippingQuote struct {
	Currency money.Currency   `json:"currency"`
	WeightKg money.Decimal    `json:"weight_kg" doc:"The cart weight the quote used."`
	Options  []ShippingOption `json:"options" doc:"One per carrier that can ship the cart, cheapest first, then by carrier code."`
	Skipped  []ShippingSkip   `json:"skipped" doc:"Active carriers that cannot ship the cart, with the reason."`
}

// ShippingOption is one carrier's price.
type ShippingOption struct {
	CarrierID     string         `json:"carrier_id"`
	CarrierCode   string         `json:"carrier_code"`
	CarrierName   string         `json:"carrier_name"`
	Zone          string         `json:"zone" doc:"The name of the zone that priced the destination."`
	TaxCategoryID string         `json:"tax_category_id,omitempty" doc:"The carrier's: the sales order taxes shipping like this category."`
	Amount        money.Decimal  `json:"amount" doc:"Net of tax, in currency, with the currency's minor-unit places; 0 when free."`
	Free          bool           `json:"free" doc:"The goods value reached the zone's free_above."`
	Currency      money.Currency `json:"currency"`
}

// ShippingSkip is a carrier left out of a quote.
type ShippingSkip struct {
	CarrierID   string `json:"carrier_id"`
	CarrierCode string `json:"carrier_code"`
	Reason      string `json:"reason" doc:"Why: another currency, no zone for the destination, or the cart is heavier than the zone's last band."`
}

// Mount adds POST /v1/shipping/quote.
func Mount(api *rest.API, d *db.DB) {
	api.Handle(rest.Operation{
		ID: "quoteShipping", Method: http.MethodPost, Path: "/v1/shipping/quote", Tag: "Shipping",
		Scope: auth.Scope("sales", auth.Read), XML: true,
		Summary: "Quote shipping for a cart",
		Description: "Prices shipping a cart (lines, or weight_kg) to a destination with every active carrier of the company in the " +
			"currency. Each carrier prices the destination with its zone that lists the country with the longest matching postal " +
			"prefix (a zone without prefixes covers the whole country; the first listed wins a tie), and the cart with the first " +
			"weight band whose max_weight_kg is at or above the cart's weight. A goods_value at or above the zone's free_above " +
			"makes it free. Carriers in another currency, without a zone for the destination, or whose bands end below the " +
			"weight are listed in skipped with the reason. Products without a weight weigh 0; g, oz and lb are converted to kg " +
			"exactly. Amounts are net: the sales order taxes shipping like the carrier's tax_category_id. Reads only, so a " +
			"storefront may call it on every cart change.",
		Request: reflect.TypeOf(ShippingQuoteRequest{}), Response: reflect.TypeOf(ShippingQuote{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in ShippingQuoteRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		ctx := r.Context()
		company, err := rest.Company(ctx, in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		q := d.Reader(ctx)
		weight, err := requestWeight(r, q, company, in)
		if err != nil {
			return err
		}
		res, err := QuoteAll(ctx, q, QuoteInput{
			CompanyID: company, Currency: in.Currency, Destination: Destination{Country: in.Destination.Country, PostalCode: in.Destination.PostalCode},
			WeightKg: weight, GoodsValue: in.GoodsValue, CarrierID: in.CarrierID,
		})
		if err != nil {
			return err
		}
		out := ShippingQuote{Currency: in.Currency, WeightKg: weight, Options: make([]ShippingOption, len(res.Options)), Skipped: make([]ShippingSkip, len(res.Skipped))}
		for i, o := range res.Options {
			out.Options[i] = ShippingOption(o)
		}
		for i, s := range res.Skipped {
			out.Skipped[i] = ShippingSkip(s)
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
}

// requestWeight is weight_kg, or the weight of the lines, whose products
// are named by id or SKU.
func requestWeight(r *http.Request, q db.Querier, company string, in ShippingQuoteRequest) (money.Decimal, error) {
	switch {
	case in.WeightKg != nil && len(in.Lines) > 0:
		return money.Decimal{}, apperr.Field("/weight_kg", "send lines or weight_kg, not both")
	case in.WeightKg != nil:
		if in.WeightKg.IsNegative() {
			return money.Decimal{}, apperr.Field("/weight_kg", "must not be negative")
		}
		return in.WeightKg.Normalize(), nil
	case len(in.Lines) == 0:
		return money.Decimal{}, apperr.Field("/lines", "send the cart's lines or its weight_kg")
	}
	var errs []apperr.FieldError
	var skus []string
	for i, l := range in.Lines {
		if (l.ProductID == "") == (l.SKU == "") {
			errs = append(errs, apperr.FieldError{Pointer: fmt.Sprintf("/lines/%d/product_id", i), Detail: "name the product by product_id or by sku, one of the two"})
		}
		if l.Quantity.Sign() <= 0 {
			errs = append(errs, apperr.FieldError{Pointer: fmt.Sprintf("/lines/%d/quantity", i), Detail: "must be greater than 0"})
		}
		if l.SKU != "" {
			skus = append(skus, l.SKU)
		}
	}
	if len(errs) > 0 {
		return money.Decimal{}, apperr.Fields(errs...)
	}
	ids, err := productIDsBySKU(r.Context(), q, company, skus)
	if err != nil {
		return money.Decimal{}, err
	}
	lines := make([]CartLine, len(in.Lines))
	for i, l := range in.Lines {
		id := l.ProductID
		if l.SKU != "" {
			if id = ids[l.SKU]; id == "" {
				errs = append(errs, apperr.FieldError{Pointer: fmt.Sprintf("/lines/%d/sku", i), Detail: fmt.Sprintf("No product with SKU %q in this company.", l.SKU)})
				continue
			}
		}
		lines[i] = CartLine{ProductID: id, Quantity: l.Quantity}
	}
	if len(errs) > 0 {
		return money.Decimal{}, apperr.Fields(errs...)
	}
	return CartWeightKg(r.Context(), q, company, lines)
}

package pricing

import (
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// PriceQuoteRequest is a customer and a cart to price.
type PriceQuoteRequest struct {
	CompanyID  string                  `json:"company_id,omitempty"`
	CustomerID string                  `json:"customer_id,omitempty" doc:"Prices for this customer: their customer-specific and group lists, their currency and their tax exemption."`
	Currency   money.Currency          `json:"currency,omitempty" doc:"The currency to price in; default the customer's, else the company's base currency. Only lists in this currency apply."`
	Date       string                  `json:"date,omitempty" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"The date prices and tax rates are taken for; default today (UTC)."`
	ShipTo     *PriceQuoteAddress      `json:"ship_to,omitempty" doc:"Where the goods go: the tax jurisdiction. Default the company's registered address."`
	Lines      []PriceQuoteRequestLine `json:"lines" minItems:"1" maxItems:"500"`
}

// PriceQuoteAddress is a tax jurisdiction.
type PriceQuoteAddress struct {
	Country string `json:"country" pattern:"^[A-Z]{2}$" doc:"ISO 3166-1 alpha-2 code."`
	Region  string `json:"region,omitempty" maxLength:"100" doc:"ISO 3166-2 subdivision code without the country prefix (CA, BY); a region's tax rate beats the country's."`
}

// PriceQuoteRequestLine is one product and quantity.
type PriceQuoteRequestLine struct {
	ProductID string        `json:"product_id,omitempty" doc:"The product; or give sku."`
	SKU       string        `json:"sku,omitempty" doc:"The product's SKU; or give product_id."`
	Quantity  money.Decimal `json:"quantity" doc:"In the product's sales unit; more than 0, at most 6 decimal places."`
}

// PriceQuote is a priced cart.
type PriceQuote struct {
	CompanyID    string            `json:"company_id"`
	CustomerID   string            `json:"customer_id,omitempty"`
	Currency     money.Currency    `json:"currency"`
	Date         string            `json:"date" doc:"The date prices and tax rates were taken for."`
	ShipTo       PriceQuoteAddress `json:"ship_to" doc:"The tax jurisdiction used (country empty when no rate was needed and the company has no address)."`
	TaxInclusive bool              `json:"tax_inclusive" doc:"Every line's price came from a tax-inclusive list."`
	TaxRounding  string            `json:"tax_rounding" enum:"line,document" doc:"The company's tax rounding: per line or per document."`
	TaxExempt    bool              `json:"tax_exempt" doc:"The customer is exempt: every line is taxed at 0."`
	Lines        []PriceQuoteLine  `json:"lines"`
	Taxes        []PriceQuoteTax   `json:"taxes" doc:"Tax per tax category and rate."`
	NetTotal     money.Decimal     `json:"net_total"`
	TaxTotal     money.Decimal     `json:"tax_total"`
	GrossTotal   money.Decimal     `json:"gross_total"`
}

// PriceQuoteLine is a priced cart line.
type PriceQuoteLine struct {
	ProductID       string        `json:"product_id"`
	SKU             string        `json:"sku"`
	Name            string        `json:"name"`
	TaxCategoryID   string        `json:"tax_category_id,omitempty"`
	PriceListID     string        `json:"price_list_id,omitempty" doc:"The list the price came from; empty: the product's list_price."`
	TaxInclusive    bool          `json:"tax_inclusive" doc:"The price is gross (from a tax-inclusive list)."`
	Quantity        money.Decimal `json:"quantity"`
	UnitPrice       money.Decimal `json:"unit_price" doc:"As listed: gross when tax_inclusive."`
	DiscountPercent money.Decimal `json:"discount_percent"`
	Discount        money.Decimal `json:"discount" doc:"round(unit_price × quantity) × discount_percent / 100, rounded to the minor unit."`
	NetAmount       money.Decimal `json:"net_amount" doc:"After discount, before tax."`
	TaxRate         money.Decimal `json:"tax_rate" doc:"Percent."`
	TaxAmount       money.Decimal `json:"tax_amount"`
	GrossAmount     money.Decimal `json:"gross_amount" doc:"net_amount + tax_amount."`
}

// PriceQuoteTax is the tax of one category at one rate.
type PriceQuoteTax struct {
	TaxCategoryID string        `json:"tax_category_id"`
	Rate          money.Decimal `json:"rate" doc:"Percent."`
	Base          money.Decimal `json:"base" doc:"The sum of the lines' net amounts."`
	Amount        money.Decimal `json:"amount" doc:"The sum of the lines' tax amounts."`
}

// Mount adds POST /v1/prices/quote.
func Mount(api *rest.API, d *db.DB) {
	api.Handle(rest.Operation{
		ID: "quotePrices", Method: http.MethodPost, Path: "/v1/prices/quote", Tag: "Prices",
		Scope: auth.Scope("sales", auth.Read), XML: true,
		Summary: "Quote a cart",
		Description: "The exact unit price, discount, tax and totals of a cart for a customer, by the rules of docs/storefront.md; " +
			"it stores nothing, so it needs sales:read only. Each line's price comes from the applicable price list (the highest " +
			"priority among the active lists valid on the date, in the currency, for the customer, their group or everyone, that have " +
			"a price for the product at the quantity; then customer-specific before group before everyone), else from the product's " +
			"list_price when it is in the quote's currency. Taxes follow the tax rate of each product's tax category in the ship_to " +
			"jurisdiction, rounded per line or per document as the company's tax_rounding says. Every bad line is reported at once " +
			"(422 at /lines/N/…); a product without a price or a tax rate is 422 at /lines/N naming it.",
		Request: reflect.TypeOf(PriceQuoteRequest{}), Response: reflect.TypeOf(PriceQuote{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in PriceQuoteRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		ctx := r.Context()
		companyID, err := rest.Company(ctx, in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		qi := QuoteInput{CompanyID: companyID, CustomerID: in.CustomerID, Currency: in.Currency, Date: in.Date, Lines: make([]CartLine, len(in.Lines))}
		if in.ShipTo != nil {
			qi.ShipTo = &Address{Country: in.ShipTo.Country, Region: in.ShipTo.Region}
		}
		for i, l := range in.Lines {
			qi.Lines[i] = CartLine(l)
		}
		qt, err := Quote(ctx, d.Reader(ctx), qi)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, priceQuote(companyID, in.CustomerID, qt))
	})
}

func priceQuote(companyID, customerID string, q Quotation) PriceQuote {
	out := PriceQuote{
		CompanyID: companyID, CustomerID: customerID, Currency: q.Currency, Date: q.Date,
		ShipTo:       PriceQuoteAddress{Country: q.Jurisdiction.Country, Region: q.Jurisdiction.Region},
		TaxInclusive: q.TaxInclusive, TaxRounding: q.Rounding, TaxExempt: q.Exempt,
		Lines: make([]PriceQuoteLine, len(q.Lines)), Taxes: make([]PriceQuoteTax, len(q.Taxes)),
		NetTotal: q.NetTotal, TaxTotal: q.TaxTotal, GrossTotal: q.GrossTotal,
	}
	for i, l := range q.Lines {
		out.Lines[i] = PriceQuoteLine{
			ProductID: l.ProductID, SKU: l.SKU, Name: l.Name, TaxCategoryID: l.TaxCategoryID, PriceListID: l.PriceListID,
			TaxInclusive: l.TaxInclusive, Quantity: l.Quantity, UnitPrice: l.UnitPrice, DiscountPercent: l.DiscountPercent,
			Discount: l.Discount, NetAmount: l.NetAmount, TaxRate: l.TaxRate, TaxAmount: l.TaxAmount, GrossAmount: l.GrossAmount,
		}
	}
	for i, t := range q.Taxes {
		out.Taxes[i] = PriceQuoteTax(t)
	}
	return out
}

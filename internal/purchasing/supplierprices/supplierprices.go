// Package supplierprices holds what suppliers charge: a price per
// supplier, product and currency from a quantity on (quantity breaks),
// valid between two dates. Purchase orders take a line's unit price from
// here when the caller gives none (Lookup).
package supplierprices

import (
	"context"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// SupplierPrice is a supplier's price of a product from a quantity on.
type SupplierPrice struct {
	resource.Meta
	resource.Owned
	SupplierID  string         `json:"supplier_id"`
	ProductID   string         `json:"product_id"`
	Currency    money.Currency `json:"currency" doc:"The currency of the price; an order uses only prices in its own currency."`
	MinQuantity money.Decimal  `json:"min_quantity" required:"false" doc:"The price applies from this quantity on, in the product's stock unit (quantity breaks); 0 by default. An order line takes the price with the largest min_quantity not above its quantity."`
	UnitPrice   money.Decimal  `json:"unit_price" doc:"Net, per stock unit, at most 6 decimal places."`
	ValidFrom   string         `json:"valid_from,omitempty" pattern:"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$" doc:"First day the price applies (YYYY-MM-DD); empty: since always."`
	ValidTo     string         `json:"valid_to,omitempty" pattern:"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$" doc:"Last day the price applies, inclusive; empty: open-ended."`
	Active      bool           `json:"active" required:"false"`
}

// SupplierPrices is the registered resource.
type SupplierPrices = resource.Resource[SupplierPrice, *SupplierPrice]

// Spec declares the supplier-prices resource.
var Spec = resource.Spec[SupplierPrice]{
	Module: "purchasing", Plural: "supplier-prices", Singular: "supplier_price", Title: "Supplier price", Prefix: "sp", Scoped: true,
	Description: "What a supplier charges for a product in a currency, from a quantity on (one record per quantity break), between " +
		"two dates. A purchase order line without a unit price takes, among the supplier's active prices in the order's currency " +
		"valid on the order date, the one with the largest min_quantity not above the line's quantity (on a tie the latest " +
		"valid_from). See docs/procure-to-pay.md.",
	Columns: []resource.Column[SupplierPrice]{
		str("supplier_id", false, func(p *SupplierPrice) string { return p.SupplierID }),
		str("product_id", false, func(p *SupplierPrice) string { return p.ProductID }),
		str("currency", true, func(p *SupplierPrice) string { return string(p.Currency) }),
		{Field: query.Field{Name: "min_quantity", Column: "min_quantity", Kind: query.Decimal, Scale: money.QuantityScale, Sortable: true},
			Value: func(p *SupplierPrice) any { return money.Quantity(&p.MinQuantity) }},
		{Field: query.Field{Name: "unit_price", Column: "unit_price", Kind: query.Decimal, Scale: money.PriceScale, Sortable: true},
			Value: func(p *SupplierPrice) any { return money.Price(&p.UnitPrice) }},
		str("valid_from", true, func(p *SupplierPrice) string { return p.ValidFrom }),
		str("valid_to", true, func(p *SupplierPrice) string { return p.ValidTo }),
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(p *SupplierPrice) any { return p.Active }},
	},
	Refs: []resource.Ref[SupplierPrice]{
		{Pointer: "/supplier_id", Target: "suppliers", IDs: func(p *SupplierPrice) []string { return []string{p.SupplierID} }},
		{Pointer: "/product_id", Target: "products", IDs: func(p *SupplierPrice) []string { return []string{p.ProductID} }},
	},
	Defaults: map[string]any{"active": true, "min_quantity": "0"},
	Validate: validate,
}

func str(name string, sortable bool, value func(*SupplierPrice) string) resource.Column[SupplierPrice] {
	return resource.Column[SupplierPrice]{
		Field: query.Field{Name: name, Column: name, Kind: query.String, Sortable: sortable},
		Value: func(p *SupplierPrice) any { return value(p) },
	}
}

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func validate(_ context.Context, p *SupplierPrice) []apperr.FieldError {
	var errs []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if _, err := money.ParseCurrency(string(p.Currency)); err != nil {
		add("/currency", "%v", err)
	}
	if p.MinQuantity.IsNegative() {
		add("/min_quantity", "must not be negative")
	} else if _, err := p.MinQuantity.Scaled(money.QuantityScale); err != nil {
		add("/min_quantity", "at most %d decimal places and 12 integer digits", money.QuantityScale)
	}
	if p.UnitPrice.IsNegative() {
		add("/unit_price", "must not be negative")
	} else if _, err := p.UnitPrice.Scaled(money.PriceScale); err != nil {
		add("/unit_price", "at most %d decimal places and 12 integer digits", money.PriceScale)
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
	return errs
}

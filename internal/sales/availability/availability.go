// Package availability answers what can be sold now: per product, the
// stock on hand, reserved, held and available, and what is on its way,
// per warehouse and in total, for many products in one call. It reads the
// stock levels package inventory keeps in step with every move, never the
// move history, so its cost grows with the products asked for, not with
// the age of the books.
package availability

import (
	"context"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// MaxItems bounds the products one call asks for.
const MaxItems = 200

// Item is the availability of one requested product.
type Item = AvailabilityItem

// AvailabilityItem is named for the OpenAPI document, whose schema names
// are global; Go code says Item.
type AvailabilityItem struct {
	SKU        string                  `json:"sku" doc:"As requested, or the product's SKU when asked for by product_id."`
	ProductID  string                  `json:"product_id,omitempty" doc:"The product; as requested when asked for by product_id and not found."`
	Found      bool                    `json:"found" doc:"false for a SKU or product_id the company does not have: the other items are still answered."`
	Available  money.Decimal           `json:"available" doc:"The sum of the warehouses' available."`
	OnHand     money.Decimal           `json:"on_hand" doc:"In the warehouses' own locations, transit excluded."`
	Reserved   money.Decimal           `json:"reserved"`
	Held       money.Decimal           `json:"held" doc:"Blocked by quality holds."`
	Incoming   money.Decimal           `json:"incoming" doc:"In transit locations on its way to the warehouses."`
	Warehouses []WarehouseAvailability `json:"warehouses" doc:"Warehouses with stock, reservations, holds or incoming for the product, by code."`
}

// WarehouseAvailability is a product's stock in one warehouse.
type WarehouseAvailability struct {
	WarehouseID string        `json:"warehouse_id"`
	Code        string        `json:"code"`
	Available   money.Decimal `json:"available" doc:"on_hand − reserved − held, shown as 0 when below (stock taken negative, or reserved beyond it, is not for sale)."`
	OnHand      money.Decimal `json:"on_hand"`
	Reserved    money.Decimal `json:"reserved"`
	Held        money.Decimal `json:"held"`
	Incoming    money.Decimal `json:"incoming"`
}

// For answers the availability of the products named by SKU or by id in
// the company, in request order (SKUs first, then ids), each request one
// item — an unknown one with Found false. warehouseCodes narrows the
// answer to those warehouses; an unknown code is 422 at query:warehouse, and asking for
// none or more than MaxItems products is 400 at query:sku.
// Quantities are in each product's stock unit.
//
// Per warehouse, on hand, reserved and held are summed over its locations
// except transit ones, and available is on_hand − reserved − held, never
// below 0; incoming is on hand in transit locations going to it. The
// totals add up the warehouses, so a warehouse in deficit does not hide
// what another can ship.
func For(ctx context.Context, q db.Querier, companyID string, skus []string, productIDs []string, warehouseCodes []string) ([]Item, error) {
	if err := checkCount(len(skus) + len(productIDs)); err != nil {
		return nil, err
	}
	known, stock, err := lookup(ctx, q, companyID, skus, productIDs, warehouseCodes)
	if err != nil {
		return nil, err
	}
	var missing []apperr.FieldError
	for _, code := range warehouseCodes {
		if _, ok := known.warehouses[code]; !ok {
			missing = append(missing, apperr.FieldError{Pointer: "query:warehouse", Detail: fmt.Sprintf("No warehouse with code %q in this company.", code)})
		}
	}
	if len(missing) > 0 {
		return nil, apperr.Fields(missing...)
	}
	out := make([]Item, 0, len(skus)+len(productIDs))
	for _, sku := range skus {
		id, ok := known.bySKU[sku]
		out = append(out, item(sku, id, ok, stock[id]))
	}
	for _, id := range productIDs {
		sku, ok := known.byID[id]
		out = append(out, item(sku, id, ok, stock[id]))
	}
	return out, nil
}

// checkCount refuses asking for no product or more than MaxItems: a bad
// query parameter, 400.
func checkCount(n int) error {
	if n == 0 || n > MaxItems {
		return apperr.New(apperr.BadRequest, "Ask for 1 to %d products with sku or product_id (got %d).", MaxItems, n).
			WithFields(apperr.FieldError{Pointer: "query:sku", Detail: fmt.Sprintf("1 to %d sku and product_id parameters", MaxItems)})
	}
	return nil
}

func item(sku, productID string, found bool, rows []WarehouseAvailability) Item {
	it := Item{SKU: sku, ProductID: productID, Found: found, Warehouses: []WarehouseAvailability{}}
	for _, w := range rows {
		it.OnHand = it.OnHand.Add(w.OnHand)
		it.Reserved = it.Reserved.Add(w.Reserved)
		it.Held = it.Held.Add(w.Held)
		it.Incoming = it.Incoming.Add(w.Incoming)
		it.Available = it.Available.Add(w.Available)
		it.Warehouses = append(it.Warehouses, w)
	}
	it.OnHand, it.Reserved, it.Held = it.OnHand.Normalize(), it.Reserved.Normalize(), it.Held.Normalize()
	it.Incoming, it.Available = it.Incoming.Normalize(), it.Available.Normalize()
	return it
}

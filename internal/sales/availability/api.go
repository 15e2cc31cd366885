package availability

import (
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// Availability is the answer of GET /v1/availability.
type Availability struct {
	CompanyID string             `json:"company_id"`
	Data      []AvailabilityItem `json:"data" doc:"One item per requested sku, then per requested product_id, in request order."`
}

// Mount adds GET /v1/availability.
func Mount(api *rest.API, d *db.DB) {
	api.Handle(rest.Operation{
		ID: "getAvailability", Method: http.MethodGet, Path: "/v1/availability", Tag: "Availability",
		// inventory:read, which the sales role (storefronts, order takers)
		// holds: availability is stock, read.
		Scope: auth.Scope("inventory", auth.Read), XML: true,
		Summary: "Availability of many products",
		Description: "What can be sold now, for up to 200 products in one call (sku and product_id repeated, e.g. " +
			"?sku=MUG-1&sku=MUG-2), answered from the stock levels (not the move history), in one item per requested " +
			"product in request order (SKUs first, then product ids). A SKU or product_id the company does not have is " +
			"an item with found: false and zeros, not a 404 for the whole request. Per warehouse, on_hand, reserved and " +
			"held are summed over its locations except transit ones; available = on_hand − reserved − held, shown as 0 " +
			"when below (stock taken negative, or reserved beyond it, is not for sale); incoming is on hand in transit " +
			"locations going to the warehouse. The item's totals add up its warehouses. warehouse (codes, repeated) " +
			"narrows both the list and the totals; an unknown code is 422. Quantities are in the product's stock unit.",
		Params: []rest.Param{
			{Name: "company_id", In: "query", Description: "The company to work in; required when the client works in more than one."},
			{Name: "sku", In: "query", Description: "A SKU; repeat for more (1 to 200 sku and product_id together)."},
			{Name: "product_id", In: "query", Description: "A product id, instead of or besides sku; repeat for more."},
			{Name: "warehouse", In: "query", Description: "A warehouse code to count; repeat for more. Default: every warehouse."},
		},
		Response: reflect.TypeOf(Availability{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		ctx, qs := r.Context(), r.URL.Query()
		company, err := rest.Company(ctx, qs.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		items, err := For(ctx, d.Reader(ctx), company, qs["sku"], qs["product_id"], qs["warehouse"])
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, Availability{CompanyID: company, Data: items})
	})
}

package orders

import (
	"context"
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// PurchaseOrderRequest creates a purchase order.
type PurchaseOrderRequest struct {
	CompanyID    string                   `json:"company_id,omitempty"`
	SupplierID   string                   `json:"supplier_id"`
	ExternalID   string                   `json:"external_id,omitempty" maxLength:"100" doc:"Your order id; unique per company."`
	Currency     money.Currency           `json:"currency,omitempty" doc:"Default: the supplier's currency."`
	OrderDate    string                   `json:"order_date,omitempty" doc:"YYYY-MM-DD; default today in the company's time zone. Supplier prices and tax rates are those valid on it."`
	ExpectedDate string                   `json:"expected_date,omitempty" doc:"YYYY-MM-DD the goods are expected; not before order_date."`
	WarehouseID  string                   `json:"warehouse_id,omitempty" doc:"Where the goods are delivered; default the company's first active warehouse by code."`
	Lines        []PurchaseOrderLineInput `json:"lines" minItems:"1" maxItems:"500"`
}

// PurchaseOrderFromSuggestionsRequest orders what the reorder rules
// suggest.
type PurchaseOrderFromSuggestionsRequest struct {
	CompanyID    string `json:"company_id,omitempty"`
	SupplierID   string `json:"supplier_id" doc:"Whom to order from; the lines are priced from this supplier's prices."`
	WarehouseID  string `json:"warehouse_id,omitempty" doc:"Whose suggestions; default the company's first active warehouse by code."`
	ExpectedDate string `json:"expected_date,omitempty" doc:"Default: today plus the longest lead time of the suggestions."`
	Send         bool   `json:"send,omitempty" doc:"Send the order at once (it takes its number)."`
}

// GoodsReceiptRequest receives (part of) a purchase order.
type GoodsReceiptRequest struct {
	CompanyID       string                  `json:"company_id,omitempty"`
	PurchaseOrderID string                  `json:"purchase_order_id"`
	Date            string                  `json:"date,omitempty" doc:"YYYY-MM-DD; default today in the company's time zone. The stock moves, ledger entries and exchange rate are of this date."`
	LocationID      string                  `json:"location_id,omitempty" doc:"A location of the order's warehouse; default its receiving location."`
	Lines           []GoodsReceiptLineInput `json:"lines,omitempty" maxItems:"500" doc:"What arrived, in stock units; default everything outstanding."`
}

// PurchaseOrderList is a page of purchase orders.
type PurchaseOrderList struct {
	Data          []PurchaseOrder `json:"data"`
	NextPageToken string          `json:"next_page_token"`
}

// GoodsReceiptList is a page of goods receipts.
type GoodsReceiptList struct {
	Data          []GoodsReceipt `json:"data"`
	NextPageToken string         `json:"next_page_token"`
}

// GoodsReceiptResult is a goods receipt and the order after it.
type GoodsReceiptResult struct {
	GoodsReceipt  GoodsReceipt  `json:"goods_receipt"`
	PurchaseOrder PurchaseOrder `json:"purchase_order"`
}

// Mount adds purchase orders and goods receipts.
func Mount(api *rest.API, d *db.DB) {
	read, write := auth.Scope("purchasing", auth.Read), auth.Scope("purchasing", auth.Write)
	idParam := []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}
	const tag = "Purchasing"
	api.Handle(rest.Operation{
		ID: "createPurchaseOrder", Method: http.MethodPost, Path: "/v1/purchase-orders", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Create a purchase order (draft)",
		Description: "Prices every line (the given unit_price, else the supplier's price with the largest quantity break not above the " +
			"quantity, valid on the order date, in the order currency; none is 422 at /lines/N/unit_price) and adds input tax at the rate " +
			"of the line's tax category in the company's country. Send it to take its number.",
		Request: reflect.TypeOf(PurchaseOrderRequest{}), Response: reflect.TypeOf(PurchaseOrder{}), Status: http.StatusCreated, Errors: []int{409},
	}, rest.Write(api, d, http.StatusCreated, func(in *PurchaseOrderRequest) string { return in.CompanyID },
		func(o PurchaseOrder) string { return "/v1/purchase-orders/" + o.ID },
		func(ctx context.Context, tx *db.Tx, company string, in *PurchaseOrderRequest) (PurchaseOrder, error) {
			return Create(ctx, tx, CreateInput{CompanyID: company, SupplierID: in.SupplierID, ExternalID: in.ExternalID, Currency: in.Currency,
				OrderDate: in.OrderDate, ExpectedDate: in.ExpectedDate, WarehouseID: in.WarehouseID, Lines: in.Lines})
		}))
	api.Handle(rest.Operation{
		ID: "createPurchaseOrderFromSuggestions", Method: http.MethodPost, Path: "/v1/purchase-orders/from-suggestions", Tag: tag, Scope: write,
		XML: true, Idempotent: true,
		Summary: "Order the current reorder suggestions",
		Description: "One draft purchase order from the supplier with a line per current reorder suggestion of the warehouse " +
			"(GET /v1/reorder-suggestions), each for the suggested quantity and priced from the supplier's prices; sent at once with " +
			"send: true. 409 when there is nothing to order.",
		Request: reflect.TypeOf(PurchaseOrderFromSuggestionsRequest{}), Response: reflect.TypeOf(PurchaseOrder{}), Status: http.StatusCreated, Errors: []int{409},
	}, rest.Write(api, d, http.StatusCreated, func(in *PurchaseOrderFromSuggestionsRequest) string { return in.CompanyID },
		func(o PurchaseOrder) string { return "/v1/purchase-orders/" + o.ID },
		func(ctx context.Context, tx *db.Tx, company string, in *PurchaseOrderFromSuggestionsRequest) (PurchaseOrder, error) {
			return FromSuggestions(ctx, tx, FromSuggestionsInput{CompanyID: company, SupplierID: in.SupplierID, WarehouseID: in.WarehouseID,
				ExpectedDate: in.ExpectedDate, Send: in.Send})
		}))
	api.Handle(rest.Operation{
		ID: "listPurchaseOrders", Method: http.MethodGet, Path: "/v1/purchase-orders", Tag: tag, Scope: read, XML: true,
		Summary: "List purchase orders", Description: "Oldest first; filters supplier_id, status.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "supplier_id", In: "query"}, {Name: "status", In: "query"},
			{Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(PurchaseOrderList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		var out PurchaseOrderList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"purchase-orders", company, q.Get("supplier_id"), q.Get("status")},
			func(o PurchaseOrder) string { return o.ID }, func(after string, limit int) ([]PurchaseOrder, error) {
				return List(r.Context(), d.Reader(r.Context()), company, ListFilter{SupplierID: q.Get("supplier_id"), Status: q.Get("status"), After: after, Limit: limit})
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getPurchaseOrder", Method: http.MethodGet, Path: "/v1/purchase-orders/{id}", Tag: tag, Scope: read, XML: true,
		Summary: "Get a purchase order", Params: idParam, Response: reflect.TypeOf(PurchaseOrder{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		o, err := Get(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, o)
	})
	action := func(fn func(ctx context.Context, tx *db.Tx, company, id string) (PurchaseOrder, error)) rest.Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
			if err != nil {
				return err
			}
			var out PurchaseOrder
			err = d.Transact(r.Context(), func(tx *db.Tx) error {
				out, err = fn(r.Context(), tx, company, r.PathValue("id"))
				return err
			})
			if err != nil {
				return err
			}
			return rest.Respond(w, r, http.StatusOK, out)
		}
	}
	api.Handle(rest.Operation{
		ID: "sendPurchaseOrder", Method: http.MethodPost, Path: "/v1/purchase-orders/{id}/send", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary:     "Send a purchase order",
		Description: "draft → sent; takes the company's next purchase order number (gapless). Sending a sent order returns it unchanged.",
		Params:      idParam, Response: reflect.TypeOf(PurchaseOrder{}), Errors: []int{404, 409},
	}, action(Send))
	api.Handle(rest.Operation{
		ID: "cancelPurchaseOrder", Method: http.MethodPost, Path: "/v1/purchase-orders/{id}/cancel", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Cancel a purchase order", Description: "Draft or sent orders nothing of which was received or billed; 409 otherwise.",
		Params: idParam, Response: reflect.TypeOf(PurchaseOrder{}), Errors: []int{404, 409},
	}, action(Cancel))
	api.Handle(rest.Operation{
		ID: "closePurchaseOrder", Method: http.MethodPost, Path: "/v1/purchase-orders/{id}/close", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Close a purchase order", Description: "received or billed → closed: no more receipts against it; 409 from other statuses.",
		Params: idParam, Response: reflect.TypeOf(PurchaseOrder{}), Errors: []int{404, 409},
	}, action(Close))
	api.Handle(rest.Operation{
		ID: "createGoodsReceipt", Method: http.MethodPost, Path: "/v1/goods-receipts", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Receive goods against a purchase order",
		Description: "In one transaction: a stock receipt per line at the order's unit price (converted into the company currency at the " +
			"exchange rate of the receipt date when the order is in another currency), each posting inventory against GR/IR clearing; " +
			"then the order's received quantities and status (partially_received or received). A line may receive at most its quantity " +
			"plus the company's over_receipt_tolerance_percent in all (409 at /lines/N/quantity).",
		Request: reflect.TypeOf(GoodsReceiptRequest{}), Response: reflect.TypeOf(GoodsReceiptResult{}), Status: http.StatusCreated, Errors: []int{409},
	}, rest.Write(api, d, http.StatusCreated, func(in *GoodsReceiptRequest) string { return in.CompanyID },
		func(out GoodsReceiptResult) string { return "/v1/goods-receipts/" + out.GoodsReceipt.ID },
		func(ctx context.Context, tx *db.Tx, company string, in *GoodsReceiptRequest) (out GoodsReceiptResult, err error) {
			out.GoodsReceipt, out.PurchaseOrder, err = Receive(ctx, tx, ReceiveInput{CompanyID: company, OrderID: in.PurchaseOrderID, Date: in.Date,
				LocationID: in.LocationID, Lines: in.Lines})
			return out, err
		}))
	api.Handle(rest.Operation{
		ID: "listGoodsReceipts", Method: http.MethodGet, Path: "/v1/goods-receipts", Tag: tag, Scope: read, XML: true,
		Summary: "List goods receipts", Description: "Oldest first; filter purchase_order_id.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "purchase_order_id", In: "query"},
			{Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(GoodsReceiptList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		var out GoodsReceiptList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"goods-receipts", company, q.Get("purchase_order_id")},
			func(g GoodsReceipt) string { return g.ID }, func(after string, limit int) ([]GoodsReceipt, error) {
				return ListReceipts(r.Context(), d.Reader(r.Context()), company, ReceiptFilter{PurchaseOrderID: q.Get("purchase_order_id"), After: after, Limit: limit})
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getGoodsReceipt", Method: http.MethodGet, Path: "/v1/goods-receipts/{id}", Tag: tag, Scope: read, XML: true,
		Summary: "Get a goods receipt", Params: idParam, Response: reflect.TypeOf(GoodsReceipt{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		g, err := GetReceipt(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, g)
	})
}

package orders

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// SalesOrderRequest creates an order.
type SalesOrderRequest struct {
	CompanyID      string         `json:"company_id,omitempty"`
	CustomerID     string         `json:"customer_id"`
	ExternalID     string         `json:"external_id,omitempty" maxLength:"100" doc:"Your order id; unique per company."`
	Currency       money.Currency `json:"currency,omitempty" doc:"Default: the customer's currency."`
	OrderDate      string         `json:"order_date,omitempty" doc:"YYYY-MM-DD; default today in the company's time zone."`
	WarehouseID    string         `json:"warehouse_id,omitempty" doc:"Where it ships from; default the company's first active warehouse by code."`
	CarrierID      string         `json:"carrier_id,omitempty" doc:"Default: the cheapest carrier that ships there."`
	ShipTo         *ShipTo        `json:"ship_to,omitempty" doc:"Destination and tax jurisdiction; without it no shipping is charged and the company's country taxes."`
	AllowBackorder bool           `json:"allow_backorder,omitempty" doc:"Confirm even when stock is short, reserving what there is."`
	Lines          []LineInput    `json:"lines" minItems:"1" maxItems:"500"`
}

func (r SalesOrderRequest) input(company string) CreateInput {
	return CreateInput{CompanyID: company, CustomerID: r.CustomerID, ExternalID: r.ExternalID, Currency: r.Currency, OrderDate: r.OrderDate,
		WarehouseID: r.WarehouseID, CarrierID: r.CarrierID, ShipTo: r.ShipTo, AllowBackorder: r.AllowBackorder, Lines: r.Lines}
}

// CheckoutRequest is a storefront's order in one call.
type CheckoutRequest struct {
	CompanyID      string         `json:"company_id,omitempty"`
	ExternalID     string         `json:"external_id" minLength:"1" maxLength:"100" doc:"The storefront's order id: a retry with the same content returns the same order; other content is 409."`
	Customer       CustomerInput  `json:"customer" doc:"Found by external_id, created when new."`
	Currency       money.Currency `json:"currency,omitempty"`
	WarehouseID    string         `json:"warehouse_id,omitempty"`
	CarrierID      string         `json:"carrier_id,omitempty"`
	ShipTo         *ShipTo        `json:"ship_to,omitempty"`
	AllowBackorder bool           `json:"allow_backorder,omitempty"`
	Lines          []LineInput    `json:"lines" minItems:"1" maxItems:"500"`
}

// ShipmentRequest ships (part of) an order.
type ShipmentRequest struct {
	CompanyID      string     `json:"company_id,omitempty"`
	SalesOrderID   string     `json:"sales_order_id"`
	Date           string     `json:"date,omitempty" doc:"YYYY-MM-DD; default today."`
	CarrierID      string     `json:"carrier_id,omitempty"`
	TrackingNumber string     `json:"tracking_number,omitempty" maxLength:"100"`
	Lines          []ShipLine `json:"lines,omitempty" doc:"What to ship, in stock units; default everything reserved and not on another shipment."`
	Status         string     `json:"status,omitempty" enum:"picking,shipped" doc:"shipped (the default) issues the stock at once; picking starts a shipment to pack and ship later (POST …/pack, …/ship)."`
}

// ShipmentAdvanceRequest ships (or packs) a shipment being picked.
type ShipmentAdvanceRequest struct {
	Date           string `json:"date,omitempty"`
	CarrierID      string `json:"carrier_id,omitempty"`
	TrackingNumber string `json:"tracking_number,omitempty" maxLength:"100"`
}

// SalesOrderEditRequest changes an order before anything of it ships;
// what is given replaces what the order had.
type SalesOrderEditRequest struct {
	Lines          []LineInput `json:"lines,omitempty" minItems:"1" maxItems:"500" doc:"Replace all lines."`
	ShipTo         *ShipTo     `json:"ship_to,omitempty"`
	CarrierID      *string     `json:"carrier_id,omitempty"`
	AllowBackorder *bool       `json:"allow_backorder,omitempty"`
}

// SalesOrderList is a page of orders.
type SalesOrderList struct {
	Data          []SalesOrder `json:"data"`
	NextPageToken string       `json:"next_page_token"`
}

// ShipmentResult is a shipment and the order after it.
type ShipmentResult struct {
	Shipment   Shipment   `json:"shipment"`
	SalesOrder SalesOrder `json:"sales_order"`
}

// Mount adds sales orders, checkout and shipments.
func Mount(api *rest.API, d *db.DB, m *Module, customers CustomerStore) {
	read, write := auth.Scope("sales", auth.Read), auth.Scope("sales", auth.Write)
	idParam := []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}
	transact := func(r *http.Request, fn func(ctx context.Context, tx *db.Tx) error) error {
		return d.Transact(r.Context(), func(tx *db.Tx) error { return fn(r.Context(), tx) })
	}
	api.Handle(rest.Operation{
		ID: "createSalesOrder", Method: http.MethodPost, Path: "/v1/sales-orders", Tag: "Sales", Scope: write, XML: true, Idempotent: true,
		Summary:     "Create a sales order (draft)",
		Description: "Prices and taxes every line for the customer (price lists, tax rates of the ship-to jurisdiction) and quotes shipping; confirm it to reserve stock.",
		Request:     reflect.TypeOf(SalesOrderRequest{}), Response: reflect.TypeOf(SalesOrder{}), Status: http.StatusCreated, Errors: []int{409},
	}, rest.Write(api, d, http.StatusCreated, func(in *SalesOrderRequest) string { return in.CompanyID },
		func(o SalesOrder) string { return "/v1/sales-orders/" + o.ID },
		func(ctx context.Context, tx *db.Tx, company string, in *SalesOrderRequest) (SalesOrder, error) {
			return Create(ctx, tx, in.input(company))
		}))
	api.Handle(rest.Operation{
		ID: "listSalesOrders", Method: http.MethodGet, Path: "/v1/sales-orders", Tag: "Sales", Scope: read, XML: true,
		Summary: "List sales orders", Description: "Oldest first; filters customer_id, status.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "customer_id", In: "query"}, {Name: "status", In: "query"},
			{Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(SalesOrderList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		var out SalesOrderList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"sales-orders", company, q.Get("customer_id"), q.Get("status")},
			func(o SalesOrder) string { return o.ID }, func(after string, limit int) ([]SalesOrder, error) {
				return List(r.Context(), d.Reader(r.Context()), company, ListFilter{CustomerID: q.Get("customer_id"), Status: q.Get("status"), After: after, Limit: limit})
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getSalesOrder", Method: http.MethodGet, Path: "/v1/sales-orders/{id}", Tag: "Sales", Scope: read, XML: true,
		Summary: "Get a sales order", Params: idParam, Response: reflect.TypeOf(SalesOrder{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		o, err := Get(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		w.Header().Set("ETag", rest.ETag(o.Version))
		return rest.Respond(w, r, http.StatusOK, o)
	})
	api.Handle(rest.Operation{
		ID: "editSalesOrder", Method: http.MethodPatch, Path: "/v1/sales-orders/{id}", Tag: "Sales", Scope: write, XML: true,
		Summary: "Edit a sales order",
		Description: "Before anything of it ships or is being picked: lines, destination, carrier or backorder choice replaced, the order priced, taxed and " +
			"its shipping quoted again; a confirmed order reserves the new lines, every line or none (409 listing the short ones, the order unchanged). " +
			"If-Match with the ETag of your last read is required (412 when the order changed since).",
		Params: idParam, Request: reflect.TypeOf(SalesOrderEditRequest{}), Response: reflect.TypeOf(SalesOrder{}), Errors: []int{404, 409, 412, 428},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		version, err := ifMatchVersion(r)
		if err != nil {
			return err
		}
		m2, err := api.ReadBody(r, reflect.TypeOf(SalesOrderEditRequest{}), true, true)
		if err != nil {
			return err
		}
		if err := api.Validate(m2, reflect.TypeOf(SalesOrderEditRequest{})); err != nil {
			return err
		}
		var in SalesOrderEditRequest
		if err := rest.Into(m2, &in); err != nil {
			return err
		}
		var out SalesOrder
		err = transact(r, func(ctx context.Context, tx *db.Tx) error {
			out, err = m.EditOrder(ctx, tx, company, r.PathValue("id"), version, Edit(in))
			return err
		})
		if err != nil {
			return err
		}
		w.Header().Set("ETag", rest.ETag(out.Version))
		return rest.Respond(w, r, http.StatusOK, out)
	})
	action := func(fn func(ctx context.Context, tx *db.Tx, company, id string) (SalesOrder, error)) rest.Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
			if err != nil {
				return err
			}
			var out SalesOrder
			err = transact(r, func(ctx context.Context, tx *db.Tx) error {
				out, err = fn(ctx, tx, company, r.PathValue("id"))
				return err
			})
			if err != nil {
				return err
			}
			return rest.Respond(w, r, http.StatusOK, out)
		}
	}
	api.Handle(rest.Operation{
		ID: "confirmSalesOrder", Method: http.MethodPost, Path: "/v1/sales-orders/{id}/confirm", Tag: "Sales", Scope: write, XML: true, Idempotent: true,
		Summary:     "Confirm a sales order",
		Description: "Reserves stock for every line or none: 409 with one error per short line (pointer /lines/N/quantity), unless the order allows backorders. Checks the customer's credit limit (409 at /customer_id).",
		Params:      idParam, Response: reflect.TypeOf(SalesOrder{}), Errors: []int{404, 409},
	}, action(m.Confirm))
	api.Handle(rest.Operation{
		ID: "cancelSalesOrder", Method: http.MethodPost, Path: "/v1/sales-orders/{id}/cancel", Tag: "Sales", Scope: write, XML: true, Idempotent: true,
		Summary: "Cancel a sales order", Description: "Releases its reservations; refused (409) once anything shipped.",
		Params: idParam, Response: reflect.TypeOf(SalesOrder{}), Errors: []int{404, 409},
	}, action(Cancel))
	api.Handle(rest.Operation{
		ID: "checkout", Method: http.MethodPost, Path: "/v1/orders/checkout", Tag: "Sales", Scope: write, XML: true, Idempotent: true,
		Summary: "Check out a storefront order in one call",
		Description: "Finds or creates the customer by external id, prices the cart, quotes shipping, creates and confirms the order, and returns it " +
			"with its totals (201; 200 when the same external_id and content were checked out before). 409 listing the short lines " +
			"(nothing is kept), or naming the existing order when external_id was used with other content. No invoice number is taken.",
		Request: reflect.TypeOf(CheckoutRequest{}), Response: reflect.TypeOf(SalesOrder{}), Status: http.StatusCreated, Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in CheckoutRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		ci := CheckoutInput{Customer: in.Customer, CreateInput: CreateInput{CompanyID: company, ExternalID: in.ExternalID, Currency: in.Currency,
			WarehouseID: in.WarehouseID, CarrierID: in.CarrierID, ShipTo: in.ShipTo, AllowBackorder: in.AllowBackorder, Lines: in.Lines}}
		var (
			out     SalesOrder
			created bool
		)
		run := func() error {
			return transact(r, func(ctx context.Context, tx *db.Tx) error {
				out, created, err = m.Checkout(ctx, tx, customers, ci)
				return err
			})
		}
		// Concurrent first checkouts of one new customer, or of one
		// storefront order, race to insert it: the losers run again and
		// find the winner's record.
		for attempt := 0; ; attempt++ {
			if err = run(); !errors.Is(err, ErrRaced) || attempt == 3 {
				break
			}
		}
		if err != nil {
			return err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		w.Header().Set("Location", "/v1/sales-orders/"+out.ID)
		return rest.Respond(w, r, status, out)
	})
	api.Handle(rest.Operation{
		ID: "createShipment", Method: http.MethodPost, Path: "/v1/shipments", Tag: "Sales", Scope: write, XML: true, Idempotent: true,
		Summary:     "Ship (part of) a sales order",
		Description: "Issues the reserved stock (one stock move per reservation drawn on, each posting cost of goods sold) and updates the order's fulfilment status; partial shipments allowed.",
		Request:     reflect.TypeOf(ShipmentRequest{}), Response: reflect.TypeOf(ShipmentResult{}), Status: http.StatusCreated, Errors: []int{404, 409},
	}, rest.Write(api, d, http.StatusCreated, func(in *ShipmentRequest) string { return in.CompanyID },
		func(out ShipmentResult) string { return "/v1/shipments/" + out.Shipment.ID },
		func(ctx context.Context, tx *db.Tx, company string, in *ShipmentRequest) (out ShipmentResult, err error) {
			out.Shipment, out.SalesOrder, err = m.Ship(ctx, tx, ShipInput{CompanyID: company, OrderID: in.SalesOrderID, Date: in.Date,
				CarrierID: in.CarrierID, TrackingNumber: in.TrackingNumber, Lines: in.Lines, Stage: in.Status})
			return out, err
		}))
	advance := func(to string) rest.Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			var in ShipmentAdvanceRequest
			if r.ContentLength != 0 {
				if _, err := api.Decode(r, &in, true); err != nil {
					return err
				}
			}
			company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
			if err != nil {
				return err
			}
			var out ShipmentResult
			err = transact(r, func(ctx context.Context, tx *db.Tx) error {
				out.Shipment, out.SalesOrder, err = m.Advance(ctx, tx, company, r.PathValue("id"), to, in.Date, in.CarrierID, in.TrackingNumber)
				return err
			})
			if err != nil {
				return err
			}
			return rest.Respond(w, r, http.StatusOK, out)
		}
	}
	api.Handle(rest.Operation{
		ID: "packShipment", Method: http.MethodPost, Path: "/v1/shipments/{id}/pack", Tag: "Sales", Scope: write, XML: true, Idempotent: true,
		Summary: "Mark a shipment packed", Params: idParam, Request: reflect.TypeOf(ShipmentAdvanceRequest{}),
		Response: reflect.TypeOf(ShipmentResult{}), Errors: []int{404, 409},
	}, advance(Packed))
	api.Handle(rest.Operation{
		ID: "shipShipment", Method: http.MethodPost, Path: "/v1/shipments/{id}/ship", Tag: "Sales", Scope: write, XML: true, Idempotent: true,
		Summary:     "Ship a picked or packed shipment",
		Description: "Issues its stock (cost of goods sold posted) with the carrier and tracking number given here or before; 409 once shipped.",
		Params:      idParam, Request: reflect.TypeOf(ShipmentAdvanceRequest{}), Response: reflect.TypeOf(ShipmentResult{}), Errors: []int{404, 409},
	}, advance(Shipped))
	api.Handle(rest.Operation{
		ID: "getShipment", Method: http.MethodGet, Path: "/v1/shipments/{id}", Tag: "Sales", Scope: read, XML: true,
		Summary: "Get a shipment", Params: idParam, Response: reflect.TypeOf(Shipment{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		s, err := GetShipment(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, s)
	})
}

// ifMatchVersion reads the order version an edit was based on from
// If-Match (an ETag from a read of the order).
func ifMatchVersion(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, apperr.New(apperr.PreconditionRequired, "Send If-Match with the ETag from your last read, so a concurrent change is not overwritten.")
	}
	v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || v <= 0 {
		return 0, apperr.New(apperr.PreconditionFailed, "If-Match %s is not an ETag of this order.", h)
	}
	return v, nil
}

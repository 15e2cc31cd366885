// Package inventoryapi exposes stock over the API: moves, levels,
// reservations, quality holds, lot traces and the inventory valuation.
package inventoryapi

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// StockMoveRequest makes a stock move.
type StockMoveRequest struct {
	CompanyID      string            `json:"company_id,omitempty"`
	Type           string            `json:"type" enum:"receipt,issue,transfer,adjustment,opening,return" doc:"receipt: to_location_id, unit_cost; issue: from_location_id; transfer: both (between warehouses, two moves through a transit location); adjustment: one of them and a reason; opening: stock taken over from a previous system, with unit_cost, against the opening-balance account (import many at once through POST /v1/batch, with dry_run=true to check them first); return: sold goods coming back, with unit_cost (the cost they left with), against cost of goods sold."`
	ProductID      string            `json:"product_id"`
	FromLocationID string            `json:"from_location_id,omitempty"`
	ToLocationID   string            `json:"to_location_id,omitempty"`
	Lot            string            `json:"lot,omitempty" maxLength:"100" doc:"Lot or serial number; required for tracked products."`
	LotExpiry      string            `json:"lot_expiry,omitempty" doc:"YYYY-MM-DD, recorded when the lot is first received."`
	Quantity       money.Decimal     `json:"quantity"`
	UnitID         string            `json:"unit_id,omitempty" doc:"The unit quantity is in: the stock unit (default), the sales unit, or any unit with a conversion to or from the stock unit; converted exactly."`
	UnitCost       *money.Decimal    `json:"unit_cost,omitempty" doc:"Cost per stock unit in the company currency; required on receipts."`
	Date           string            `json:"date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"`
	Reason         string            `json:"reason,omitempty" maxLength:"200"`
	Memo           string            `json:"memo,omitempty" maxLength:"500"`
	Reservation    *inventory.Source `json:"reservation,omitempty" doc:"The document whose reservation this issue ships: its reserved quantity is used up."`
}

// StockMoveReverseRequest reverses a move.
type StockMoveReverseRequest struct {
	Date string `json:"date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"`
}

// StockReserveRequest reserves stock for a document.
type StockReserveRequest struct {
	CompanyID  string             `json:"company_id,omitempty"`
	SourceType string             `json:"source_type" minLength:"1" maxLength:"50" doc:"The kind of document, e.g. sales_order."`
	SourceID   string             `json:"source_id" minLength:"1" maxLength:"100"`
	Lines      []StockReserveLine `json:"lines" minItems:"1" maxItems:"500"`
}

// StockReserveLine is one line of a reservation.
type StockReserveLine struct {
	ProductID  string        `json:"product_id"`
	LocationID string        `json:"location_id"`
	Lot        string        `json:"lot,omitempty"`
	Quantity   money.Decimal `json:"quantity" doc:"In the stock unit."`
	Partial    bool          `json:"partial,omitempty" doc:"Reserve what is available when less is (a backordered line) instead of refusing the request."`
}

// StockReleaseRequest gives back a document's reservations.
type StockReleaseRequest struct {
	CompanyID  string `json:"company_id,omitempty"`
	SourceType string `json:"source_type" minLength:"1"`
	SourceID   string `json:"source_id" minLength:"1"`
}

// StockHoldRequest blocks stock for quality control.
type StockHoldRequest struct {
	CompanyID  string        `json:"company_id,omitempty"`
	ProductID  string        `json:"product_id"`
	LocationID string        `json:"location_id"`
	Lot        string        `json:"lot,omitempty"`
	Quantity   money.Decimal `json:"quantity"`
	Reason     string        `json:"reason" minLength:"1" maxLength:"200"`
}

// Lists.
type (
	StockMoveList struct {
		Data          []inventory.StockMove `json:"data"`
		NextPageToken string                `json:"next_page_token"`
	}
	StockLevelList struct {
		Data          []inventory.StockLevel `json:"data"`
		NextPageToken string                 `json:"next_page_token"`
	}
	StockReservationList struct {
		Data []inventory.StockReservation `json:"data"`
	}
	WarehouseStockList struct {
		Data []inventory.WarehouseStock `json:"data"`
	}
	LotTrace struct {
		ProductID string                `json:"product_id"`
		Lot       string                `json:"lot"`
		Expiry    string                `json:"expiry_date,omitempty" doc:"As recorded when the lot was first received."`
		Moves     []inventory.StockMove `json:"moves"`
	}
	InventoryValuation struct {
		CompanyID string                        `json:"company_id"`
		AsOf      string                        `json:"as_of"`
		Currency  money.Currency                `json:"currency"`
		Products  []inventory.ProductStockValue `json:"products"`
		Total     money.Decimal                 `json:"total" doc:"Equals the inventory accounts in the ledger on as_of."`
	}
)

// Mount adds the stock routes.
func Mount(api *rest.API, d *db.DB) {
	read, write := auth.Scope("inventory", auth.Read), auth.Scope("inventory", auth.Write)
	idParam := []rest.Param{{Name: "id", In: "path"}}
	tx := func(r *http.Request, fn func(ctx context.Context, tx *db.Tx) error) error {
		return d.Transact(r.Context(), func(t *db.Tx) error { return fn(r.Context(), t) })
	}
	api.Handle(rest.Operation{
		ID: "postStockMove", Method: http.MethodPost, Path: "/v1/stock-moves", Tag: "Stock", Scope: write, XML: true, Idempotent: true,
		Summary: "StockMove stock",
		Description: "The only way stock changes. Levels, valuation (moving average or FIFO per product) and the ledger entry of the value " +
			"(inventory against GR/IR, cost of goods sold or inventory adjustments) change in the same transaction. 409 when more " +
			"is taken than is available or the date is in a closed period.",
		Request: reflect.TypeOf(StockMoveRequest{}), Response: reflect.TypeOf(inventory.StockMove{}), Status: http.StatusCreated, Errors: []int{409},
	}, rest.Write(api, d, http.StatusCreated, func(in *StockMoveRequest) string { return in.CompanyID },
		func(m inventory.StockMove) string { return "/v1/stock-moves/" + m.ID },
		func(ctx context.Context, tx *db.Tx, company string, in *StockMoveRequest) (inventory.StockMove, error) {
			return inventory.Post(ctx, tx, inventory.MoveInput{
				CompanyID: company, Type: in.Type, ProductID: in.ProductID, FromLocationID: in.FromLocationID, ToLocationID: in.ToLocationID,
				Lot: in.Lot, LotExpiry: in.LotExpiry, Quantity: in.Quantity, UnitID: in.UnitID, UnitCost: in.UnitCost, Date: in.Date,
				Reason: in.Reason, Memo: in.Memo, Consumes: in.Reservation,
			})
		}))
	api.Handle(rest.Operation{
		ID: "listStockMoves", Method: http.MethodGet, Path: "/v1/stock-moves", Tag: "Stock", Scope: read, XML: true,
		Summary: "List stock moves", Description: "By date, then id; filters product_id, lot, from, to (dates).",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "product_id", In: "query"}, {Name: "lot", In: "query"},
			{Name: "from", In: "query"}, {Name: "to", In: "query"}, {Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(StockMoveList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		size, err := query.ParsePageSize(q.Get("page_size"))
		if err != nil {
			return err
		}
		f := inventory.MoveFilter{ProductID: q.Get("product_id"), Lot: q.Get("lot"), From: q.Get("from"), To: q.Get("to"), Limit: size + 1}
		fp := fingerprint(r, "stock-moves", company, f.ProductID, f.Lot, f.From, f.To)
		after, err := decode(q.Get("page_token"), fp)
		if err != nil {
			return err
		}
		if after != nil {
			f.After = &[2]string{after[0], after[1]}
		}
		moves, err := inventory.Moves(r.Context(), d.Reader(r.Context()), company, f)
		if err != nil {
			return err
		}
		out := StockMoveList{Data: moves}
		if len(moves) > size {
			last := moves[size-1]
			out.Data, out.NextPageToken = moves[:size], encode(fp, last.Date, last.ID)
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getStockMove", Method: http.MethodGet, Path: "/v1/stock-moves/{id}", Tag: "Stock", Scope: read, XML: true,
		Summary: "Get a stock move", Params: append(idParam, rest.Param{Name: "company_id", In: "query"}), Response: reflect.TypeOf(inventory.StockMove{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		m, err := inventory.Get(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, m)
	})
	api.Handle(rest.Operation{
		ID: "reverseStockMove", Method: http.MethodPost, Path: "/v1/stock-moves/{id}/reverse", Tag: "Stock", Scope: write, XML: true, Idempotent: true,
		Summary:     "Reverse a stock move",
		Description: "Moves the same quantity back at exactly the value the original moved, and reverses its ledger entry; once per move (409).",
		Params:      append(idParam, rest.Param{Name: "company_id", In: "query"}), Request: reflect.TypeOf(StockMoveReverseRequest{}),
		Response: reflect.TypeOf(inventory.StockMove{}), Status: http.StatusCreated, Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in StockMoveReverseRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		var out inventory.StockMove
		err = tx(r, func(ctx context.Context, t *db.Tx) error {
			out, err = inventory.Reverse(ctx, t, company, r.PathValue("id"), in.Date)
			return err
		})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/stock-moves/"+out.ID)
		return rest.Respond(w, r, http.StatusCreated, out)
	})
	api.Handle(rest.Operation{
		ID: "listStockLevels", Method: http.MethodGet, Path: "/v1/stock-levels", Tag: "Stock", Scope: read, XML: true,
		Summary:     "Stock levels",
		Description: "Per product, location and lot: on_hand, reserved, held and available (= on_hand − reserved − held). Filters product_id, location_id, warehouse_id, lot.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "product_id", In: "query"}, {Name: "location_id", In: "query"},
			{Name: "warehouse_id", In: "query"}, {Name: "lot", In: "query"}, {Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(StockLevelList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		size, err := query.ParsePageSize(q.Get("page_size"))
		if err != nil {
			return err
		}
		f := inventory.LevelFilter{ProductID: q.Get("product_id"), LocationID: q.Get("location_id"), WarehouseID: q.Get("warehouse_id"), Lot: q.Get("lot"), Limit: size + 1}
		fp := fingerprint(r, "stock-levels", company, f.ProductID, f.LocationID, f.WarehouseID, f.Lot)
		after, err := decode(q.Get("page_token"), fp)
		if err != nil {
			return err
		}
		if after != nil {
			f.After = &[3]string{after[0], after[1], after[2]}
		}
		levels, err := inventory.Levels(r.Context(), d.Reader(r.Context()), company, f)
		if err != nil {
			return err
		}
		out := StockLevelList{Data: levels}
		if len(levels) > size {
			last := levels[size-1]
			out.Data, out.NextPageToken = levels[:size], encode(fp, last.ProductID, last.LocationID, last.Lot)
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "listWarehouseStock", Method: http.MethodGet, Path: "/v1/warehouse-stock", Tag: "Stock", Scope: read, XML: true,
		Summary:     "Stock per warehouse",
		Description: "Per product and warehouse: on_hand, reserved, held and available in its locations, and incoming: stock in transit to it.",
		Params:      []rest.Param{{Name: "company_id", In: "query"}, {Name: "product_id", In: "query"}, {Name: "warehouse_id", In: "query"}},
		Response:    reflect.TypeOf(WarehouseStockList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		list, err := inventory.ByWarehouse(r.Context(), d.Reader(r.Context()), company, q.Get("product_id"), q.Get("warehouse_id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, WarehouseStockList{Data: list})
	})
	api.Handle(rest.Operation{
		ID: "reserveStock", Method: http.MethodPost, Path: "/v1/stock-reservations", Tag: "Stock", Scope: write, XML: true, Idempotent: true,
		Summary:     "Reserve stock for a document",
		Description: "All lines or none (409 naming the line short of stock), unless a line is partial. Race-safe: level rows are locked in one order.",
		Request:     reflect.TypeOf(StockReserveRequest{}), Response: reflect.TypeOf(StockReservationList{}), Status: http.StatusCreated, Errors: []int{409},
	}, rest.Write(api, d, http.StatusCreated, func(in *StockReserveRequest) string { return in.CompanyID }, nil,
		func(ctx context.Context, tx *db.Tx, company string, in *StockReserveRequest) (StockReservationList, error) {
			lines := make([]inventory.ReserveLine, len(in.Lines))
			for i, l := range in.Lines {
				lines[i] = inventory.ReserveLine{ProductID: l.ProductID, LocationID: l.LocationID, Lot: l.Lot, Quantity: l.Quantity, Partial: l.Partial}
			}
			out, err := inventory.Reserve(ctx, tx, company, inventory.Source{Type: in.SourceType, ID: in.SourceID}, lines)
			return StockReservationList{Data: out}, err
		}))
	api.Handle(rest.Operation{
		ID: "listStockReservations", Method: http.MethodGet, Path: "/v1/stock-reservations", Tag: "Stock", Scope: read, XML: true,
		Summary:  "A document's reservations",
		Params:   []rest.Param{{Name: "company_id", In: "query"}, {Name: "source_type", In: "query", Required: true}, {Name: "source_id", In: "query", Required: true}},
		Response: reflect.TypeOf(StockReservationList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		list, err := inventory.Reservations(r.Context(), d.Reader(r.Context()), company, inventory.Source{Type: q.Get("source_type"), ID: q.Get("source_id")})
		if err != nil {
			return err
		}
		if list == nil {
			list = []inventory.StockReservation{}
		}
		return rest.Respond(w, r, http.StatusOK, StockReservationList{Data: list})
	})
	api.Handle(rest.Operation{
		ID: "releaseStockReservations", Method: http.MethodPost, Path: "/v1/stock-reservations/release", Tag: "Stock", Scope: write, XML: true, Idempotent: true,
		Summary: "Release a document's reservations", Request: reflect.TypeOf(StockReleaseRequest{}), Response: reflect.TypeOf(StockReservationList{}),
	}, rest.Write(api, d, http.StatusOK, func(in *StockReleaseRequest) string { return in.CompanyID }, nil,
		func(ctx context.Context, tx *db.Tx, company string, in *StockReleaseRequest) (StockReservationList, error) {
			out, err := inventory.Release(ctx, tx, company, inventory.Source{Type: in.SourceType, ID: in.SourceID})
			if out == nil {
				out = []inventory.StockReservation{}
			}
			return StockReservationList{Data: out}, err
		}))
	api.Handle(rest.Operation{
		ID: "placeStockHold", Method: http.MethodPost, Path: "/v1/stock-holds", Tag: "Stock", Scope: write, XML: true, Idempotent: true,
		Summary: "StockHold stock (quality control)", Description: "Held stock is on hand but not available until the hold is lifted.",
		Request: reflect.TypeOf(StockHoldRequest{}), Response: reflect.TypeOf(inventory.StockHold{}), Status: http.StatusCreated, Errors: []int{409},
	}, rest.Write(api, d, http.StatusCreated, func(in *StockHoldRequest) string { return in.CompanyID }, nil,
		func(ctx context.Context, tx *db.Tx, company string, in *StockHoldRequest) (inventory.StockHold, error) {
			return inventory.PlaceHold(ctx, tx, company, in.ProductID, in.LocationID, in.Lot, in.Quantity, in.Reason)
		}))
	api.Handle(rest.Operation{
		ID: "liftStockHold", Method: http.MethodPost, Path: "/v1/stock-holds/{id}/lift", Tag: "Stock", Scope: write, XML: true, Idempotent: true,
		Summary: "Lift a stock hold", Params: append(idParam, rest.Param{Name: "company_id", In: "query"}), Response: reflect.TypeOf(inventory.StockHold{}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		var out inventory.StockHold
		err = tx(r, func(ctx context.Context, t *db.Tx) error {
			out, err = inventory.LiftHold(ctx, t, company, r.PathValue("id"))
			return err
		})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "traceLot", Method: http.MethodGet, Path: "/v1/lots/trace", Tag: "Stock", Scope: read, XML: true,
		Summary: "Trace a lot or serial number", Description: "Every move of the lot in date order: where it came from and where it went.",
		Params:   []rest.Param{{Name: "company_id", In: "query"}, {Name: "product_id", In: "query", Required: true}, {Name: "lot", In: "query", Required: true}},
		Response: reflect.TypeOf(LotTrace{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		if q.Get("product_id") == "" || q.Get("lot") == "" {
			return apperr.Field("query:lot", "product_id and lot are required")
		}
		moves, err := inventory.Trace(r.Context(), d.Reader(r.Context()), company, q.Get("product_id"), q.Get("lot"))
		if err != nil {
			return err
		}
		if moves == nil {
			moves = []inventory.StockMove{}
		}
		expiry, err := inventory.LotExpiry(r.Context(), d.Reader(r.Context()), company, q.Get("product_id"), q.Get("lot"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, LotTrace{ProductID: q.Get("product_id"), Lot: q.Get("lot"), Expiry: expiry, Moves: moves})
	})
	api.Handle(rest.Operation{
		ID: "getInventoryValuation", Method: http.MethodGet, Path: "/v1/reports/inventory-valuation", Tag: "Reports", Scope: read, XML: true,
		Summary:     "Inventory valuation",
		Description: "Quantity and value of each product's stock as of a date (default today, UTC), from the moves as posted; the total equals the ledger's inventory accounts.",
		Params:      []rest.Param{{Name: "company_id", In: "query"}, {Name: "as_of", In: "query", Description: "YYYY-MM-DD"}},
		Response:    reflect.TypeOf(InventoryValuation{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		company, err := rest.Company(r.Context(), q.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		asOf := q.Get("as_of")
		if asOf == "" {
			asOf = d.Now().Format(time.DateOnly)
		} else if t, err := time.Parse(time.DateOnly, asOf); err != nil || t.Format(time.DateOnly) != asOf {
			return apperr.New(apperr.BadRequest, "as_of must be a date, YYYY-MM-DD.").WithFields(apperr.FieldError{Pointer: "query:as_of", Detail: "YYYY-MM-DD"})
		}
		products, total, err := inventory.Valuation(r.Context(), d.Reader(r.Context()), company, asOf)
		if err != nil {
			return err
		}
		if products == nil {
			products = []inventory.ProductStockValue{}
		}
		var cur money.Currency
		if err := d.Reader(r.Context()).QueryRowContext(r.Context(), "SELECT base_currency FROM companies WHERE id = $1", company).Scan(&cur); err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, InventoryValuation{CompanyID: company, AsOf: asOf, Currency: cur, Products: products, Total: total})
	})
}

// Page tokens: the last row's key, signed and bound to the query and the
// client (see internal/platform/query).
func fingerprint(r *http.Request, parts ...string) string {
	p, _ := auth.FromContext(r.Context())
	return query.Fingerprint(append(parts, p.ClientID)...)
}

func encode(fp string, key ...string) string {
	vals := make([]any, len(key))
	for i, k := range key {
		vals[i] = k
	}
	return query.EncodeToken(audit.PageTokenKey(), query.Cursor{Values: vals}, fp)
}

func decode(token, fp string) ([]string, error) {
	if token == "" {
		return nil, nil
	}
	c, err := query.DecodeToken(audit.PageTokenKey(), token, fp)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(c.Values))
	for _, v := range c.Values {
		s, ok := v.(string)
		if !ok {
			return nil, apperr.New(apperr.BadRequest, "The page token is not valid for this list.").WithFields(apperr.FieldError{Pointer: "query:page_token", Detail: "invalid"})
		}
		out = append(out, s)
	}
	if len(out) < 2 {
		return nil, apperr.New(apperr.BadRequest, "The page token is not valid for this list.").WithFields(apperr.FieldError{Pointer: "query:page_token", Detail: "invalid"})
	}
	for len(out) < 3 {
		out = append(out, "")
	}
	return out, nil
}

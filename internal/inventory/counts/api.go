package counts

import (
	"context"
	"fmt"
	"net/http"
	"reflect"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// StockCountRequest creates a count sheet.
type StockCountRequest struct {
	CompanyID string                  `json:"company_id,omitempty"`
	Date      string                  `json:"date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"The date the count is taken; its adjustments are dated this day."`
	Memo      string                  `json:"memo,omitempty" maxLength:"500"`
	Lines     []StockCountLineRequest `json:"lines" minItems:"1" maxItems:"1000"`
}

// StockCountLineRequest is one counted product at a location.
type StockCountLineRequest struct {
	ProductID       string        `json:"product_id" minLength:"1"`
	LocationID      string        `json:"location_id" minLength:"1"`
	Lot             string        `json:"lot,omitempty" maxLength:"100" doc:"Lot or serial number; required for tracked products (one line per lot)."`
	CountedQuantity money.Decimal `json:"counted_quantity" doc:"What is there, in the stock unit: 0 or more, at most 6 decimal places."`
}

// StockCountPostRequest posts a count.
type StockCountPostRequest struct {
	UnitCosts []StockCountUnitCost `json:"unit_costs,omitempty" maxItems:"1000" doc:"Costs for lines that find stock of a product with none in stock to take a cost from (422 pointing here names the line); other lines' found stock comes in at the current cost."`
}

// StockCountUnitCost is the cost of the stock a line finds.
type StockCountUnitCost struct {
	Line     int           `json:"line" minimum:"1" doc:"The count's line number."`
	UnitCost money.Decimal `json:"unit_cost" doc:"Per stock unit, in the company currency."`
}

// Mount adds the stock count routes.
func Mount(api *rest.API, d *db.DB) {
	read, write := auth.Scope("inventory", auth.Read), auth.Scope("inventory", auth.Write)
	byID := []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}
	tx := func(r *http.Request, fn func(ctx context.Context, tx *db.Tx) error) error {
		return d.Transact(r.Context(), func(t *db.Tx) error { return fn(r.Context(), t) })
	}
	api.Handle(rest.Operation{
		ID: "createStockCount", Method: http.MethodPost, Path: "/v1/stock-counts", Tag: "Stock", Scope: write, XML: true, Idempotent: true,
		Summary: "Create a stock count",
		Description: "A count sheet (opening stock, or a periodic or cycle count), stored as a draft that changes no stock. Each line shows " +
			"book_quantity, what is on hand now, and the difference. Every bad line is reported at once (422 at /lines/N/…); a product, " +
			"location and lot is counted once per sheet; tracked products are counted per lot or serial number.",
		Request: reflect.TypeOf(StockCountRequest{}), Response: reflect.TypeOf(StockCount{}), Status: http.StatusCreated,
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in StockCountRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		nc := NewCount{Date: in.Date, Memo: in.Memo, Lines: make([]NewLine, len(in.Lines))}
		for i, l := range in.Lines {
			nc.Lines[i] = NewLine{ProductID: l.ProductID, LocationID: l.LocationID, Lot: l.Lot, Counted: l.CountedQuantity}
		}
		var out StockCount
		err = tx(r, func(ctx context.Context, t *db.Tx) error {
			out, err = Create(ctx, t, company, nc)
			return err
		})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/stock-counts/"+out.ID)
		return rest.Respond(w, r, http.StatusCreated, out)
	})
	api.Handle(rest.Operation{
		ID: "listStockCounts", Method: http.MethodGet, Path: "/v1/stock-counts", Tag: "Stock", Scope: read, XML: true,
		Summary: "List stock counts", Description: "Oldest first (created_at, then id). filter on status, date and created_at, e.g. status = \"draft\".",
		Params:   []rest.Param{{Name: "company_id", In: "query"}, {Name: "filter", In: "query"}, {Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(StockCountList{}),
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
		p, _ := auth.FromContext(r.Context())
		page, err := List(r.Context(), d.Reader(r.Context()), ListParams{CompanyID: company, Filter: q.Get("filter"), PageToken: q.Get("page_token"),
			PageSize: size, TokenKey: audit.PageTokenKey(), ClientID: p.ClientID})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, page)
	})
	api.Handle(rest.Operation{
		ID: "getStockCount", Method: http.MethodGet, Path: "/v1/stock-counts/{id}", Tag: "Stock", Scope: read, XML: true,
		Summary: "Get a stock count", Params: byID, Response: reflect.TypeOf(StockCount{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		c, err := Get(r.Context(), d.Reader(r.Context()), company, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, c)
	})
	api.Handle(rest.Operation{
		ID: "postStockCount", Method: http.MethodPost, Path: "/v1/stock-counts/{id}/post", Tag: "Stock", Scope: write, XML: true, Idempotent: true,
		Summary: "Post a stock count",
		Description: "In one transaction, takes each line's book quantity as it is now and posts the difference as an inventory adjustment " +
			"dated the count's date (reason \"stock count <id>\"): stock found comes in at the current cost, or at the line's unit_cost; stock " +
			"lost goes out at its value. The body is optional. 409 when the count is posted already, its date is in a closed period, or a " +
			"line would take reserved or held stock (the problem names the line).",
		Params: byID, Request: reflect.TypeOf(StockCountPostRequest{}), Response: reflect.TypeOf(StockCount{}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in StockCountPostRequest
		// Posting usually needs nothing but the id, so a request without
		// a body is accepted as an empty one.
		if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
			if _, err := api.Decode(r, &in, true); err != nil {
				return err
			}
		}
		costs, err := unitCosts(in.UnitCosts)
		if err != nil {
			return err
		}
		company, err := rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		var out StockCount
		err = tx(r, func(ctx context.Context, t *db.Tx) error {
			out, err = Post(ctx, t, company, r.PathValue("id"), costs)
			return err
		})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
}

// unitCosts checks the post request's costs and indexes them by line.
func unitCosts(in []StockCountUnitCost) (map[int]money.Decimal, error) {
	var fields []apperr.FieldError
	out := make(map[int]money.Decimal, len(in))
	for i, c := range in {
		ptr := fmt.Sprintf("/unit_costs/%d", i)
		if _, dup := out[c.Line]; dup {
			fields = append(fields, apperr.FieldError{Pointer: ptr + "/line", Detail: fmt.Sprintf("line %d has a cost already", c.Line)})
		}
		if c.UnitCost.IsNegative() {
			fields = append(fields, apperr.FieldError{Pointer: ptr + "/unit_cost", Detail: "must not be negative"})
		} else if _, err := c.UnitCost.Scaled(money.PriceScale); err != nil {
			fields = append(fields, apperr.FieldError{Pointer: ptr + "/unit_cost", Detail: fmt.Sprintf("at most %d decimal places", money.PriceScale)})
		}
		out[c.Line] = c.UnitCost
	}
	if len(fields) > 0 {
		return nil, apperr.Fields(fields...)
	}
	return out, nil
}

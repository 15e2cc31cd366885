// Package mfgapi serves manufacturing over HTTP: bill explosion,
// production orders, shop-floor intake, lot genealogy, quality
// inspections and statistical process control. Work centers, bills of
// materials and inspection plans are resources the engine serves.
package mfgapi

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/mainstay-erp/mainstay/internal/mfg"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// ProductionOrderList is a page of production orders.
type ProductionOrderList struct {
	Data          []mfg.ProductionOrder `json:"data"`
	NextPageToken string                `json:"next_page_token"`
}

// QualityInspectionList is a page of quality inspections.
type QualityInspectionList struct {
	Data          []mfg.QualityInspection `json:"data"`
	NextPageToken string                  `json:"next_page_token"`
}

// ProductionOrderRelease is a released order and what it could not reserve.
type ProductionOrderRelease struct {
	ProductionOrder mfg.ProductionOrder     `json:"production_order"`
	Shortages       []mfg.ComponentShortage `json:"shortages" doc:"Components not fully reserved; empty when everything was."`
}

// LotGenealogy is what went into a lot, or what a lot went into.
type LotGenealogy struct {
	ProductID string                 `json:"product_id"`
	Lot       string                 `json:"lot"`
	Direction string                 `json:"direction" enum:"backward,forward"`
	Links     []mfg.LotGenealogyLink `json:"links"`
}

// Mount adds the routes.
func Mount(api *rest.API, d *db.DB, s *mfg.Service) {
	read, write := auth.Scope("mfg", auth.Read), auth.Scope("mfg", auth.Write)
	idParam := []rest.Param{{Name: "id", In: "path"}, {Name: "company_id", In: "query"}}
	const tag = "Manufacturing"
	company := func(r *http.Request) (string, error) {
		return rest.Company(r.Context(), r.URL.Query().Get("company_id"), "query:company_id")
	}

	api.Handle(rest.Operation{
		// ServeMux refuses /v1/boms/{id}/explosion next to the resource
		// engine's /v1/boms/external/{external_id}, as neither is more
		// specific; the general pattern lets both live (as for customer
		// statements).
		ID: "getBillOfMaterialsExplosion", Method: http.MethodGet, Path: "/v1/boms/{id}/{view}", Tag: tag, Scope: read, XML: true,
		Summary: "Explode a bill of materials (GET /v1/boms/{id}/explosion)",
		Description: "Every component needed to make quantity (stock units of the product) at every level, scrap included, against the " +
			"stock available in the warehouse (on hand − reserved − held; the whole company without warehouse_id): a sub-assembly " +
			"(a component with its own active bill on the date) takes what is available and its components are exploded for the " +
			"rest; a bought component that is not covered is flagged short. The cost roll-up values components at their current " +
			"average cost (sub-assemblies at their own roll-up), operations at their work centers' hourly rates, less by-products.",
		Params: append([]rest.Param{{Name: "id", In: "path"}, {Name: "view", In: "path", Required: true, Schema: &huma.Schema{Type: "string", Enum: []any{"explosion"}}},
			{Name: "company_id", In: "query"}}, rest.Param{Name: "quantity", In: "query", Required: true, Description: "Stock units of the product to make."},
			rest.Param{Name: "date", In: "query", Description: "YYYY-MM-DD for sub-assemblies' bills; default today."},
			rest.Param{Name: "warehouse_id", In: "query"}),
		Response: reflect.TypeOf(mfg.Explosion{}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("view") != "explosion" {
			return apperr.New(apperr.NotFound, "No such resource: %s.", r.URL.Path)
		}
		co, err := company(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		qty, err := money.Parse(q.Get("quantity"))
		if err != nil || qty.Sign() <= 0 {
			return apperr.New(apperr.BadRequest, "quantity must be a positive decimal.").WithFields(apperr.FieldError{Pointer: "query:quantity", Detail: "a positive decimal"})
		}
		reader := d.Reader(r.Context())
		date := q.Get("date")
		if date == "" {
			if date, err = mfg.Today(r.Context(), reader, co, d.Now()); err != nil {
				return err
			}
		} else if !mfg.ValidDate(date) {
			return apperr.New(apperr.BadRequest, "date must be YYYY-MM-DD.").WithFields(apperr.FieldError{Pointer: "query:date", Detail: "YYYY-MM-DD"})
		}
		b, err := mfg.LoadBOM(r.Context(), reader, co, r.PathValue("id"))
		if err != nil {
			return err
		}
		if wh := q.Get("warehouse_id"); wh != "" {
			var found string
			if err := reader.QueryRowContext(r.Context(), "SELECT id FROM warehouses WHERE id = $1 AND company_id = $2", wh, co).Scan(&found); err != nil {
				return apperr.New(apperr.BadRequest, "No warehouse %q in this company.", wh).WithFields(apperr.FieldError{Pointer: "query:warehouse_id", Detail: "unknown"})
			}
		}
		out, err := mfg.Explode(r.Context(), reader, co, b, qty, q.Get("warehouse_id"), date)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})

	api.Handle(rest.Operation{
		// The general pattern, like the explosion's, lives beside the
		// resource engine's /v1/work-centers/external/{external_id}.
		ID: "getWorkCenterCapacity", Method: http.MethodGet, Path: "/v1/work-centers/{id}/{view}", Tag: tag, Scope: read, XML: true,
		Summary: "Capacity and open load of a work center (GET /v1/work-centers/{id}/capacity)",
		Description: "Per day of from..to (at most a year): whether the calendar works that day (working_days, not a holiday) and the " +
			"hours available (capacity × hours_per_day); against them the open load — what planned, released and in-progress orders " +
			"planned to start by to still have to do on this center (planned minutes less reported run time) — and the utilization. " +
			"Operations are not scheduled onto days.",
		Params: []rest.Param{{Name: "id", In: "path"}, {Name: "view", In: "path", Required: true, Schema: &huma.Schema{Type: "string", Enum: []any{"capacity"}}},
			{Name: "company_id", In: "query"}, {Name: "from", In: "query", Required: true}, {Name: "to", In: "query", Required: true}},
		Response: reflect.TypeOf(mfg.WorkCenterCapacity{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("view") != "capacity" {
			return apperr.New(apperr.NotFound, "No such resource: %s.", r.URL.Path)
		}
		co, err := company(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		out, err := mfg.Capacity(r.Context(), d.Reader(r.Context()), co, r.PathValue("id"), q.Get("from"), q.Get("to"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})

	api.Handle(rest.Operation{
		ID: "createProductionOrder", Method: http.MethodPost, Path: "/v1/production-orders", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Plan a production order",
		Description: "status planned: the bill's components for the quantity (scrap included), its routing with planned times and costs, " +
			"and the standard cost rolled up now (what the output will be received at).",
		Request: reflect.TypeOf(mfg.CreateProductionOrderRequest{}), Response: reflect.TypeOf(mfg.ProductionOrder{}), Status: http.StatusCreated, Errors: []int{409},
	}, rest.Write(api, d, http.StatusCreated, func(in *mfg.CreateProductionOrderRequest) string { return in.CompanyID },
		func(o mfg.ProductionOrder) string { return "/v1/production-orders/" + o.ID },
		func(ctx context.Context, tx *db.Tx, co string, in *mfg.CreateProductionOrderRequest) (mfg.ProductionOrder, error) {
			in.CompanyID = co
			return s.CreateOrder(ctx, tx, *in)
		}))
	api.Handle(rest.Operation{
		ID: "listProductionOrders", Method: http.MethodGet, Path: "/v1/production-orders", Tag: tag, Scope: read, XML: true,
		Summary: "List production orders", Description: "Oldest first; filters status, product_id.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "status", In: "query"}, {Name: "product_id", In: "query"},
			{Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(ProductionOrderList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		var out ProductionOrderList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"production-orders", co, q.Get("status"), q.Get("product_id")},
			func(o mfg.ProductionOrder) string { return o.ID }, func(after string, limit int) ([]mfg.ProductionOrder, error) {
				return mfg.ListOrders(r.Context(), d.Reader(r.Context()), co, mfg.OrderFilter{Status: q.Get("status"), ProductID: q.Get("product_id"), After: after, Limit: limit})
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getProductionOrder", Method: http.MethodGet, Path: "/v1/production-orders/{id}", Tag: tag, Scope: read, XML: true,
		Summary: "Get a production order", Description: "With its components, operations and their shop-floor progress, moves, postings and costs.",
		Params: idParam, Response: reflect.TypeOf(mfg.ProductionOrder{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		o, err := mfg.GetOrder(r.Context(), d.Reader(r.Context()), co, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, o)
	})
	action := func(fn func(ctx context.Context, tx *db.Tx, co, id string) (any, error)) rest.Handler {
		return func(w http.ResponseWriter, r *http.Request) error {
			co, err := company(r)
			if err != nil {
				return err
			}
			var out any
			err = d.Transact(r.Context(), func(tx *db.Tx) error {
				out, err = fn(r.Context(), tx, co, r.PathValue("id"))
				return err
			})
			if err != nil {
				return err
			}
			return rest.Respond(w, r, http.StatusOK, out)
		}
	}
	api.Handle(rest.Operation{
		ID: "releaseProductionOrder", Method: http.MethodPost, Path: "/v1/production-orders/{id}/release", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Release a production order",
		Description: "planned → released: reserves each component in the order's warehouse, lot by lot, as far as it is available. What " +
			"is not is listed in shortages (and on the order), and a mainstay.mfg.production_order.shortage_detected event is " +
			"published; the order is released all the same. 409 from other statuses.",
		Params: idParam, Response: reflect.TypeOf(ProductionOrderRelease{}), Errors: []int{404, 409},
	}, action(func(ctx context.Context, tx *db.Tx, co, id string) (any, error) {
		o, short, err := s.Release(ctx, tx, co, id)
		return ProductionOrderRelease{ProductionOrder: o, Shortages: short}, err
	}))
	api.Handle(rest.Operation{
		ID: "startProductionOrder", Method: http.MethodPost, Path: "/v1/production-orders/{id}/start", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Start a production order", Description: "released → in_progress (the first shop-floor event does this too). 409 from other statuses.",
		Params: idParam, Response: reflect.TypeOf(mfg.ProductionOrder{}), Errors: []int{404, 409},
	}, action(func(ctx context.Context, tx *db.Tx, co, id string) (any, error) { return s.Start(ctx, tx, co, id) }))
	api.Handle(rest.Operation{
		ID: "cancelProductionOrder", Method: http.MethodPost, Path: "/v1/production-orders/{id}/cancel", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Cancel a production order", Description: "Planned, released or in progress (nothing consumed yet): its reservations are released. 409 otherwise.",
		Params: idParam, Response: reflect.TypeOf(mfg.ProductionOrder{}), Errors: []int{404, 409},
	}, action(func(ctx context.Context, tx *db.Tx, co, id string) (any, error) { return s.Cancel(ctx, tx, co, id) }))
	api.Handle(rest.Operation{
		ID: "completeProductionOrder", Method: http.MethodPost, Path: "/v1/production-orders/{id}/complete", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Complete a production order",
		Description: "In one transaction: each component is consumed (its reservations first, lot by lot, then any other available stock " +
			"of the warehouse; short is 409 and nothing happens) as an issue into work in progress at its stock value; the labour " +
			"reported so far (operations without shop-floor time at their planned cost) is charged to work in progress; the good " +
			"output is received at the standard unit cost into the order's location and lot, by-products at theirs; each consumed " +
			"component lot is linked to the finished lot (GET /v1/lot-genealogy). Unused reservations are released.",
		Params: idParam, Request: reflect.TypeOf(mfg.CompleteProductionOrderRequest{}), Response: reflect.TypeOf(mfg.ProductionOrder{}), Errors: []int{404, 409},
	}, bodyAction(api, d, func(in *mfg.CompleteProductionOrderRequest) string { return in.CompanyID },
		func(ctx context.Context, tx *db.Tx, co, id string, in *mfg.CompleteProductionOrderRequest) (mfg.ProductionOrder, error) {
			return s.Complete(ctx, tx, co, id, *in)
		}))
	api.Handle(rest.Operation{
		ID: "closeProductionOrder", Method: http.MethodPost, Path: "/v1/production-orders/{id}/close", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Close a production order",
		Description: "completed → closed: labour reported after completion is charged, then the order's work in progress is posted to " +
			"the variances — scrap (standard cost of the scrapped output), material (consumed less by-products, against standard " +
			"material for all output) and labour (the rest) — so it is exactly zero. The body is optional.",
		Params: idParam, Request: reflect.TypeOf(mfg.CloseProductionOrderRequest{}), Response: reflect.TypeOf(mfg.ProductionOrder{}), Errors: []int{404, 409},
	}, bodyAction(api, d, func(in *mfg.CloseProductionOrderRequest) string { return in.CompanyID },
		func(ctx context.Context, tx *db.Tx, co, id string, in *mfg.CloseProductionOrderRequest) (mfg.ProductionOrder, error) {
			return s.Close(ctx, tx, co, id, *in)
		}))

	api.Handle(rest.Operation{
		ID: "recordOperationEvent", Method: http.MethodPost, Path: "/v1/production-orders/{id}/operations/{op}/events", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Report a shop-floor event",
		Description: "One event of an operation (start, pause, resume, finish, good and scrap quantities, downtime with a reason, " +
			"machine readings). Idempotent per event_id: a repeat is accepted and changes nothing. Events are folded in occurred_at " +
			"order, so a late one lands where it happened. The operation's progress, run time and cost update at once and a " +
			"mainstay.mfg.production_order.progressed event is published. 409 on a planned, closed or cancelled order.",
		Params:  []rest.Param{{Name: "id", In: "path"}, {Name: "op", In: "path", Description: "The operation's seq."}, {Name: "company_id", In: "query"}},
		Request: reflect.TypeOf(mfg.ShopFloorEvent{}), Response: reflect.TypeOf(mfg.ShopFloorIntakeResult{}), Errors: []int{404, 409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in mfg.ShopFloorEvent
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		co, err := company(r)
		if err != nil {
			return err
		}
		op, err := strconv.Atoi(r.PathValue("op"))
		if err != nil {
			return apperr.New(apperr.NotFound, "No operation %q.", r.PathValue("op"))
		}
		if in.ProductionOrderID != "" && in.ProductionOrderID != r.PathValue("id") || in.Operation != 0 && in.Operation != op {
			return apperr.Field("/production_order_id", "The order and operation are in the path; leave them out of the body.")
		}
		in.ProductionOrderID, in.Operation = r.PathValue("id"), op
		var out mfg.ShopFloorIntakeResult
		err = d.Transact(r.Context(), func(tx *db.Tx) error {
			if _, err := mfg.GetOrder(r.Context(), tx, co, in.ProductionOrderID); err != nil {
				return err
			}
			out, err = s.Intake(r.Context(), tx, co, []mfg.ShopFloorEvent{in}, func(int) string { return "" })
			return err
		})
		if apperr.CodeOf(err) == apperr.Invalid && isOperationError(err) {
			return apperr.New(apperr.NotFound, "Production order %s has no operation %d.", in.ProductionOrderID, op)
		}
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "recordShopFloorEvents", Method: http.MethodPost, Path: "/v1/shop-floor-events", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Report shop-floor events in bulk",
		Description: "Up to 10,000 events of any orders and operations in one call (the request body limit, 1 MiB by default, usually " +
			"binds first at about 5,000), each naming production_order_id and operation. All are checked first (422 names every bad " +
			"one; nothing is stored); then, per order, repeats of known event ids are ignored, the rest stored and folded in time " +
			"order, each changed operation written once and published as one progressed event.",
		Request: reflect.TypeOf(mfg.ShopFloorEventsRequest{}), Response: reflect.TypeOf(mfg.ShopFloorIntakeResult{}), Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		var in mfg.ShopFloorEventsRequest
		if _, err := api.Decode(r, &in, true); err != nil {
			return err
		}
		co, err := rest.Company(r.Context(), in.CompanyID, "/company_id")
		if err != nil {
			return err
		}
		var out mfg.ShopFloorIntakeResult
		err = d.Transact(r.Context(), func(tx *db.Tx) error {
			out, err = s.Intake(r.Context(), tx, co, in.Events, func(i int) string { return fmt.Sprintf("/events/%d", i) })
			return err
		})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getLotGenealogy", Method: http.MethodGet, Path: "/v1/lot-genealogy", Tag: tag, Scope: read, XML: true,
		Summary: "Trace a lot through production",
		Description: "backward (default): the component lots a produced lot was made from; forward: the produced lots a component lot " +
			"went into. GET /v1/lots/trace follows a lot's own stock moves.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "product_id", In: "query", Required: true}, {Name: "lot", In: "query", Required: true},
			{Name: "direction", In: "query", Description: "backward or forward"}},
		Response: reflect.TypeOf(LotGenealogy{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		dir := q.Get("direction")
		if dir == "" {
			dir = "backward"
		}
		if dir != "backward" && dir != "forward" {
			return apperr.New(apperr.BadRequest, "direction is backward or forward.").WithFields(apperr.FieldError{Pointer: "query:direction", Detail: "backward or forward"})
		}
		if q.Get("product_id") == "" || q.Get("lot") == "" {
			return apperr.New(apperr.BadRequest, "product_id and lot are required.").WithFields(apperr.FieldError{Pointer: "query:lot", Detail: "required with product_id"})
		}
		links, err := mfg.LotGenealogy(r.Context(), d.Reader(r.Context()), co, q.Get("product_id"), q.Get("lot"), dir == "forward")
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, LotGenealogy{ProductID: q.Get("product_id"), Lot: q.Get("lot"), Direction: dir, Links: links})
	})

	api.Handle(rest.Operation{
		ID: "createQualityInspection", Method: http.MethodPost, Path: "/v1/quality-inspections", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Record a quality inspection",
		Description: "Measurements against an inspection plan, by people (measurements) or from a production order's shop-floor " +
			"readings (from_readings), sample_size values per characteristic (else 422). Each value within its specification limits " +
			"(nominal − lower_tolerance … nominal + upper_tolerance) passes; any other fails the inspection: a non-conformance. A " +
			"failed inspection of a lot puts all its available stock on hold (one stock hold per location; held stock cannot be " +
			"sold, reserved or consumed) until POST /v1/quality-inspections/{id}/release.",
		Request: reflect.TypeOf(mfg.QualityInspectionRequest{}), Response: reflect.TypeOf(mfg.QualityInspection{}), Status: http.StatusCreated, Errors: []int{409},
	}, rest.Write(api, d, http.StatusCreated, func(in *mfg.QualityInspectionRequest) string { return in.CompanyID },
		func(i mfg.QualityInspection) string { return "/v1/quality-inspections/" + i.ID },
		func(ctx context.Context, tx *db.Tx, co string, in *mfg.QualityInspectionRequest) (mfg.QualityInspection, error) {
			return s.Inspect(ctx, tx, co, *in)
		}))
	api.Handle(rest.Operation{
		ID: "listQualityInspections", Method: http.MethodGet, Path: "/v1/quality-inspections", Tag: tag, Scope: read, XML: true,
		Summary: "List quality inspections", Description: "Oldest first; filters plan_id, product_id, lot, status.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "plan_id", In: "query"}, {Name: "product_id", In: "query"}, {Name: "lot", In: "query"},
			{Name: "status", In: "query"}, {Name: "page_size", In: "query"}, {Name: "page_token", In: "query"}},
		Response: reflect.TypeOf(QualityInspectionList{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		f := mfg.InspectionFilter{PlanID: q.Get("plan_id"), ProductID: q.Get("product_id"), Lot: q.Get("lot"), Status: q.Get("status")}
		var out QualityInspectionList
		out.Data, out.NextPageToken, err = rest.IDPage(r, []string{"quality-inspections", co, f.PlanID, f.ProductID, f.Lot, f.Status},
			func(i mfg.QualityInspection) string { return i.ID }, func(after string, limit int) ([]mfg.QualityInspection, error) {
				f.After, f.Limit = after, limit
				return mfg.ListInspections(r.Context(), d.Reader(r.Context()), co, f)
			})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	})
	api.Handle(rest.Operation{
		ID: "getQualityInspection", Method: http.MethodGet, Path: "/v1/quality-inspections/{id}", Tag: tag, Scope: read, XML: true,
		Summary: "Get a quality inspection", Params: idParam, Response: reflect.TypeOf(mfg.QualityInspection{}), Errors: []int{404},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		i, err := mfg.GetInspection(r.Context(), d.Reader(r.Context()), co, r.PathValue("id"))
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, i)
	})
	api.Handle(rest.Operation{
		ID: "releaseQualityInspection", Method: http.MethodPost, Path: "/v1/quality-inspections/{id}/release", Tag: tag, Scope: write, XML: true, Idempotent: true,
		Summary: "Release a non-conformance",
		Description: "failed → released with a disposition: the holds the inspection placed are lifted (each audited) and the lot is " +
			"available again. 409 unless the inspection failed.",
		Params: idParam, Request: reflect.TypeOf(mfg.ReleaseInspectionRequest{}), Response: reflect.TypeOf(mfg.QualityInspection{}), Errors: []int{404, 409},
	}, bodyAction(api, d, func(in *mfg.ReleaseInspectionRequest) string { return in.CompanyID },
		func(ctx context.Context, tx *db.Tx, co, id string, in *mfg.ReleaseInspectionRequest) (mfg.QualityInspection, error) {
			return s.ReleaseInspection(ctx, tx, co, id, *in)
		}))
	api.Handle(rest.Operation{
		ID: "getSPC", Method: http.MethodGet, Path: "/v1/quality/spc", Tag: tag, Scope: read, XML: true,
		Summary: "Statistical process control of a characteristic",
		Description: "X-bar and R charts over the plan's inspections of the characteristic, each inspection one subgroup of " +
			"sample_size values, oldest first: grand mean, standard deviation, σ = R̄/d2, control limits (x̿ ± A2·R̄; D3·R̄, D4·R̄), " +
			"Cp and Cpk against the specification limits, and per point whether it is outside the limits and which Western " +
			"Electric run rules it completes. Statistics are computed in floating point and given to 6 decimal places. 409 with " +
			"fewer than two subgroups.",
		Params: []rest.Param{{Name: "company_id", In: "query"}, {Name: "plan_id", In: "query", Required: true},
			{Name: "characteristic", In: "query", Required: true}, {Name: "last", In: "query", Description: "Only the last N subgroups (default all)."}},
		Response: reflect.TypeOf(mfg.SPCReport{}), Errors: []int{409},
	}, func(w http.ResponseWriter, r *http.Request) error {
		co, err := company(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		last := 0
		if v := q.Get("last"); v != "" {
			if last, err = strconv.Atoi(v); err != nil || last < 0 {
				return apperr.New(apperr.BadRequest, "last must be a non-negative integer.").WithFields(apperr.FieldError{Pointer: "query:last", Detail: "an integer ≥ 0"})
			}
		}
		if q.Get("plan_id") == "" || q.Get("characteristic") == "" {
			return apperr.New(apperr.BadRequest, "plan_id and characteristic are required.").WithFields(apperr.FieldError{Pointer: "query:characteristic", Detail: "required with plan_id"})
		}
		rep, err := mfg.SPC(r.Context(), d.Reader(r.Context()), co, q.Get("plan_id"), q.Get("characteristic"), last)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, rep)
	})
}

// bodyAction is an action on {id} with an optional body.
func bodyAction[In any, Out any](api *rest.API, d *db.DB, companyOf func(*In) string, fn func(ctx context.Context, tx *db.Tx, co, id string, in *In) (Out, error)) rest.Handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var in In
		if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
			if _, err := api.Decode(r, &in, true); err != nil {
				return err
			}
		}
		named := companyOf(&in)
		if named == "" {
			named = r.URL.Query().Get("company_id")
		}
		co, err := rest.Company(r.Context(), named, "/company_id")
		if err != nil {
			return err
		}
		var out Out
		err = d.Transact(r.Context(), func(tx *db.Tx) error {
			out, err = fn(r.Context(), tx, co, r.PathValue("id"), &in)
			return err
		})
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, out)
	}
}

func isOperationError(err error) bool {
	e := apperr.As(err)
	if e == nil {
		return false
	}
	for _, f := range e.Fields {
		if f.Pointer == "/operation" {
			return true
		}
	}
	return false
}

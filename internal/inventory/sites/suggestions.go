package sites

import (
	"context"
	"fmt"
	"github.com/mainstay-erp/mainstay/internal/company"
	"net/http"
	"reflect"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// Suggestion proposes buying a product for a warehouse. Quantities are in
// the product's stock unit.
type Suggestion struct {
	ReorderRuleID     string        `json:"reorder_rule_id"`
	ProductID         string        `json:"product_id"`
	SKU               string        `json:"sku"`
	ProductName       string        `json:"product_name"`
	WarehouseID       string        `json:"warehouse_id"`
	WarehouseCode     string        `json:"warehouse_code"`
	Available         money.Decimal `json:"available" doc:"On hand − reserved − held over the warehouse's locations, transit locations excluded."`
	Incoming          money.Decimal `json:"incoming" doc:"On hand in transit locations travelling to the warehouse."`
	ReorderPoint      money.Decimal `json:"reorder_point"`
	ReorderQuantity   money.Decimal `json:"reorder_quantity"`
	Shortfall         money.Decimal `json:"shortfall" doc:"reorder_point − (available + incoming); 0 when exactly at the reorder point."`
	SuggestedQuantity money.Decimal `json:"suggested_quantity" doc:"The smallest whole multiple of reorder_quantity that lifts available + incoming above reorder_point."`
	LeadTimeDays      int           `json:"lead_time_days"`
	NeededBy          string        `json:"needed_by" doc:"YYYY-MM-DD, the company's today: stock at or below the reorder point is needed now; order lead_time_days ahead of it next time."`
}

// ReorderSuggestions is the answer of GET /v1/reorder-suggestions.
type ReorderSuggestions struct {
	CompanyID string       `json:"company_id"`
	Date      string       `json:"date" doc:"The company's today (YYYY-MM-DD, in its time zone) the suggestions were computed for."`
	Data      []Suggestion `json:"data"`
}

// Filter narrows suggestions to one warehouse or product; "" is all.
type Filter struct {
	WarehouseID, ProductID string
}

// Suggest computes the reorder suggestions of a company from its active
// reorder rules (of active products and warehouses), inside q, for the
// company's date today (YYYY-MM-DD). A rule suggests an order when
// available + incoming ≤ reorder_point; the quantity is the smallest whole
// multiple of reorder_quantity that lifts available + incoming above the
// reorder point: (⌊shortfall ÷ reorder_quantity⌋ + 1) × reorder_quantity.
// Ordering exactly reorder_quantity would otherwise leave a deep shortfall
// at or below the point, to be suggested again the moment it arrives.
// Suggestions are in warehouse code, SKU order.
func Suggest(ctx context.Context, q db.Querier, companyID string, f Filter, today string) ([]Suggestion, error) {
	ps, err := positions(ctx, q, companyID, f.WarehouseID, f.ProductID)
	if err != nil {
		return nil, err
	}
	out := []Suggestion{}
	for _, p := range ps {
		projected := p.available.Add(p.incoming)
		if projected.Cmp(p.reorderPoint) > 0 {
			continue
		}
		shortfall := p.reorderPoint.Sub(projected)
		qty, err := orderQuantity(shortfall, p.reorderQuantity)
		if err != nil {
			return nil, fmt.Errorf("reorder rule %s: %w", p.ruleID, err)
		}
		out = append(out, Suggestion{
			ReorderRuleID: p.ruleID, ProductID: p.productID, SKU: p.sku, ProductName: p.productName,
			WarehouseID: p.warehouseID, WarehouseCode: p.warehouseCode,
			Available: p.available.Normalize(), Incoming: p.incoming.Normalize(),
			ReorderPoint: p.reorderPoint.Normalize(), ReorderQuantity: p.reorderQuantity.Normalize(),
			Shortfall: shortfall.Normalize(), SuggestedQuantity: qty.Normalize(),
			LeadTimeDays: p.leadTimeDays, NeededBy: today,
		})
	}
	return out, nil
}

// orderQuantity is (⌊shortfall ÷ lot⌋ + 1) × lot for shortfall ≥ 0 and
// lot > 0, exactly.
func orderQuantity(shortfall, lot money.Decimal) (money.Decimal, error) {
	if lot.Sign() <= 0 {
		return money.Decimal{}, fmt.Errorf("reorder quantity %s is not positive", lot)
	}
	n, err := shortfall.DivRound(lot, 0, money.HalfUp)
	if err != nil {
		return money.Decimal{}, err
	}
	// Rounding to the nearest integer overshoots the floor by at most one.
	if n.Mul(lot).Cmp(shortfall) > 0 {
		n = n.Sub(money.FromInt(1))
	}
	return n.Add(money.FromInt(1)).Mul(lot), nil
}

// Today is the company's current business date: its time zone decides
// what day it is.
func Today(ctx context.Context, q db.Querier, companyID string, now time.Time) (string, error) {
	tz, err := companyTimeZone(ctx, q, companyID)
	if err != nil {
		return "", err
	}
	return company.LocalDate(tz, now), nil
}

// Mount adds GET /v1/reorder-suggestions.
func Mount(api *rest.API, d *db.DB) {
	api.Handle(rest.Operation{
		ID: "listReorderSuggestions", Method: http.MethodGet, Path: "/v1/reorder-suggestions", Tag: "Reorder rules",
		Scope: auth.Scope("inventory", auth.Read), XML: true,
		Summary: "Reorder suggestions",
		Description: "What to buy now, from the active reorder rules of active products and warehouses. For each rule, available " +
			"is on hand − reserved − held over the warehouse's locations (transit excluded) and incoming is on hand in transit " +
			"locations travelling to the warehouse. When available + incoming ≤ reorder_point, the rule suggests the smallest whole " +
			"multiple of reorder_quantity that lifts available + incoming above reorder_point, needed_by today (the company's date). " +
			"Quantities are in the product's stock unit; suggestions are in warehouse code, SKU order.",
		Params: []rest.Param{
			{Name: "company_id", In: "query", Description: "The company to work in; required when the client works in more than one."},
			{Name: "warehouse_id", In: "query", Description: "Only this warehouse's rules."},
			{Name: "product_id", In: "query", Description: "Only this product's rules."},
		},
		Response: reflect.TypeOf(ReorderSuggestions{}),
	}, func(w http.ResponseWriter, r *http.Request) error {
		ctx, qs := r.Context(), r.URL.Query()
		companyID, err := rest.Company(ctx, qs.Get("company_id"), "query:company_id")
		if err != nil {
			return err
		}
		f := Filter{WarehouseID: qs.Get("warehouse_id"), ProductID: qs.Get("product_id")}
		q := d.Reader(ctx)
		if err := checkFilter(ctx, q, companyID, f); err != nil {
			return err
		}
		today, err := Today(ctx, q, companyID, d.Now())
		if err != nil {
			return err
		}
		out, err := Suggest(ctx, q, companyID, f, today)
		if err != nil {
			return err
		}
		return rest.Respond(w, r, http.StatusOK, ReorderSuggestions{CompanyID: companyID, Date: today, Data: out})
	})
}

// checkFilter refuses filters naming records the company does not have: an
// empty answer would hide the typo.
func checkFilter(ctx context.Context, q db.Querier, companyID string, f Filter) error {
	var errs []apperr.FieldError
	if f.WarehouseID != "" {
		ok, err := warehouseExists(ctx, q, companyID, f.WarehouseID)
		if err != nil {
			return err
		}
		if !ok {
			errs = append(errs, apperr.FieldError{Pointer: "query:warehouse_id", Detail: fmt.Sprintf("No warehouse %q in this company.", f.WarehouseID)})
		}
	}
	if f.ProductID != "" {
		ok, err := productExists(ctx, q, companyID, f.ProductID)
		if err != nil {
			return err
		}
		if !ok {
			errs = append(errs, apperr.FieldError{Pointer: "query:product_id", Detail: fmt.Sprintf("No product %q in this company.", f.ProductID)})
		}
	}
	if len(errs) > 0 {
		return apperr.Fields(errs...)
	}
	return nil
}

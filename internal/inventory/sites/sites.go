// Package sites holds where stock is kept and when to buy more of it:
// warehouses, the locations (bins) inside them, and reorder rules per
// product and warehouse with the suggestions they produce.
//
// Stock itself (moves and levels) belongs to package inventory, which
// names locations by id; the helpers here (DefaultLocation, LocationInfo)
// let it resolve them inside its own transaction.
package sites

import (
	"context"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// Location kinds.
const (
	Storage   = "storage"
	Receiving = "receiving"
	Shipping  = "shipping"
	Transit   = "transit"
)

// Kinds lists the location kinds.
var Kinds = []string{Storage, Receiving, Shipping, Transit}

// Warehouse is a site that keeps stock in its locations.
type Warehouse struct {
	resource.Meta
	resource.Owned
	Code    string           `json:"code" pattern:"^[A-Za-z0-9._-]{1,30}$" doc:"Short code, unique per company, e.g. BER1. The default locations made with the warehouse are named after it (BER1-RECV, BER1-SHIP)."`
	Name    string           `json:"name" minLength:"1" maxLength:"200"`
	Address *company.Address `json:"address,omitempty"`
	Active  bool             `json:"active" required:"false"`
}

// Location is a place stock sits in: a bin, a dock, or goods on their way
// to another warehouse.
type Location struct {
	resource.Meta
	resource.Owned
	WarehouseID   string `json:"warehouse_id" doc:"The warehouse the location belongs to; it cannot change (create a new location instead)."`
	Code          string `json:"code" pattern:"^[A-Za-z0-9._-]{1,40}$" doc:"Short code, unique per company, e.g. BER1-A-01-03."`
	Name          string `json:"name" minLength:"1" maxLength:"200"`
	Kind          string `json:"kind" required:"false" enum:"storage,receiving,shipping,transit" doc:"storage (the default) holds stock; receiving and shipping are the docks goods arrive at and leave from; transit holds stock between the two steps of a transfer to another warehouse."`
	IsDefault     bool   `json:"is_default" required:"false" doc:"The warehouse's default location of this kind (where a receipt or shipment goes when it names none); at most one per warehouse and kind, and it must be active."`
	ToWarehouseID string `json:"to_warehouse_id,omitempty" doc:"Transit locations only (required there): the warehouse the stock in transit is going to; another warehouse than warehouse_id."`
	Active        bool   `json:"active" required:"false"`
}

// ReorderRule says when and how much of a product to buy for a warehouse.
type ReorderRule struct {
	resource.Meta
	resource.Owned
	ProductID       string        `json:"product_id"`
	WarehouseID     string        `json:"warehouse_id"`
	ReorderPoint    money.Decimal `json:"reorder_point" doc:"Reorder when available plus incoming stock is at or below this quantity (in the product's stock unit, at most 6 decimal places, ≥ 0)."`
	ReorderQuantity money.Decimal `json:"reorder_quantity" doc:"How much to order (stock unit, > 0, at most 6 decimal places); suggestions order whole multiples of it."`
	LeadTimeDays    int           `json:"lead_time_days" required:"false" minimum:"0" maximum:"3650" doc:"Days from ordering to receipt; default 0."`
	Active          bool          `json:"active" required:"false"`
}

// Warehouses, Locations and ReorderRules are the registered resources.
type (
	Warehouses   = resource.Resource[Warehouse, *Warehouse]
	Locations    = resource.Resource[Location, *Location]
	ReorderRules = resource.Resource[ReorderRule, *ReorderRule]
)

func str[T any](name string, sortable, unique bool, value func(*T) string) resource.Column[T] {
	return resource.Column[T]{
		Field:  query.Field{Name: name, Column: name, Kind: query.String, Sortable: sortable},
		Unique: unique,
		Value:  func(v *T) any { return value(v) },
	}
}

func flag[T any](name string, value func(*T) bool) resource.Column[T] {
	return resource.Column[T]{Field: query.Field{Name: name, Column: name, Kind: query.Bool}, Value: func(v *T) any { return value(v) }}
}

func quantity[T any](name string, value func(*T) *money.Decimal) resource.Column[T] {
	return resource.Column[T]{
		Field: query.Field{Name: name, Column: name, Kind: query.Decimal, Scale: money.QuantityScale, Sortable: true},
		Value: func(v *T) any { return money.Quantity(value(v)) },
	}
}

// WarehouseSpec declares the warehouses resource.
var WarehouseSpec = resource.Spec[Warehouse]{
	Module: "inventory", Plural: "warehouses", Singular: "warehouse", Title: "Warehouse", Prefix: "wh", Scoped: true,
	Description: "Sites that keep stock. Creating a warehouse also creates its default receiving and shipping locations " +
		"(<code>-RECV and <code>-SHIP). A warehouse with locations cannot be deleted; archive it with PATCH {\"active\": false}.",
	Columns: []resource.Column[Warehouse]{
		str("code", true, true, func(w *Warehouse) string { return w.Code }),
		str("name", true, false, func(w *Warehouse) string { return w.Name }),
		flag("active", func(w *Warehouse) bool { return w.Active }),
	},
	Defaults: map[string]any{"active": true},
}

// LocationSpec declares the locations resource.
var LocationSpec = resource.Spec[Location]{
	Module: "inventory", Plural: "locations", Singular: "location", Title: "Location", Prefix: "loc", Scoped: true,
	Description: "Places stock sits in, each in one warehouse: storage bins, the receiving and shipping docks, and transit " +
		"locations holding stock between the two steps of a transfer to another warehouse (to_warehouse_id). Each warehouse has at " +
		"most one default location per kind.",
	Columns: []resource.Column[Location]{
		str("warehouse_id", false, false, func(l *Location) string { return l.WarehouseID }),
		str("code", true, true, func(l *Location) string { return l.Code }),
		str("name", true, false, func(l *Location) string { return l.Name }),
		{Field: query.Field{Name: "kind", Column: "kind", Kind: query.Enum, Values: Kinds, Sortable: true}, Value: func(l *Location) any { return l.Kind }},
		flag("is_default", func(l *Location) bool { return l.IsDefault }),
		str("to_warehouse_id", false, false, func(l *Location) string { return l.ToWarehouseID }),
		flag("active", func(l *Location) bool { return l.Active }),
	},
	Refs: []resource.Ref[Location]{
		{Pointer: "/warehouse_id", Target: "warehouses", IDs: func(l *Location) []string { return []string{l.WarehouseID} }},
		{Pointer: "/to_warehouse_id", Target: "warehouses", IDs: func(l *Location) []string { return []string{l.ToWarehouseID} }},
	},
	Defaults:    map[string]any{"active": true, "kind": Storage, "is_default": false},
	Validate:    validateLocation,
	BeforeWrite: checkLocation,
}

// ReorderRuleSpec declares the reorder-rules resource.
var ReorderRuleSpec = resource.Spec[ReorderRule]{
	Module: "inventory", Plural: "reorder-rules", Singular: "reorder_rule", Title: "Reorder rule", Prefix: "rro", Scoped: true,
	Description: "When to buy more of a product for a warehouse: once its available plus incoming stock falls to reorder_point, " +
		"GET /v1/reorder-suggestions proposes ordering reorder_quantity (or a multiple of it). One rule per product and warehouse.",
	Columns: []resource.Column[ReorderRule]{
		str("product_id", false, false, func(r *ReorderRule) string { return r.ProductID }),
		str("warehouse_id", false, false, func(r *ReorderRule) string { return r.WarehouseID }),
		quantity("reorder_point", func(r *ReorderRule) *money.Decimal { return &r.ReorderPoint }),
		quantity("reorder_quantity", func(r *ReorderRule) *money.Decimal { return &r.ReorderQuantity }),
		{Field: query.Field{Name: "lead_time_days", Column: "lead_time_days", Kind: query.Int, Sortable: true}, Value: func(r *ReorderRule) any { return int64(r.LeadTimeDays) }},
		flag("active", func(r *ReorderRule) bool { return r.Active }),
	},
	Refs: []resource.Ref[ReorderRule]{
		{Pointer: "/product_id", Target: "products", IDs: func(r *ReorderRule) []string { return []string{r.ProductID} }},
		{Pointer: "/warehouse_id", Target: "warehouses", IDs: func(r *ReorderRule) []string { return []string{r.WarehouseID} }},
	},
	Defaults:    map[string]any{"active": true},
	Validate:    validateReorderRule,
	BeforeWrite: checkReorderRule,
}

// AddDefaultLocations makes every new warehouse create its default
// receiving and shipping locations in the transaction that creates it, so
// receipts and shipments always find a dock.
func AddDefaultLocations(warehouses *Warehouses, locations *Locations) {
	warehouses.AfterCreate(func(ctx context.Context, _ *db.Tx, w *Warehouse) error {
		for _, d := range []struct{ kind, suffix, name string }{
			{Receiving, "-RECV", "Receiving"},
			{Shipping, "-SHIP", "Shipping"},
		} {
			code := w.Code + d.suffix
			_, err := locations.Create(ctx, w.CompanyID, map[string]any{
				"warehouse_id": w.ID, "code": code, "name": d.name + " " + w.Code, "kind": d.kind, "is_default": true,
			})
			// The one way this fails on a valid warehouse is a location that
			// already took the code; the client fixes that through the
			// warehouse's code, so the error points there.
			if apperr.CodeOf(err) == apperr.Conflict {
				return apperr.New(apperr.Conflict, "Location code %s, needed for the warehouse's default %s location, is already taken: %s",
					code, d.kind, apperr.As(err).Message).
					WithFields(apperr.FieldError{Pointer: "/code", Detail: "location code " + code + " is already taken; choose another warehouse code"})
			}
			if err != nil {
				return fmt.Errorf("default %s location of warehouse %s: %w", d.kind, w.ID, err)
			}
		}
		return nil
	})
}

// validateLocation checks the rules a location can break on its own.
func validateLocation(_ context.Context, l *Location) []apperr.FieldError {
	var errs []apperr.FieldError
	switch {
	case l.Kind == Transit && l.ToWarehouseID == "":
		errs = append(errs, apperr.FieldError{Pointer: "/to_warehouse_id", Detail: "a transit location names the warehouse its stock is going to"})
	case l.Kind == Transit && l.ToWarehouseID == l.WarehouseID:
		errs = append(errs, apperr.FieldError{Pointer: "/to_warehouse_id", Detail: "must be another warehouse than warehouse_id: transit is between two warehouses"})
	case l.Kind != Transit && l.ToWarehouseID != "":
		errs = append(errs, apperr.FieldError{Pointer: "/to_warehouse_id", Detail: "only transit locations go to another warehouse; leave it out for kind " + l.Kind})
	}
	// An archived default would leave receipts or shipments pointed at a
	// location nobody may use.
	if l.IsDefault && !l.Active {
		errs = append(errs, apperr.FieldError{Pointer: "/active", Detail: "a default location must be active; set is_default to false in the same request to archive it"})
	}
	return errs
}

// checkLocation runs in the write transaction once the warehouses are
// known to be the company's: a location stays in its warehouse (its stock
// would otherwise move without a stock move), and a warehouse has at most
// one default location per kind.
func checkLocation(ctx context.Context, tx *db.Tx, l *Location) error {
	stored, found, err := storedWarehouse(ctx, tx, l.ID)
	if err != nil {
		return fmt.Errorf("location %s: %w", l.ID, err)
	}
	if found && stored != l.WarehouseID {
		return apperr.Field("/warehouse_id", "a location cannot move to another warehouse (it belongs to %s); create a new location instead", stored)
	}
	if !l.IsDefault {
		return nil
	}
	other, err := otherDefault(ctx, tx, l)
	if err != nil {
		return fmt.Errorf("location %s: %w", l.ID, err)
	}
	if other != "" {
		return apperr.New(apperr.Conflict, "Location %s is already the default %s location of warehouse %s; set its is_default to false first.", other, l.Kind, l.WarehouseID).
			WithFields(apperr.FieldError{Pointer: "/is_default", Detail: "warehouse " + l.WarehouseID + " already has a default " + l.Kind + " location: " + other})
	}
	return nil
}

func validateReorderRule(_ context.Context, r *ReorderRule) []apperr.FieldError {
	var errs []apperr.FieldError
	check := func(ptr string, d money.Decimal, positive bool) {
		switch {
		case positive && d.Sign() <= 0:
			errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: "must be greater than 0"})
		case d.IsNegative():
			errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: "must not be negative"})
		}
		if _, err := d.Scaled(money.QuantityScale); err != nil {
			errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf("at most %d decimal places and 13 integer digits", money.QuantityScale)})
		}
	}
	check("/reorder_point", r.ReorderPoint, false)
	check("/reorder_quantity", r.ReorderQuantity, true)
	return errs
}

// checkReorderRule keeps one rule per product and warehouse: two would
// suggest buying twice.
func checkReorderRule(ctx context.Context, tx *db.Tx, r *ReorderRule) error {
	other, err := otherReorderRule(ctx, tx, r)
	if err != nil {
		return fmt.Errorf("reorder rule %s: %w", r.ID, err)
	}
	if other == "" {
		return nil
	}
	detail := "product " + r.ProductID + " already has a reorder rule for warehouse " + r.WarehouseID + ": " + other
	return apperr.New(apperr.Conflict, "Reorder rule %s already covers product %s in warehouse %s; change that rule instead.", other, r.ProductID, r.WarehouseID).
		WithFields(apperr.FieldError{Pointer: "/product_id", Detail: detail}, apperr.FieldError{Pointer: "/warehouse_id", Detail: detail})
}

// Info is what other modules need to know of a location.
type Info struct {
	ID            string
	WarehouseID   string
	Code          string
	Kind          string
	ToWarehouseID string // transit locations only
	IsDefault     bool
	Active        bool
}

// LocationNotFoundError reports a location that is absent or another
// company's. To a client it is a 422 without a pointer; callers that know
// where the id came from use At to name the field.
type LocationNotFoundError struct{ LocationID string }

func (e *LocationNotFoundError) Error() string {
	return fmt.Sprintf("no location %q in this company", e.LocationID)
}

// Unwrap gives the error its client-facing form.
func (e *LocationNotFoundError) Unwrap() error {
	return apperr.New(apperr.Invalid, "No location %q in this company.", e.LocationID)
}

// At returns the 422 naming the field that held the location id.
func (e *LocationNotFoundError) At(pointer string) error {
	return apperr.Field(pointer, "No location %q in this company.", e.LocationID)
}

// LocationInfo returns a location of the company, inside the caller's
// transaction (q). An absent location, or another company's, is a
// *LocationNotFoundError. Archived locations are returned (Active false):
// whether one may still be used is the caller's rule.
func LocationInfo(ctx context.Context, q db.Querier, companyID, locationID string) (Info, error) {
	info, found, err := loadLocation(ctx, q, companyID, locationID)
	if err != nil {
		return Info{}, fmt.Errorf("location %s: %w", locationID, err)
	}
	if !found {
		return Info{}, &LocationNotFoundError{LocationID: locationID}
	}
	return info, nil
}

// DefaultLocation returns the id of the warehouse's default location of a
// kind (receiving, shipping, …), inside the caller's transaction (q). A
// warehouse that is absent, another company's, or without a default of
// that kind is NotFound.
func DefaultLocation(ctx context.Context, q db.Querier, companyID, warehouseID, kind string) (string, error) {
	exists, err := warehouseExists(ctx, q, companyID, warehouseID)
	if err != nil {
		return "", fmt.Errorf("default %s location of %s: %w", kind, warehouseID, err)
	}
	if !exists {
		return "", apperr.New(apperr.NotFound, "No warehouse %q.", warehouseID)
	}
	id, err := defaultLocation(ctx, q, companyID, warehouseID, kind)
	if err != nil {
		return "", fmt.Errorf("default %s location of %s: %w", kind, warehouseID, err)
	}
	if id == "" {
		return "", apperr.New(apperr.NotFound, "Warehouse %s has no default %s location; mark one with PATCH /v1/locations/{id} {\"is_default\": true}.", warehouseID, kind)
	}
	return id, nil
}

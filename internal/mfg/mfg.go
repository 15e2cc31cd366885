// Package mfg is manufacturing execution: work centers, bills of
// materials with their routings, production orders (stock reserved,
// consumed and produced through inventory, work in progress and variances
// through the ledger), shop-floor data intake, and quality control with
// statistical process control.
//
// Invariants: an order's component consumption and output are stock moves
// at cost, posted against the work-in-progress account, so inventory's
// valuation still equals the ledger's inventory account; once an order is
// closed its work in progress is exactly zero (what went in — materials at
// their cost, labour at the work centers' rates — equals what came out at
// standard cost plus the variances); shop-floor events are idempotent per
// (order, event id) and folded in the order they happened, not arrived.
package mfg

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

const dateLayout = "2006-01-02"

func validDate(s string) bool {
	t, err := time.Parse(dateLayout, s)
	return err == nil && t.Format(dateLayout) == s
}

// Weekdays are the names a calendar's working days use.
var Weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// WorkCenterCalendar says when a work center works.
type WorkCenterCalendar struct {
	WorkingDays []string      `json:"working_days,omitempty" required:"false" doc:"Days of the week it works (mon … sun); default mon–fri."`
	HoursPerDay money.Decimal `json:"hours_per_day" required:"false" doc:"Working hours per working day per unit of capacity; default 8."`
	Holidays    []string      `json:"holidays,omitempty" required:"false" doc:"Dates (YYYY-MM-DD) it does not work."`
}

// WorkCenter is a machine, line or group of people operations run on.
type WorkCenter struct {
	resource.Meta
	resource.Owned
	Code       string             `json:"code" minLength:"1" maxLength:"30" pattern:"^[A-Za-z0-9._-]+$"`
	Name       string             `json:"name" minLength:"1" maxLength:"200"`
	Capacity   money.Decimal      `json:"capacity" required:"false" doc:"Units that work at once (machines, stations, crews); hours available per working day = capacity × hours_per_day. Default 1."`
	HourlyRate money.Decimal      `json:"hourly_rate" doc:"Cost per hour of setup and run time (labour and machine), in the company currency; what operations charge to work in progress."`
	Calendar   WorkCenterCalendar `json:"calendar" required:"false"`
	Active     bool               `json:"active" required:"false"`
}

// BOMComponent is one line of a bill of materials.
type BOMComponent struct {
	ProductID    string        `json:"product_id"`
	Quantity     money.Decimal `json:"quantity" doc:"Per base_quantity of the product made, in unit_id."`
	UnitID       string        `json:"unit_id,omitempty" required:"false" doc:"Any unit that converts to the component's stock unit; default its stock unit."`
	ScrapPercent money.Decimal `json:"scrap_percent" required:"false" doc:"Expected loss in production (0 ≤ x < 100): the requirement is quantity × (1 + scrap_percent/100)."`
}

// BOMByProduct is something else a bill of materials yields.
type BOMByProduct struct {
	ProductID string        `json:"product_id"`
	Quantity  money.Decimal `json:"quantity" doc:"Per base_quantity of the product made, in unit_id."`
	UnitID    string        `json:"unit_id,omitempty" required:"false"`
}

// RoutingOperation is one step of a routing.
type RoutingOperation struct {
	Seq          int           `json:"seq" minimum:"1" maximum:"9999" doc:"Order of the step; also its number in shop-floor paths (…/operations/{seq}/events)."`
	Name         string        `json:"name" minLength:"1" maxLength:"200"`
	WorkCenterID string        `json:"work_center_id"`
	SetupMinutes money.Decimal `json:"setup_minutes" required:"false" doc:"Once per production order."`
	RunMinutes   money.Decimal `json:"run_minutes" doc:"Per unit of the product made (stock unit)."`
}

// BOM is one version of a product's bill of materials, with its routing.
type BOM struct {
	resource.Meta
	resource.Owned
	ProductID    string             `json:"product_id"`
	Revision     string             `json:"revision" minLength:"1" maxLength:"30" doc:"Version label, unique per product."`
	ValidFrom    string             `json:"valid_from,omitempty" required:"false" format:"date" doc:"First day this version applies (YYYY-MM-DD); open when left out."`
	ValidTo      string             `json:"valid_to,omitempty" required:"false" format:"date" doc:"Last day this version applies; open when left out. Active versions of a product may not overlap."`
	BaseQuantity money.Decimal      `json:"base_quantity" required:"false" doc:"Quantity of the product (stock unit) the component and by-product quantities are for; default 1."`
	Components   []BOMComponent     `json:"components" minItems:"1" maxItems:"500"`
	ByProducts   []BOMByProduct     `json:"by_products,omitempty" required:"false" maxItems:"50"`
	Operations   []RoutingOperation `json:"operations,omitempty" required:"false" maxItems:"100" doc:"The routing of this version."`
	Active       bool               `json:"active" required:"false"`
}

// InspectionCharacteristic is one measured property of an inspection plan.
type InspectionCharacteristic struct {
	Code           string        `json:"code" minLength:"1" maxLength:"50" doc:"Also the name of the machine reading that measures it, for inspections from shop-floor readings."`
	Name           string        `json:"name,omitempty" required:"false"`
	Nominal        money.Decimal `json:"nominal"`
	LowerTolerance money.Decimal `json:"lower_tolerance" doc:"Lower specification limit = nominal − lower_tolerance (≥ 0)."`
	UpperTolerance money.Decimal `json:"upper_tolerance" doc:"Upper specification limit = nominal + upper_tolerance (≥ 0)."`
	Unit           string        `json:"unit,omitempty" required:"false" doc:"Unit of the values, e.g. mm."`
}

// InspectionPlan says what to measure on a product and how many samples.
type InspectionPlan struct {
	resource.Meta
	resource.Owned
	Code            string                     `json:"code" minLength:"1" maxLength:"50"`
	Name            string                     `json:"name" minLength:"1" maxLength:"200"`
	ProductID       string                     `json:"product_id"`
	Operation       int                        `json:"operation,omitempty" required:"false" minimum:"0" doc:"The routing step it inspects; 0 or left out for the finished product."`
	SampleSize      int                        `json:"sample_size" minimum:"1" maximum:"25" doc:"Measurements per characteristic per inspection (one SPC subgroup)."`
	Characteristics []InspectionCharacteristic `json:"characteristics" minItems:"1" maxItems:"50"`
	Active          bool                       `json:"active" required:"false"`
}

// The registered resources.
type (
	WorkCenters     = resource.Resource[WorkCenter, *WorkCenter]
	BOMs            = resource.Resource[BOM, *BOM]
	InspectionPlans = resource.Resource[InspectionPlan, *InspectionPlan]
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

// WorkCenterSpec declares the work-centers resource.
var WorkCenterSpec = resource.Spec[WorkCenter]{
	Module: "mfg", Plural: "work-centers", Singular: "work_center", Title: "Work center", Prefix: "wc", Scoped: true,
	Description: "Machines, lines or crews that routing operations run on: capacity, a working calendar and the hourly rate " +
		"operations charge to work in progress.",
	Columns: []resource.Column[WorkCenter]{
		str("code", true, true, func(w *WorkCenter) string { return w.Code }),
		str("name", true, false, func(w *WorkCenter) string { return w.Name }),
		{Field: query.Field{Name: "hourly_rate", Column: "hourly_rate", Kind: query.Decimal, Scale: money.PriceScale, Sortable: true},
			Value: func(w *WorkCenter) any { return money.Price(&w.HourlyRate) }},
		flag("active", func(w *WorkCenter) bool { return w.Active }),
	},
	Defaults: map[string]any{"active": true, "capacity": "1"},
	Validate: validateWorkCenter,
}

func validateWorkCenter(_ context.Context, w *WorkCenter) []apperr.FieldError {
	var errs []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if w.Capacity.Sign() <= 0 {
		add("/capacity", "must be positive")
	} else if _, err := w.Capacity.Scaled(money.QuantityScale); err != nil {
		add("/capacity", "at most 6 decimal places")
	}
	if w.HourlyRate.IsNegative() {
		add("/hourly_rate", "must not be negative")
	} else if _, err := w.HourlyRate.Scaled(money.PriceScale); err != nil {
		add("/hourly_rate", "at most 6 decimal places")
	}
	if len(w.Calendar.WorkingDays) == 0 {
		w.Calendar.WorkingDays = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	seen := map[string]bool{}
	for i, d := range w.Calendar.WorkingDays {
		if !slices.Contains(Weekdays, d) || seen[d] {
			add(fmt.Sprintf("/calendar/working_days/%d", i), "must be one of mon, tue, wed, thu, fri, sat, sun, each once")
		}
		seen[d] = true
	}
	if w.Calendar.HoursPerDay.IsZero() {
		w.Calendar.HoursPerDay = money.FromInt(8)
	}
	if w.Calendar.HoursPerDay.Sign() < 0 || w.Calendar.HoursPerDay.Cmp(money.FromInt(24)) > 0 {
		add("/calendar/hours_per_day", "must be more than 0 and at most 24")
	}
	for i, h := range w.Calendar.Holidays {
		if !validDate(h) {
			add(fmt.Sprintf("/calendar/holidays/%d", i), "must be a date as YYYY-MM-DD")
		}
	}
	return errs
}

// BOMSpec declares the boms resource; the product, components and work
// centers it names must be the company's.
var BOMSpec = resource.Spec[BOM]{
	Module: "mfg", Plural: "boms", Singular: "bom", Title: "Bill of materials", Prefix: "bom", Scoped: true,
	Description: "One version (revision) of a product's bill of materials: components per base quantity in any unit that converts " +
		"to their stock unit, with scrap factors; by-products; and the routing (operations on work centers with setup and run " +
		"times). Versions apply from valid_from to valid_to; active versions of one product may not overlap. A component that has " +
		"a bill of its own valid on the date is a sub-assembly (multi-level). GET /v1/boms/{id}/explosion explodes it.",
	Columns: []resource.Column[BOM]{
		str("product_id", false, false, func(b *BOM) string { return b.ProductID }),
		str("revision", true, false, func(b *BOM) string { return b.Revision }),
		str("valid_from", true, false, func(b *BOM) string { return b.ValidFrom }),
		str("valid_to", true, false, func(b *BOM) string { return b.ValidTo }),
		flag("active", func(b *BOM) bool { return b.Active }),
	},
	Refs: []resource.Ref[BOM]{
		{Pointer: "/product_id", Target: "products", IDs: func(b *BOM) []string { return []string{b.ProductID} }},
		{Pointer: "/components", Target: "products", IDs: func(b *BOM) []string {
			out := make([]string, len(b.Components))
			for i, c := range b.Components {
				out[i] = c.ProductID
			}
			return out
		}},
		{Pointer: "/by_products", Target: "products", IDs: func(b *BOM) []string {
			out := make([]string, len(b.ByProducts))
			for i, c := range b.ByProducts {
				out[i] = c.ProductID
			}
			return out
		}},
		{Pointer: "/operations", Target: "work-centers", IDs: func(b *BOM) []string {
			out := make([]string, len(b.Operations))
			for i, o := range b.Operations {
				out[i] = o.WorkCenterID
			}
			return out
		}},
	},
	Defaults:    map[string]any{"active": true, "base_quantity": "1"},
	Validate:    validateBOM,
	BeforeWrite: checkBOM,
}

func checkQuantity(ptr string, d money.Decimal, zeroOK bool) *apperr.FieldError {
	switch {
	case d.IsNegative() || (!zeroOK && d.IsZero()):
		return &apperr.FieldError{Pointer: ptr, Detail: "must be positive"}
	default:
		if _, err := d.Scaled(money.QuantityScale); err != nil {
			return &apperr.FieldError{Pointer: ptr, Detail: "at most 6 decimal places"}
		}
	}
	return nil
}

func validateBOM(_ context.Context, b *BOM) []apperr.FieldError {
	var errs []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	addQ := func(fe *apperr.FieldError) {
		if fe != nil {
			errs = append(errs, *fe)
		}
	}
	if b.ValidFrom != "" && !validDate(b.ValidFrom) {
		add("/valid_from", "must be a date as YYYY-MM-DD")
	}
	if b.ValidTo != "" && !validDate(b.ValidTo) {
		add("/valid_to", "must be a date as YYYY-MM-DD")
	}
	if b.ValidFrom != "" && b.ValidTo != "" && b.ValidTo < b.ValidFrom {
		add("/valid_to", "must not be before valid_from")
	}
	addQ(checkQuantity("/base_quantity", b.BaseQuantity, false))
	seen := map[string]bool{}
	for i, c := range b.Components {
		p := fmt.Sprintf("/components/%d", i)
		addQ(checkQuantity(p+"/quantity", c.Quantity, false))
		if c.ScrapPercent.IsNegative() || c.ScrapPercent.Cmp(money.FromInt(100)) >= 0 {
			add(p+"/scrap_percent", "must be at least 0 and below 100")
		}
		if c.ProductID == b.ProductID {
			add(p+"/product_id", "a product cannot be a component of itself")
		}
		if seen[c.ProductID+"/"+c.UnitID] {
			add(p+"/product_id", "listed twice; add the quantities into one line")
		}
		seen[c.ProductID+"/"+c.UnitID] = true
	}
	for i, bp := range b.ByProducts {
		p := fmt.Sprintf("/by_products/%d", i)
		addQ(checkQuantity(p+"/quantity", bp.Quantity, false))
		if bp.ProductID == b.ProductID {
			add(p+"/product_id", "the product made is not a by-product of itself")
		}
	}
	seqs := map[int]bool{}
	for i, o := range b.Operations {
		p := fmt.Sprintf("/operations/%d", i)
		if seqs[o.Seq] {
			add(p+"/seq", "each operation has its own seq")
		}
		seqs[o.Seq] = true
		addQ(checkQuantity(p+"/setup_minutes", o.SetupMinutes, true))
		addQ(checkQuantity(p+"/run_minutes", o.RunMinutes, true))
	}
	slices.SortFunc(b.Operations, func(x, y RoutingOperation) int { return x.Seq - y.Seq })
	return errs
}

// checkBOM runs in the write transaction: units convert, active versions
// of the product do not overlap, and no component contains the product
// (a cycle would make explosion endless).
func checkBOM(ctx context.Context, tx *db.Tx, b *BOM) error {
	for i, c := range b.Components {
		if _, err := toStock(ctx, tx, b.CompanyID, c.ProductID, c.UnitID, money.FromInt(1), fmt.Sprintf("/components/%d/unit_id", i)); err != nil {
			return err
		}
	}
	for i, bp := range b.ByProducts {
		if _, err := toStock(ctx, tx, b.CompanyID, bp.ProductID, bp.UnitID, money.FromInt(1), fmt.Sprintf("/by_products/%d/unit_id", i)); err != nil {
			return err
		}
	}
	if b.Active {
		others, err := bomsOf(ctx, tx, b.CompanyID, b.ProductID)
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.ID == b.ID || !o.Active {
				continue
			}
			if overlaps(o.ValidFrom, o.ValidTo, b.ValidFrom, b.ValidTo) {
				return apperr.New(apperr.Conflict, "Active bill %s (revision %s) of %s already applies from %q to %q; end it before this version starts, or archive it.",
					o.ID, o.Revision, b.ProductID, o.ValidFrom, o.ValidTo).
					WithFields(apperr.FieldError{Pointer: "/valid_from", Detail: "overlaps revision " + o.Revision})
			}
		}
	}
	for i, c := range b.Components {
		if found, err := contains(ctx, tx, b.CompanyID, c.ProductID, b.ProductID, 0); err != nil {
			return err
		} else if found {
			return apperr.Field(fmt.Sprintf("/components/%d/product_id", i), "%s is made from %s: the bill would contain itself.", c.ProductID, b.ProductID)
		}
	}
	return nil
}

// overlaps reports whether two validity ranges (” open) share a day.
func overlaps(aFrom, aTo, bFrom, bTo string) bool {
	if aTo != "" && bFrom != "" && aTo < bFrom {
		return false
	}
	if bTo != "" && aFrom != "" && bTo < aFrom {
		return false
	}
	return true
}

// contains reports whether any bill of product (any version) contains
// target at any level.
func contains(ctx context.Context, q db.Querier, companyID, product, target string, depth int) (bool, error) {
	if depth > maxDepth {
		return true, nil
	}
	boms, err := bomsOf(ctx, q, companyID, product)
	if err != nil {
		return false, err
	}
	for _, b := range boms {
		for _, c := range b.Components {
			if c.ProductID == target {
				return true, nil
			}
			if found, err := contains(ctx, q, companyID, c.ProductID, target, depth+1); err != nil || found {
				return found, err
			}
		}
	}
	return false, nil
}

// InspectionPlanSpec declares the inspection-plans resource.
var InspectionPlanSpec = resource.Spec[InspectionPlan]{
	Module: "mfg", Plural: "inspection-plans", Singular: "inspection_plan", Title: "Inspection plan", Prefix: "iplan", Scoped: true,
	Description: "What quality control measures on a product (or after a routing step): characteristics with nominal value, " +
		"tolerances and unit, and the sample size per inspection. POST /v1/quality-inspections records measurements against it.",
	Columns: []resource.Column[InspectionPlan]{
		str("code", true, true, func(p *InspectionPlan) string { return p.Code }),
		str("name", true, false, func(p *InspectionPlan) string { return p.Name }),
		str("product_id", false, false, func(p *InspectionPlan) string { return p.ProductID }),
		flag("active", func(p *InspectionPlan) bool { return p.Active }),
	},
	Refs: []resource.Ref[InspectionPlan]{
		{Pointer: "/product_id", Target: "products", IDs: func(p *InspectionPlan) []string { return []string{p.ProductID} }},
	},
	Defaults: map[string]any{"active": true},
	Validate: validatePlan,
}

func validatePlan(_ context.Context, p *InspectionPlan) []apperr.FieldError {
	var errs []apperr.FieldError
	seen := map[string]bool{}
	for i, c := range p.Characteristics {
		ptr := fmt.Sprintf("/characteristics/%d", i)
		if seen[c.Code] {
			errs = append(errs, apperr.FieldError{Pointer: ptr + "/code", Detail: "each characteristic has its own code"})
		}
		seen[c.Code] = true
		for _, v := range []struct {
			name string
			d    money.Decimal
		}{{"lower_tolerance", c.LowerTolerance}, {"upper_tolerance", c.UpperTolerance}} {
			if fe := checkQuantity(ptr+"/"+v.name, v.d, true); fe != nil {
				errs = append(errs, *fe)
			}
		}
		if _, err := c.Nominal.Scaled(money.QuantityScale); err != nil {
			errs = append(errs, apperr.FieldError{Pointer: ptr + "/nominal", Detail: "at most 6 decimal places"})
		}
		if c.LowerTolerance.IsZero() && c.UpperTolerance.IsZero() {
			errs = append(errs, apperr.FieldError{Pointer: ptr + "/upper_tolerance", Detail: "a characteristic needs a tolerance on at least one side"})
		}
	}
	return errs
}

// Limits are a characteristic's specification limits.
func (c InspectionCharacteristic) Limits() (lsl, usl money.Decimal) {
	return c.Nominal.Sub(c.LowerTolerance), c.Nominal.Add(c.UpperTolerance)
}

// ValidDate reports whether s is a calendar date as YYYY-MM-DD.
func ValidDate(s string) bool { return validDate(s) }

// Today is the company's date at now, in its time zone.
func Today(ctx context.Context, q db.Querier, companyID string, now time.Time) (string, error) {
	return today(ctx, q, companyID, now)
}

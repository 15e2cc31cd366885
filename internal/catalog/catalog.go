// Package catalog holds what a company sells and buys: products, their
// units of measure and tax categories.
package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// UnitOfMeasure is a unit products are counted, bought or sold in.
type UnitOfMeasure struct {
	resource.Meta
	resource.Owned
	Code        string       `json:"code" pattern:"^[A-Za-z0-9_.-]{1,20}$" doc:"Short code, unique per company, e.g. ea, box, kg."`
	Name        string       `json:"name" minLength:"1" maxLength:"100"`
	Conversions []Conversion `json:"conversions,omitempty" maxItems:"50" doc:"How many of another unit one of this unit makes."`
	Active      bool         `json:"active" required:"false"`
}

// Conversion says 1 of the unit = Factor of ToUnitID.
type Conversion struct {
	ToUnitID string        `json:"to_unit_id"`
	Factor   money.Decimal `json:"factor"`
}

// TaxCategory groups products taxed alike (standard, reduced, exempt).
type TaxCategory struct {
	resource.Meta
	resource.Owned
	Code        string `json:"code" pattern:"^[A-Za-z0-9_.-]{1,30}$"`
	Name        string `json:"name" minLength:"1" maxLength:"100"`
	Description string `json:"description,omitempty" maxLength:"1000"`
	Active      bool   `json:"active" required:"false"`
}

// Product is something a company sells, buys, stocks or makes.
type Product struct {
	resource.Meta
	resource.Owned
	SKU             string         `json:"sku" pattern:"^[\\x21-\\x7e]{1,64}$" doc:"Stock-keeping unit, unique per company; kept when archived."`
	Name            string         `json:"name" minLength:"1" maxLength:"200"`
	Description     string         `json:"description,omitempty" maxLength:"10000"`
	StockUnitID     string         `json:"stock_unit_id" doc:"The unit stock is counted in."`
	SalesUnitID     string         `json:"sales_unit_id,omitempty" doc:"The unit it is sold in; the stock unit when absent."`
	SalesUnitFactor money.Decimal  `json:"sales_unit_factor" required:"false" doc:"Stock units per sales unit (a box of 12: 12)."`
	ListPrice       money.Decimal  `json:"list_price" doc:"Price per sales unit, before tax."`
	Currency        money.Currency `json:"currency"`
	TaxCategoryID   string         `json:"tax_category_id,omitempty"`
	Weight          *money.Decimal `json:"weight,omitempty"`
	WeightUnit      string         `json:"weight_unit,omitempty" enum:"g,kg,oz,lb"`
	Dimensions      *Dimensions    `json:"dimensions,omitempty"`
	// Inventory settings. Changing valuation_method or tracking once the
	// product has stock moves is refused by the inventory module.
	ValuationMethod    string `json:"valuation_method,omitempty" enum:"moving_average,fifo" doc:"How issues are costed: moving_average (the default) or fifo, company-wide."`
	Tracking           string `json:"tracking,omitempty" enum:"none,lot,serial" doc:"none (the default), lot (every move names a lot) or serial (every unit its serial number)."`
	AllowNegativeStock bool   `json:"allow_negative_stock,omitempty" doc:"Issues may take on hand below zero (drop-shipped or made-to-order goods); off by default."`
	Active             bool   `json:"active" required:"false"`
}

// Dimensions of one stock unit.
type Dimensions struct {
	Length money.Decimal `json:"length"`
	Width  money.Decimal `json:"width"`
	Height money.Decimal `json:"height"`
	Unit   string        `json:"unit" enum:"mm,cm,m,in,ft"`
}

var active = map[string]any{"active": true}

// UnitSpec declares the units-of-measure resource.
var UnitSpec = resource.Spec[UnitOfMeasure]{
	Module: "catalog", Plural: "units-of-measure", Singular: "unit_of_measure", Title: "Unit of measure", Prefix: "uom",
	Table: "units_of_measure", Scoped: true,
	Columns: []resource.Column[UnitOfMeasure]{
		{Field: query.Field{Name: "code", Column: "code", Kind: query.String, Sortable: true}, Unique: true, Value: func(u *UnitOfMeasure) any { return u.Code }},
		{Field: query.Field{Name: "name", Column: "name", Kind: query.String, Sortable: true}, Value: func(u *UnitOfMeasure) any { return u.Name }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(u *UnitOfMeasure) any { return u.Active }},
	},
	Refs: []resource.Ref[UnitOfMeasure]{{Pointer: "/conversions", Target: "units-of-measure", IDs: func(u *UnitOfMeasure) []string {
		ids := make([]string, len(u.Conversions))
		for i, c := range u.Conversions {
			ids[i] = c.ToUnitID
		}
		return ids
	}}},
	Defaults: active,
	Validate: func(_ context.Context, u *UnitOfMeasure) []apperr.FieldError {
		var errs []apperr.FieldError
		for i, c := range u.Conversions {
			if c.Factor.Sign() <= 0 {
				errs = append(errs, apperr.FieldError{Pointer: fmt.Sprintf("/conversions/%d/factor", i), Detail: "must be greater than 0"})
			}
			if c.ToUnitID == u.ID {
				errs = append(errs, apperr.FieldError{Pointer: fmt.Sprintf("/conversions/%d/to_unit_id", i), Detail: "a unit cannot convert to itself"})
			}
		}
		return errs
	},
}

// TaxCategorySpec declares the tax-categories resource.
var TaxCategorySpec = resource.Spec[TaxCategory]{
	Module: "catalog", Plural: "tax-categories", Singular: "tax_category", Title: "Tax category", Prefix: "taxc", Scoped: true,
	Columns: []resource.Column[TaxCategory]{
		{Field: query.Field{Name: "code", Column: "code", Kind: query.String, Sortable: true}, Unique: true, Value: func(t *TaxCategory) any { return t.Code }},
		{Field: query.Field{Name: "name", Column: "name", Kind: query.String, Sortable: true}, Value: func(t *TaxCategory) any { return t.Name }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(t *TaxCategory) any { return t.Active }},
	},
	Defaults: active,
}

// ProductSpec declares the products resource.
var ProductSpec = resource.Spec[Product]{
	Module: "catalog", Plural: "products", Singular: "product", Title: "Product", Prefix: "prod", Scoped: true,
	Description: "The catalog. Archive a product with PATCH {\"active\": false}: it keeps its SKU and external id.",
	Columns: []resource.Column[Product]{
		{Field: query.Field{Name: "sku", Column: "sku", Kind: query.String, Sortable: true}, Unique: true, Value: func(p *Product) any { return p.SKU }},
		{Field: query.Field{Name: "name", Column: "name", Kind: query.String, Sortable: true}, Value: func(p *Product) any { return p.Name }},
		{Field: query.Field{Name: "list_price", Column: "list_price", Kind: query.Decimal, Scale: money.PriceScale, Sortable: true}, Value: func(p *Product) any { return money.Price(&p.ListPrice) }},
		{Field: query.Field{Name: "currency", Column: "currency", Kind: query.String, Sortable: true}, Value: func(p *Product) any { return string(p.Currency) }},
		{Field: query.Field{Name: "tax_category_id", Column: "tax_category_id", Kind: query.String}, Value: func(p *Product) any { return p.TaxCategoryID }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(p *Product) any { return p.Active }},
	},
	Refs: []resource.Ref[Product]{
		{Pointer: "/stock_unit_id", Target: "units-of-measure", IDs: func(p *Product) []string { return []string{p.StockUnitID} }},
		{Pointer: "/sales_unit_id", Target: "units-of-measure", IDs: func(p *Product) []string { return []string{p.SalesUnitID} }},
		{Pointer: "/tax_category_id", Target: "tax-categories", IDs: func(p *Product) []string { return []string{p.TaxCategoryID} }},
	},
	Defaults:    map[string]any{"active": true, "sales_unit_factor": "1"},
	Validate:    validateProduct,
	BeforeWrite: keepStockSettings,
}

// keepStockSettings refuses to change how a product is valued or tracked
// once stock has moved: its cost layers, average and lots were built
// under the old setting, and switching would misstate them. (It reads the
// stock module's table: the one place the catalog knows about stock.)
func keepStockSettings(ctx context.Context, tx *db.Tx, p *Product) error {
	var doc string
	err := tx.QueryRowContext(ctx, "SELECT doc FROM products WHERE id = $1", p.ID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read product %s: %w", p.ID, err)
	}
	var old Product
	if err := json.Unmarshal([]byte(doc), &old); err != nil {
		return fmt.Errorf("decode product %s: %w", p.ID, err)
	}
	norm := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	var fields []apperr.FieldError
	if norm(old.ValuationMethod, "moving_average") != norm(p.ValuationMethod, "moving_average") {
		fields = append(fields, apperr.FieldError{Pointer: "/valuation_method", Detail: "cannot change once stock has moved"})
	}
	if norm(old.Tracking, "none") != norm(p.Tracking, "none") {
		fields = append(fields, apperr.FieldError{Pointer: "/tracking", Detail: "cannot change once stock has moved"})
	}
	if len(fields) == 0 {
		return nil
	}
	var moved int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM stock_moves WHERE product_id = $1", p.ID).Scan(&moved); err != nil {
		return fmt.Errorf("stock moves of %s: %w", p.ID, err)
	}
	if moved == 0 {
		return nil
	}
	return apperr.New(apperr.Conflict, "Product %s has stock moves; its valuation method and tracking stay as they are.", p.ID).WithFields(fields...)
}

func validateProduct(_ context.Context, p *Product) []apperr.FieldError {
	var errs []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if _, err := money.ParseCurrency(string(p.Currency)); err != nil {
		add("/currency", "%v", err)
	}
	if p.ListPrice.IsNegative() {
		add("/list_price", "must not be negative")
	}
	if _, err := p.ListPrice.Scaled(money.PriceScale); err != nil {
		add("/list_price", "at most %d decimal places and 12 integer digits", money.PriceScale)
	}
	if p.SalesUnitFactor.Sign() <= 0 {
		add("/sales_unit_factor", "must be greater than 0")
	}
	if p.SalesUnitID == "" && !p.SalesUnitFactor.Equal(money.FromInt(1)) {
		add("/sales_unit_factor", "must be 1 when the product is sold in its stock unit")
	}
	if p.Weight != nil {
		if p.Weight.IsNegative() {
			add("/weight", "must not be negative")
		}
		if p.WeightUnit == "" {
			add("/weight_unit", "is required with weight")
		}
	}
	if d := p.Dimensions; d != nil {
		for _, side := range []struct {
			name string
			v    money.Decimal
		}{{"length", d.Length}, {"width", d.Width}, {"height", d.Height}} {
			if side.v.Sign() <= 0 {
				add("/dimensions/"+side.name, "must be greater than 0")
			}
		}
	}
	return errs
}

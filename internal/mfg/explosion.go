package mfg

import (
	"context"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// ExplosionLine is one component requirement at one level.
type ExplosionLine struct {
	Level           int           `json:"level" doc:"1 for the bill's own components, 2 for a sub-assembly's, …"`
	ParentProductID string        `json:"parent_product_id"`
	ProductID       string        `json:"product_id"`
	BOMID           string        `json:"bom_id,omitempty" doc:"Set on a sub-assembly: the bill it is made by."`
	QuantityPer     money.Decimal `json:"quantity_per" doc:"As in the bill: per base_quantity of the parent, in unit_id."`
	UnitID          string        `json:"unit_id,omitempty"`
	ScrapPercent    money.Decimal `json:"scrap_percent"`
	Required        money.Decimal `json:"required" doc:"Stock units needed, scrap included (rounded up to 6 decimal places)."`
	Available       money.Decimal `json:"available" doc:"Available in the warehouse (on hand − reserved − held) for this line, after earlier lines of the explosion took theirs."`
	ToMake          money.Decimal `json:"to_make" doc:"Sub-assemblies: what is not available and has to be made (its components are exploded for this)."`
	Shortage        money.Decimal `json:"shortage" doc:"Bought components: what is missing."`
	Short           bool          `json:"short"`
	UnitCost        money.Decimal `json:"unit_cost" doc:"Current average cost per stock unit; for a sub-assembly, its own rolled-up cost."`
	Cost            money.Decimal `json:"cost" doc:"unit cost × required, rounded to the currency."`
	CostKnown       bool          `json:"cost_known" doc:"false when a bought component has no stock to take a cost from (its cost counts as 0)."`
}

// ExplosionOperation is the work an explosion needs at one level.
type ExplosionOperation struct {
	Level        int           `json:"level"`
	ProductID    string        `json:"product_id"`
	Seq          int           `json:"seq"`
	Name         string        `json:"name"`
	WorkCenterID string        `json:"work_center_id"`
	Minutes      money.Decimal `json:"minutes" doc:"setup_minutes + run_minutes × quantity made."`
	HourlyRate   money.Decimal `json:"hourly_rate"`
	Cost         money.Decimal `json:"cost"`
}

// ExplosionByProduct is a by-product an explosion yields.
type ExplosionByProduct struct {
	Level     int           `json:"level"`
	ProductID string        `json:"product_id"`
	Quantity  money.Decimal `json:"quantity" doc:"Stock units."`
	UnitCost  money.Decimal `json:"unit_cost"`
	Credit    money.Decimal `json:"credit" doc:"Its value, taken off the cost of the product made."`
}

// CostRollup is what making a quantity costs.
type CostRollup struct {
	Material        money.Decimal `json:"material" doc:"Components at their cost (sub-assemblies at their own roll-up), scrap included."`
	Labour          money.Decimal `json:"labour" doc:"Operations: (setup + run × quantity) at the work centers' hourly rates."`
	ByProductCredit money.Decimal `json:"by_product_credit"`
	Total           money.Decimal `json:"total" doc:"material + labour − by_product_credit."`
	UnitCost        money.Decimal `json:"unit_cost" doc:"total ÷ quantity, to 6 decimal places."`
}

// ComponentRequirement is one bought component's total over all levels.
type ComponentRequirement struct {
	ProductID string        `json:"product_id"`
	Required  money.Decimal `json:"required"`
	Available money.Decimal `json:"available"`
	Shortage  money.Decimal `json:"shortage"`
}

// Explosion is a bill exploded for a quantity against available stock.
type Explosion struct {
	BOMID        string                 `json:"bom_id"`
	ProductID    string                 `json:"product_id"`
	Revision     string                 `json:"revision"`
	Quantity     money.Decimal          `json:"quantity"`
	Date         string                 `json:"date" doc:"Sub-assemblies use their bill valid on this date."`
	WarehouseID  string                 `json:"warehouse_id,omitempty" doc:"Stock counted; empty: the whole company."`
	Currency     money.Currency         `json:"currency"`
	Short        bool                   `json:"short" doc:"Any bought component is short."`
	Lines        []ExplosionLine        `json:"lines" doc:"Depth first: a sub-assembly is followed by its own components."`
	Operations   []ExplosionOperation   `json:"operations"`
	ByProducts   []ExplosionByProduct   `json:"by_products"`
	Requirements []ComponentRequirement `json:"requirements" doc:"Bought components summed over all levels, in first-use order."`
	Cost         CostRollup             `json:"cost"`
}

type exploder struct {
	ctx       context.Context
	q         db.Querier
	company   string
	warehouse string
	date      string
	cur       money.Currency
	pool      map[string]money.Decimal
	loaded    map[string]bool
	reqIndex  map[string]int
	out       *Explosion
}

// Explode explodes bill b for qty (stock units of its product) against
// the stock available in warehouseID ("" = the company) on date.
func Explode(ctx context.Context, q db.Querier, companyID string, b BOM, qty money.Decimal, warehouseID, date string) (Explosion, error) {
	cur, err := companyCurrency(ctx, q, companyID)
	if err != nil {
		return Explosion{}, err
	}
	x := &exploder{ctx: ctx, q: q, company: companyID, warehouse: warehouseID, date: date, cur: cur,
		pool: map[string]money.Decimal{}, loaded: map[string]bool{}, reqIndex: map[string]int{},
		out: &Explosion{BOMID: b.ID, ProductID: b.ProductID, Revision: b.Revision, Quantity: qty.Normalize(), Date: date, WarehouseID: warehouseID, Currency: cur,
			Lines: []ExplosionLine{}, Operations: []ExplosionOperation{}, ByProducts: []ExplosionByProduct{}, Requirements: []ComponentRequirement{}}}
	if err := x.explode(b, qty, 1); err != nil {
		return Explosion{}, err
	}
	roll, err := rollup(ctx, q, companyID, cur, b, qty, date, 0)
	if err != nil {
		return Explosion{}, err
	}
	x.out.Cost = roll
	return *x.out, nil
}

func (x *exploder) available(productID string) (money.Decimal, error) {
	if !x.loaded[productID] {
		v, err := inventory.Available(x.ctx, x.q, x.company, productID, x.warehouse)
		if err != nil {
			return money.Decimal{}, err
		}
		if v.IsNegative() {
			v = money.Decimal{}
		}
		x.pool[productID], x.loaded[productID] = v, true
	}
	return x.pool[productID], nil
}

// requirement is a component's stock-unit requirement for qty of the
// parent: quantity × qty ÷ base × (1 + scrap/100), rounded up.
func requirement(ctx context.Context, q db.Querier, companyID string, b BOM, productID, unitID string, per, scrap, qty money.Decimal, pointer string) (money.Decimal, error) {
	base := b.BaseQuantity
	if base.Sign() <= 0 {
		base = money.FromInt(1)
	}
	gross := per.Mul(qty).Mul(money.FromInt(100).Add(scrap))
	v, err := gross.DivRound(base.Mul(money.FromInt(100)), 2*money.QuantityScale, money.HalfEven)
	if err != nil {
		return money.Decimal{}, fmt.Errorf("requirement of %s: %w", productID, err)
	}
	return toStock(ctx, q, companyID, productID, unitID, v, pointer)
}

func (x *exploder) explode(b BOM, qty money.Decimal, level int) error {
	if level > maxDepth {
		return apperr.New(apperr.Conflict, "Bill %s is nested more than %d levels deep.", b.ID, maxDepth)
	}
	for i, c := range b.Components {
		req, err := requirement(x.ctx, x.q, x.company, b, c.ProductID, c.UnitID, c.Quantity, c.ScrapPercent, qty, fmt.Sprintf("/components/%d", i))
		if err != nil {
			return err
		}
		avail, err := x.available(c.ProductID)
		if err != nil {
			return err
		}
		take := req
		if avail.Cmp(take) < 0 {
			take = avail
		}
		x.pool[c.ProductID] = avail.Sub(take)
		line := ExplosionLine{Level: level, ParentProductID: b.ProductID, ProductID: c.ProductID, QuantityPer: c.Quantity.Normalize(), UnitID: c.UnitID,
			ScrapPercent: c.ScrapPercent.Normalize(), Required: req.Normalize(), Available: avail.Normalize(), CostKnown: true}
		sub, isSub, err := ActiveBOM(x.ctx, x.q, x.company, c.ProductID, x.date)
		if err != nil {
			return err
		}
		if isSub {
			line.BOMID = sub.ID
			line.ToMake = req.Sub(take).Normalize()
			r, err := rollup(x.ctx, x.q, x.company, x.cur, sub, req, x.date, level)
			if err != nil {
				return err
			}
			line.Cost, line.UnitCost = r.Total, r.UnitCost
			x.out.Lines = append(x.out.Lines, line)
			if line.ToMake.Sign() > 0 {
				if err := x.explode(sub, line.ToMake, level+1); err != nil {
					return err
				}
			}
			continue
		}
		line.Shortage = req.Sub(take).Normalize()
		line.Short = line.Shortage.Sign() > 0
		uc, ok, err := inventory.UnitCost(x.ctx, x.q, x.company, c.ProductID)
		if err != nil {
			return err
		}
		line.UnitCost, line.CostKnown = uc, ok
		line.Cost = money.RoundAmount(uc.Mul(req), x.cur, money.HalfEven)
		x.out.Short = x.out.Short || line.Short
		x.out.Lines = append(x.out.Lines, line)
		if i, ok := x.reqIndex[c.ProductID]; ok {
			r := &x.out.Requirements[i]
			r.Required, r.Shortage = r.Required.Add(req).Normalize(), r.Shortage.Add(line.Shortage).Normalize()
		} else {
			x.reqIndex[c.ProductID] = len(x.out.Requirements)
			full, err := inventory.Available(x.ctx, x.q, x.company, c.ProductID, x.warehouse)
			if err != nil {
				return err
			}
			x.out.Requirements = append(x.out.Requirements, ComponentRequirement{ProductID: c.ProductID, Required: req.Normalize(), Available: full, Shortage: line.Shortage})
		}
	}
	for _, o := range b.Operations {
		wc, err := loadWorkCenter(x.ctx, x.q, x.company, o.WorkCenterID)
		if err != nil {
			return err
		}
		minutes := o.SetupMinutes.Add(o.RunMinutes.Mul(qty))
		x.out.Operations = append(x.out.Operations, ExplosionOperation{Level: level, ProductID: b.ProductID, Seq: o.Seq, Name: o.Name, WorkCenterID: o.WorkCenterID,
			Minutes: minutes.Normalize(), HourlyRate: wc.HourlyRate.Normalize(), Cost: labourCost(wc.HourlyRate, minutes, x.cur)})
	}
	for i, bp := range b.ByProducts {
		q, err := requirement(x.ctx, x.q, x.company, b, bp.ProductID, bp.UnitID, bp.Quantity, money.Decimal{}, qty, fmt.Sprintf("/by_products/%d", i))
		if err != nil {
			return err
		}
		uc, _, err := inventory.UnitCost(x.ctx, x.q, x.company, bp.ProductID)
		if err != nil {
			return err
		}
		x.out.ByProducts = append(x.out.ByProducts, ExplosionByProduct{Level: level, ProductID: bp.ProductID, Quantity: q, UnitCost: uc,
			Credit: money.RoundAmount(uc.Mul(q), x.cur, money.HalfEven)})
	}
	return nil
}

// labourCost is rate × minutes ÷ 60, rounded half-even to the currency.
func labourCost(rate, minutes money.Decimal, cur money.Currency) money.Decimal {
	v, err := rate.Mul(minutes).DivRound(money.FromInt(60), cur.MinorUnits(), money.HalfEven)
	if err != nil {
		return money.Decimal{}
	}
	return v
}

// rollup is what making qty by bill b costs: components at their current
// cost (sub-assemblies at their own roll-up for the whole requirement,
// whatever is in stock, so a standard cost does not depend on stock
// levels), operations at their work centers' rates, less by-products at
// their current cost.
func rollup(ctx context.Context, q db.Querier, companyID string, cur money.Currency, b BOM, qty money.Decimal, date string, depth int) (CostRollup, error) {
	if depth > maxDepth {
		return CostRollup{}, apperr.New(apperr.Conflict, "Bill %s is nested more than %d levels deep.", b.ID, maxDepth)
	}
	var r CostRollup
	for i, c := range b.Components {
		req, err := requirement(ctx, q, companyID, b, c.ProductID, c.UnitID, c.Quantity, c.ScrapPercent, qty, fmt.Sprintf("/components/%d", i))
		if err != nil {
			return CostRollup{}, err
		}
		sub, isSub, err := ActiveBOM(ctx, q, companyID, c.ProductID, date)
		if err != nil {
			return CostRollup{}, err
		}
		if isSub {
			sr, err := rollup(ctx, q, companyID, cur, sub, req, date, depth+1)
			if err != nil {
				return CostRollup{}, err
			}
			r.Material = r.Material.Add(sr.Total)
			continue
		}
		uc, _, err := inventory.UnitCost(ctx, q, companyID, c.ProductID)
		if err != nil {
			return CostRollup{}, err
		}
		r.Material = r.Material.Add(money.RoundAmount(uc.Mul(req), cur, money.HalfEven))
	}
	for _, o := range b.Operations {
		wc, err := loadWorkCenter(ctx, q, companyID, o.WorkCenterID)
		if err != nil {
			return CostRollup{}, err
		}
		r.Labour = r.Labour.Add(labourCost(wc.HourlyRate, o.SetupMinutes.Add(o.RunMinutes.Mul(qty)), cur))
	}
	for i, bp := range b.ByProducts {
		bq, err := requirement(ctx, q, companyID, b, bp.ProductID, bp.UnitID, bp.Quantity, money.Decimal{}, qty, fmt.Sprintf("/by_products/%d", i))
		if err != nil {
			return CostRollup{}, err
		}
		uc, _, err := inventory.UnitCost(ctx, q, companyID, bp.ProductID)
		if err != nil {
			return CostRollup{}, err
		}
		r.ByProductCredit = r.ByProductCredit.Add(money.RoundAmount(uc.Mul(bq), cur, money.HalfEven))
	}
	r.Total = r.Material.Add(r.Labour).Sub(r.ByProductCredit)
	if qty.Sign() > 0 {
		r.UnitCost, _ = r.Total.DivRound(qty, money.PriceScale, money.HalfEven)
		r.UnitCost = r.UnitCost.Normalize()
	}
	return r, nil
}

func companyCurrency(ctx context.Context, q db.Querier, companyID string) (money.Currency, error) {
	var c string
	if err := q.QueryRowContext(ctx, "SELECT base_currency FROM companies WHERE id = $1", companyID).Scan(&c); err != nil {
		return "", fmt.Errorf("company %s: %w", companyID, err)
	}
	return money.Currency(c), nil
}

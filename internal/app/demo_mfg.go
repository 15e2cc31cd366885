package app

import (
	"context"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/inventory/sites"
	"github.com/mainstay-erp/mainstay/internal/mfg"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// seedDemoMfg gives the demo company a manufactured product: a coffee
// gift set (lot-tracked) packed from a mug, a bag of beans and a gift box
// on a packing bench, with an inspection plan, and one production order
// taken all the way — released, reported from the shop floor, completed,
// inspected and closed — so stock, lots, genealogy and the ledger's work
// in progress and variances have something to show.
func (a *App) seedDemoMfg(ctx context.Context, company string) error {
	m := a.mfg
	s := a.services
	var unitEa, beans, mug, wh string
	r := a.db.Reader(ctx)
	for _, q := range []struct {
		sql  string
		dest *string
	}{
		{"SELECT id FROM units_of_measure WHERE company_id = $1 AND code = 'ea'", &unitEa},
		{"SELECT id FROM products WHERE company_id = $1 AND sku = 'DEMO-001'", &beans},
		{"SELECT id FROM products WHERE company_id = $1 AND sku = 'DEMO-019'", &mug},
		{"SELECT id FROM warehouses WHERE company_id = $1 AND code = 'BER1'", &wh},
	} {
		if err := r.QueryRowContext(ctx, q.sql, company).Scan(q.dest); err != nil {
			return fmt.Errorf("seed demo manufacturing: %s: %w", q.sql, err)
		}
	}
	box, err := s.Products.Create(ctx, company, map[string]any{"sku": "MFG-BOX", "name": "Gift box, kraft", "stock_unit_id": unitEa,
		"list_price": "1.20", "currency": "EUR", "external_id": "mfg-box"})
	if err != nil {
		return fmt.Errorf("seed demo gift box: %w", err)
	}
	set, err := s.Products.Create(ctx, company, map[string]any{"sku": "MFG-GIFT", "name": "Coffee gift set", "stock_unit_id": unitEa,
		"list_price": "29.90", "currency": "EUR", "tracking": "lot", "external_id": "mfg-gift", "weight": "0.75", "weight_unit": "kg",
		"description": "Demo manufactured product: a mug, a bag of espresso beans and a gift box, packed in Berlin."})
	if err != nil {
		return fmt.Errorf("seed demo gift set: %w", err)
	}
	bench, err := m.workCenters.Create(ctx, company, map[string]any{"code": "PACK", "name": "Packing bench", "hourly_rate": "36.00",
		"capacity": "2", "calendar": map[string]any{"working_days": []any{"mon", "tue", "wed", "thu", "fri"}, "hours_per_day": "7.5"}})
	if err != nil {
		return fmt.Errorf("seed demo work center: %w", err)
	}
	bom, err := m.boms.Create(ctx, company, map[string]any{"product_id": set.Value.ID, "revision": "A", "external_id": "mfg-gift-a",
		"components": []any{
			map[string]any{"product_id": mug, "quantity": "1"},
			map[string]any{"product_id": beans, "quantity": "1"},
			map[string]any{"product_id": box.Value.ID, "quantity": "1", "scrap_percent": "2"},
		},
		"operations": []any{map[string]any{"seq": 10, "name": "Pack", "work_center_id": bench.Value.ID, "setup_minutes": "5", "run_minutes": "2"}},
	})
	if err != nil {
		return fmt.Errorf("seed demo bill of materials: %w", err)
	}
	plan, err := m.plans.Create(ctx, company, map[string]any{"code": "GIFT-WEIGHT", "name": "Gift set weight", "product_id": set.Value.ID, "sample_size": 3,
		"characteristics": []any{map[string]any{"code": "weight", "name": "Packed weight", "nominal": "0.750", "lower_tolerance": "0.050", "upper_tolerance": "0.050", "unit": "kg"}}})
	if err != nil {
		return fmt.Errorf("seed demo inspection plan: %w", err)
	}
	now := a.db.Now().UTC().Truncate(time.Second)
	return a.db.Transact(ctx, func(tx *db.Tx) error {
		today, err := mfg.Today(ctx, tx, company, now)
		if err != nil {
			return err
		}
		recv, err := sites.DefaultLocation(ctx, tx, company, wh, sites.Receiving)
		if err != nil {
			return err
		}
		cost := money.MustParse("0.45")
		if _, err := inventory.Post(ctx, tx, inventory.MoveInput{CompanyID: company, Type: inventory.Opening, ProductID: box.Value.ID, ToLocationID: recv,
			Quantity: money.FromInt(200), UnitCost: &cost, Date: today, Reason: "opening stock", SourceType: "demo", SourceID: box.Value.ID, Purpose: "opening_BER1"}); err != nil {
			return fmt.Errorf("seed demo gift boxes: %w", err)
		}
		o, err := m.service.CreateOrder(ctx, tx, mfg.CreateProductionOrderRequest{CompanyID: company, ExternalID: "demo-mo-1", ProductID: set.Value.ID, BOMID: bom.Value.ID,
			Quantity: money.FromInt(6), WarehouseID: wh, PlannedStart: today})
		if err != nil {
			return fmt.Errorf("seed demo production order: %w", err)
		}
		if _, _, err := m.service.Release(ctx, tx, company, o.ID); err != nil {
			return fmt.Errorf("seed demo release: %w", err)
		}
		five, one := money.FromInt(5), money.FromInt(1)
		at := func(min int) time.Time { return now.Add(time.Duration(min-30) * time.Minute) }
		evs := []mfg.ShopFloorEvent{
			{EventID: "bench-1", Type: "start", OccurredAt: at(0)},
			{EventID: "bench-2", Type: "good", OccurredAt: at(12), Quantity: &five},
			{EventID: "bench-3", Type: "scrap", OccurredAt: at(14), Quantity: &one, Reason: "mug chipped"},
			{EventID: "bench-4", Type: "reading", OccurredAt: at(15), Readings: []mfg.MachineReading{{Name: "weight", Value: money.MustParse("0.748"), Unit: "kg"}}},
			{EventID: "bench-5", Type: "reading", OccurredAt: at(16), Readings: []mfg.MachineReading{{Name: "weight", Value: money.MustParse("0.755"), Unit: "kg"}}},
			{EventID: "bench-6", Type: "reading", OccurredAt: at(17), Readings: []mfg.MachineReading{{Name: "weight", Value: money.MustParse("0.741"), Unit: "kg"}}},
			{EventID: "bench-7", Type: "finish", OccurredAt: at(18)},
		}
		for i := range evs {
			evs[i].ProductionOrderID, evs[i].Operation = o.ID, 10
		}
		if _, err := m.service.Intake(ctx, tx, company, evs, func(i int) string { return fmt.Sprintf("/events/%d", i) }); err != nil {
			return fmt.Errorf("seed demo shop-floor events: %w", err)
		}
		if _, err := m.service.Complete(ctx, tx, company, o.ID, mfg.CompleteProductionOrderRequest{Date: today}); err != nil {
			return fmt.Errorf("seed demo completion: %w", err)
		}
		if _, err := m.service.Inspect(ctx, tx, company, mfg.QualityInspectionRequest{PlanID: plan.Value.ID, ProductionOrderID: o.ID, FromReadings: true, Inspector: "demo"}); err != nil {
			return fmt.Errorf("seed demo inspection: %w", err)
		}
		if _, err := m.service.Close(ctx, tx, company, o.ID, mfg.CloseProductionOrderRequest{Date: today}); err != nil {
			return fmt.Errorf("seed demo close: %w", err)
		}
		return nil
	})
}

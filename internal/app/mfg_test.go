package app_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// mfgWorld is a storefront company with a widget made from steel (bought
// by the kilogram, lot-tracked, listed in grams in the bill) and bolts, on
// a saw and an assembly bench.
type mfgWorld struct {
	*shop
	steel, bolt, widget, gram, saw, assy, bom, std string
}

func newMfgWorld(t *testing.T, e db.Engine) *mfgWorld {
	t.Helper()
	sh := newShop(t, newStockWorld(t, e))
	c := sh.admin
	m := &mfgWorld{shop: sh}
	cats := c.Do(t, "GET", "/v1/tax-categories?filter="+url.QueryEscape(`code = "standard"`), nil).Expect(t, 200).JSON(t)["data"].([]any)
	m.std = cats[0].(map[string]any)["id"].(string)
	kg := c.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "kg", "name": "Kilogram"}).Expect(t, 201).JSON(t)["id"].(string)
	m.gram = c.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "g", "name": "Gram",
		"conversions": []any{map[string]any{"to_unit_id": kg, "factor": "0.001"}}}).Expect(t, 201).JSON(t)["id"].(string)
	m.steel = c.Do(t, "POST", "/v1/products", map[string]any{"sku": "STEEL", "name": "Steel bar", "stock_unit_id": kg, "list_price": "8", "currency": "EUR",
		"tracking": "lot"}).Expect(t, 201).JSON(t)["id"].(string)
	m.bolt = sh.product(t, "BOLT", "0.50")["id"].(string)
	m.widget = sh.product(t, "WIDGET", "25.00", "tax_category_id", m.std, "tracking", "lot")["id"].(string)
	m.saw = c.Do(t, "POST", "/v1/work-centers", map[string]any{"code": "SAW", "name": "Band saw", "hourly_rate": "60"}).Expect(t, 201).JSON(t)["id"].(string)
	m.assy = c.Do(t, "POST", "/v1/work-centers", map[string]any{"code": "ASSY", "name": "Assembly bench", "hourly_rate": "30", "capacity": "2",
		"calendar": map[string]any{"working_days": []any{"mon", "tue", "wed", "thu", "fri", "sat"}, "hours_per_day": "7.5"}}).Expect(t, 201).JSON(t)["id"].(string)
	m.bom = c.Do(t, "POST", "/v1/boms", map[string]any{"product_id": m.widget, "revision": "A",
		"components": []any{
			map[string]any{"product_id": m.steel, "quantity": "500", "unit_id": m.gram, "scrap_percent": "10"},
			map[string]any{"product_id": m.bolt, "quantity": "4"},
		},
		"operations": []any{
			map[string]any{"seq": 20, "name": "Assemble", "work_center_id": m.assy, "run_minutes": "6"},
			map[string]any{"seq": 10, "name": "Cut", "work_center_id": m.saw, "setup_minutes": "30", "run_minutes": "3"},
		}}).Expect(t, 201).JSON(t)["id"].(string)
	return m
}

func (m *mfgWorld) events(t *testing.T, order string, op int, evs ...map[string]any) map[string]any {
	t.Helper()
	var out map[string]any
	for _, e := range evs {
		out = m.admin.Do(t, "POST", fmt.Sprintf("/v1/production-orders/%s/operations/%d/events", order, op), e).Expect(t, 200).JSON(t)
	}
	return out
}

func ev(id, typ string, at time.Time, extra ...any) map[string]any {
	e := map[string]any{"event_id": id, "type": typ, "occurred_at": at.Format(time.RFC3339)}
	for i := 0; i+1 < len(extra); i += 2 {
		e[extra[i].(string)] = extra[i+1]
	}
	return e
}

func operation(t *testing.T, order map[string]any, seq int) map[string]any {
	t.Helper()
	for _, o := range order["operations"].([]any) {
		if op := o.(map[string]any); op["seq"] == float64(seq) {
			return op
		}
	}
	t.Fatalf("no operation %d in %v", seq, order["operations"])
	return nil
}

// TestManufacturingEndToEnd is the scenario on both engines: buy
// the steel on a purchase order, release a production order (the bolts
// are short: a shortage event), stream shop-floor events (some repeated,
// one late), complete, inspect the finished lot with one measurement out
// of tolerance (the lot is held and the storefront cannot sell it),
// release the hold, close — then stock, lots, holds, genealogy and the
// ledger (inventory, work in progress, variances) are checked.
func TestManufacturingEndToEnd(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		m := newMfgWorld(t, e)
		c := m.admin
		// Components: 20 kg of steel on a purchase order (lot HEAT-1), 30
		// bolts in the bin.
		sup := m.supplier(t, "Stahl AG", "EUR")
		po := c.Do(t, "POST", "/v1/purchase-orders", map[string]any{"supplier_id": sup, "order_date": "2026-05-04",
			"lines": []any{poLine(m.steel, "20", "unit_price", "4.00")}}).Expect(t, 201).JSON(t)
		c.Do(t, "POST", "/v1/purchase-orders/"+po["id"].(string)+"/send", nil).Expect(t, 200)
		c.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": po["id"], "date": "2026-05-04",
			"lines": []any{map[string]any{"line_no": 1, "quantity": "20", "lot": "HEAT-1"}}}).Expect(t, 201)
		m.move(t, map[string]any{"type": "receipt", "product_id": m.bolt, "to_location_id": m.bin, "quantity": "30", "unit_cost": "0.10"}).Expect(t, 201)

		// The explosion for 10: 5.5 kg of steel (500 g × 10 + 10 %), 40
		// bolts of which 10 short; cost 22 + 4 + saw 60 + bench 30.
		x := c.Do(t, "GET", "/v1/boms/"+m.bom+"/explosion?quantity=10&date=2026-05-04", nil).Expect(t, 200).JSON(t)
		lines := x["lines"].([]any)
		steel, bolt := lines[0].(map[string]any), lines[1].(map[string]any)
		if dec(t, steel["required"]) != "5.5" || steel["short"] != false || dec(t, bolt["required"]) != "40" || dec(t, bolt["shortage"]) != "10" || x["short"] != true {
			t.Fatalf("explosion %v", x)
		}
		cost := x["cost"].(map[string]any)
		if dec(t, cost["material"]) != "26" || dec(t, cost["labour"]) != "90" || dec(t, cost["total"]) != "116" || dec(t, cost["unit_cost"]) != "11.6" {
			t.Fatalf("cost roll-up %v", cost)
		}

		o := c.Do(t, "POST", "/v1/production-orders", map[string]any{"product_id": m.widget, "quantity": "10", "lot": "W-0001",
			"planned_start": "2026-05-04", "external_id": "mo-1"}).Expect(t, 201).JSON(t)
		id := o["id"].(string)
		if o["status"] != "planned" || dec(t, o["standard"].(map[string]any)["unit_cost"]) != "11.6" || len(o["operations"].([]any)) != 2 {
			t.Fatalf("planned order %v", o)
		}
		// Shop-floor events are refused before release.
		c.Do(t, "POST", "/v1/production-orders/"+id+"/operations/10/events", ev("x", "start", time.Now())).ExpectProblem(t, 409, apperr.Conflict)
		rel := c.Do(t, "POST", "/v1/production-orders/"+id+"/release", nil).Expect(t, 200).JSON(t)
		short := rel["shortages"].([]any)
		if len(short) != 1 || short[0].(map[string]any)["product_id"] != m.bolt || dec(t, short[0].(map[string]any)["shortage"]) != "10" {
			t.Fatalf("release %v", rel)
		}
		if l := m.level(t, m.bolt, m.bin); l["reserved"] != "30" || l["available"] != "0" {
			t.Fatalf("bolts after release %v", l)
		}
		c.Do(t, "POST", "/v1/production-orders/"+id+"/release", nil).ExpectProblem(t, 409, apperr.Conflict)

		// Shop floor. Saw: start 8:00, pause 8:20, finish 9:10 — then the
		// resume of 8:25 arrives late: 20 + 45 = 65 minutes. The pause is
		// sent twice.
		t0 := time.Date(2026, 5, 5, 6, 0, 0, 0, time.UTC)
		m.events(t, id, 10, ev("saw-1", "start", t0), ev("saw-2", "pause", t0.Add(20*time.Minute), "reason", "coffee"))
		dup := m.events(t, id, 10, ev("saw-2", "pause", t0.Add(20*time.Minute), "reason", "coffee"))
		if dup["duplicates"] != float64(1) || dup["accepted"] != float64(0) {
			t.Fatalf("repeated event %v", dup)
		}
		m.events(t, id, 10, ev("saw-4", "finish", t0.Add(70*time.Minute)), ev("saw-5", "good", t0.Add(70*time.Minute), "quantity", "10"))
		got := c.Do(t, "GET", "/v1/production-orders/"+id, nil).Expect(t, 200).JSON(t)
		if op := operation(t, got, 10); op["run_seconds"] != float64(20*60) || got["status"] != "in_progress" {
			t.Fatalf("saw before the late event %v / %v", op, got["status"])
		}
		late := m.events(t, id, 10, ev("saw-3", "resume", t0.Add(25*time.Minute)))
		if late["late"] != float64(1) {
			t.Fatalf("late event %v", late)
		}
		// Bench, in bulk (one call, a repeat inside it): 60 minutes, 9 good,
		// 1 scrapped (bent), a jam, three length readings.
		t1 := t0.Add(2 * time.Hour)
		bulk := []any{
			ev("b-1", "start", t1), ev("b-2", "good", t1.Add(50*time.Minute), "quantity", "9"),
			ev("b-3", "scrap", t1.Add(51*time.Minute), "quantity", "1", "reason", "bent"),
			ev("b-4", "downtime", t1.Add(52*time.Minute), "duration_seconds", 600, "reason", "jam"),
			ev("b-5", "reading", t1.Add(55*time.Minute), "readings", []any{map[string]any{"name": "length", "value": "100.1", "unit": "mm"}}),
			ev("b-6", "reading", t1.Add(56*time.Minute), "readings", []any{map[string]any{"name": "length", "value": "99.9", "unit": "mm"}}),
			ev("b-7", "reading", t1.Add(57*time.Minute), "readings", []any{map[string]any{"name": "length", "value": "100.8", "unit": "mm"}}),
			ev("b-8", "finish", t1.Add(60*time.Minute)), ev("b-1", "start", t1),
		}
		for _, b := range bulk {
			b.(map[string]any)["production_order_id"], b.(map[string]any)["operation"] = id, 20
		}
		res := c.Do(t, "POST", "/v1/shop-floor-events", map[string]any{"events": bulk}).Expect(t, 200).JSON(t)
		if res["accepted"] != float64(8) || res["duplicates"] != float64(1) || len(res["operations"].([]any)) != 1 {
			t.Fatalf("bulk intake %v", res)
		}
		// The same bulk again changes nothing.
		if again := c.Do(t, "POST", "/v1/shop-floor-events", map[string]any{"events": bulk}).Expect(t, 200).JSON(t); again["accepted"] != float64(0) {
			t.Fatalf("bulk repeat %v", again)
		}
		got = c.Do(t, "GET", "/v1/production-orders/"+id, nil).Expect(t, 200).JSON(t)
		saw, bench := operation(t, got, 10), operation(t, got, 20)
		if saw["run_seconds"] != float64(65*60) || dec(t, saw["actual_cost"]) != "65" || saw["status"] != "finished" {
			t.Fatalf("saw %v", saw)
		}
		if bench["run_seconds"] != float64(3600) || dec(t, bench["actual_cost"]) != "30" || dec(t, bench["scrap_quantity"]) != "1" ||
			bench["downtime_seconds"] != float64(600) || bench["readings"] != float64(3) || dec(t, bench["scrap_reasons"].(map[string]any)["bent"]) != "1" {
			t.Fatalf("bench %v", bench)
		}
		if dec(t, got["good_quantity"]) != "9" || dec(t, got["progress_percent"]) != "90" || dec(t, got["actual"].(map[string]any)["labour"]) != "95" {
			t.Fatalf("order progress %v", got)
		}
		// Bad events: every one named, nothing stored.
		p := c.Do(t, "POST", "/v1/shop-floor-events", map[string]any{"events": []any{
			map[string]any{"production_order_id": id, "operation": 20, "event_id": "bad-1", "type": "scrap", "occurred_at": t1.Format(time.RFC3339), "quantity": "1"},
			map[string]any{"production_order_id": id, "operation": 99, "event_id": "bad-2", "type": "start", "occurred_at": t1.Format(time.RFC3339)},
		}}).ExpectProblem(t, 422, apperr.Invalid)
		if len(p.Errors) != 1 || p.Errors[0].Pointer != "/events/0/reason" {
			t.Fatalf("bad events %+v", p)
		}
		c.Do(t, "POST", "/v1/production-orders/"+id+"/operations/99/events", ev("z", "start", t1)).ExpectProblem(t, 404, apperr.NotFound)

		// Completion needs 40 bolts: 30 reserved, 10 more arrive first. The
		// steel actually used was 6 kg (0.5 over plan).
		c.Do(t, "POST", "/v1/production-orders/"+id+"/complete", map[string]any{"date": "2026-05-06"}).ExpectProblem(t, 409, apperr.Conflict)
		m.move(t, map[string]any{"type": "receipt", "product_id": m.bolt, "to_location_id": m.bin, "quantity": "20", "unit_cost": "0.10"}).Expect(t, 201)
		done := c.Do(t, "POST", "/v1/production-orders/"+id+"/complete", map[string]any{"date": "2026-05-06",
			"consumption": []any{map[string]any{"product_id": m.steel, "quantity": "6"}}}).Expect(t, 200).JSON(t)
		act := done["actual"].(map[string]any)
		if done["status"] != "completed" || dec(t, act["material"]) != "28" || dec(t, act["output"]) != "104.4" || dec(t, done["labour_posted"]) != "95" ||
			dec(t, act["work_in_progress"]) != "18.6" {
			t.Fatalf("completed order %v", done)
		}
		if l := m.level(t, m.widget, m.recv); l["on_hand"] != "9" {
			t.Fatalf("widgets after completion %v", l)
		}

		// Quality: length 100 ± 0.5 mm, three samples, from the bench's
		// readings: 100.8 is out; the lot goes on hold.
		plan := c.Do(t, "POST", "/v1/inspection-plans", map[string]any{"code": "W-LEN", "name": "Widget length", "product_id": m.widget, "operation": 20, "sample_size": 3,
			"characteristics": []any{map[string]any{"code": "length", "nominal": "100", "lower_tolerance": "0.5", "upper_tolerance": "0.5", "unit": "mm"}}}).Expect(t, 201).JSON(t)
		insp := c.Do(t, "POST", "/v1/quality-inspections", map[string]any{"plan_id": plan["id"], "production_order_id": id, "from_readings": true, "inspector": "QA"}).
			Expect(t, 201).JSON(t)
		if insp["status"] != "failed" || insp["failures"] != float64(1) || insp["lot"] != "W-0001" || dec(t, insp["held_quantity"]) != "9" || len(insp["hold_ids"].([]any)) != 1 {
			t.Fatalf("inspection %v", insp)
		}
		if l := m.level(t, m.widget, m.recv); l["held"] != "9" || l["available"] != "0" {
			t.Fatalf("widgets on hold %v", l)
		}
		av := c.Do(t, "GET", "/v1/availability?sku=WIDGET", nil).Expect(t, 200).JSON(t)["data"].([]any)[0].(map[string]any)
		if dec(t, av["available"]) != "0" || dec(t, av["held"]) != "9" {
			t.Fatalf("availability of held widgets %v", av)
		}
		m.checkout(t, c, "web-1", cartLine("WIDGET", "1")).ExpectProblem(t, 409, apperr.Conflict)
		// Held stock cannot be consumed either: a move out of the lot fails.
		m.move(t, map[string]any{"type": "issue", "product_id": m.widget, "from_location_id": m.recv, "lot": "W-0001", "quantity": "1"}).ExpectProblem(t, 409, apperr.Conflict)
		rel2 := c.Do(t, "POST", "/v1/quality-inspections/"+insp["id"].(string)+"/release", map[string]any{"disposition": "use as is: length within assembly tolerance"}).
			Expect(t, 200).JSON(t)
		if rel2["status"] != "released" {
			t.Fatalf("released inspection %v", rel2)
		}
		c.Do(t, "POST", "/v1/quality-inspections/"+insp["id"].(string)+"/release", map[string]any{"disposition": "again"}).ExpectProblem(t, 409, apperr.Conflict)
		if l := m.level(t, m.widget, m.recv); l["held"] != "0" || l["available"] != "9" {
			t.Fatalf("widgets after release %v", l)
		}
		m.checkout(t, c, "web-2", cartLine("WIDGET", "1")).Expect(t, 201)

		// Close: work in progress 18.60 = scrap 11.60 (one unit at
		// standard) + material 2.00 (0.5 kg over) + labour 5.00 (65 + 30
		// against 60 + 30).
		closed := c.Do(t, "POST", "/v1/production-orders/"+id+"/close", map[string]any{"date": "2026-05-07"}).Expect(t, 200).JSON(t)
		v := closed["variances"].(map[string]any)
		if closed["status"] != "closed" || dec(t, v["scrap"]) != "11.6" || dec(t, v["material"]) != "2" || dec(t, v["labour"]) != "5" ||
			dec(t, closed["actual"].(map[string]any)["work_in_progress"]) != "0" {
			t.Fatalf("closed order %v", closed)
		}
		c.Do(t, "POST", "/v1/production-orders/"+id+"/close", nil).ExpectProblem(t, 409, apperr.Conflict)
		c.Do(t, "POST", "/v1/production-orders/"+id+"/operations/10/events", ev("after", "start", t1)).ExpectProblem(t, 409, apperr.Conflict)

		// The books.
		for code, want := range map[string]string{"1250": "0", "5210": "2", "5220": "5", "5230": "11.6", "5250": "-95"} {
			if got := balanceOf(t, c, accountByCode(t, c, code), "2099-12-31"); got != want {
				t.Errorf("account %s: %s, want %s", code, got, want)
			}
		}
		m.valuationMatchesLedger(t, "2099-12-31")
		// Stock and lots: 14 kg of HEAT-1 left, 10 bolts, 8 widgets (one
		// reserved by the web order).
		if l := m.level(t, m.steel, m.recv); l["on_hand"] != "14" {
			t.Fatalf("steel left %v", l)
		}
		if l := m.level(t, m.bolt, m.bin); l["on_hand"] != "10" || l["reserved"] != "0" {
			t.Fatalf("bolts left %v", l)
		}
		if l := m.level(t, m.widget, m.recv); l["on_hand"] != "9" || l["reserved"] != "1" || l["held"] != "0" {
			t.Fatalf("widgets left %v", l)
		}
		gen := c.Do(t, "GET", "/v1/lot-genealogy?product_id="+m.widget+"&lot=W-0001", nil).Expect(t, 200).JSON(t)["links"].([]any)
		fromSteel := money.Decimal{}
		for _, l := range gen {
			if l := l.(map[string]any); l["component_id"] == m.steel {
				if l["component_lot"] != "HEAT-1" {
					t.Fatalf("steel lot %v", l)
				}
				fromSteel = fromSteel.Add(money.MustParse(l["quantity"].(string)))
			}
		}
		if fromSteel.Normalize().String() != "6" {
			t.Fatalf("genealogy %v", gen)
		}
		fwd := c.Do(t, "GET", "/v1/lot-genealogy?product_id="+m.steel+"&lot=HEAT-1&direction=forward", nil).Expect(t, 200).JSON(t)["links"].([]any)
		for _, l := range fwd {
			if l.(map[string]any)["lot"] != "W-0001" || l.(map[string]any)["product_id"] != m.widget {
				t.Fatalf("forward genealogy %v", fwd)
			}
		}
		if len(fwd) != 2 {
			t.Fatalf("forward genealogy: the 5.5 kg reserved and the 0.5 kg more, %v", fwd)
		}
		trace := c.Do(t, "GET", "/v1/lots/trace?product_id="+m.widget+"&lot=W-0001", nil).Expect(t, 200).JSON(t)
		if !strings.Contains(fmt.Sprint(trace), id) {
			t.Fatalf("lot trace does not name the order: %v", trace)
		}

		// The feed has the shortage and the progress.
		evs, aud := drainFeed(t, m.s.App.DB())
		// The hold, its lift and the release are audited, the release with
		// its disposition.
		actions := map[string]int{}
		for _, a := range aud {
			actions[a.Action]++
			if a.Action == "quality_inspection.release" && a.Details["disposition"] != "use as is: length within assembly tolerance" {
				t.Errorf("release audited without its disposition: %v", a.Details)
			}
		}
		for _, a := range []string{"stock_hold.place", "stock_hold.lift", "quality_inspection.failed", "quality_inspection.release",
			"production_order.release", "production_order.complete", "production_order.close", "production_order.shop_floor_events"} {
			if actions[a] == 0 {
				t.Errorf("no %s in the audit log", a)
			}
		}
		seen := map[string]int{}
		for _, e := range evs {
			seen[e.Type]++
		}
		for _, typ := range []string{"mainstay.mfg.production_order.shortage_detected", "mainstay.mfg.production_order.released",
			"mainstay.mfg.production_order.completed", "mainstay.mfg.production_order.closed", "mainstay.mfg.quality_inspection.failed",
			"mainstay.mfg.quality_inspection.released"} {
			if seen[typ] != 1 {
				t.Errorf("%d %s events", seen[typ], typ)
			}
		}
		if seen["mainstay.mfg.production_order.progressed"] < 5 {
			t.Errorf("%d progressed events", seen["mainstay.mfg.production_order.progressed"])
		}
	})
}

// TestBOMVersionsExplosionAndChecks covers multi-level explosion with a
// sub-assembly, by-products, validity dates and the write checks.
func TestBOMVersionsExplosionAndChecks(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		m := newMfgWorld(t, e)
		c := m.admin
		frame := m.product(t, "FRAME", "0")["id"].(string)
		chips := m.product(t, "CHIPS", "0")["id"].(string)
		cart := m.product(t, "CART", "90")["id"].(string)
		m.move(t, map[string]any{"type": "receipt", "product_id": m.steel, "to_location_id": m.bin, "quantity": "3", "unit_cost": "4", "lot": "L1"}).Expect(t, 201)
		m.move(t, map[string]any{"type": "receipt", "product_id": m.bolt, "to_location_id": m.bin, "quantity": "100", "unit_cost": "0.10"}).Expect(t, 201)
		m.move(t, map[string]any{"type": "receipt", "product_id": chips, "to_location_id": m.bin, "quantity": "1", "unit_cost": "0.50"}).Expect(t, 201)
		m.move(t, map[string]any{"type": "receipt", "product_id": frame, "to_location_id": m.bin, "quantity": "1", "unit_cost": "20"}).Expect(t, 201)
		// A frame: 2 kg of steel and 8 bolts, 20 minutes on the saw, 0.5 kg
		// of chips as a by-product. Revision A until May, B from June.
		c.Do(t, "POST", "/v1/boms", map[string]any{"product_id": frame, "revision": "A", "valid_to": "2026-05-31",
			"components":  []any{map[string]any{"product_id": m.steel, "quantity": "2"}, map[string]any{"product_id": m.bolt, "quantity": "8"}},
			"by_products": []any{map[string]any{"product_id": chips, "quantity": "0.5"}},
			"operations":  []any{map[string]any{"seq": 10, "name": "Cut", "work_center_id": m.saw, "run_minutes": "20"}}}).Expect(t, 201)
		c.Do(t, "POST", "/v1/boms", map[string]any{"product_id": frame, "revision": "B", "valid_from": "2026-06-01",
			"components": []any{map[string]any{"product_id": m.steel, "quantity": "3"}}}).Expect(t, 201)
		// Overlapping active versions are refused.
		c.Do(t, "POST", "/v1/boms", map[string]any{"product_id": frame, "revision": "C", "valid_from": "2026-05-15",
			"components": []any{map[string]any{"product_id": m.steel, "quantity": "3"}}}).ExpectProblem(t, 409, apperr.Conflict)
		// A cart: 2 frames and 4 bolts.
		cartBOM := c.Do(t, "POST", "/v1/boms", map[string]any{"product_id": cart, "revision": "A", "components": []any{
			map[string]any{"product_id": frame, "quantity": "2"}, map[string]any{"product_id": m.bolt, "quantity": "4"}}}).Expect(t, 201).JSON(t)["id"].(string)
		// A frame made of carts would be a cycle.
		c.Do(t, "POST", "/v1/boms", map[string]any{"product_id": frame, "revision": "X", "active": false,
			"components": []any{map[string]any{"product_id": cart, "quantity": "1"}}}).ExpectProblem(t, 422, apperr.Invalid)
		// Bad input: every field named.
		p := c.Do(t, "POST", "/v1/boms", map[string]any{"product_id": cart, "revision": "Z", "active": false, "valid_from": "2026-06-01", "valid_to": "2026-05-01",
			"components": []any{map[string]any{"product_id": cart, "quantity": "0", "scrap_percent": "100"}}}).ExpectProblem(t, 422, apperr.Invalid)
		if len(p.Errors) < 4 {
			t.Fatalf("bad bill %+v", p)
		}

		// 3 carts in May: 6 frames (1 in stock, 5 to make: 10 kg of steel
		// with 3 available, 40 bolts) and 12 bolts.
		x := c.Do(t, "GET", "/v1/boms/"+cartBOM+"/explosion?quantity=3&date=2026-05-10", nil).Expect(t, 200).JSON(t)
		lines := x["lines"].([]any)
		if len(lines) != 4 {
			t.Fatalf("explosion lines %v", lines)
		}
		fr, st, bo1, bo2 := lines[0].(map[string]any), lines[1].(map[string]any), lines[2].(map[string]any), lines[3].(map[string]any)
		if fr["bom_id"] == "" || dec(t, fr["required"]) != "6" || dec(t, fr["to_make"]) != "5" || fr["level"] != float64(1) {
			t.Fatalf("frame line %v", fr)
		}
		if st["level"] != float64(2) || dec(t, st["required"]) != "10" || dec(t, st["shortage"]) != "7" || st["short"] != true {
			t.Fatalf("steel line %v", st)
		}
		if dec(t, bo1["required"]) != "40" || bo1["short"] != false || dec(t, bo2["required"]) != "12" || dec(t, bo2["available"]) != "60" {
			t.Fatalf("bolt lines %v / %v", bo1, bo2)
		}
		if len(x["by_products"].([]any)) != 1 || dec(t, x["by_products"].([]any)[0].(map[string]any)["quantity"]) != "2.5" {
			t.Fatalf("by-products %v", x["by_products"])
		}
		// Cost: each frame 2 × 4 + 8 × 0.10 + 20 min × 60/h − 0.5 × 0.50 =
		// 28.55; six 171.30; 12 bolts 1.20 → 172.50 for 3.
		cost := x["cost"].(map[string]any)
		if dec(t, cost["material"]) != "172.5" || dec(t, cost["total"]) != "172.5" || dec(t, cost["unit_cost"]) != "57.5" {
			t.Fatalf("cost %v", cost)
		}
		// In June the frame is revision B: 3 kg of steel, no saw.
		x = c.Do(t, "GET", "/v1/boms/"+cartBOM+"/explosion?quantity=1&date=2026-06-10", nil).Expect(t, 200).JSON(t)
		if dec(t, x["lines"].([]any)[1].(map[string]any)["required"]) != "3" {
			t.Fatalf("June explosion %v", x["lines"])
		}
		c.Do(t, "GET", "/v1/boms/"+cartBOM+"/explosion?quantity=-1", nil).ExpectProblem(t, 400, apperr.BadRequest)
		c.Do(t, "GET", "/v1/boms/bom_nope/explosion?quantity=1", nil).ExpectProblem(t, 404, apperr.NotFound)
		// Another company sees none of it.
		other := m.s.As(t, []string{"admin"}, otherCompany(t, m))
		other.Do(t, "GET", "/v1/boms/"+cartBOM+"/explosion?quantity=1", nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

func otherCompany(t *testing.T, m *mfgWorld) string {
	t.Helper()
	root := m.s.As(t, []string{"admin"})
	return root.Do(t, "POST", "/v1/companies", map[string]any{"legal_name": "Other GmbH", "base_currency": "EUR", "time_zone": "Europe/Berlin"}).
		Expect(t, 201).JSON(t)["id"].(string)
}

// TestShopFloorIntakeRace sends bulk calls for one order from several
// clients at once (with repeats across calls): every event is counted
// once, and the operation equals a fold of all of them.
func TestShopFloorIntakeRace(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		m := newMfgWorld(t, e)
		c := m.admin
		m.move(t, map[string]any{"type": "receipt", "product_id": m.bolt, "to_location_id": m.bin, "quantity": "100", "unit_cost": "0.10"}).Expect(t, 201)
		id := c.Do(t, "POST", "/v1/production-orders", map[string]any{"product_id": m.widget, "quantity": "1000", "planned_start": "2026-05-04"}).Expect(t, 201).JSON(t)["id"].(string)
		c.Do(t, "POST", "/v1/production-orders/"+id+"/release", nil).Expect(t, 200)
		t0 := time.Date(2026, 5, 5, 6, 0, 0, 0, time.UTC)
		const workers, per = 4, 50
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				var evs []any
				for i := 0; i < per; i++ {
					// Event n is sent by two workers: w and w+1.
					for _, n := range []int{w*per + i, ((w+1)%workers)*per + i} {
						evs = append(evs, map[string]any{"production_order_id": id, "operation": 20, "event_id": fmt.Sprintf("g-%d", n), "type": "good",
							"occurred_at": t0.Add(time.Duration(n) * time.Second).Format(time.RFC3339), "quantity": "1"})
					}
				}
				<-start
				c.Do(t, "POST", "/v1/shop-floor-events", map[string]any{"events": evs}).Expect(t, 200)
			}(w)
		}
		close(start)
		wg.Wait()
		o := c.Do(t, "GET", "/v1/production-orders/"+id, nil).Expect(t, 200).JSON(t)
		if op := operation(t, o, 20); dec(t, op["good_quantity"]) != fmt.Sprint(workers*per) || op["events"] != float64(workers*per) {
			t.Fatalf("after racing intake %v", op)
		}
	})
}

// TestProductionOrderCompletionRace completes one order from several
// clients at once: one wins, the others are 409, and components are
// consumed and output received exactly once.
func TestProductionOrderCompletionRace(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		m := newMfgWorld(t, e)
		c := m.admin
		m.move(t, map[string]any{"type": "receipt", "product_id": m.steel, "to_location_id": m.bin, "quantity": "10", "unit_cost": "4", "lot": "L1"}).Expect(t, 201)
		m.move(t, map[string]any{"type": "receipt", "product_id": m.bolt, "to_location_id": m.bin, "quantity": "40", "unit_cost": "0.10"}).Expect(t, 201)
		id := c.Do(t, "POST", "/v1/production-orders", map[string]any{"product_id": m.widget, "quantity": "10", "planned_start": "2026-05-04"}).Expect(t, 201).JSON(t)["id"].(string)
		c.Do(t, "POST", "/v1/production-orders/"+id+"/release", nil).Expect(t, 200)
		const n = 4
		codes := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				codes[i] = c.Do(t, "POST", "/v1/production-orders/"+id+"/complete", map[string]any{"date": "2026-05-06"}).Status
			}(i)
		}
		close(start)
		wg.Wait()
		won := 0
		for _, code := range codes {
			switch code {
			case 200:
				won++
			case 409:
			default:
				t.Fatalf("completion answers %v", codes)
			}
		}
		if won != 1 {
			t.Fatalf("completion answers %v", codes)
		}
		if l := m.level(t, m.steel, m.bin); l["on_hand"] != "4.5" || l["reserved"] != "0" {
			t.Fatalf("steel after the race %v", l)
		}
		if l := m.level(t, m.bolt, m.bin); l["on_hand"] != "0" {
			t.Fatalf("bolts after the race %v", l)
		}
		if l := m.level(t, m.widget, m.recv); l["on_hand"] != "10" {
			t.Fatalf("widgets after the race %v", l)
		}
		m.valuationMatchesLedger(t, "2099-12-31")
	})
}

// TestWorkCenterCapacity reads capacity from the calendar against the
// open load of orders.
func TestWorkCenterCapacity(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		m := newMfgWorld(t, e)
		c := m.admin
		c.Do(t, "POST", "/v1/production-orders", map[string]any{"product_id": m.widget, "quantity": "10", "planned_start": "2026-05-04"}).Expect(t, 201)
		c.Do(t, "POST", "/v1/production-orders", map[string]any{"product_id": m.widget, "quantity": "10", "planned_start": "2026-06-01"}).Expect(t, 201)
		// The saw: mon–fri, 8 h, capacity 1 → 40 h in the week of 4 May;
		// one order planned in it, 30 + 3 × 10 minutes = 1 h.
		saw := c.Do(t, "GET", "/v1/work-centers/"+m.saw+"/capacity?from=2026-05-04&to=2026-05-10", nil).Expect(t, 200).JSON(t)
		days := saw["days"].([]any)
		if len(days) != 7 || days[5].(map[string]any)["working"] != false || dec(t, saw["available_hours"]) != "40" || dec(t, saw["open_load_hours"]) != "1" ||
			dec(t, saw["utilization_percent"]) != "2.5" {
			t.Fatalf("saw capacity %v", saw)
		}
		// The bench: mon–sat, 7.5 h, capacity 2 → 90 h.
		bench := c.Do(t, "GET", "/v1/work-centers/"+m.assy+"/capacity?from=2026-05-04&to=2026-05-10", nil).Expect(t, 200).JSON(t)
		if dec(t, bench["available_hours"]) != "90" || dec(t, bench["open_load_hours"]) != "1" {
			t.Fatalf("bench capacity %v", bench)
		}
		// XML like every read.
		x := c.Do(t, "GET", "/v1/work-centers/"+m.saw+"/capacity?from=2026-05-04&to=2026-05-05", nil, "Accept", "application/xml").Expect(t, 200)
		if !strings.Contains(string(x.Body), "<available_hours>16</available_hours>") {
			t.Fatalf("capacity as XML: %s", x.Body)
		}
		c.Do(t, "GET", "/v1/work-centers/"+m.saw+"/capacity?from=2026-05-10&to=2026-05-04", nil).ExpectProblem(t, 400, apperr.BadRequest)
		c.Do(t, "GET", "/v1/work-centers/"+m.saw+"/nope", nil).ExpectProblem(t, 404, apperr.NotFound)
		c.Do(t, "GET", "/v1/work-centers/external/SAW", nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// TestQualitySPCOverHTTP records Montgomery's piston-ring data (Table 6.3,
// 25 samples of 5; see internal/mfg/spc) as 25 inspections and reads the
// charts back: x̿ 74.00118, R̄ 0.02324, limits 73.98777 / 74.01459, in
// control; an out-of-tolerance ring fails its inspection.
func TestQualitySPCOverHTTP(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		c := w.admin
		ring := w.product(t, "RING", "1")["id"].(string)
		plan := c.Do(t, "POST", "/v1/inspection-plans", map[string]any{"code": "RING-ID", "name": "Ring inside diameter", "product_id": ring, "sample_size": 5,
			"characteristics": []any{map[string]any{"code": "id", "nominal": "74", "lower_tolerance": "0.05", "upper_tolerance": "0.05", "unit": "mm"}}}).Expect(t, 201).JSON(t)
		for i, sample := range pistonRings {
			var ms []any
			for _, v := range sample {
				ms = append(ms, map[string]any{"characteristic": "id", "value": v})
			}
			insp := c.Do(t, "POST", "/v1/quality-inspections", map[string]any{"plan_id": plan["id"], "measurements": ms}).Expect(t, 201).JSON(t)
			if insp["status"] != "passed" {
				t.Fatalf("sample %d: %v", i+1, insp)
			}
		}
		rep := c.Do(t, "GET", "/v1/quality/spc?plan_id="+plan["id"].(string)+"&characteristic=id", nil).Expect(t, 200).JSON(t)
		xbar := rep["xbar"].(map[string]any)
		round := func(v any, places int32) string {
			return money.MustParse(v.(string)).Round(places, money.HalfEven).String()
		}
		if rep["subgroups"] != float64(25) || round(rep["mean"], 5) != "74.00118" || round(rep["r_bar"], 5) != "0.02324" ||
			round(rep["mean"], 3) != "74.001" || round(rep["r_bar"], 3) != "0.023" || rep["out_of_control"] != float64(0) {
			t.Fatalf("spc %v", rep)
		}
		if round(xbar["ucl"], 4) != "74.0146" || round(xbar["lcl"], 4) != "73.9878" || round(rep["r"].(map[string]any)["ucl"], 3) != "0.049" {
			t.Fatalf("limits %v", rep)
		}
		if cp := money.MustParse(rep["cp"].(string)); cp.Round(3, money.HalfEven).String() != "1.668" {
			t.Fatalf("Cp %v", rep["cp"])
		}
		bad := c.Do(t, "POST", "/v1/quality-inspections", map[string]any{"plan_id": plan["id"], "measurements": []any{
			map[string]any{"characteristic": "id", "value": "74.00"}, map[string]any{"characteristic": "id", "value": "74.06"},
			map[string]any{"characteristic": "id", "value": "74.01"}, map[string]any{"characteristic": "id", "value": "73.99"},
			map[string]any{"characteristic": "id", "value": "74.00"}}}).Expect(t, 201).JSON(t)
		if bad["status"] != "failed" || bad["failures"] != float64(1) || len(bad["hold_ids"].([]any)) != 0 {
			t.Fatalf("failing inspection %v", bad)
		}
		c.Do(t, "POST", "/v1/quality-inspections", map[string]any{"plan_id": plan["id"], "measurements": []any{
			map[string]any{"characteristic": "id", "value": "74.00"}}}).ExpectProblem(t, 422, apperr.Invalid)
		c.Do(t, "GET", "/v1/quality/spc?plan_id="+plan["id"].(string)+"&characteristic=nope", nil).ExpectProblem(t, 422, apperr.Invalid)
		list := c.Do(t, "GET", "/v1/quality-inspections?status=failed", nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(list) != 1 {
			t.Fatalf("failed inspections %v", list)
		}
	})
}

// pistonRings is Montgomery's Table 6.3 as decimal strings.
var pistonRings = [][]string{
	{"74.030", "74.002", "74.019", "73.992", "74.008"}, {"73.995", "73.992", "74.001", "74.011", "74.004"},
	{"73.988", "74.024", "74.021", "74.005", "74.002"}, {"74.002", "73.996", "73.993", "74.015", "74.009"},
	{"73.992", "74.007", "74.015", "73.989", "74.014"}, {"74.009", "73.994", "73.997", "73.985", "73.993"},
	{"73.995", "74.006", "73.994", "74.000", "74.005"}, {"73.985", "74.003", "73.993", "74.015", "73.988"},
	{"74.008", "73.995", "74.009", "74.005", "74.004"}, {"73.998", "74.000", "73.990", "74.007", "73.995"},
	{"73.994", "73.998", "73.994", "73.995", "73.990"}, {"74.004", "74.000", "74.007", "74.000", "73.996"},
	{"73.983", "74.002", "73.998", "73.997", "74.012"}, {"74.006", "73.967", "73.994", "74.000", "73.984"},
	{"74.012", "74.014", "73.998", "73.999", "74.007"}, {"74.000", "73.984", "74.005", "73.998", "73.996"},
	{"73.994", "74.012", "73.986", "74.005", "74.007"}, {"74.006", "74.010", "74.018", "74.003", "74.000"},
	{"73.984", "74.002", "74.003", "74.005", "73.997"}, {"74.000", "74.010", "74.013", "74.020", "74.003"},
	{"73.982", "74.001", "74.015", "74.005", "73.996"}, {"74.004", "73.999", "73.990", "74.006", "74.009"},
	{"74.010", "73.989", "73.990", "74.009", "74.014"}, {"74.015", "74.008", "73.993", "74.000", "74.010"},
	{"73.982", "73.984", "73.995", "74.017", "74.013"},
}

// BenchmarkShopFloorBulk posts bulk shop-floor intake calls of 2,000
// events each (good quantities, machine readings, pauses and resumes, in
// time order) over real HTTP:
//
//	go test ./internal/app -run '^$' -bench ShopFloorBulk -benchtime 20x
//
// events/s is the throughput: one order fed by one client (every call
// queues on the order's row), and four orders fed by four clients at once.
func BenchmarkShopFloorBulk(b *testing.B) {
	const perCall = 2000
	for _, eng := range dbtest.Engines {
		for _, clients := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/%d-orders", eng, clients), func(b *testing.B) {
				s := apitest.Start(b, eng)
				w := stockWorldOn(b, setupWorld(b, s))
				c := w.admin
				part := w.product(b, "PART", "1")["id"].(string)
				widget := w.product(b, "WIDGET", "10")["id"].(string)
				wc := c.Do(b, "POST", "/v1/work-centers", map[string]any{"code": "CNC", "name": "CNC", "hourly_rate": "90"}).Expect(b, 201).JSON(b)["id"].(string)
				c.Do(b, "POST", "/v1/boms", map[string]any{"product_id": widget, "revision": "A", "components": []any{map[string]any{"product_id": part, "quantity": "1"}},
					"operations": []any{map[string]any{"seq": 10, "name": "Mill", "work_center_id": wc, "run_minutes": "1"}}}).Expect(b, 201)
				orders := make([]string, clients)
				for i := range orders {
					orders[i] = c.Do(b, "POST", "/v1/production-orders", map[string]any{"product_id": widget, "quantity": "1000000", "planned_start": "2026-05-04"}).
						Expect(b, 201).JSON(b)["id"].(string)
					c.Do(b, "POST", "/v1/production-orders/"+orders[i]+"/release", nil).Expect(b, 200)
				}
				hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
				token := c.Token(b)
				t0 := time.Date(2026, 5, 5, 0, 0, 0, 0, time.UTC)
				var seq atomic.Int64
				body := func(order string) []byte {
					var sb strings.Builder
					sb.WriteString(`{"events":[`)
					for i := 0; i < perCall; i++ {
						n := seq.Add(1)
						at := t0.Add(time.Duration(n) * time.Second).Format(time.RFC3339)
						if i > 0 {
							sb.WriteByte(',')
						}
						switch n % 4 {
						case 0:
							fmt.Fprintf(&sb, `{"production_order_id":%q,"operation":10,"event_id":"e%d","type":"good","occurred_at":%q,"quantity":"1"}`, order, n, at)
						case 1:
							fmt.Fprintf(&sb, `{"production_order_id":%q,"operation":10,"event_id":"e%d","type":"reading","occurred_at":%q,"readings":[{"name":"spindle_temp","value":"41.5"}]}`, order, n, at)
						case 2:
							fmt.Fprintf(&sb, `{"production_order_id":%q,"operation":10,"event_id":"e%d","type":"resume","occurred_at":%q}`, order, n, at)
						default:
							fmt.Fprintf(&sb, `{"production_order_id":%q,"operation":10,"event_id":"e%d","type":"pause","occurred_at":%q}`, order, n, at)
						}
					}
					sb.WriteString(`]}`)
					return []byte(sb.String())
				}
				post := func(order string) {
					req, _ := http.NewRequest("POST", s.URL+"/v1/shop-floor-events", bytes.NewReader(body(order)))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+token)
					resp, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					out, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d: %s", resp.StatusCode, out)
					}
				}
				b.ResetTimer()
				start := time.Now()
				var next atomic.Int64
				var wg sync.WaitGroup
				for _, o := range orders {
					wg.Add(1)
					go func(o string) {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							post(o)
						}
					}(o)
				}
				wg.Wait()
				b.ReportMetric(float64(b.N*perCall)/time.Since(start).Seconds(), "events/s")
			})
		}
	}
}

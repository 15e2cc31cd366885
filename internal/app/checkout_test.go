package app_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// shop is a stock world set up as a storefront's ERP: a standard tax
// category at 19 % in Germany, a carrier, and two products in stock.
type shop struct {
	*stockWorld
	a, b, carrier string
}

func newShop(t testing.TB, s *stockWorld) *shop {
	t.Helper()
	c := s.admin
	std := c.Do(t, "POST", "/v1/tax-categories", map[string]any{"code": "standard", "name": "Standard"}).Expect(t, 201).JSON(t)["id"].(string)
	c.Do(t, "POST", "/v1/tax-rates", map[string]any{"tax_category_id": std, "country": "DE", "rate": "19", "name": "DE VAT"}).Expect(t, 201)
	carrier := c.Do(t, "POST", "/v1/carriers", map[string]any{"code": "DHL", "name": "DHL Paket", "currency": "EUR", "tax_category_id": std,
		"zones": []any{map[string]any{"name": "Germany", "countries": []any{"DE"}, "free_above": "100",
			"rates": []any{map[string]any{"max_weight_kg": "5", "amount": "4.90"}, map[string]any{"max_weight_kg": "20", "amount": "9.90"}}}}}).
		Expect(t, 201).JSON(t)["id"].(string)
	a := s.product(t, "MUG-1", "10.00", "tax_category_id", std, "weight", "0.5", "weight_unit", "kg")["id"].(string)
	b := s.product(t, "TEA-1", "4.00", "tax_category_id", std, "weight", "250", "weight_unit", "g")["id"].(string)
	s.move(t, map[string]any{"type": "receipt", "product_id": a, "to_location_id": s.bin, "quantity": "10", "unit_cost": "6.00"}).Expect(t, 201)
	s.move(t, map[string]any{"type": "receipt", "product_id": b, "to_location_id": s.bin, "quantity": "5", "unit_cost": "2.00"}).Expect(t, 201)
	return &shop{stockWorld: s, a: a, b: b, carrier: carrier}
}

func (sh *shop) checkout(t *testing.T, c *apitest.Caller, external string, lines ...any) *apitest.Response {
	t.Helper()
	return c.Do(t, "POST", "/v1/orders/checkout", map[string]any{
		"external_id": external,
		"customer":    map[string]any{"external_id": "cust-42", "name": "Erika Mustermann", "emails": []any{"erika@example.com"}},
		"ship_to":     map[string]any{"name": "Erika Mustermann", "line1": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country": "DE"},
		"lines":       lines,
	})
}

func cartLine(sku, qty string) map[string]any { return map[string]any{"sku": sku, "quantity": qty} }

func dec(t *testing.T, v any) string {
	t.Helper()
	return money.MustParse(fmt.Sprint(v)).Normalize().String()
}

// TestStorefrontPath walks the storefront's path over HTTP: catalog and
// customer by external id, availability, checkout (priced, taxed, shipping
// quoted, stock reserved), a retry, a short cart, shipping.
func TestStorefrontPath(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		c := sh.admin
		av := c.Do(t, "GET", "/v1/availability?sku=MUG-1&sku=TEA-1&sku=NOPE", nil).Expect(t, 200).JSON(t)
		items := av["data"].([]any)
		if len(items) != 3 || dec(t, items[0].(map[string]any)["available"]) != "10" || dec(t, items[1].(map[string]any)["available"]) != "5" ||
			items[2].(map[string]any)["found"] != false {
			t.Fatalf("availability %v", av)
		}

		// 2 mugs at 10.00 and a tea at 4.00: net 24.00 + shipping 4.90 (1.25 kg);
		// tax 19 % of 24.00 = 4.56 and of 4.90 = 0.931 → 0.93.
		o := sh.checkout(t, c, "shop-1001", cartLine("MUG-1", "2"), cartLine("TEA-1", "1")).Expect(t, 201).JSON(t)
		if o["status"] != "confirmed" || dec(t, o["net_total"]) != "28.9" || dec(t, o["tax_total"]) != "5.49" || dec(t, o["gross_total"]) != "34.39" {
			t.Fatalf("checkout %v", o)
		}
		if ship := o["shipping"].(map[string]any); ship["carrier_id"] != sh.carrier || dec(t, ship["net_amount"]) != "4.9" || dec(t, ship["weight_kg"]) != "1.25" {
			t.Fatalf("shipping %v", ship)
		}
		if l := sh.level(t, sh.a, sh.bin); l["reserved"] != "2" || l["available"] != "8" {
			t.Fatalf("mugs after checkout %v", l)
		}
		// A retry of the same storefront order is the same order; other
		// content under its id is 409 naming it.
		again := sh.checkout(t, c, "shop-1001", cartLine("MUG-1", "2"), cartLine("TEA-1", "1")).Expect(t, 200).JSON(t)
		if again["id"] != o["id"] {
			t.Fatalf("retry made %v, want %v", again["id"], o["id"])
		}
		p := sh.checkout(t, c, "shop-1001", cartLine("MUG-1", "3")).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/external_id") {
			t.Fatalf("reused order id not pointed at: %+v", p.Errors)
		}
		if l := sh.level(t, sh.a, sh.bin); l["reserved"] != "2" {
			t.Fatalf("a retry reserved again: %v", l)
		}
		// The customer was created once, by its external id.
		if cust := c.Do(t, "GET", "/v1/customers/external/cust-42", nil).Expect(t, 200).JSON(t); cust["id"] != o["customer_id"] {
			t.Fatalf("customer %v", cust)
		}
		if n := len(c.Do(t, "GET", "/v1/customers", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 1 {
			t.Fatalf("%d customers after two checkouts of one", n)
		}
		// A short cart: 409 listing the short lines; nothing is kept.
		p = sh.checkout(t, c, "shop-1002", cartLine("MUG-1", "1"), cartLine("TEA-1", "7")).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/lines/1/quantity") || apitest.HasPointer(p, "/lines/0/quantity") {
			t.Fatalf("short lines %+v", p.Errors)
		}
		if n := len(c.Do(t, "GET", "/v1/sales-orders", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 1 {
			t.Fatalf("%d orders after a refused checkout, want 1", n)
		}
		// Ship one mug, then the rest: partial, then fulfilled; cost of goods
		// sold 3 × 6.00 + 1 × 2.00 = 14 in all.
		r := c.Do(t, "POST", "/v1/shipments", map[string]any{"sales_order_id": o["id"], "tracking_number": "00340434161094042557",
			"lines": []any{map[string]any{"line_no": 1, "quantity": "1"}}}).Expect(t, 201).JSON(t)
		if r["sales_order"].(map[string]any)["fulfilment_status"] != "partially_fulfilled" {
			t.Fatalf("after a partial shipment %v", r["sales_order"])
		}
		c.Do(t, "POST", "/v1/shipments", map[string]any{"sales_order_id": o["id"], "lines": []any{map[string]any{"line_no": 1, "quantity": "2"}}}).
			ExpectProblem(t, 409, apperr.Conflict)
		r = c.Do(t, "POST", "/v1/shipments", map[string]any{"sales_order_id": o["id"]}).Expect(t, 201).JSON(t)
		if so := r["sales_order"].(map[string]any); so["fulfilment_status"] != "fulfilled" || so["invoicing_status"] != "invoiced" || so["payment_status"] != "unpaid" {
			t.Fatalf("after shipping everything %v", so)
		}
		if got := balanceOf(t, c, accountByCode(t, c, "5000"), "2099-12-31"); got != "14" {
			t.Fatalf("cost of goods sold %s, want 14 (2 × 6.00 + 2.00)", got)
		}
		c.Do(t, "POST", "/v1/sales-orders/"+o["id"].(string)+"/cancel", nil).ExpectProblem(t, 409, apperr.Conflict)
		if l := sh.level(t, sh.a, sh.bin); l["on_hand"] != "8" || l["reserved"] != "0" {
			t.Fatalf("mugs after shipping %v", l)
		}
		sh.valuationMatchesLedger(t, "2099-12-31")
		newCompanyCaller(t, sh.world).Do(t, "GET", "/v1/sales-orders/"+o["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// TestCheckoutRace: 100 concurrent one-unit checkouts against 10 units;
// exactly 10 succeed, and on hand, reserved and the orders agree.
func TestCheckoutRace(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			status = map[int]int{}
		)
		for i := 0; i < 100; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := sh.checkout(t, sh.admin, fmt.Sprintf("race-%d", i), cartLine("MUG-1", "1"))
				mu.Lock()
				status[r.Status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if status[201] != 10 || status[409] != 90 {
			t.Fatalf("statuses %v, want 10 × 201 and 90 × 409", status)
		}
		if l := sh.level(t, sh.a, sh.bin); l["on_hand"] != "10" || l["reserved"] != "10" || l["available"] != "0" {
			t.Fatalf("level %v", l)
		}
	})
}

// TestOppositeCartsNeverDeadlock checks out carts of two SKUs in opposite
// orders at once, on two server processes sharing one PostgreSQL.
func TestOppositeCartsNeverDeadlock(t *testing.T) {
	cfg := apitest.Config(t)
	cfg.DatabaseURL = dbtest.PostgresURL(t, false)
	one := apitest.StartConfig(t, cfg)
	sh := newShop(t, stockWorldOn(t, setupWorld(t, one)))
	cfg2 := apitest.Config(t)
	cfg2.DatabaseURL = cfg.DatabaseURL
	two := apitest.StartConfig(t, cfg2)
	onTwo := sh.admin.On(two)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok int
	)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, lines := sh.admin, []any{cartLine("MUG-1", "0.25"), cartLine("TEA-1", "0.25")}
			if i%2 == 1 {
				c, lines = onTwo, []any{cartLine("TEA-1", "0.25"), cartLine("MUG-1", "0.25")}
			}
			r := sh.checkout(t, c, fmt.Sprintf("pair-%d", i), lines...)
			if r.Status != 201 {
				t.Errorf("checkout %d: %d %s", i, r.Status, r.Body)
				return
			}
			mu.Lock()
			ok++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if ok != 20 {
		t.Fatalf("%d of 20 checkouts succeeded", ok)
	}
	for _, p := range []string{sh.a, sh.b} {
		if l := sh.level(t, p, sh.bin); l["reserved"] != "5" {
			t.Fatalf("reserved %v, want 5 (20 × 0.25)", l)
		}
	}
}

// TestShipmentStages picks, packs and ships: stock stays reserved until
// the shipment ships, and a second shipment cannot pick what the first
// holds.
func TestShipmentStages(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		c := sh.admin
		o := sh.checkout(t, c, "stages-1", cartLine("MUG-1", "2")).Expect(t, 201).JSON(t)
		pick := c.Do(t, "POST", "/v1/shipments", map[string]any{"sales_order_id": o["id"], "status": "picking",
			"lines": []any{map[string]any{"line_no": 1, "quantity": "1.5"}}}).Expect(t, 201).JSON(t)
		sid := pick["shipment"].(map[string]any)["id"].(string)
		if pick["shipment"].(map[string]any)["status"] != "picking" {
			t.Fatalf("picking %v", pick)
		}
		if l := sh.level(t, sh.a, sh.bin); l["on_hand"] != "10" || l["reserved"] != "2" {
			t.Fatalf("picking moved stock: %v", l)
		}
		c.Do(t, "POST", "/v1/shipments", map[string]any{"sales_order_id": o["id"], "status": "picking",
			"lines": []any{map[string]any{"line_no": 1, "quantity": "1"}}}).ExpectProblem(t, 409, apperr.Conflict)
		c.Do(t, "POST", "/v1/shipments/"+sid+"/pack", nil).Expect(t, 200)
		shipped := c.Do(t, "POST", "/v1/shipments/"+sid+"/ship", map[string]any{"tracking_number": "JJD0099"}).Expect(t, 200).JSON(t)
		s := shipped["shipment"].(map[string]any)
		if s["status"] != "shipped" || s["tracking_number"] != "JJD0099" || shipped["sales_order"].(map[string]any)["fulfilment_status"] != "partially_fulfilled" {
			t.Fatalf("shipped %v", shipped)
		}
		if l := sh.level(t, sh.a, sh.bin); l["on_hand"] != "8.5" || l["reserved"] != "0.5" {
			t.Fatalf("after shipping %v", l)
		}
		c.Do(t, "POST", "/v1/shipments/"+sid+"/ship", nil).ExpectProblem(t, 409, apperr.Conflict)
		newCompanyCaller(t, sh.world).Do(t, "POST", "/v1/shipments/"+sid+"/pack", nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// TestOrderToCashEndToEnd is the storefront's whole path over HTTP: sync a
// product and a customer by external id, receive stock, read
// availability, check out, ship (which invoices), pay; afterwards the
// trial balance shows exactly the revenue, tax, cost of goods sold,
// receivables and cash.
func TestOrderToCashEndToEnd(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		c := sh.admin
		std := c.Do(t, "GET", "/v1/tax-categories", nil).Expect(t, 200).JSON(t)["data"].([]any)[0].(map[string]any)["id"].(string)
		// Catalog and customer sync by the storefront's own ids.
		p := c.Do(t, "PUT", "/v1/products/external/shopify-77", map[string]any{"sku": "KETTLE-1", "name": "Kettle", "stock_unit_id": sh.unit,
			"list_price": "30.00", "currency": "EUR", "tax_category_id": std, "weight": "1.2", "weight_unit": "kg"}).Expect(t, 201).JSON(t)
		c.Do(t, "PUT", "/v1/customers/external/cust-42", map[string]any{"name": "Erika Mustermann", "currency": "EUR"}).Expect(t, 201)
		sh.move(t, map[string]any{"type": "receipt", "product_id": p["id"], "to_location_id": sh.bin, "quantity": "4", "unit_cost": "12.50"}).Expect(t, 201)
		if av := c.Do(t, "GET", "/v1/availability?sku=KETTLE-1", nil).Expect(t, 200).JSON(t)["data"].([]any)[0].(map[string]any); dec(t, av["available"]) != "4" {
			t.Fatalf("availability %v", av)
		}
		// 2 kettles (60.00) and a mug (10.00): 70.00 net, tax 13.30; 2.9 kg
		// ships for 4.90 (83.30 gross is below the free threshold), tax 0.93.
		o := sh.checkout(t, c, "shop-9001", cartLine("KETTLE-1", "2"), cartLine("MUG-1", "1")).Expect(t, 201).JSON(t)
		net, tax, gross := dec(t, o["net_total"]), dec(t, o["tax_total"]), dec(t, o["gross_total"])
		if net != "74.9" || tax != "14.23" || gross != "89.13" {
			t.Fatalf("totals net %s tax %s gross %s: %v", net, tax, gross, o)
		}
		c.Do(t, "POST", "/v1/shipments", map[string]any{"sales_order_id": o["id"], "tracking_number": "JJD1"}).Expect(t, 201)
		invs := c.Do(t, "GET", "/v1/invoices?sales_order_id="+o["id"].(string), nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(invs) != 1 {
			t.Fatalf("invoices %v", invs)
		}
		inv := invs[0].(map[string]any)
		if inv["status"] != "finalized" || dec(t, inv["gross_total"]) != gross {
			t.Fatalf("invoice %v", inv)
		}
		c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": o["customer_id"], "amount": gross, "currency": "EUR",
			"reference": "PayPal 8XY", "allocations": []any{map[string]any{"invoice_id": inv["id"], "amount": gross}}}).Expect(t, 201)
		if so := c.Do(t, "GET", "/v1/sales-orders/"+o["id"].(string), nil).Expect(t, 200).JSON(t); so["fulfilment_status"] != "fulfilled" ||
			so["invoicing_status"] != "invoiced" || so["payment_status"] != "paid" {
			t.Fatalf("order after payment %v", so)
		}
		// The books: revenue 74.90 (goods 70.00 and shipping 4.90), tax
		// 14.23, receivables 0, cash 89.13, cost of goods sold 2 × 12.50 +
		// 6.00 = 31.00.
		want := map[string]string{"4000": "-74.9", "2200": "-14.23", "1100": "0", "1000": "89.13", "5000": "31"}
		for code, v := range want {
			if got := balanceOf(t, c, accountByCode(t, c, code), "2099-12-31"); got != v {
				t.Errorf("account %s: %s, want %s", code, got, v)
			}
		}
		// The tax report: output tax of the invoice, Germany 19 %, equal to
		// the ledger's tax-payable movement.
		tr := c.Do(t, "GET", "/v1/reports/tax?from=2000-01-01&to=2099-12-31", nil).Expect(t, 200).JSON(t)
		outTax := tr["output"].([]any)
		if len(outTax) != 1 || outTax[0].(map[string]any)["country"] != "DE" || dec(t, outTax[0].(map[string]any)["rate"]) != "19" ||
			dec(t, outTax[0].(map[string]any)["base"]) != "74.9" || dec(t, outTax[0].(map[string]any)["tax"]) != "14.23" ||
			dec(t, tr["ledger_output_tax"]) != "14.23" || dec(t, tr["net_payable"]) != "14.23" {
			t.Fatalf("tax report %v", tr)
		}
		c.Do(t, "GET", "/v1/reports/tax?from=2026-13-01&to=2026-12-31", nil).ExpectProblem(t, 400, apperr.BadRequest)
		// A supplier's service bill brings input tax: 19 % of 100.00.
		sup := c.Do(t, "POST", "/v1/suppliers", map[string]any{"name": "Repairs GmbH", "currency": "EUR"}).Expect(t, 201).JSON(t)["id"].(string)
		c.Do(t, "PATCH", "/v1/companies/"+sh.company, map[string]any{"addresses": []any{map[string]any{"kind": "registered", "line1": "Hafenstr. 1",
			"city": "Hamburg", "postal_code": "20457", "country": "DE"}}}, "If-Match", c.Do(t, "GET", "/v1/companies/"+sh.company, nil).Expect(t, 200).Header.Get("ETag")).Expect(t, 200)
		c.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": sup, "supplier_reference": "R-1", "bill_date": "2026-05-10", "post": true,
			"lines": []any{map[string]any{"account_id": accountByCode(t, c, "5100"), "description": "Repairs", "quantity": "1", "unit_price": "100", "tax_category_id": std}}}).Expect(t, 201)
		tr = c.Do(t, "GET", "/v1/reports/tax?from=2000-01-01&to=2099-12-31", nil).Expect(t, 200).JSON(t)
		if in := tr["input"].([]any); len(in) != 1 || dec(t, in[0].(map[string]any)["tax"]) != "19" || dec(t, tr["ledger_input_tax"]) != "19" || dec(t, tr["net_payable"]) != "-4.77" {
			t.Fatalf("tax report with a bill %v", tr)
		}
		if got := balanceOf(t, c, accountByCode(t, c, "1300"), "2099-12-31"); got != "19" {
			t.Fatalf("input tax account %s", got)
		}
		tb := c.Do(t, "GET", "/v1/reports/trial-balance?as_of=2099-12-31", nil).Expect(t, 200).JSON(t)
		var sum money.Decimal
		for _, l := range tb["lines"].([]any) {
			sum = sum.Add(money.MustParse(l.(map[string]any)["balance"].(string)))
		}
		if !sum.IsZero() {
			t.Fatalf("trial balance does not balance: %s", sum)
		}
		sh.valuationMatchesLedger(t, "2099-12-31")
	})
}

// TestSalesOrderEdits edits a confirmed order: repriced, its reservation
// replaced every line or none, guarded by If-Match; once picking starts,
// edits are refused.
func TestSalesOrderEdits(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		c := sh.admin
		o := sh.checkout(t, c, "edit-1", cartLine("MUG-1", "2")).Expect(t, 201).JSON(t)
		path := "/v1/sales-orders/" + o["id"].(string)
		etag := c.Do(t, "GET", path, nil).Expect(t, 200).Header.Get("ETag")
		c.Do(t, "PATCH", path, map[string]any{"lines": []any{cartLine("MUG-1", "5")}}).ExpectProblem(t, 428, apperr.PreconditionRequired)
		edited := c.Do(t, "PATCH", path, map[string]any{"lines": []any{cartLine("MUG-1", "5"), cartLine("TEA-1", "1")}}, "If-Match", etag).Expect(t, 200).JSON(t)
		if edited["status"] != "confirmed" || dec(t, edited["net_total"]) != "58.9" || len(edited["lines"].([]any)) != 2 {
			t.Fatalf("edited %v", edited)
		}
		if l := sh.level(t, sh.a, sh.bin); l["reserved"] != "5" {
			t.Fatalf("mugs reserved after the edit %v", l)
		}
		if l := sh.level(t, sh.b, sh.bin); l["reserved"] != "1" {
			t.Fatalf("tea reserved after the edit %v", l)
		}
		c.Do(t, "PATCH", path, map[string]any{"lines": []any{cartLine("MUG-1", "1")}}, "If-Match", etag).ExpectProblem(t, 412, apperr.PreconditionFailed)
		etag = c.Do(t, "GET", path, nil).Expect(t, 200).Header.Get("ETag")
		p := c.Do(t, "PATCH", path, map[string]any{"lines": []any{cartLine("MUG-1", "20")}}, "If-Match", etag).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/lines/0/quantity") {
			t.Fatalf("short edit %+v", p.Errors)
		}
		if l := sh.level(t, sh.a, sh.bin); l["reserved"] != "5" {
			t.Fatalf("a refused edit changed the reservation: %v", l)
		}
		c.Do(t, "POST", "/v1/shipments", map[string]any{"sales_order_id": o["id"], "status": "picking"}).Expect(t, 201)
		etag = c.Do(t, "GET", path, nil).Expect(t, 200).Header.Get("ETag")
		c.Do(t, "PATCH", path, map[string]any{"lines": []any{cartLine("MUG-1", "1")}}, "If-Match", etag).ExpectProblem(t, 409, apperr.Conflict)
	})
}

// TestConcurrentShipmentsOfTheSameProducts ships orders whose lines list
// the same two products in opposite orders, all at once, on PostgreSQL:
// every shipment goes through, and stock and its value agree afterwards.
func TestConcurrentShipmentsOfTheSameProducts(t *testing.T) {
	sh := newShop(t, newStockWorld(t, db.Postgres))
	var ids []string
	for i := 0; i < 10; i++ {
		lines := []any{cartLine("MUG-1", "0.5"), cartLine("TEA-1", "0.25")}
		if i%2 == 1 {
			lines = []any{cartLine("TEA-1", "0.25"), cartLine("MUG-1", "0.5")}
		}
		ids = append(ids, sh.checkout(t, sh.admin, fmt.Sprintf("ship-%d", i), lines...).Expect(t, 201).JSON(t)["id"].(string))
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := sh.admin.Do(t, "POST", "/v1/shipments", map[string]any{"sales_order_id": id}); r.Status != 201 {
				t.Errorf("shipment of %s: %d %s", id, r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	if l := sh.level(t, sh.a, sh.bin); l["on_hand"] != "5" || l["reserved"] != "0" {
		t.Fatalf("mugs after ten shipments %v", l)
	}
	sh.valuationMatchesLedger(t, "2099-12-31")
}

// TestCreditLimitAtConfirmation: an order that would take a customer past
// its credit limit (with the orders it has open) is not confirmed, and
// reserves nothing.
func TestCreditLimitAtConfirmation(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		c := sh.admin
		cust := c.Do(t, "POST", "/v1/customers", map[string]any{"name": "Careful Café", "currency": "EUR", "credit_limit": "50.00"}).Expect(t, 201).JSON(t)["id"].(string)
		order := func(mugs string) string {
			return c.Do(t, "POST", "/v1/sales-orders", map[string]any{"customer_id": cust, "ship_to": map[string]any{"country": "DE", "postal_code": "10115"}, "lines": []any{cartLine("MUG-1", mugs)}}).Expect(t, 201).JSON(t)["id"].(string)
		}
		// 3 mugs and shipping: 41.53 gross, within 50.00.
		c.Do(t, "POST", "/v1/sales-orders/"+order("3")+"/confirm", nil).Expect(t, 200)
		// 2 more: 29.63, with 41.53 open → 71.16 > 50.00.
		second := order("2")
		p := c.Do(t, "POST", "/v1/sales-orders/"+second+"/confirm", nil).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/customer_id") {
			t.Fatalf("credit limit not pointed at: %+v", p.Errors)
		}
		if l := sh.level(t, sh.a, sh.bin); l["reserved"] != "3" {
			t.Fatalf("a refused confirmation reserved stock: %v", l)
		}
		if so := c.Do(t, "GET", "/v1/sales-orders/"+second, nil).Expect(t, 200).JSON(t); so["status"] != "draft" {
			t.Fatalf("refused order %v", so)
		}
	})
}

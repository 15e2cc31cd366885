package app_test

import (
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func (s *stockWorld) supplier(t *testing.T, name, currency string) string {
	t.Helper()
	return s.admin.Do(t, "POST", "/v1/suppliers", map[string]any{"name": name, "currency": currency}).Expect(t, 201).JSON(t)["id"].(string)
}

func (s *stockWorld) supplierPrice(t *testing.T, supplier, product, currency, minQty, price string, extra ...string) map[string]any {
	t.Helper()
	body := map[string]any{"supplier_id": supplier, "product_id": product, "currency": currency, "min_quantity": minQty, "unit_price": price}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = extra[i+1]
	}
	return s.admin.Do(t, "POST", "/v1/supplier-prices", body).Expect(t, 201).JSON(t)
}

func poLine(product, qty string, extra ...string) map[string]any {
	l := map[string]any{"product_id": product, "quantity": qty}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

func poLines(t *testing.T, po map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range po["lines"].([]any) {
		out = append(out, l.(map[string]any))
	}
	return out
}

func wantFields(t *testing.T, what string, got map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		g := got[k]
		if s, ok := g.(string); ok {
			if ws, ok := v.(string); ok {
				a, errA := money.Parse(s)
				b, errB := money.Parse(ws)
				if s != ws && (errA != nil || errB != nil || a.Cmp(b) != 0) {
					t.Errorf("%s: %s = %v, want %v", what, k, g, v)
				}
				continue
			}
		}
		if g != v {
			t.Errorf("%s: %s = %v, want %v", what, k, g, v)
		}
	}
}

// A purchase order priced from the supplier's quantity breaks, numbered
// gaplessly when sent, received in part and then in full (with the
// company's over-receipt tolerance), each receipt bringing stock in at the
// order price against GR/IR clearing; then closed, never cancelled.
func TestPurchaseOrdersAndGoodsReceipts(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		widget := s.product(t, "WIDGET", "9.00")["id"].(string)
		gadget := s.product(t, "GADGET", "4.00")["id"].(string)
		sup := s.supplier(t, "Parts AG", "EUR")
		inventory, grir := accountByCode(t, s.admin, "1200"), accountByCode(t, s.admin, "2100")

		// Supplier prices with quantity breaks; an expired price and one in
		// another currency never apply.
		sp := s.supplierPrice(t, sup, widget, "EUR", "0", "5.00")
		if sp["active"] != true || sp["id"].(string)[:3] != "sp_" {
			t.Fatalf("supplier price %v", sp)
		}
		s.supplierPrice(t, sup, widget, "EUR", "100", "4.50")
		s.supplierPrice(t, sup, widget, "EUR", "0", "1.00", "valid_to", "2020-12-31")
		s.supplierPrice(t, sup, widget, "USD", "0", "0.50")
		p := s.admin.Do(t, "POST", "/v1/supplier-prices", map[string]any{"supplier_id": sup, "product_id": widget, "currency": "EUR",
			"unit_price": "-1", "valid_from": "2026-02-01", "valid_to": "2026-01-01"}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/unit_price", "/valid_to")

		// Without a unit price and without a supplier price: 422 at the line.
		p = s.admin.Do(t, "POST", "/v1/purchase-orders", map[string]any{"supplier_id": sup, "order_date": "2026-05-04",
			"lines": []any{poLine(widget, "10"), poLine(gadget, "4")}}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/lines/1/unit_price")

		po := s.admin.Do(t, "POST", "/v1/purchase-orders", map[string]any{"supplier_id": sup, "order_date": "2026-05-04", "expected_date": "2026-05-10",
			"lines": []any{poLine(widget, "10"), poLine(gadget, "4", "unit_price", "2.50")}}).Expect(t, 201).JSON(t)
		poID := po["id"].(string)
		wantFields(t, "draft", po, map[string]any{"status": "draft", "currency": "EUR", "supplier_id": sup, "expected_date": "2026-05-10",
			"net_total": "60.00", "tax_total": "0.00", "gross_total": "60.00"})
		if _, numbered := po["number"]; numbered {
			t.Errorf("a draft has a number: %v", po["number"])
		}
		lines := poLines(t, po)
		wantFields(t, "line 1", lines[0], map[string]any{"line_no": float64(1), "quantity": "10", "unit_price": "5", "net_amount": "50.00",
			"tax_rate": "0", "tax_amount": "0.00", "gross_amount": "50.00", "received_quantity": "0", "billed_quantity": "0", "supplier_price_id": sp["id"]})
		wantFields(t, "line 2", lines[1], map[string]any{"unit_price": "2.5", "net_amount": "10.00"})
		if _, ok := lines[1]["supplier_price_id"]; ok {
			t.Errorf("a given price names a supplier price: %v", lines[1])
		}
		// The 100-break applies from 100 on.
		big := s.admin.Do(t, "POST", "/v1/purchase-orders", map[string]any{"supplier_id": sup, "order_date": "2026-05-04",
			"lines": []any{poLine(widget, "100")}}).Expect(t, 201).JSON(t)
		wantFields(t, "break", poLines(t, big)[0], map[string]any{"unit_price": "4.5", "net_amount": "450.00"})

		// Receiving a draft is refused; sending numbers gaplessly, once.
		s.admin.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": poID}).ExpectProblem(t, 409, apperr.Conflict)
		sent := s.admin.Do(t, "POST", "/v1/purchase-orders/"+poID+"/send", nil).Expect(t, 200).JSON(t)
		wantFields(t, "sent", sent, map[string]any{"status": "sent", "number": float64(1)})
		again := s.admin.Do(t, "POST", "/v1/purchase-orders/"+poID+"/send", nil).Expect(t, 200).JSON(t)
		wantFields(t, "sent again", again, map[string]any{"number": float64(1)})
		sent2 := s.admin.Do(t, "POST", "/v1/purchase-orders/"+big["id"].(string)+"/send", nil).Expect(t, 200).JSON(t)
		wantFields(t, "second", sent2, map[string]any{"number": float64(2)})
		// A sent order nothing of which arrived may be cancelled.
		s.admin.Do(t, "POST", "/v1/purchase-orders/"+big["id"].(string)+"/cancel", nil).Expect(t, 200)

		// Part of line 1 arrives.
		gr := s.admin.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": poID, "date": "2026-05-05",
			"lines": []any{map[string]any{"line_no": 1, "quantity": "4"}}}).Expect(t, 201).JSON(t)
		receipt := gr["goods_receipt"].(map[string]any)
		wantFields(t, "receipt", receipt, map[string]any{"location_id": s.recv, "date": "2026-05-05", "value": "20.00"})
		rl := receipt["lines"].([]any)[0].(map[string]any)
		wantFields(t, "receipt line", rl, map[string]any{"order_line_no": float64(1), "quantity": "4", "unit_price": "5", "unit_cost": "5", "value": "20.00"})
		move := s.admin.Do(t, "GET", "/v1/stock-moves/"+rl["stock_move_id"].(string), nil).Expect(t, 200).JSON(t)
		wantFields(t, "move", move, map[string]any{"type": "receipt", "source_type": "goods_receipt", "source_id": receipt["id"], "purpose": "line 1"})
		wantFields(t, "order after part", gr["purchase_order"].(map[string]any), map[string]any{"status": "partially_received"})
		if got := s.level(t, widget, s.recv)["on_hand"]; got != "4" {
			t.Fatalf("widget on hand %s, want 4", got)
		}
		if inv, clr := balanceOf(t, s.admin, inventory, "2026-05-31"), balanceOf(t, s.admin, grir, "2026-05-31"); inv != "20" || clr != "-20" {
			t.Fatalf("inventory %s, GR/IR %s after 20.00 received", inv, clr)
		}

		// The receipt cannot be cancelled away.
		s.admin.Do(t, "POST", "/v1/purchase-orders/"+poID+"/cancel", nil).ExpectProblem(t, 409, apperr.Conflict)
		s.admin.Do(t, "POST", "/v1/purchase-orders/"+poID+"/close", nil).ExpectProblem(t, 409, apperr.Conflict)

		// 4 + 7 = 11 of 10 ordered: refused without tolerance, accepted
		// with 10 %.
		over := map[string]any{"purchase_order_id": poID, "date": "2026-05-06", "lines": []any{map[string]any{"line_no": 1, "quantity": "7"}}}
		p = s.admin.Do(t, "POST", "/v1/goods-receipts", over).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, p, "/lines/0/quantity")
		co := s.admin.Do(t, "GET", "/v1/companies/"+s.company, nil).Expect(t, 200)
		s.admin.Do(t, "PATCH", "/v1/companies/"+s.company, map[string]any{"over_receipt_tolerance_percent": "10"},
			"Content-Type", "application/merge-patch+json", "If-Match", co.Header.Get("ETag")).Expect(t, 200)
		p = s.admin.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": poID, "date": "2026-05-06",
			"lines": []any{map[string]any{"line_no": 1, "quantity": "7.5"}}}).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, p, "/lines/0/quantity")
		s.admin.Do(t, "POST", "/v1/goods-receipts", over).Expect(t, 201)

		// The rest (line 2) by default.
		rest := s.admin.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": poID, "date": "2026-05-07"}).Expect(t, 201).JSON(t)
		restLines := rest["goods_receipt"].(map[string]any)["lines"].([]any)
		if len(restLines) != 1 || restLines[0].(map[string]any)["order_line_no"] != float64(2) {
			t.Fatalf("default receipt lines %v", restLines)
		}
		done := rest["purchase_order"].(map[string]any)
		wantFields(t, "received", done, map[string]any{"status": "received"})
		wantFields(t, "received line 1", poLines(t, done)[0], map[string]any{"received_quantity": "11", "billed_quantity": "0"})
		wantFields(t, "received line 2", poLines(t, done)[1], map[string]any{"received_quantity": "4"})
		s.admin.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": poID, "date": "2026-05-07"}).ExpectProblem(t, 409, apperr.Conflict)

		if got := s.level(t, widget, s.recv)["on_hand"]; got != "11" {
			t.Fatalf("widget on hand %s, want 11", got)
		}
		if got := s.level(t, gadget, s.recv)["on_hand"]; got != "4" {
			t.Fatalf("gadget on hand %s, want 4", got)
		}
		// 11 × 5.00 + 4 × 2.50 = 65.00 in inventory, owed in GR/IR until billed.
		if inv, clr := balanceOf(t, s.admin, inventory, "2026-05-31"), balanceOf(t, s.admin, grir, "2026-05-31"); inv != "65" || clr != "-65" {
			t.Fatalf("inventory %s, GR/IR %s after 65.00 received", inv, clr)
		}
		if v := s.valuationMatchesLedger(t, "2026-05-31"); v != "65" {
			t.Fatalf("valuation %s", v)
		}

		receipts := s.admin.Do(t, "GET", "/v1/goods-receipts?purchase_order_id="+poID+"&page_size=2", nil).Expect(t, 200).JSON(t)
		if len(receipts["data"].([]any)) != 2 || receipts["next_page_token"] == "" {
			t.Fatalf("receipts page 1: %v", receipts)
		}
		page2 := s.admin.Do(t, "GET", "/v1/goods-receipts?purchase_order_id="+poID+"&page_size=2&page_token="+receipts["next_page_token"].(string), nil).Expect(t, 200).JSON(t)
		if len(page2["data"].([]any)) != 1 || page2["next_page_token"] != "" {
			t.Fatalf("receipts page 2: %v", page2)
		}
		s.admin.Do(t, "GET", "/v1/goods-receipts/"+receipt["id"].(string), nil).Expect(t, 200)

		closed := s.admin.Do(t, "POST", "/v1/purchase-orders/"+poID+"/close", nil).Expect(t, 200).JSON(t)
		wantFields(t, "closed", closed, map[string]any{"status": "closed"})
		s.admin.Do(t, "POST", "/v1/goods-receipts", over).ExpectProblem(t, 409, apperr.Conflict)

		list := s.admin.Do(t, "GET", "/v1/purchase-orders?supplier_id="+sup+"&status=cancelled", nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != big["id"] {
			t.Fatalf("cancelled orders %v", list)
		}

		// Another company sees none of it.
		other := newCompanyCaller(t, s.world)
		other.Do(t, "GET", "/v1/purchase-orders/"+poID, nil).ExpectProblem(t, 404, apperr.NotFound)
		other.Do(t, "GET", "/v1/goods-receipts/"+receipt["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
		other.Do(t, "POST", "/v1/purchase-orders/"+poID+"/send", nil).ExpectProblem(t, 404, apperr.NotFound)
		other.Do(t, "GET", "/v1/supplier-prices/"+sp["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
		if l := other.Do(t, "GET", "/v1/purchase-orders", nil).Expect(t, 200).JSON(t)["data"].([]any); len(l) != 0 {
			t.Fatalf("other company lists %v", l)
		}
		p = other.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": poID}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/purchase_order_id")
	})
}

// One call orders what the reorder rules suggest, priced from the
// supplier's prices, expected after the longest lead time.
func TestPurchaseOrderFromSuggestions(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		widget := s.product(t, "WIDGET", "9.00")["id"].(string)
		gadget := s.product(t, "GADGET", "4.00")["id"].(string)
		sup := s.supplier(t, "Parts AG", "EUR")
		cheap := s.supplier(t, "No Prices Ltd", "EUR")
		wh := s.admin.Do(t, "GET", "/v1/locations/"+s.recv, nil).Expect(t, 200).JSON(t)["warehouse_id"].(string)

		p := s.admin.Do(t, "POST", "/v1/purchase-orders/from-suggestions", map[string]any{"supplier_id": sup}).ExpectProblem(t, 409, apperr.Conflict)
		_ = p
		s.admin.Do(t, "POST", "/v1/reorder-rules", map[string]any{"product_id": widget, "warehouse_id": wh, "reorder_point": "5", "reorder_quantity": "20", "lead_time_days": 3}).Expect(t, 201)
		s.admin.Do(t, "POST", "/v1/reorder-rules", map[string]any{"product_id": gadget, "warehouse_id": wh, "reorder_point": "2", "reorder_quantity": "10"}).Expect(t, 201)
		s.supplierPrice(t, sup, widget, "EUR", "0", "5.00")
		s.supplierPrice(t, sup, widget, "EUR", "20", "4.00")
		s.supplierPrice(t, sup, gadget, "EUR", "0", "2.00")

		p = s.admin.Do(t, "POST", "/v1/purchase-orders/from-suggestions", map[string]any{"supplier_id": cheap, "warehouse_id": wh}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/lines/0/unit_price", "/lines/1/unit_price")

		sugg := s.admin.Do(t, "GET", "/v1/reorder-suggestions?warehouse_id="+wh, nil).Expect(t, 200).JSON(t)
		po := s.admin.Do(t, "POST", "/v1/purchase-orders/from-suggestions", map[string]any{"supplier_id": sup, "warehouse_id": wh, "send": true}).Expect(t, 201).JSON(t)
		wantFields(t, "from suggestions", po, map[string]any{"status": "sent", "number": float64(1), "warehouse_id": wh, "order_date": sugg["date"],
			"net_total": "100.00"})
		lines := poLines(t, po)
		if len(lines) != 2 {
			t.Fatalf("lines %v", lines)
		}
		// Suggestions come in SKU order: GADGET 10 at 2.00, WIDGET 20 at the 20-break.
		wantFields(t, "gadget", lines[0], map[string]any{"product_id": gadget, "quantity": "10", "unit_price": "2", "net_amount": "20.00"})
		wantFields(t, "widget", lines[1], map[string]any{"product_id": widget, "quantity": "20", "unit_price": "4", "net_amount": "80.00"})
		if po["expected_date"] == po["order_date"] || po["expected_date"] == nil {
			t.Errorf("expected date %v should be 3 days after %v", po["expected_date"], po["order_date"])
		}

		s.admin.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": po["id"], "date": sugg["date"]}).Expect(t, 201)
		// Stocked up: nothing more to order.
		s.admin.Do(t, "POST", "/v1/purchase-orders/from-suggestions", map[string]any{"supplier_id": sup}).ExpectProblem(t, 409, apperr.Conflict)
	})
}

// An order in a foreign currency is received at the receipt date's rate;
// input tax is at the company country's rate.
func TestPurchaseOrderForeignCurrencyAndTax(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		std := s.admin.Do(t, "POST", "/v1/tax-categories", map[string]any{"code": "standard", "name": "Standard"}).Expect(t, 201).JSON(t)["id"].(string)
		chip := s.product(t, "CHIP", "9.00", "tax_category_id", std)["id"].(string)
		sup := s.supplier(t, "Chips Inc", "USD")

		// No company address: no jurisdiction for the input tax.
		order := map[string]any{"supplier_id": sup, "order_date": "2026-03-02", "lines": []any{poLine(chip, "10", "unit_price", "3.00")}}
		p := s.admin.Do(t, "POST", "/v1/purchase-orders", order).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/lines/0/tax_category_id")
		co := s.admin.Do(t, "GET", "/v1/companies/"+s.company, nil).Expect(t, 200)
		s.admin.Do(t, "PATCH", "/v1/companies/"+s.company, map[string]any{"addresses": []any{map[string]any{"kind": "registered",
			"line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}}},
			"Content-Type", "application/merge-patch+json", "If-Match", co.Header.Get("ETag")).Expect(t, 200)
		s.admin.Do(t, "POST", "/v1/tax-rates", map[string]any{"tax_category_id": std, "country": "DE", "rate": "19", "name": "DE VAT"}).Expect(t, 201)

		po := s.admin.Do(t, "POST", "/v1/purchase-orders", order).Expect(t, 201).JSON(t)
		wantFields(t, "usd order", po, map[string]any{"currency": "USD", "net_total": "30.00", "tax_total": "5.70", "gross_total": "35.70"})
		wantFields(t, "usd line", poLines(t, po)[0], map[string]any{"tax_rate": "19", "tax_amount": "5.70", "tax_category_id": std})
		s.admin.Do(t, "POST", "/v1/purchase-orders/"+po["id"].(string)+"/send", nil).Expect(t, 200)

		// No rate yet: 422 at the date.
		p = s.admin.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": po["id"], "date": "2026-03-05"}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/date")
		s.admin.Do(t, "POST", "/v1/exchange-rates", map[string]any{"currency": "USD", "date": "2026-03-01", "rate": "0.9"}).Expect(t, 201)
		gr := s.admin.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": po["id"], "date": "2026-03-05"}).Expect(t, 201).JSON(t)["goods_receipt"].(map[string]any)
		wantFields(t, "usd receipt", gr, map[string]any{"currency": "USD", "company_currency": "EUR", "exchange_rate": "0.9", "rate_date": "2026-03-01", "value": "27.00"})
		wantFields(t, "usd receipt line", gr["lines"].([]any)[0].(map[string]any), map[string]any{"unit_price": "3", "unit_cost": "2.7", "value": "27.00"})
		if clr := balanceOf(t, s.admin, accountByCode(t, s.admin, "2100"), "2026-03-31"); clr != "-27" {
			t.Fatalf("GR/IR %s, want -27 (EUR)", clr)
		}
		s.valuationMatchesLedger(t, "2026-03-31")
	})
}

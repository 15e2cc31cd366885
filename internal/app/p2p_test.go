package app_test

import (
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// TestProcureToPayEndToEnd walks the buying side over HTTP: a reorder
// suggestion becomes a purchase order, half of it is received, the
// supplier bills the received half above the agreed price (a mismatch
// that blocks payment), finance approves it, a payment run pays it and
// produces a pain.001 file valid against the SEPA schema. Afterwards
// stock, GR/IR, payables, input tax and bank agree in the trial balance.
func TestProcureToPayEndToEnd(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newRunWorld(t, e)
		c := w.admin
		c.Do(t, "POST", "/v1/reorder-rules", map[string]any{"product_id": w.product, "warehouse_id": w.warehouse(t), "reorder_point": "10", "reorder_quantity": "20"}).Expect(t, 201)
		c.Do(t, "POST", "/v1/supplier-prices", map[string]any{"supplier_id": w.supplier, "product_id": w.product, "currency": "EUR", "unit_price": "5.00"}).Expect(t, 201)

		// Suggestion → purchase order (20 at 5.00), sent.
		po := w.buyer.Do(t, "POST", "/v1/purchase-orders/from-suggestions", map[string]any{"supplier_id": w.supplier, "send": true}).Expect(t, 201).JSON(t)
		lines := po["lines"].([]any)
		if po["status"] != "sent" || len(lines) != 1 || dec(t, lines[0].(map[string]any)["quantity"]) != "20" || dec(t, lines[0].(map[string]any)["unit_price"]) != "5" {
			t.Fatalf("purchase order from suggestions %v", po)
		}
		// Half of it arrives: 12 at 5.00 → inventory 60, GR/IR −60.
		w.buyer.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": po["id"], "date": "2026-05-04", "lines": []any{map[string]any{"line_no": 1, "quantity": "12"}}}).Expect(t, 201)
		if l := w.level(t, w.product, w.recv); l["on_hand"] != "12" {
			t.Fatalf("stock after the receipt %v", l)
		}
		// The supplier bills 12 at 5.50 (10 % over, tolerance 2 %): blocked.
		bill := w.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": w.supplier, "supplier_reference": "WID-2026-881", "purchase_order_id": po["id"], "bill_date": "2026-05-10",
			"post": true, "lines": []any{map[string]any{"purchase_order_line_no": 1, "quantity": "12", "unit_price": "5.50"}}}).Expect(t, 201).JSON(t)
		if bill["match_status"] != "mismatch" || dec(t, bill["gross_total"]) != "78.54" {
			t.Fatalf("bill %v", bill)
		}
		run := w.finance.Do(t, "POST", "/v1/payment-runs", map[string]any{"currency": "EUR", "payment_date": "2026-06-05", "due_before": "2026-06-30"}).Expect(t, 201).JSON(t)
		if len(run["items"].([]any)) != 0 || len(run["skipped"].([]any)) != 1 {
			t.Fatalf("a run before approval %v", run)
		}
		w.finance.Do(t, "POST", "/v1/bills/"+bill["id"].(string)+"/approve", nil).Expect(t, 200)
		run = w.finance.Do(t, "POST", "/v1/payment-runs", map[string]any{"currency": "EUR", "payment_date": "2026-06-05", "due_before": "2026-06-30"}).Expect(t, 201).JSON(t)
		id := run["id"].(string)
		if len(run["items"].([]any)) != 1 {
			t.Fatalf("a run after approval %v", run)
		}
		w.approver.Do(t, "POST", "/v1/payment-runs/"+id+"/approve", nil).Expect(t, 200)
		w.approver.Do(t, "POST", "/v1/payment-runs/"+id+"/execute", nil).Expect(t, 200)
		pain := c.Do(t, "GET", "/v1/payment-runs/"+id+"/pain.001", nil).Expect(t, 200).Body
		for _, want := range []string{"<NbOfTxs>1</NbOfTxs>", "<CtrlSum>78.54</CtrlSum>", "<Ustrd>WID-2026-881</Ustrd>"} {
			if !strings.Contains(string(pain), want) {
				t.Errorf("pain.001 lacks %s", want)
			}
		}
		xmllint(t, pain)

		// The books: inventory 60, GR/IR cleared, payables paid, input tax
		// 12.54 (19 % of 66.00), the price difference 6.00 to cost of goods,
		// the bank 78.54 lighter; stock valued as the ledger says.
		for code, want := range map[string]string{"1200": "60", "2100": "0", "2000": "0", "1300": "12.54", "5000": "6", "1000": "-78.54"} {
			if got := balanceOf(t, c, accountByCode(t, c, code), "2099-12-31"); got != want {
				t.Errorf("account %s: %s, want %s", code, got, want)
			}
		}
		tb := c.Do(t, "GET", "/v1/reports/trial-balance?as_of=2099-12-31", nil).Expect(t, 200).JSON(t)
		var sum money.Decimal
		for _, l := range tb["lines"].([]any) {
			sum = sum.Add(money.MustParse(l.(map[string]any)["balance"].(string)))
		}
		if !sum.IsZero() {
			t.Fatalf("trial balance does not balance: %s", sum)
		}
		w.valuationMatchesLedger(t, "2099-12-31")
		if tr := c.Do(t, "GET", "/v1/reports/tax?from=2000-01-01&to=2099-12-31", nil).Expect(t, 200).JSON(t); dec(t, tr["ledger_input_tax"]) != "12.54" {
			t.Fatalf("tax report %v", tr)
		}
	})
}

// warehouse is the stock world's warehouse.
func (s *stockWorld) warehouse(t *testing.T) string {
	t.Helper()
	return s.admin.Do(t, "GET", "/v1/warehouses", nil).Expect(t, 200).JSON(t)["data"].([]any)[0].(map[string]any)["id"].(string)
}

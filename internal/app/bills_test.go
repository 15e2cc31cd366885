package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// payablesWorld is a German company (19 % input tax, a 2 % bill price
// tolerance) with a supplier on 30 days net, 2 % in 10, and a product.
type payablesWorld struct {
	*stockWorld
	supplier, product, std string
	finance, buyer         *apitest.Caller
}

func newPayablesWorld(t *testing.T, e db.Engine) *payablesWorld {
	t.Helper()
	s := newStockWorld(t, e)
	c := s.admin
	co := c.Do(t, "GET", "/v1/companies/"+s.company, nil).Expect(t, 200)
	c.Do(t, "PATCH", "/v1/companies/"+s.company, map[string]any{"bill_price_tolerance_percent": "2",
		"addresses": []any{map[string]any{"kind": "registered", "line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}}},
		"Content-Type", "application/merge-patch+json", "If-Match", co.Header.Get("ETag")).Expect(t, 200)
	std := c.Do(t, "POST", "/v1/tax-categories", map[string]any{"code": "standard", "name": "Standard"}).Expect(t, 201).JSON(t)["id"].(string)
	c.Do(t, "POST", "/v1/tax-rates", map[string]any{"tax_category_id": std, "country": "DE", "rate": "19", "name": "DE VAT"}).Expect(t, 201)
	terms := c.Do(t, "POST", "/v1/payment-terms", map[string]any{"code": "N30", "name": "30 days, 2 % in 10", "net_days": 30,
		"discount_days": 10, "discount_percent": "2"}).Expect(t, 201).JSON(t)["id"].(string)
	sup := c.Do(t, "POST", "/v1/suppliers", map[string]any{"name": "Widgets AG", "currency": "EUR", "payment_terms_id": terms}).Expect(t, 201).JSON(t)["id"].(string)
	prod := s.product(t, "WIDGET", "9.00", "tax_category_id", std)["id"].(string)
	return &payablesWorld{stockWorld: s, supplier: sup, product: prod, std: std,
		finance: s.s.As(t, []string{"finance"}, s.company), buyer: s.s.As(t, []string{"purchasing"}, s.company)}
}

// receivedOrder sends an order of qty at price and receives got of it.
func (p *payablesWorld) receivedOrder(t *testing.T, qty, price, got string) string {
	t.Helper()
	po := p.admin.Do(t, "POST", "/v1/purchase-orders", map[string]any{"supplier_id": p.supplier, "order_date": "2026-05-01",
		"lines": []any{map[string]any{"product_id": p.product, "quantity": qty, "unit_price": price}}}).Expect(t, 201).JSON(t)
	id := po["id"].(string)
	p.admin.Do(t, "POST", "/v1/purchase-orders/"+id+"/send", nil).Expect(t, 200)
	p.admin.Do(t, "POST", "/v1/goods-receipts", map[string]any{"purchase_order_id": id, "date": "2026-05-04",
		"lines": []any{map[string]any{"line_no": 1, "quantity": got}}}).Expect(t, 201)
	return id
}

func (p *payablesWorld) balance(t *testing.T, code string) string {
	t.Helper()
	return balanceOf(t, p.admin, accountByCode(t, p.admin, code), "2026-12-31")
}

func wantBill(t *testing.T, what string, got map[string]any, want map[string]string) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k].(string)
		if !ok && got[k] != nil {
			g = fmt.Sprint(got[k])
		}
		if d, err := money.Parse(g); err == nil {
			if w, err := money.Parse(v); err == nil && d.Equal(w) {
				continue
			}
		}
		if g != v {
			t.Errorf("%s: %s = %q, want %q (%v)", what, k, g, v, got)
		}
	}
}

func billLine(order int, qty, price string) map[string]any {
	return map[string]any{"purchase_order_line_no": order, "quantity": qty, "unit_price": price}
}

// A bill that matches its order and receipt posts payables for the gross,
// clears GR/IR exactly at what the receipt booked and books input tax;
// the order is billed, the due and discount dates come from the terms.
func TestBillMatchedPosting(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		p := newPayablesWorld(t, e)
		po := p.receivedOrder(t, "10", "5.00", "10")
		if g := p.balance(t, "2100"); g != "-50" {
			t.Fatalf("GR/IR after receipt %s", g)
		}
		b := p.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": p.supplier, "supplier_reference": "RE-1001", "bill_date": "2026-05-10",
			"purchase_order_id": po, "tax_total": "9.50", "post": true, "lines": []any{billLine(1, "10", "5.00")}}).Expect(t, 201).JSON(t)
		wantBill(t, "bill", b, map[string]string{"status": "posted", "number": "1", "match_status": "matched", "payment_status": "unpaid",
			"net_total": "50", "tax_total": "9.5", "gross_total": "59.5", "open_amount": "59.5", "due_date": "2026-06-09",
			"discount_date": "2026-05-20", "discount_percent": "2", "payable_line_no": "1", "currency": "EUR"})
		line := b["lines"].([]any)[0].(map[string]any)
		wantBill(t, "line", line, map[string]string{"receipt_value": "50", "price_difference": "0", "tax_rate": "19", "tax_amount": "9.5"})
		wantBill(t, "match", line["match"].(map[string]any), map[string]string{"status": "matched", "received": "10", "previously_billed": "0"})
		for code, want := range map[string]string{"2100": "0", "2000": "-59.5", "1300": "9.5", "5000": "0"} {
			if got := p.balance(t, code); got != want {
				t.Errorf("account %s: %s, want %s", code, got, want)
			}
		}
		order := p.admin.Do(t, "GET", "/v1/purchase-orders/"+po, nil).Expect(t, 200).JSON(t)
		if order["status"] != "billed" || toString(order["lines"].([]any)[0].(map[string]any)["billed_quantity"]) != "10" {
			t.Errorf("order after billing: %v", order)
		}
		entry := p.admin.Do(t, "GET", "/v1/journal-entries/"+b["journal_entry_id"].(string), nil).Expect(t, 200).JSON(t)
		if entry["source_type"] != "bill" || entry["purpose"] != "payable" {
			t.Errorf("entry %v", entry)
		}
		// Nothing left to bill: another bill of the line is a mismatch.
		again := p.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": p.supplier, "supplier_reference": "RE-1002", "bill_date": "2026-05-11",
			"purchase_order_id": po, "lines": []any{billLine(1, "1", "5.00")}}).Expect(t, 201).JSON(t)
		wantBill(t, "second bill", again, map[string]string{"status": "draft", "match_status": "mismatch"})
		if _, ok := again["number"]; ok {
			t.Errorf("a draft took a number: %v", again)
		}
		xml := p.admin.Do(t, "GET", "/v1/bills/"+b["id"].(string), nil, "Accept", "application/xml").Expect(t, 200)
		if !strings.Contains(string(xml.Body), "<match_status>matched</match_status>") {
			t.Errorf("xml %s", xml.Body)
		}
		list := p.admin.Do(t, "GET", "/v1/bills?page_size=1", nil).Expect(t, 200).JSON(t)
		if len(list["data"].([]any)) != 1 || list["next_page_token"] == "" {
			t.Errorf("page %v", list)
		}
		list = p.admin.Do(t, "GET", "/v1/bills?match_status=mismatch", nil).Expect(t, 200).JSON(t)
		if n := len(list["data"].([]any)); n != 1 {
			t.Errorf("mismatched bills %d", n)
		}
	})
}

// A price outside the tolerance blocks the bill from payment until
// finance approves it; then it is paid, and the payment shows among the
// payments.
func TestBillPriceMismatchApprovalAndPayment(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		p := newPayablesWorld(t, e)
		po := p.receivedOrder(t, "10", "5.00", "10")
		b := p.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": p.supplier, "supplier_reference": "RE-2001", "bill_date": "2026-05-10",
			"purchase_order_id": po, "post": true, "lines": []any{billLine(1, "10", "5.50")}}).Expect(t, 201).JSON(t)
		id := b["id"].(string)
		wantBill(t, "bill", b, map[string]string{"match_status": "mismatch", "gross_total": "65.45", "status": "posted"})
		line := b["lines"].([]any)[0].(map[string]any)
		wantBill(t, "line", line, map[string]string{"receipt_value": "50", "price_difference": "5"})
		m := line["match"].(map[string]any)
		if m["status"] != "mismatch" || len(m["reasons"].([]any)) != 1 || !strings.Contains(m["reasons"].([]any)[0].(string), "unit price") {
			t.Errorf("match %v", m)
		}
		for code, want := range map[string]string{"2100": "0", "5000": "5", "2000": "-65.45", "1300": "10.45"} {
			if got := p.balance(t, code); got != want {
				t.Errorf("account %s: %s, want %s", code, got, want)
			}
		}
		pay := map[string]any{"supplier_id": p.supplier, "amount": "65.45", "date": "2026-05-15",
			"allocations": []any{map[string]any{"bill_id": id, "amount": "65.45"}}}
		prob := p.finance.Do(t, "POST", "/v1/supplier-payments", pay).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, prob, "/allocations/0/bill_id")
		p.buyer.Do(t, "POST", "/v1/bills/"+id+"/approve", nil).Expect(t, 403)
		ok := p.finance.Do(t, "POST", "/v1/bills/"+id+"/approve", nil).Expect(t, 200).JSON(t)
		if ok["match_status"] != "approved" || !strings.HasPrefix(toString(ok["approved_by"]), "cli_") || ok["approved_at"] == nil {
			t.Errorf("approved %v", ok)
		}
		p.finance.Do(t, "POST", "/v1/bills/"+id+"/approve", nil).ExpectProblem(t, 409, apperr.Conflict)
		// More than is open is 409 too.
		over := map[string]any{"supplier_id": p.supplier, "amount": "70", "date": "2026-05-15",
			"allocations": []any{map[string]any{"bill_id": id, "amount": "70"}}}
		wantPointers(t, p.finance.Do(t, "POST", "/v1/supplier-payments", over).ExpectProblem(t, 409, apperr.Conflict), "/allocations/0/amount")
		paid := p.finance.Do(t, "POST", "/v1/supplier-payments", pay).Expect(t, 201).JSON(t)
		if paid["direction"] != "outgoing" || len(paid["allocations"].([]any)) != 1 {
			t.Errorf("payment %v", paid)
		}
		after := p.admin.Do(t, "GET", "/v1/bills/"+id, nil).Expect(t, 200).JSON(t)
		wantBill(t, "paid bill", after, map[string]string{"payment_status": "paid", "open_amount": "0"})
		for code, want := range map[string]string{"2000": "0", "1000": "-65.45"} {
			if got := p.balance(t, code); got != want {
				t.Errorf("account %s: %s, want %s", code, got, want)
			}
		}
		listed := p.admin.Do(t, "GET", "/v1/payments/"+paid["id"].(string), nil).Expect(t, 200).JSON(t)
		if listed["direction"] != "outgoing" || listed["customer_id"] != p.supplier {
			t.Errorf("in /v1/payments: %v", listed)
		}
		got := p.finance.Do(t, "GET", "/v1/supplier-payments/"+paid["id"].(string), nil).Expect(t, 200).JSON(t)
		if got["supplier_id"] != p.supplier || len(got["allocations"].([]any)) != 1 {
			t.Errorf("supplier payment %v", got)
		}
		// Paid in full: nothing more to pay.
		p.finance.Do(t, "POST", "/v1/supplier-payments", pay).ExpectProblem(t, 409, apperr.Conflict)
	})
}

// Billing more than was received (less billed before) is a mismatch; a
// price within the tolerance is not.
func TestBillQuantityOverBilling(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		p := newPayablesWorld(t, e)
		po := p.receivedOrder(t, "10", "5.00", "6")
		b := p.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": p.supplier, "supplier_reference": "RE-3001", "bill_date": "2026-05-10",
			"purchase_order_id": po, "post": true, "lines": []any{billLine(1, "8", "5.05")}}).Expect(t, 201).JSON(t)
		wantBill(t, "bill", b, map[string]string{"match_status": "mismatch", "net_total": "40.4"})
		line := b["lines"].([]any)[0].(map[string]any)
		m := line["match"].(map[string]any)
		reasons := m["reasons"].([]any)
		if len(reasons) != 1 || !strings.Contains(reasons[0].(string), "quantity") {
			t.Errorf("reasons %v", reasons)
		}
		// GR/IR is cleared for the 6 received only; the rest is cost.
		wantBill(t, "line", line, map[string]string{"receipt_value": "30", "price_difference": "10.4"})
		if g := p.balance(t, "2100"); g != "0" {
			t.Errorf("GR/IR %s", g)
		}
		order := p.admin.Do(t, "GET", "/v1/purchase-orders/"+po, nil).Expect(t, 200).JSON(t)
		if order["status"] == "billed" {
			t.Errorf("a partly received order became billed: %v", order)
		}
	})
}

// A standalone service bill books its account and input tax and needs no
// match; a draft takes its number only when posted.
func TestServiceBill(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		p := newPayablesWorld(t, e)
		expense := accountByCode(t, p.admin, "5100")
		draft := p.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": p.supplier, "supplier_reference": "SVC-1", "bill_date": "2026-05-10",
			"lines": []any{map[string]any{"account_id": expense, "description": "Repairs", "quantity": "2", "unit_price": "100", "tax_category_id": p.std}}}).
			Expect(t, 201).JSON(t)
		wantBill(t, "draft", draft, map[string]string{"status": "draft", "match_status": "not_applicable", "gross_total": "238"})
		posted := p.buyer.Do(t, "POST", "/v1/bills/"+draft["id"].(string)+"/post", nil).Expect(t, 200).JSON(t)
		wantBill(t, "posted", posted, map[string]string{"status": "posted", "number": "1", "open_amount": "238"})
		for code, want := range map[string]string{"5100": "200", "1300": "38", "2000": "-238"} {
			if got := p.balance(t, code); got != want {
				t.Errorf("account %s: %s, want %s", code, got, want)
			}
		}
		// Validation names each field.
		prob := p.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": "sup_nope", "supplier_reference": "SVC-2",
			"lines": []any{map[string]any{"quantity": "0", "unit_price": "1"}}}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, prob, "/supplier_id", "/lines/0/quantity", "/lines/0")
	})
}

// A supplier credit note settles the bill's payable, reducing what is
// open, and reverses the cost and input tax.
func TestSupplierCreditNote(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		p := newPayablesWorld(t, e)
		expense := accountByCode(t, p.admin, "5100")
		b := p.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": p.supplier, "supplier_reference": "SVC-9", "bill_date": "2026-05-10", "post": true,
			"lines": []any{map[string]any{"account_id": expense, "description": "Consulting", "quantity": "1", "unit_price": "100", "tax_category_id": p.std}}}).
			Expect(t, 201).JSON(t)
		cn := p.buyer.Do(t, "POST", "/v1/bills", map[string]any{"kind": "credit_note", "credit_of": b["id"], "supplier_id": p.supplier,
			"supplier_reference": "CN-9", "bill_date": "2026-05-12", "post": true,
			"lines": []any{map[string]any{"account_id": expense, "description": "Consulting discount", "quantity": "1", "unit_price": "20", "tax_category_id": p.std}}}).
			Expect(t, 201).JSON(t)
		wantBill(t, "credit note", cn, map[string]string{"kind": "credit_note", "status": "posted", "gross_total": "23.8", "number": "2"})
		after := p.admin.Do(t, "GET", "/v1/bills/"+b["id"].(string), nil).Expect(t, 200).JSON(t)
		wantBill(t, "credited bill", after, map[string]string{"open_amount": "95.2", "payment_status": "partially_paid"})
		for code, want := range map[string]string{"5100": "80", "1300": "15.2", "2000": "-95.2"} {
			if got := p.balance(t, code); got != want {
				t.Errorf("account %s: %s, want %s", code, got, want)
			}
		}
		pay := map[string]any{"supplier_id": p.supplier, "amount": "95.20", "date": "2026-05-15",
			"allocations": []any{map[string]any{"bill_id": b["id"], "amount": "95.20"}}}
		p.finance.Do(t, "POST", "/v1/supplier-payments", pay).Expect(t, 201)
		wantBill(t, "paid", p.admin.Do(t, "GET", "/v1/bills/"+b["id"].(string), nil).Expect(t, 200).JSON(t), map[string]string{"payment_status": "paid", "open_amount": "0"})
		// A credit note is not paid.
		cnPay := map[string]any{"supplier_id": p.supplier, "amount": "1", "allocations": []any{map[string]any{"bill_id": cn["id"], "amount": "1"}}}
		p.finance.Do(t, "POST", "/v1/supplier-payments", cnPay).ExpectProblem(t, 409, apperr.Conflict)
	})
}

// A supplier's reference is entered once; another company's bill is 404.
func TestBillDuplicateReferenceAndCompanies(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		p := newPayablesWorld(t, e)
		expense := accountByCode(t, p.admin, "5100")
		body := map[string]any{"supplier_id": p.supplier, "supplier_reference": "DUP-1", "bill_date": "2026-05-10",
			"lines": []any{map[string]any{"account_id": expense, "description": "Cleaning", "quantity": "1", "unit_price": "10"}}}
		b := p.buyer.Do(t, "POST", "/v1/bills", body).Expect(t, 201).JSON(t)
		wantPointers(t, p.buyer.Do(t, "POST", "/v1/bills", body).ExpectProblem(t, 409, apperr.Conflict), "/supplier_reference")

		root := p.s.As(t, []string{"admin"})
		other := root.Do(t, "POST", "/v1/companies", map[string]any{"legal_name": "Other GmbH", "base_currency": "EUR", "time_zone": "Europe/Berlin"}).
			Expect(t, 201).JSON(t)["id"].(string)
		stranger := p.s.As(t, []string{"admin"}, other)
		id := b["id"].(string)
		stranger.Do(t, "GET", "/v1/bills/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "POST", "/v1/bills/"+id+"/post", nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "POST", "/v1/bills/"+id+"/approve", nil).ExpectProblem(t, 404, apperr.NotFound)
		if n := len(stranger.Do(t, "GET", "/v1/bills", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 0 {
			t.Errorf("another company sees %d bills", n)
		}
		stranger.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": p.supplier, "supplier_reference": "X",
			"lines": []any{map[string]any{"account_id": expense, "description": "x", "quantity": "1", "unit_price": "1"}}}).ExpectProblem(t, 422, apperr.Invalid)
	})
}

package app_test

import (
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func invoicesOf(t *testing.T, c *apitest.Caller, order string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, v := range c.Do(t, "GET", "/v1/invoices?sales_order_id="+order, nil).Expect(t, 200).JSON(t)["data"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func ship(t *testing.T, c *apitest.Caller, order string, lines ...any) map[string]any {
	t.Helper()
	body := map[string]any{"sales_order_id": order}
	if len(lines) > 0 {
		body["lines"] = lines
	}
	return c.Do(t, "POST", "/v1/shipments", body).Expect(t, 201).JSON(t)
}

func sum(t *testing.T, vals ...any) string {
	t.Helper()
	var s money.Decimal
	for _, v := range vals {
		s = s.Add(money.MustParse(v.(string)))
	}
	return s.Normalize().String()
}

// TestInvoicesFromShipments: each shipment is invoiced and finalized in
// its transaction, numbered INV 1, 2, 3 gaplessly across orders; partial
// shipments are billed pro rata and add up exactly to the order; the
// ledger holds receivables = gross, revenue = net, tax payable = tax; the
// document reads in XML; another company sees none of it.
func TestInvoicesFromShipments(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		c := sh.admin
		o1 := sh.checkout(t, c, "shop-1", cartLine("MUG-1", "2")).Expect(t, 201).JSON(t)
		if len(invoicesOf(t, c, o1["id"].(string))) != 0 {
			t.Fatal("invoiced before shipping")
		}
		res := ship(t, c, o1["id"].(string))
		if st := res["sales_order"].(map[string]any)["invoicing_status"]; st != "invoiced" {
			t.Fatalf("order invoicing_status %v", st)
		}
		inv1 := invoicesOf(t, c, o1["id"].(string))
		if len(inv1) != 1 || inv1[0]["number"] != float64(1) || inv1[0]["document_number"] != "INV-1" || inv1[0]["status"] != "finalized" {
			t.Fatalf("first invoice %v", inv1)
		}
		if dec(t, inv1[0]["gross_total"]) != dec(t, o1["gross_total"]) || dec(t, inv1[0]["tax_total"]) != dec(t, o1["tax_total"]) {
			t.Fatalf("invoice %v / %v, order %v / %v", inv1[0]["gross_total"], inv1[0]["tax_total"], o1["gross_total"], o1["tax_total"])
		}
		doc := c.Do(t, "GET", "/v1/invoices/"+inv1[0]["id"].(string), nil).Expect(t, 200).JSON(t)
		if doc["seller"].(map[string]any)["name"] != "Acme GmbH" || doc["buyer"].(map[string]any)["name"] != "Erika Mustermann" ||
			dec(t, doc["open_amount"]) != dec(t, o1["gross_total"]) || len(doc["taxes"].([]any)) != 1 || doc["receivable_line_no"] != float64(1) {
			t.Fatalf("invoice document %v", doc)
		}

		// Three mugs and a tea, shipped in two parts: one mug, then the rest.
		o2 := sh.checkout(t, c, "shop-2", cartLine("MUG-1", "3"), cartLine("TEA-1", "1")).Expect(t, 201).JSON(t)
		id2 := o2["id"].(string)
		res = ship(t, c, id2, map[string]any{"line_no": 1, "quantity": "1"})
		if st := res["sales_order"].(map[string]any)["invoicing_status"]; st != "partially_invoiced" {
			t.Fatalf("order invoicing_status %v", st)
		}
		ship(t, c, id2)
		inv2 := invoicesOf(t, c, id2)
		if len(inv2) != 2 || inv2[0]["number"] != float64(2) || inv2[1]["number"] != float64(3) {
			t.Fatalf("invoices of the second order %v", inv2)
		}
		// Shipping goes on the first invoice only.
		if n := len(inv2[0]["lines"].([]any)); n != 2 {
			t.Fatalf("first partial invoice has %d lines", n)
		}
		if got := sum(t, inv2[0]["gross_total"], inv2[1]["gross_total"]); got != dec(t, o2["gross_total"]) {
			t.Fatalf("invoices sum to %s, order %s", got, o2["gross_total"])
		}
		mugLine := o2["lines"].([]any)[0].(map[string]any)
		var mugNet, mugTax []any
		for _, inv := range inv2 {
			for _, l := range inv["lines"].([]any) {
				if m := l.(map[string]any); m["order_line_no"] == float64(1) {
					mugNet, mugTax = append(mugNet, m["net_amount"]), append(mugTax, m["tax_amount"])
				}
			}
		}
		if sum(t, mugNet...) != dec(t, mugLine["net_amount"]) || sum(t, mugTax...) != dec(t, mugLine["tax_amount"]) {
			t.Fatalf("mug line billed %v + tax %v, order line %v", mugNet, mugTax, mugLine)
		}
		c.Do(t, "POST", "/v1/invoices", map[string]any{"sales_order_id": id2}).ExpectProblem(t, 409, apperr.Conflict)

		// The ledger: receivables the gross, revenue the net, tax the tax.
		gross := sum(t, o1["gross_total"], o2["gross_total"])
		net := sum(t, o1["net_total"], o2["net_total"])
		tax := sum(t, o1["tax_total"], o2["tax_total"])
		if got := balanceOf(t, c, accountByCode(t, c, "1100"), "2099-12-31"); got != gross {
			t.Fatalf("receivables %s, want %s", got, gross)
		}
		if got := balanceOf(t, c, accountByCode(t, c, "4000"), "2099-12-31"); got != "-"+net {
			t.Fatalf("revenue %s, want -%s", got, net)
		}
		if got := balanceOf(t, c, accountByCode(t, c, "2200"), "2099-12-31"); got != "-"+tax {
			t.Fatalf("tax payable %s, want -%s", got, tax)
		}

		xml := c.Do(t, "GET", "/v1/invoices/"+inv1[0]["id"].(string), nil, "Accept", "application/xml").Expect(t, 200)
		for _, want := range []string{"<document_number>INV-1</document_number>", "<gross_total>", "<seller>", "<taxes>"} {
			if !strings.Contains(string(xml.Body), want) {
				t.Fatalf("XML invoice lacks %s:\n%s", want, xml.Body)
			}
		}

		stranger := newCompanyCaller(t, sh.world)
		stranger.Do(t, "GET", "/v1/invoices/"+inv1[0]["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
		if n := len(stranger.Do(t, "GET", "/v1/invoices", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 0 {
			t.Fatalf("another company lists %d invoices", n)
		}
	})
}

// TestInvoicesOnConfirmation: a company that invoices on confirmation
// bills the whole order at checkout; shipping bills nothing more.
func TestInvoicesOnConfirmation(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		c := sh.admin
		co := c.Do(t, "GET", "/v1/companies/"+sh.company, nil).Expect(t, 200)
		c.Do(t, "PATCH", "/v1/companies/"+sh.company, map[string]any{"invoice_on": "confirmation"},
			"Content-Type", "application/merge-patch+json", "If-Match", co.Header.Get("ETag")).Expect(t, 200)
		o := sh.checkout(t, c, "shop-c", cartLine("MUG-1", "1"), cartLine("TEA-1", "2")).Expect(t, 201).JSON(t)
		if o["invoicing_status"] != "invoiced" {
			t.Fatalf("order after checkout: %v", o["invoicing_status"])
		}
		invs := invoicesOf(t, c, o["id"].(string))
		if len(invs) != 1 || dec(t, invs[0]["gross_total"]) != dec(t, o["gross_total"]) || invs[0]["document_number"] != "INV-1" {
			t.Fatalf("invoices %v", invs)
		}
		ship(t, c, o["id"].(string))
		if n := len(invoicesOf(t, c, o["id"].(string))); n != 1 {
			t.Fatalf("%d invoices after shipping", n)
		}
	})
}

// TestForeignCurrencyInvoice: an order in USD is invoiced with a USD
// receivable line converted at the day's rate and the seller's address
// and tax ids printed; POST /v1/invoices is 409 while nothing shipped;
// another company cannot finalize the invoice.
func TestForeignCurrencyInvoice(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		c := sh.admin
		co := c.Do(t, "GET", "/v1/companies/"+sh.company, nil).Expect(t, 200)
		c.Do(t, "PATCH", "/v1/companies/"+sh.company, map[string]any{"invoice_on": "confirmation", "tax_ids": []any{map[string]any{"scheme": "eu_vat", "value": "DE123456789"}},
			"addresses": []any{map[string]any{"kind": "registered", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117", "country": "DE"}}},
			"Content-Type", "application/merge-patch+json", "If-Match", co.Header.Get("ETag")).Expect(t, 200)
		c.Do(t, "POST", "/v1/exchange-rates", map[string]any{"currency": "USD", "date": "2020-01-01", "rate": "0.9"}).Expect(t, 201)
		c.Do(t, "POST", "/v1/price-lists", map[string]any{"code": "USD", "name": "Dollar", "currency": "USD",
			"prices": []any{map[string]any{"product_id": sh.a, "unit_price": "12.00"}}}).Expect(t, 201)
		cust := c.Do(t, "POST", "/v1/customers", map[string]any{"name": "Yankee Inc", "currency": "USD"}).Expect(t, 201).JSON(t)["id"].(string)
		o := c.Do(t, "POST", "/v1/sales-orders", map[string]any{"customer_id": cust, "lines": []any{cartLine("MUG-1", "1")}}).Expect(t, 201).JSON(t)
		if o["currency"] != "USD" {
			t.Fatalf("order currency %v", o["currency"])
		}
		// Confirmed orders invoice themselves here; take the hook's
		// invoice to check the posting, then test drafts on a second one.
		c.Do(t, "POST", "/v1/sales-orders/"+o["id"].(string)+"/confirm", nil).Expect(t, 200)
		inv := invoicesOf(t, c, o["id"].(string))[0]
		entry := c.Do(t, "GET", "/v1/journal-entries/"+inv["journal_entry_id"].(string), nil).Expect(t, 200).JSON(t)
		seller := c.Do(t, "GET", "/v1/invoices/"+inv["id"].(string), nil).Expect(t, 200).JSON(t)["seller"].(map[string]any)
		if seller["address"].(map[string]any)["city"] != "Berlin" || len(seller["tax_ids"].([]any)) != 1 {
			t.Fatalf("seller %v", seller)
		}
		recv := lineOf(t, entry, 1)
		if recv["txn_currency"] != "USD" || dec(t, recv["txn_amount"]) != dec(t, inv["gross_total"]) || recv["account_id"] != accountByCode(t, c, "1100") {
			t.Fatalf("receivable line %v of invoice %v", recv, inv["gross_total"])
		}

		co = c.Do(t, "GET", "/v1/companies/"+sh.company, nil).Expect(t, 200)
		c.Do(t, "PATCH", "/v1/companies/"+sh.company, map[string]any{"invoice_on": "shipment"},
			"Content-Type", "application/merge-patch+json", "If-Match", co.Header.Get("ETag")).Expect(t, 200)
		o2 := c.Do(t, "POST", "/v1/sales-orders", map[string]any{"customer_id": cust, "lines": []any{cartLine("MUG-1", "1")}}).Expect(t, 201).JSON(t)
		id2 := o2["id"].(string)
		c.Do(t, "POST", "/v1/sales-orders/"+id2+"/confirm", nil).Expect(t, 200)
		// Nothing shipped: nothing to invoice.
		c.Do(t, "POST", "/v1/invoices", map[string]any{"sales_order_id": id2}).ExpectProblem(t, 409, apperr.Conflict)
		ship(t, c, id2)
		draftOrder := invoicesOf(t, c, id2)
		if len(draftOrder) != 1 || draftOrder[0]["number"] != float64(2) {
			t.Fatalf("shipment invoice %v", draftOrder)
		}
		stranger := newCompanyCaller(t, sh.world)
		stranger.Do(t, "POST", "/v1/invoices/"+draftOrder[0]["id"].(string)+"/finalize", nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// TestReturnsAndCreditNotes: a return puts the goods back at the cost
// they shipped with (cost of goods sold falls by it), and its credit note
// (CN 1) lowers the invoice's open amount; returning more than shipped
// less returned is 409; another company's order is 404.
func TestReturnsAndCreditNotes(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		c := sh.admin
		o := sh.checkout(t, c, "shop-r", cartLine("MUG-1", "2")).Expect(t, 201).JSON(t)
		id := o["id"].(string)
		ship(t, c, id)
		inv := invoicesOf(t, c, id)[0]
		cogs := accountByCode(t, c, "5000")
		if got := balanceOf(t, c, cogs, "2099-12-31"); got != "12" {
			t.Fatalf("COGS after shipping %s", got)
		}
		before := sh.level(t, sh.a, sh.recv)["on_hand"]
		ret := c.Do(t, "POST", "/v1/returns", map[string]any{"sales_order_id": id, "reason": "broken",
			"lines": []any{map[string]any{"line_no": 1, "quantity": "1"}}}).Expect(t, 201).JSON(t)
		if l := ret["lines"].([]any)[0].(map[string]any); dec(t, l["unit_cost"]) != "6" || ret["credit_note_id"] == nil {
			t.Fatalf("return %v", ret)
		}
		if after := sh.level(t, sh.a, sh.recv)["on_hand"]; before != "0" || after != "1" {
			t.Fatalf("receiving on hand %s → %s", before, after)
		}
		if got := balanceOf(t, c, cogs, "2099-12-31"); got != "6" {
			t.Fatalf("COGS after the return %s", got)
		}
		cn := c.Do(t, "GET", "/v1/invoices/"+ret["credit_note_id"].(string), nil).Expect(t, 200).JSON(t)
		mug := o["lines"].([]any)[0].(map[string]any)
		half := money.MustParse(mug["gross_amount"].(string)).Mul(money.MustParse("0.5")).Normalize().String()
		if cn["kind"] != "credit_note" || cn["document_number"] != "CN-1" || cn["credit_of"] != inv["id"] || dec(t, cn["gross_total"]) != half {
			t.Fatalf("credit note %v", cn)
		}
		doc := c.Do(t, "GET", "/v1/invoices/"+inv["id"].(string), nil).Expect(t, 200).JSON(t)
		want := money.MustParse(inv["gross_total"].(string)).Sub(money.MustParse(half)).Normalize().String()
		if dec(t, doc["open_amount"]) != want {
			t.Fatalf("open amount %v, want %s", doc["open_amount"], want)
		}
		c.Do(t, "GET", "/v1/returns/"+ret["id"].(string), nil).Expect(t, 200)

		p := c.Do(t, "POST", "/v1/returns", map[string]any{"sales_order_id": id,
			"lines": []any{map[string]any{"line_no": 1, "quantity": "2"}}}).ExpectProblem(t, 409, apperr.Conflict)
		if len(p.Errors) != 1 || p.Errors[0].Pointer != "/lines/0/quantity" {
			t.Fatalf("over-return problem %+v", p)
		}
		// The last mug comes back: the line is credited in full.
		c.Do(t, "POST", "/v1/returns", map[string]any{"sales_order_id": id,
			"lines": []any{map[string]any{"line_no": 1, "quantity": "1"}}}).Expect(t, 201)
		var credited []any
		for _, d := range invoicesOf(t, c, id) {
			if d["kind"] == "credit_note" {
				credited = append(credited, d["lines"].([]any)[0].(map[string]any)["gross_amount"])
			}
		}
		if sum(t, credited...) != dec(t, mug["gross_amount"]) {
			t.Fatalf("credit notes %v, mug line %v", credited, mug["gross_amount"])
		}

		stranger := newCompanyCaller(t, sh.world)
		stranger.Do(t, "POST", "/v1/returns", map[string]any{"sales_order_id": id,
			"lines": []any{map[string]any{"line_no": 1, "quantity": "1"}}}).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "GET", "/v1/returns/"+ret["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

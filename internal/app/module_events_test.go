package app_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
)

// feedAbout is the events about subject, in feed order.
func feedAbout(evs []events.Stored, subject string) []events.Stored {
	var out []events.Stored
	for _, e := range evs {
		if e.Subject == subject {
			out = append(out, e)
		}
	}
	return out
}

// wantFeed fails unless the events about subject are of the types want,
// in that order, each in company.
func wantFeed(t *testing.T, evs []events.Stored, subject, company string, want ...string) []events.Stored {
	t.Helper()
	got := feedAbout(evs, subject)
	types := make([]string, len(got))
	for i, e := range got {
		types[i] = e.Type
		if e.CompanyID != company {
			t.Errorf("%s of %s: company %q, want %q", e.Type, subject, e.CompanyID, company)
		}
	}
	if !slices.Equal(types, want) {
		t.Fatalf("events of %s: %v, want %v", subject, types, want)
	}
	return got
}

// sameJSON fails unless an event's data is, as JSON, what the API
// answered.
func sameJSON(t *testing.T, what string, data json.RawMessage, body []byte) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatalf("%s: event data: %v", what, err)
	}
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("%s: response: %v", what, err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("%s: event data\n%s\nis not what the API returns\n%s", what, data, body)
	}
}

// member is a member of a JSON object in a response, as raw JSON.
func member(t *testing.T, r *apitest.Response, name string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}

// An order's life over HTTP: checkout (created, confirmed, its stock
// reserved), a draft invoice, a shipment picked, packed and shipped, the
// invoice finalized and paid in two payments. The paid event carries the
// invoice as GET returns it after the payment, which is what a webhook
// receiver sees.
func TestModuleEventsOrderToCash(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, newStockWorld(t, e))
		c := sh.admin
		o := sh.checkout(t, c, "ev-1", cartLine("MUG-1", "2")).Expect(t, 201).JSON(t)
		order := o["id"].(string)
		// Invoicing on confirmation lets a draft invoice bill the order in
		// full before it ships.
		co := c.Do(t, "GET", "/v1/companies/"+sh.company, nil).Expect(t, 200)
		c.Do(t, "PATCH", "/v1/companies/"+sh.company, map[string]any{"invoice_on": "confirmation"},
			"Content-Type", "application/merge-patch+json", "If-Match", co.Header.Get("ETag")).Expect(t, 200)
		draft := c.Do(t, "POST", "/v1/invoices", map[string]any{"sales_order_id": order}).Expect(t, 201)
		inv := draft.JSON(t)["id"].(string)
		if draft.JSON(t)["status"] != "draft" {
			t.Fatalf("draft %s", draft.Body)
		}

		picked := c.Do(t, "POST", "/v1/shipments", map[string]any{"sales_order_id": order, "status": "picking"}).Expect(t, 201)
		shp := picked.JSON(t)["shipment"].(map[string]any)["id"].(string)
		var shipmentReads [][]byte
		shipmentReads = append(shipmentReads, c.Do(t, "GET", "/v1/shipments/"+shp, nil).Expect(t, 200).Body)
		c.Do(t, "POST", "/v1/shipments/"+shp+"/pack", nil).Expect(t, 200)
		shipmentReads = append(shipmentReads, c.Do(t, "GET", "/v1/shipments/"+shp, nil).Expect(t, 200).Body)
		c.Do(t, "POST", "/v1/shipments/"+shp+"/ship", map[string]any{"tracking_number": "JJD42"}).Expect(t, 200)
		shipmentReads = append(shipmentReads, c.Do(t, "GET", "/v1/shipments/"+shp, nil).Expect(t, 200).Body)

		var invoiceReads [][]byte
		invoiceReads = append(invoiceReads, c.Do(t, "GET", "/v1/invoices/"+inv, nil).Expect(t, 200).Body)
		fin := c.Do(t, "POST", "/v1/invoices/"+inv+"/finalize", nil).Expect(t, 200)
		invoiceReads = append(invoiceReads, fin.Body)
		gross := fin.JSON(t)["gross_total"].(string)
		if fin.JSON(t)["open_amount"] == nil {
			t.Fatalf("finalized invoice without open amount: %s", fin.Body)
		}
		c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": o["customer_id"], "amount": "10.00", "currency": "EUR",
			"allocations": []any{map[string]any{"invoice_id": inv, "amount": "10.00"}}}).Expect(t, 201)
		part := c.Do(t, "GET", "/v1/invoices/"+inv, nil).Expect(t, 200)
		invoiceReads = append(invoiceReads, part.Body)
		rest := decSub(t, gross, "10")
		// The rest comes as unapplied credit, applied afterwards: the
		// application pays the invoice too.
		pay := c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": o["customer_id"], "amount": rest, "currency": "EUR"}).Expect(t, 201).JSON(t)
		c.Do(t, "POST", "/v1/payments/"+pay["id"].(string)+"/apply", map[string]any{
			"allocations": []any{map[string]any{"invoice_id": inv, "amount": rest}}}).Expect(t, 200)
		paid := c.Do(t, "GET", "/v1/invoices/"+inv, nil).Expect(t, 200)
		invoiceReads = append(invoiceReads, paid.Body)
		if part.JSON(t)["payment_status"] != "partially_paid" || paid.JSON(t)["payment_status"] != "paid" || dec(t, paid.JSON(t)["open_amount"]) != "0" {
			t.Fatalf("invoice after payments: %s then %s", part.Body, paid.Body)
		}

		// A second order cancelled gives its reservation back.
		o2 := sh.checkout(t, c, "ev-2", cartLine("TEA-1", "1")).Expect(t, 201).JSON(t)["id"].(string)
		c.Do(t, "POST", "/v1/sales-orders/"+o2+"/cancel", nil).Expect(t, 200)

		evs, _ := drainFeed(t, sh.s.App.DB())
		wantFeed(t, evs, order, sh.company, "mainstay.sales.sales_order.created", "mainstay.sales.sales_order.confirmed")
		got := wantFeed(t, evs, shp, sh.company, "mainstay.sales.shipment.created", "mainstay.sales.shipment.packed", "mainstay.sales.shipment.shipped")
		for i, ev := range got {
			sameJSON(t, ev.Type, ev.Data, shipmentReads[i])
		}
		got = wantFeed(t, evs, inv, sh.company, "mainstay.sales.invoice.created", "mainstay.sales.invoice.finalized",
			"mainstay.sales.invoice.partially_paid", "mainstay.sales.invoice.paid")
		for i, ev := range got {
			sameJSON(t, ev.Type, ev.Data, invoiceReads[i])
		}
		// The paid event is in the application's transaction, before the
		// payment's own event.
		var order2 []string
		for _, ev := range evs {
			if ev.Type == "mainstay.sales.invoice.paid" || (ev.Subject == pay["id"] && ev.Type == "mainstay.finance.payment.applied") {
				order2 = append(order2, ev.Type)
			}
		}
		if !slices.Equal(order2, []string{"mainstay.sales.invoice.paid", "mainstay.finance.payment.applied"}) {
			t.Errorf("paid and applied events: %v", order2)
		}
		// Reservations: one for each order's line, the cancelled order's
		// released.
		bySource := map[string][]string{}
		for _, ev := range evs {
			if !strings.HasPrefix(ev.Type, "mainstay.inventory.stock_reservation.") {
				continue
			}
			var r struct {
				ID       string `json:"id"`
				SourceID string `json:"source_id"`
				Status   string `json:"status"`
			}
			if err := json.Unmarshal(ev.Data, &r); err != nil {
				t.Fatal(err)
			}
			if r.ID != ev.Subject || ev.CompanyID != sh.company {
				t.Errorf("reservation event %s: subject %s company %s, data %s", ev.Type, ev.Subject, ev.CompanyID, ev.Data)
			}
			bySource[r.SourceID] = append(bySource[r.SourceID], strings.TrimPrefix(ev.Type, "mainstay.inventory.stock_reservation.")+"/"+r.Status)
		}
		if !slices.Equal(bySource[order], []string{"created/active"}) || !slices.Equal(bySource[o2], []string{"created/active", "released/released"}) {
			t.Errorf("reservation events by order: %v", bySource)
		}
	})
}

// Procure to pay: an order sent and received, a draft bill posted, and a
// payment run proposed, approved and executed that pays the bill; a
// second run is cancelled.
func TestModuleEventsProcureToPay(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newRunWorld(t, e)
		po := w.receivedOrder(t, "10", "5.00", "10")
		bill := w.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": w.supplier, "supplier_reference": "EV-1", "bill_date": "2026-05-10",
			"purchase_order_id": po, "lines": []any{billLine(1, "10", "5.00")}}).Expect(t, 201).JSON(t)["id"].(string)
		billReads := [][]byte{w.admin.Do(t, "GET", "/v1/bills/"+bill, nil).Expect(t, 200).Body}
		w.admin.Do(t, "POST", "/v1/bills/"+bill+"/post", nil).Expect(t, 200)
		run := w.finance.Do(t, "POST", "/v1/payment-runs", map[string]any{"payment_date": "2026-06-20", "currency": "EUR"}).Expect(t, 201).JSON(t)["id"].(string)
		runReads := [][]byte{w.admin.Do(t, "GET", "/v1/payment-runs/"+run, nil).Expect(t, 200).Body}
		w.approver.Do(t, "POST", "/v1/payment-runs/"+run+"/approve", nil).Expect(t, 200)
		runReads = append(runReads, w.admin.Do(t, "GET", "/v1/payment-runs/"+run, nil).Expect(t, 200).Body)
		w.finance.Do(t, "POST", "/v1/payment-runs/"+run+"/execute", nil).Expect(t, 200)
		runReads = append(runReads, w.admin.Do(t, "GET", "/v1/payment-runs/"+run, nil).Expect(t, 200).Body)
		paid := w.admin.Do(t, "GET", "/v1/bills/"+bill, nil).Expect(t, 200)
		if paid.JSON(t)["payment_status"] != "paid" {
			t.Fatalf("bill after the run %s", paid.Body)
		}
		other := w.finance.Do(t, "POST", "/v1/payment-runs", map[string]any{"payment_date": "2026-06-20", "currency": "EUR"}).Expect(t, 201).JSON(t)["id"].(string)
		w.finance.Do(t, "POST", "/v1/payment-runs/"+other+"/cancel", nil).Expect(t, 200)

		evs, _ := drainFeed(t, w.s.App.DB())
		wantFeed(t, evs, po, w.company, "mainstay.purchasing.purchase_order.created", "mainstay.purchasing.purchase_order.sent")
		got := wantFeed(t, evs, bill, w.company, "mainstay.purchasing.bill.created", "mainstay.purchasing.bill.posted", "mainstay.purchasing.bill.paid")
		sameJSON(t, "bill created", got[0].Data, billReads[0])
		sameJSON(t, "bill paid", got[2].Data, paid.Body)
		got = wantFeed(t, evs, run, w.company, "mainstay.finance.payment_run.proposed", "mainstay.finance.payment_run.approved",
			"mainstay.finance.payment_run.executed")
		for i, ev := range got {
			sameJSON(t, ev.Type, ev.Data, runReads[i])
		}
		wantFeed(t, evs, other, w.company, "mainstay.finance.payment_run.proposed", "mainstay.finance.payment_run.cancelled")
	})
}

// The ledger: a draft entry saved, posted and reversed, another deleted;
// a fiscal year opened, a period closed and reopened, the year closed and
// reopened.
func TestModuleEventsLedger(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		c := w.admin
		bank, revenue := accountByCode(t, c, "1000"), accountByCode(t, c, "4000")
		periods := c.Do(t, "POST", "/v1/fiscal-years", map[string]any{"year": 2026}).Expect(t, 201).JSON(t)["data"].([]any)
		yearReads := [][]byte{c.Do(t, "GET", "/v1/fiscal-years/2026", nil).Expect(t, 200).Body}
		entry := func(status string) map[string]any {
			return map[string]any{"status": status, "date": "2026-05-01", "lines": []any{line(bank, "debit", "100.00"), line(revenue, "credit", "100.00")}}
		}
		je := c.Do(t, "POST", "/v1/journal-entries", entry("draft")).Expect(t, 201)
		id := je.JSON(t)["id"].(string)
		c.Do(t, "POST", "/v1/journal-entries/"+id+"/post", nil).Expect(t, 200)
		rev := c.Do(t, "POST", "/v1/journal-entries/"+id+"/reverse", map[string]any{"date": "2026-05-02"}).Expect(t, 201).JSON(t)["id"].(string)
		reversed := c.Do(t, "GET", "/v1/journal-entries/"+id, nil).Expect(t, 200)
		if reversed.JSON(t)["reversed_by"] != rev {
			t.Fatalf("reversed entry %s", reversed.Body)
		}
		gone := c.Do(t, "POST", "/v1/journal-entries", entry("draft")).Expect(t, 201).JSON(t)["id"].(string)
		c.Do(t, "DELETE", "/v1/journal-entries/"+gone, nil).Expect(t, 204)

		jan := periods[0].(map[string]any)["id"].(string)
		closed := c.Do(t, "POST", "/v1/fiscal-periods/"+jan+"/close", nil).Expect(t, 200)
		reopened := c.Do(t, "POST", "/v1/fiscal-periods/"+jan+"/reopen", nil).Expect(t, 200)
		c.Do(t, "POST", "/v1/fiscal-years/2026/close", nil).Expect(t, 200)
		yearReads = append(yearReads, c.Do(t, "GET", "/v1/fiscal-years/2026", nil).Expect(t, 200).Body)
		c.Do(t, "POST", "/v1/fiscal-years/2026/reopen", nil).Expect(t, 200)
		yearReads = append(yearReads, c.Do(t, "GET", "/v1/fiscal-years/2026", nil).Expect(t, 200).Body)

		evs, _ := drainFeed(t, w.s.App.DB())
		got := wantFeed(t, evs, id, w.company, "mainstay.ledger.journal_entry.created", "mainstay.ledger.journal_entry.posted",
			"mainstay.ledger.journal_entry.reversed")
		sameJSON(t, "draft", got[0].Data, je.Body)
		sameJSON(t, "reversed", got[2].Data, reversed.Body)
		wantFeed(t, evs, rev, w.company, "mainstay.ledger.journal_entry.posted")
		got = wantFeed(t, evs, gone, w.company, "mainstay.ledger.journal_entry.created", "mainstay.ledger.journal_entry.deleted")
		sameJSON(t, "deleted", got[1].Data, []byte(`{"id":"`+gone+`","company_id":"`+w.company+`"}`))

		got = wantFeed(t, evs, jan, w.company, "mainstay.ledger.fiscal_period.closed", "mainstay.ledger.fiscal_period.reopened",
			"mainstay.ledger.fiscal_period.closed")
		sameJSON(t, "period closed", got[0].Data, closed.Body)
		sameJSON(t, "period reopened", got[1].Data, reopened.Body)
		// Closing the year closed its other eleven periods, each told.
		for _, p := range periods[1:] {
			wantFeed(t, evs, p.(map[string]any)["id"].(string), w.company, "mainstay.ledger.fiscal_period.closed")
		}
		got = wantFeed(t, evs, "2026", w.company, "mainstay.ledger.fiscal_year.created", "mainstay.ledger.fiscal_year.closed",
			"mainstay.ledger.fiscal_year.reopened")
		for i, ev := range got {
			sameJSON(t, ev.Type, ev.Data, yearReads[i])
		}
	})
}

// Stock: a reservation made and released, a hold placed and lifted, a
// count sheet drafted, a move reversed.
func TestModuleEventsStock(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		pid := s.product(t, "EV-1", "5.00")["id"].(string)
		mv := s.move(t, map[string]any{"type": "receipt", "product_id": pid, "to_location_id": s.bin, "quantity": "10", "unit_cost": "2.00"}).Expect(t, 201).JSON(t)["id"].(string)
		src := map[string]any{"source_type": "sales_order", "source_id": "so-ev"}
		res := s.admin.Do(t, "POST", "/v1/stock-reservations", map[string]any{"source_type": "sales_order", "source_id": "so-ev", "lines": []any{
			map[string]any{"product_id": pid, "location_id": s.bin, "quantity": "3"}}}).Expect(t, 201)
		released := s.admin.Do(t, "POST", "/v1/stock-reservations/release", src).Expect(t, 200)
		placed := s.admin.Do(t, "POST", "/v1/stock-holds", map[string]any{"product_id": pid, "location_id": s.bin, "quantity": "1", "reason": "QC"}).Expect(t, 201)
		hold := placed.JSON(t)["id"].(string)
		lifted := s.admin.Do(t, "POST", "/v1/stock-holds/"+hold+"/lift", nil).Expect(t, 200)
		cnt := s.count(t, "2026-05-05", countLine(pid, s.bin, "9")).Expect(t, 201).JSON(t)["id"].(string)
		countRead := s.admin.Do(t, "GET", "/v1/stock-counts/"+cnt, nil).Expect(t, 200)
		s.admin.Do(t, "POST", "/v1/stock-moves/"+mv+"/reverse", map[string]any{"date": "2026-05-06"}).Expect(t, 201)
		moveRead := s.admin.Do(t, "GET", "/v1/stock-moves/"+mv, nil).Expect(t, 200)

		evs, _ := drainFeed(t, s.s.App.DB())
		var made, back []json.RawMessage
		if err := json.Unmarshal(member(t, res, "data"), &made); err != nil || len(made) != 1 {
			t.Fatalf("reservations %s", res.Body)
		}
		if err := json.Unmarshal(member(t, released, "data"), &back); err != nil || len(back) != 1 {
			t.Fatalf("released %s", released.Body)
		}
		var r struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(made[0], &r); err != nil {
			t.Fatal(err)
		}
		got := wantFeed(t, evs, r.ID, s.company, "mainstay.inventory.stock_reservation.created", "mainstay.inventory.stock_reservation.released")
		sameJSON(t, "reserved", got[0].Data, made[0])
		sameJSON(t, "released", got[1].Data, back[0])
		got = wantFeed(t, evs, hold, s.company, "mainstay.inventory.stock_hold.placed", "mainstay.inventory.stock_hold.lifted")
		sameJSON(t, "placed", got[0].Data, placed.Body)
		sameJSON(t, "lifted", got[1].Data, lifted.Body)
		got = wantFeed(t, evs, cnt, s.company, "mainstay.inventory.stock_count.created")
		sameJSON(t, "count", got[0].Data, countRead.Body)
		got = wantFeed(t, evs, mv, s.company, "mainstay.inventory.stock_move.posted", "mainstay.inventory.stock_move.reversed")
		sameJSON(t, "move reversed", got[1].Data, moveRead.Body)
	})
}

// Every declared type is seen with a real scope and says when it happens,
// so the catalogue and the delivery filters are complete.
func TestModuleEventsCatalogue(t *testing.T) {
	newWorld(t, db.SQLite) // the app is wired: every module has declared its types
	scopes := map[string]bool{}
	for _, s := range auth.AllScopes() {
		scopes[s] = true
	}
	names := map[string]bool{}
	for _, ty := range events.Catalogue() {
		names[ty.Name] = true
		if !scopes[ty.Scope] {
			t.Errorf("%s: scope %q is not a scope", ty.Name, ty.Scope)
		}
		if strings.TrimSpace(ty.Description) == "" {
			t.Errorf("%s has no description", ty.Name)
		}
	}
	for _, n := range []string{
		"mainstay.sales.shipment.created", "mainstay.sales.shipment.packed", "mainstay.sales.invoice.created",
		"mainstay.sales.invoice.paid", "mainstay.sales.invoice.partially_paid",
		"mainstay.ledger.journal_entry.created", "mainstay.ledger.journal_entry.deleted", "mainstay.ledger.journal_entry.reversed",
		"mainstay.ledger.fiscal_period.closed", "mainstay.ledger.fiscal_period.reopened",
		"mainstay.ledger.fiscal_year.created", "mainstay.ledger.fiscal_year.closed", "mainstay.ledger.fiscal_year.reopened",
		"mainstay.inventory.stock_reservation.created", "mainstay.inventory.stock_reservation.released",
		"mainstay.inventory.stock_hold.placed", "mainstay.inventory.stock_hold.lifted",
		"mainstay.inventory.stock_count.created", "mainstay.inventory.stock_move.reversed",
		"mainstay.finance.payment_run.proposed", "mainstay.finance.payment_run.approved",
		"mainstay.finance.payment_run.cancelled", "mainstay.finance.payment_run.executed",
		"mainstay.purchasing.bill.created", "mainstay.purchasing.bill.paid", "mainstay.purchasing.bill.partially_paid",
	} {
		if !names[n] {
			t.Errorf("%s is not declared", n)
		}
	}
}

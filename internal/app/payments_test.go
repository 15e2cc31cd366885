package app_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/sales/orders"
)

// receivablesWorld has a company, a customer and the accounts payments
// touch. Invoices are made the way invoicing finalizes them: a row in
// invoices and an entry whose line 1 debits receivables.
type receivablesWorld struct {
	*world
	customer                      string
	bank, ar, revenue, gain, loss string
	invoices                      int64
}

func newReceivablesWorld(t *testing.T, e db.Engine) *receivablesWorld {
	t.Helper()
	w := newWorld(t, e)
	c := w.admin
	rw := &receivablesWorld{world: w,
		customer: c.Do(t, "POST", "/v1/customers", map[string]any{"name": "Kunde AG", "currency": "EUR"}).Expect(t, 201).JSON(t)["id"].(string),
		bank:     accountByCode(t, c, "1000"), ar: accountByCode(t, c, "1100"), revenue: accountByCode(t, c, "4000"),
		gain: accountByCode(t, c, "4900"), loss: accountByCode(t, c, "6900")}
	return rw
}

// invoice finalizes an invoice of amount in cur, dated date and due due.
func (rw *receivablesWorld) invoice(t *testing.T, customer, cur, date, due, amount string) string {
	t.Helper()
	return rw.orderInvoice(t, customer, "", cur, date, due, amount)
}

func (rw *receivablesWorld) orderInvoice(t *testing.T, customer, order, cur, date, due, amount string) string {
	t.Helper()
	rw.invoices++
	inv, n := id.New("inv"), rw.invoices
	amt := money.MustParse(amount)
	lineCur := money.Currency(cur)
	if cur == "EUR" {
		lineCur = ""
	}
	ctx := context.Background()
	err := rw.s.App.DB().Transact(ctx, func(tx *db.Tx) error {
		e, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: rw.company, Date: date, Currency: "EUR", SourceType: "invoice", SourceID: inv,
			Purpose: "revenue", Memo: "test invoice", Lines: []ledger.Line{
				{AccountID: rw.ar, Debit: amt, Currency: lineCur}, {AccountID: rw.revenue, Credit: amt, Currency: lineCur}}})
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO invoices (id, company_id, kind, series, number, status, payment_status, customer_id, sales_order_id, currency,
invoice_date, due_date, net_total, tax_total, gross_total, journal_entry_id, receivable_line_no, doc, created_at)
VALUES ($1, $2, 'invoice', 'T', $3, 'finalized', 'unpaid', $4, $5, $6, $7, $8, $9, 0, $9, $10, 1, $11, $12)`,
			inv, rw.company, n, customer, order, cur, date, due, money.Amount(&amt), e.ID, `{"payment_status":"unpaid"}`, tx.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func (rw *receivablesWorld) paymentStatus(t *testing.T, inv string) string {
	t.Helper()
	var s string
	if err := rw.s.App.DB().QueryRowContext(context.Background(), "SELECT payment_status FROM invoices WHERE id = $1", inv).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func alloc(inv, amount string) map[string]any {
	return map[string]any{"invoice_id": inv, "amount": amount}
}

func norm(t *testing.T, v any) string { return money.MustParse(toString(v)).Normalize().String() }

func TestCustomerPaymentsOverHTTP(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		rw := newReceivablesWorld(t, e)
		c := rw.admin
		inv1 := rw.invoice(t, rw.customer, "EUR", "2026-04-01", "2026-04-15", "100.00")
		inv2 := rw.invoice(t, rw.customer, "EUR", "2026-04-02", "2026-04-16", "50.00")

		// One payment settles two invoices in one entry.
		p := c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "150.00", "currency": "EUR", "date": "2026-04-10",
			"reference": "SEPA 1", "allocations": []any{alloc(inv1, "100.00"), alloc(inv2, "50")}}).Expect(t, 201).JSON(t)
		if norm(t, p["unapplied"]) != "0" || len(p["allocations"].([]any)) != 2 || p["direction"] != "incoming" {
			t.Fatalf("payment: %v", p)
		}
		entry := c.Do(t, "GET", "/v1/journal-entries/"+p["journal_entry_id"].(string), nil).Expect(t, 200).JSON(t)
		if n := len(entry["lines"].([]any)); n != 3 {
			t.Fatalf("entry has %d lines: %v", n, entry)
		}
		// In the company currency the ledger settles nothing (no exchange
		// difference to realize): the allocation names its credit line.
		if a := p["allocations"].([]any)[1].(map[string]any); a["line_no"] != float64(3) || norm(t, lineOf(t, entry, 3)["credit"]) != "50" {
			t.Errorf("allocation %v, entry %v", a, entry)
		}
		if rw.paymentStatus(t, inv1) != "paid" || rw.paymentStatus(t, inv2) != "paid" {
			t.Errorf("statuses %s %s", rw.paymentStatus(t, inv1), rw.paymentStatus(t, inv2))
		}
		if b := balanceOf(t, c, rw.ar, "2026-04-30"); b != "0" {
			t.Errorf("receivables %s", b)
		}
		if b := balanceOf(t, c, rw.bank, "2026-04-30"); b != "150" {
			t.Errorf("bank %s", b)
		}

		// A partial payment; then more than is open is 409 at the amount.
		inv3 := rw.invoice(t, rw.customer, "EUR", "2026-04-05", "2026-04-20", "80.00")
		c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "30", "date": "2026-04-11",
			"allocations": []any{alloc(inv3, "30")}}).Expect(t, 201)
		if s := rw.paymentStatus(t, inv3); s != "partially_paid" {
			t.Errorf("inv3 %s", s)
		}
		pr := c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "60", "date": "2026-04-11",
			"allocations": []any{alloc(inv3, "60")}}).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, pr, "/allocations/0/amount")
		pr = c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "60", "allocations": []any{alloc(inv1, "1")}}).
			ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, pr, "/allocations/0/amount")
		// Validation names each field.
		pr = c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "10", "allocations": []any{alloc(inv3, "20")}}).
			ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, pr, "/allocations")
		other := c.Do(t, "POST", "/v1/customers", map[string]any{"name": "Other", "currency": "EUR"}).Expect(t, 201).JSON(t)["id"].(string)
		pr = c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": other, "amount": "10", "allocations": []any{alloc(inv3, "5"), alloc("inv_nope", "0")}}).
			ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, pr, "/allocations/0/invoice_id", "/allocations/1/invoice_id", "/allocations/1/amount")
		pr = c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "10.001", "currency": "EUR"}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, pr, "/amount")

		// An over-payment keeps unapplied credit, applied later and refunded.
		over := c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "100", "date": "2026-04-12",
			"external_id": "bank-tx-7", "allocations": []any{alloc(inv3, "50")}}).Expect(t, 201).JSON(t)
		if norm(t, over["unapplied"]) != "50" || over["unapplied_line_no"] != float64(3) || rw.paymentStatus(t, inv3) != "paid" {
			t.Fatalf("over-payment: %v (inv3 %s)", over, rw.paymentStatus(t, inv3))
		}
		// external_id: same content → the payment (200), other → 409.
		again := c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "100", "date": "2026-04-12",
			"external_id": "bank-tx-7", "allocations": []any{alloc(inv3, "50")}}).Expect(t, 200).JSON(t)
		if again["id"] != over["id"] {
			t.Errorf("replay made %v", again["id"])
		}
		c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "101", "external_id": "bank-tx-7"}).ExpectProblem(t, 409, apperr.Conflict)
		if b := balanceOf(t, c, rw.ar, "2026-04-30"); b != "-50" {
			t.Errorf("receivables with credit %s", b)
		}
		inv4 := rw.invoice(t, rw.customer, "EUR", "2026-04-20", "2026-05-20", "30.00")
		payPath := "/v1/payments/" + over["id"].(string)
		applied := c.Do(t, "POST", payPath+"/apply", map[string]any{"date": "2026-04-21", "allocations": []any{alloc(inv4, "30")}}).Expect(t, 200).JSON(t)
		if norm(t, applied["unapplied"]) != "20" || len(applied["allocations"].([]any)) != 2 || rw.paymentStatus(t, inv4) != "paid" {
			t.Fatalf("applied: %v", applied)
		}
		inv5 := rw.invoice(t, rw.customer, "EUR", "2026-04-22", "2026-05-22", "40.00")
		pr = c.Do(t, "POST", payPath+"/apply", map[string]any{"allocations": []any{alloc(inv5, "30")}}).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, pr, "/allocations")
		c.Do(t, "POST", payPath+"/refund", map[string]any{"amount": "25", "date": "2026-04-23"}).ExpectProblem(t, 409, apperr.Conflict)
		refunded := c.Do(t, "POST", payPath+"/refund", map[string]any{"amount": "20", "date": "2026-04-23"}).Expect(t, 200).JSON(t)
		if norm(t, refunded["unapplied"]) != "0" {
			t.Fatalf("refunded: %v", refunded)
		}
		// 150 + 30 + 100 in, 20 back; receivables: inv5 40 open.
		if b := balanceOf(t, c, rw.bank, "2026-04-30"); b != "260" {
			t.Errorf("bank %s", b)
		}
		if b := balanceOf(t, c, rw.ar, "2026-04-30"); b != "40" {
			t.Errorf("receivables %s", b)
		}
		got := c.Do(t, "GET", payPath, nil).Expect(t, 200).JSON(t)
		if len(got["allocations"].([]any)) != 3 || norm(t, got["unapplied"]) != "0" {
			t.Errorf("get: %v", got)
		}
		if n := len(c.Do(t, "GET", "/v1/payments?customer_id="+rw.customer, nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 3 {
			t.Errorf("list: %d payments", n)
		}

		// Another company sees none of it.
		stranger := newCompanyCaller(t, rw.world)
		stranger.Do(t, "GET", payPath, nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "POST", payPath+"/refund", map[string]any{"amount": "1"}).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "GET", "/v1/customers/"+rw.customer+"/statement", nil).ExpectProblem(t, 404, apperr.NotFound)
		p2 := stranger.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "1", "allocations": []any{alloc(inv5, "1")}}).
			ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p2, "/customer_id")
		// Sales may read payments, not record them.
		sales := rw.s.As(t, []string{"sales"}, rw.company)
		sales.Do(t, "GET", payPath, nil).Expect(t, 200)
		sales.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "1"}).ExpectProblem(t, 403, apperr.Forbidden)
	})
}

// An order's payment status follows its invoices: partially paid while any
// is paid and the order is not fully invoiced or paid, paid when it is
// fully invoiced and every invoice is paid. (Invoicing sets
// invoicing_status; here the test does, through orders.Update.)
func TestPaymentsSetOrderPaymentStatus(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		rw := newReceivablesWorld(t, e)
		sh := newShop(t, stockWorldOn(t, rw.world))
		c := rw.admin
		o := sh.checkout(t, c, "shop-pay-1", cartLine("MUG-1", "2")).Expect(t, 201).JSON(t)
		order, customer := o["id"].(string), o["customer_id"].(string)
		i1 := rw.orderInvoice(t, customer, order, "EUR", "2026-06-01", "2026-06-15", "20.00")
		i2 := rw.orderInvoice(t, customer, order, "EUR", "2026-06-02", "2026-06-16", "10.00")
		status := func() string {
			return c.Do(t, "GET", "/v1/sales-orders/"+order, nil).Expect(t, 200).JSON(t)["payment_status"].(string)
		}
		c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": customer, "amount": "20", "date": "2026-06-03",
			"allocations": []any{alloc(i1, "20")}}).Expect(t, 201)
		if s := status(); s != "partially_paid" {
			t.Errorf("after one invoice: %s", s)
		}
		ctx := context.Background()
		if err := rw.s.App.DB().Transact(ctx, func(tx *db.Tx) error {
			_, err := orders.Update(ctx, tx, rw.company, order, func(o *orders.SalesOrder) error { o.InvoicingStatus = "invoiced"; return nil })
			return err
		}); err != nil {
			t.Fatal(err)
		}
		c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": customer, "amount": "10", "date": "2026-06-04",
			"allocations": []any{alloc(i2, "10")}}).Expect(t, 201)
		if s := status(); s != "paid" {
			t.Errorf("after both invoices: %s", s)
		}
	})
}

func TestForeignCurrencyCustomerPayment(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		rw := newReceivablesWorld(t, e)
		c := rw.admin
		us := c.Do(t, "POST", "/v1/customers", map[string]any{"name": "US Inc", "currency": "USD"}).Expect(t, 201).JSON(t)["id"].(string)
		for _, r := range [][2]string{{"2026-03-01", "1.1"}, {"2026-03-25", "1.05"}} {
			c.Do(t, "POST", "/v1/exchange-rates", map[string]any{"currency": "USD", "date": r[0], "rate": r[1]}).Expect(t, 201)
		}
		inv := rw.invoice(t, us, "USD", "2026-03-01", "2026-03-31", "100.00") // receivables EUR 110.00
		// USD 60 at the bank's 1.12: EUR 67.20 in, 66.00 off receivables, gain 1.20.
		p := c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": us, "amount": "60", "date": "2026-03-15", "rate": "1.12",
			"allocations": []any{alloc(inv, "60")}}).Expect(t, 201).JSON(t)
		if p["currency"] != "USD" {
			t.Errorf("currency %v", p["currency"])
		}
		if b := balanceOf(t, c, rw.gain, "2026-03-31"); b != "-1.2" {
			t.Errorf("gain %s", b)
		}
		if rw.paymentStatus(t, inv) != "partially_paid" {
			t.Errorf("status %s", rw.paymentStatus(t, inv))
		}
		// A EUR payment cannot pay it; USD 40 at the day's 1.05: loss 2.00.
		pr := c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": us, "amount": "40", "currency": "EUR", "allocations": []any{alloc(inv, "40")}}).
			ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, pr, "/allocations/0/invoice_id")
		c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": us, "amount": "40", "date": "2026-03-25",
			"allocations": []any{alloc(inv, "40")}}).Expect(t, 201)
		if b := balanceOf(t, c, rw.loss, "2026-03-31"); b != "2" {
			t.Errorf("loss %s", b)
		}
		if b := balanceOf(t, c, rw.ar, "2026-03-31"); b != "0" {
			t.Errorf("receivables %s", b)
		}
		if b := balanceOf(t, c, rw.bank, "2026-03-31"); b != "109.2" {
			t.Errorf("bank %s", b)
		}
		if rw.paymentStatus(t, inv) != "paid" {
			t.Errorf("status %s", rw.paymentStatus(t, inv))
		}
		// Unapplied USD credit at 1.05 applied to an invoice booked at 1.1:
		// the credit is worth 10.50, the invoice's 10 carried 11.00: loss 0.50.
		inv2 := rw.invoice(t, us, "USD", "2026-03-01", "2026-03-31", "10.00")
		credit := c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": us, "amount": "10", "date": "2026-03-25"}).Expect(t, 201).JSON(t)
		c.Do(t, "POST", "/v1/payments/"+credit["id"].(string)+"/apply", map[string]any{"date": "2026-03-26", "allocations": []any{alloc(inv2, "10")}}).Expect(t, 200)
		if b := balanceOf(t, c, rw.loss, "2026-03-31"); b != "2.5" {
			t.Errorf("loss after application %s", b)
		}
		if b := balanceOf(t, c, rw.ar, "2026-03-31"); b != "0" {
			t.Errorf("receivables after application %s", b)
		}
	})
}

func TestConcurrentPaymentsOfOneInvoicePostgres(t *testing.T) {
	rw := newReceivablesWorld(t, db.Postgres)
	inv := rw.invoice(t, rw.customer, "EUR", "2026-05-01", "2026-05-31", "100.00")
	var ok, conflict atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rw.admin.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "60", "date": "2026-05-02",
				"allocations": []any{alloc(inv, "60")}})
			switch r.Status {
			case 201:
				ok.Add(1)
			case 409:
				conflict.Add(1)
			default:
				t.Errorf("payment: %d %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != 3 {
		t.Fatalf("%d paid, %d refused", ok.Load(), conflict.Load())
	}
	if b := balanceOf(t, rw.admin, rw.ar, "2026-05-31"); b != "40" {
		t.Errorf("receivables %s", b)
	}
}

func agingRow(t *testing.T, aging map[string]any, customer string) map[string]string {
	t.Helper()
	for _, r := range aging["rows"].([]any) {
		if m := r.(map[string]any); m["customer_id"] == customer {
			out := map[string]string{}
			for _, k := range []string{"current", "days_1_30", "days_31_60", "days_61_90", "over_90", "total"} {
				out[k] = norm(t, m[k])
			}
			return out
		}
	}
	return nil
}

func TestReceivablesAgingAndStatement(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		rw := newReceivablesWorld(t, e)
		c := rw.admin
		// Due dates relative to 2026-06-30.
		a := rw.invoice(t, rw.customer, "EUR", "2026-06-01", "2026-07-10", "10.00") // current
		b := rw.invoice(t, rw.customer, "EUR", "2026-05-01", "2026-06-20", "20.00") // 10 days
		rw.invoice(t, rw.customer, "EUR", "2026-04-01", "2026-05-16", "30.00")      // 45 days
		rw.invoice(t, rw.customer, "EUR", "2026-03-01", "2026-04-16", "40.00")      // 75 days
		old := rw.invoice(t, rw.customer, "EUR", "2026-01-01", "2026-02-01", "50.00")
		c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "25", "date": "2026-06-05", "reference": "R1",
			"allocations": []any{alloc(b, "5")}}).Expect(t, 201) // 20 unapplied
		// Paid after the as-of date: still open in the report.
		c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "50", "date": "2026-07-02",
			"allocations": []any{alloc(old, "50")}}).Expect(t, 201)

		aging := c.Do(t, "GET", "/v1/reports/receivables-aging?as_of=2026-06-30", nil).Expect(t, 200).JSON(t)
		want := map[string]string{"current": "-10", "days_1_30": "15", "days_31_60": "30", "days_61_90": "40", "over_90": "50", "total": "125"}
		if got := agingRow(t, aging, rw.customer); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("aging %v, want %v", got, want)
		}
		if tot := aging["totals"].([]any); len(tot) != 1 || norm(t, tot[0].(map[string]any)["total"]) != "125" {
			t.Errorf("totals %v", tot)
		}
		later := c.Do(t, "GET", "/v1/reports/receivables-aging?as_of=2026-07-31", nil).Expect(t, 200).JSON(t)
		if got := agingRow(t, later, rw.customer); got["over_90"] != "40" || got["total"] != "75" || got["days_1_30"] != "10" {
			t.Errorf("aging in July %v", got)
		}
		c.Do(t, "GET", "/v1/reports/receivables-aging?as_of=June", nil).ExpectProblem(t, 400, apperr.BadRequest)

		// Statement for June: opening = the four earlier invoices.
		st := c.Do(t, "GET", "/v1/customers/"+rw.customer+"/statement?from=2026-06-01&to=2026-06-30", nil).Expect(t, 200).JSON(t)
		cur := st["currencies"].([]any)[0].(map[string]any)
		if norm(t, cur["opening_balance"]) != "140" || norm(t, cur["closing_balance"]) != "125" {
			t.Errorf("statement balances %v", cur)
		}
		var trail []string
		for _, l := range cur["lines"].([]any) {
			m := l.(map[string]any)
			trail = append(trail, fmt.Sprintf("%s %s %s %s", m["date"], m["type"], norm(t, m["amount"]), norm(t, m["balance"])))
		}
		if fmt.Sprint(trail) != "[2026-06-01 invoice 10 150 2026-06-05 payment -25 125]" {
			t.Errorf("statement lines %v", trail)
		}
		_ = a
		c.Do(t, "GET", "/v1/customers/"+rw.customer+"/statement?from=2026-07-01&to=2026-06-30", nil).ExpectProblem(t, 422, apperr.Invalid)
		c.Do(t, "GET", "/v1/customers/cus_nope/statement", nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

func TestDunningLevels(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		rw := newReceivablesWorld(t, e)
		c := rw.admin
		late := rw.invoice(t, rw.customer, "EUR", "2026-01-01", "2026-01-10", "70.00")
		paid := rw.invoice(t, rw.customer, "EUR", "2026-01-01", "2026-01-10", "30.00")
		c.Do(t, "POST", "/v1/payments", map[string]any{"customer_id": rw.customer, "amount": "30", "date": "2026-01-05",
			"allocations": []any{alloc(paid, "30")}}).Expect(t, 201)
		run := func(asOf string) []string {
			t.Helper()
			r := c.Do(t, "POST", "/v1/dunning-runs", map[string]any{"as_of": asOf}).Expect(t, 201).JSON(t)
			var out []string
			for _, n := range r["notices"].([]any) {
				m := n.(map[string]any)
				if m["invoice_id"] != late {
					t.Errorf("notice for %v", m["invoice_id"])
				}
				out = append(out, fmt.Sprintf("L%v/%vd", m["level"], m["days_overdue"]))
			}
			got := c.Do(t, "GET", "/v1/dunning-runs/"+r["id"].(string), nil).Expect(t, 200).JSON(t)
			if len(got["notices"].([]any)) != len(out) {
				t.Errorf("run %s reads back %v", asOf, got)
			}
			return out
		}
		steps := []struct{ asOf, want string }{
			{"2026-01-10", "[]"},       // due today
			{"2026-01-11", "[L1/1d]"},  // first notice
			{"2026-01-15", "[]"},       // within 7 days
			{"2026-01-25", "[L2/15d]"}, // 15 days after a level 1
			{"2026-01-31", "[]"},       // quiet
			{"2026-02-01", "[L2/22d]"}, // not yet 30 days: level 2 again
			{"2026-02-09", "[L3/30d]"}, // 30 days after a level 2
			{"2026-02-20", "[L3/41d]"}, // stays at 3
		}
		for _, s := range steps {
			if got := fmt.Sprint(run(s.asOf)); got != s.want {
				t.Errorf("run as of %s: %s, want %s", s.asOf, got, s.want)
			}
		}
		// Every run is listed, oldest first, page by page.
		first := c.Do(t, "GET", "/v1/dunning-runs?page_size=5", nil).Expect(t, 200).JSON(t)
		second := c.Do(t, "GET", "/v1/dunning-runs?page_size=5&page_token="+url.QueryEscape(first["next_page_token"].(string)), nil).Expect(t, 200).JSON(t)
		if n := len(first["data"].([]any)) + len(second["data"].([]any)); n != len(steps) || second["next_page_token"] != "" {
			t.Errorf("listed %d runs, want %d", n, len(steps))
		}
		stranger := newCompanyCaller(t, rw.world)
		stranger.Do(t, "GET", "/v1/dunning-runs/dun_nope", nil).ExpectProblem(t, 404, apperr.NotFound)
		if n := len(stranger.Do(t, "GET", "/v1/dunning-runs", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 0 {
			t.Errorf("another company lists %d dunning runs", n)
		}
	})
}

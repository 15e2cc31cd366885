package app_test

import (
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// runWorld is the payables world with bank accounts: the company pays
// from a German account and needs two approvers; Widgets AG (2 % in 10)
// has an IBAN and BIC, Gadgets SARL an IBAN only.
type runWorld struct {
	*payablesWorld
	other, expense string
	approver       *apitest.Caller
}

func newRunWorld(t *testing.T, e db.Engine) *runWorld {
	t.Helper()
	p := newPayablesWorld(t, e)
	c := p.admin
	co := c.Do(t, "GET", "/v1/companies/"+p.company, nil).Expect(t, 200)
	c.Do(t, "PATCH", "/v1/companies/"+p.company, map[string]any{"payment_runs_need_second_approver": true,
		"bank_account": map[string]any{"iban": "DE89370400440532013000", "bic": "COBADEFFXXX", "holder": "Acme GmbH"}},
		"Content-Type", "application/merge-patch+json", "If-Match", co.Header.Get("ETag")).Expect(t, 200)
	sup := c.Do(t, "GET", "/v1/suppliers/"+p.supplier, nil).Expect(t, 200)
	c.Do(t, "PATCH", "/v1/suppliers/"+p.supplier, map[string]any{"bank_accounts": []any{
		map[string]any{"holder": "Widgets AG", "iban": "DE02120300000000202051", "bic": "BYLADEM1001"}}},
		"Content-Type", "application/merge-patch+json", "If-Match", sup.Header.Get("ETag")).Expect(t, 200)
	terms := sup.JSON(t)["payment_terms_id"]
	other := c.Do(t, "POST", "/v1/suppliers", map[string]any{"name": "Gadgets SARL", "currency": "EUR", "payment_terms_id": terms,
		"bank_accounts": []any{map[string]any{"holder": "Gadgets SARL", "iban": "FR1420041010050500013M02606"}}}).Expect(t, 201).JSON(t)["id"].(string)
	return &runWorld{payablesWorld: p, other: other, expense: accountByCode(t, c, "5100"), approver: p.s.As(t, []string{"finance"}, p.company)}
}

// serviceBill posts a standalone bill of one service line at 19 %.
func (w *runWorld) serviceBill(t *testing.T, supplier, ref, date, price string) string {
	t.Helper()
	return w.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": supplier, "supplier_reference": ref, "bill_date": date, "post": true,
		"lines": []any{map[string]any{"account_id": w.expense, "description": "Service " + ref, "quantity": "1", "unit_price": price, "tax_category_id": w.std}}}).
		Expect(t, 201).JSON(t)["id"].(string)
}

// xmllint validates a file against the SEPA schema copied into the
// package's test data.
func xmllint(t *testing.T, xml []byte) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xmllint is missing (Debian: apt-get install libxml2-utils); CI must validate pain.001 files")
		}
		t.Skip("xmllint not installed (Debian package libxml2-utils): pain.001 schema validation skipped")
	}
	f := filepath.Join(t.TempDir(), "pain.001.xml")
	if err := os.WriteFile(f, xml, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--noout", "--schema", "../finance/paymentruns/testdata/pain.001.001.09.xsd", f).CombinedOutput()
	if err != nil {
		t.Fatalf("pain.001 does not validate: %v\n%s\n%s", err, out, xml)
	}
}

// A run proposes the due bills and one in its discount period, leaves out
// a mismatched and a future bill, needs a second approver, pays each
// supplier once and produces a pain.001 that the SEPA schema accepts.
func TestPaymentRunLifecycle(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newRunWorld(t, e)
		due := w.serviceBill(t, w.supplier, "W-1", "2026-05-10", "50")   // due 06-09: 59.50
		early := w.serviceBill(t, w.supplier, "W-2", "2026-06-15", "20") // due 07-15, discount until 06-25: 23.80 less 2 %
		gadget := w.serviceBill(t, w.other, "G-1", "2026-05-12", "20")   // due 06-11: 23.80
		future := w.serviceBill(t, w.other, "G-2", "2026-06-05", "10")   // due 07-05, discount ended 06-15
		po := w.receivedOrder(t, "10", "5.00", "10")
		blocked := w.buyer.Do(t, "POST", "/v1/bills", map[string]any{"supplier_id": w.supplier, "supplier_reference": "W-3", "bill_date": "2026-05-10",
			"purchase_order_id": po, "post": true, "lines": []any{billLine(1, "10", "5.50")}}).Expect(t, 201).JSON(t)["id"].(string)
		bank0, revenue0 := w.balance(t, "1000"), w.balance(t, "4000")
		if g := w.balance(t, "2000"); g != "-184.45" {
			t.Fatalf("payables before the run %s", g)
		}

		// Files and approval rules are checked before anything is paid.
		w.finance.Do(t, "POST", "/v1/payment-runs", map[string]any{"payment_date": "2026-06-20"}).ExpectProblem(t, 422, apperr.Invalid)
		run := w.finance.Do(t, "POST", "/v1/payment-runs", map[string]any{"payment_date": "2026-06-20", "due_before": "2026-06-20", "currency": "EUR",
			"take_discounts": true}).Expect(t, 201).JSON(t)
		id := run["id"].(string)
		wantBill(t, "run", run, map[string]string{"status": "proposed", "total": "106.62", "discount_total": "0.48", "item_count": "3", "currency": "EUR"})
		items := map[string]map[string]any{}
		for _, it := range run["items"].([]any) {
			m := it.(map[string]any)
			items[m["bill_id"].(string)] = m
		}
		wantBill(t, "due item", items[due], map[string]string{"amount": "59.5", "discount_taken": "0", "supplier_id": w.supplier})
		wantBill(t, "early item", items[early], map[string]string{"amount": "23.32", "discount_taken": "0.48", "open_amount": "23.8"})
		wantBill(t, "gadget item", items[gadget], map[string]string{"amount": "23.8", "supplier_id": w.other})
		skipped := map[string]string{}
		for _, s := range run["skipped"].([]any) {
			m := s.(map[string]any)
			skipped[m["bill_id"].(string)] = m["reason"].(string)
		}
		if len(items) != 3 || !strings.Contains(skipped[blocked], "approve") || !strings.Contains(skipped[future], "due 2026-07-05") {
			t.Errorf("items %v skipped %v", items, skipped)
		}
		if run["proposed_by"] == "" || run["proposed_by"] == nil {
			t.Errorf("proposed_by %v", run)
		}
		w.admin.Do(t, "GET", "/v1/payment-runs/"+id+"/pain.001", nil).ExpectProblem(t, 409, apperr.Conflict)
		w.finance.Do(t, "POST", "/v1/payment-runs/"+id+"/execute", nil).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, w.finance.Do(t, "POST", "/v1/payment-runs/"+id+"/approve", nil).ExpectProblem(t, 409, apperr.Conflict), "/approved_by")
		ok := w.approver.Do(t, "POST", "/v1/payment-runs/"+id+"/approve", nil).Expect(t, 200).JSON(t)
		if ok["status"] != "approved" || ok["approved_by"] == run["proposed_by"] || ok["approved_by"] == nil {
			t.Errorf("approved %v", ok)
		}
		again := w.approver.Do(t, "POST", "/v1/payment-runs/"+id+"/approve", nil).Expect(t, 200).JSON(t)
		if again["approved_at"] != ok["approved_at"] {
			t.Errorf("approving twice changed the run: %v", again)
		}
		w.admin.Do(t, "GET", "/v1/payment-runs/"+id+"/csv", nil).ExpectProblem(t, 409, apperr.Conflict)

		done := w.finance.Do(t, "POST", "/v1/payment-runs/"+id+"/execute", nil).Expect(t, 200).JSON(t)
		if done["status"] != "executed" || len(done["payments"].([]any)) != 2 || done["executed_at"] == nil {
			t.Fatalf("executed %v", done)
		}
		twice := w.finance.Do(t, "POST", "/v1/payment-runs/"+id+"/execute", nil).Expect(t, 200).JSON(t)
		if fmt.Sprint(twice["payments"]) != fmt.Sprint(done["payments"]) || twice["executed_at"] != done["executed_at"] {
			t.Errorf("second execute %v, first %v", twice, done)
		}
		for _, b := range []string{due, early, gadget} {
			wantBill(t, "paid bill", w.admin.Do(t, "GET", "/v1/bills/"+b, nil).Expect(t, 200).JSON(t), map[string]string{"payment_status": "paid", "open_amount": "0"})
		}
		wantBill(t, "future bill", w.admin.Do(t, "GET", "/v1/bills/"+future, nil).Expect(t, 200).JSON(t), map[string]string{"payment_status": "unpaid"})
		// Payables lose the three bills in full (discount included); the
		// bank pays 106.62; the 0.48 discount is income.
		if g := w.balance(t, "2000"); g != "-77.35" {
			t.Errorf("payables after the run %s, want -77.35", g)
		}
		if g := w.balance(t, "1000"); !decEqual(t, g, decSub(t, bank0, "106.62")) {
			t.Errorf("bank after the run %s, before %s", g, bank0)
		}
		if g := w.balance(t, "4000"); !decEqual(t, g, decSub(t, revenue0, "0.48")) {
			t.Errorf("revenue (discounts) after the run %s, before %s", g, revenue0)
		}
		for _, p := range done["payments"].([]any) {
			pay := p.(map[string]any)
			got := w.admin.Do(t, "GET", "/v1/payments/"+pay["payment_id"].(string), nil).Expect(t, 200).JSON(t)
			if got["direction"] != "outgoing" || got["customer_id"] != pay["supplier_id"] {
				t.Errorf("payment %v", got)
			}
		}

		xmlResp := w.admin.Do(t, "GET", "/v1/payment-runs/"+id+"/pain.001", nil).Expect(t, 200)
		if ct := xmlResp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
			t.Errorf("content type %s", ct)
		}
		body := string(xmlResp.Body)
		for _, want := range []string{"<MsgId>" + id + "</MsgId>", "<NbOfTxs>2</NbOfTxs>", "<CtrlSum>106.62</CtrlSum>", "<Nm>Acme GmbH</Nm>",
			"<IBAN>DE89370400440532013000</IBAN>", "<BICFI>COBADEFFXXX</BICFI>", "<Dt>2026-06-20</Dt>", `<InstdAmt Ccy="EUR">82.82</InstdAmt>`,
			`<InstdAmt Ccy="EUR">23.80</InstdAmt>`, "<IBAN>FR1420041010050500013M02606</IBAN>", "<BICFI>BYLADEM1001</BICFI>", "<Ustrd>W-1, W-2</Ustrd>",
			"<ChrgBr>SLEV</ChrgBr>"} {
			if !strings.Contains(body, want) {
				t.Errorf("pain.001 lacks %s:\n%s", want, body)
			}
		}
		xmllint(t, xmlResp.Body)

		csvResp := w.approver.Do(t, "GET", "/v1/payment-runs/"+id+"/csv", nil).Expect(t, 200)
		rows, err := csv.NewReader(strings.NewReader(string(csvResp.Body))).ReadAll()
		if err != nil || len(rows) != 3 || rows[0][2] != "iban" {
			t.Fatalf("csv %v %v", rows, err)
		}
		lines := map[string][]string{}
		for _, r := range rows[1:] {
			lines[r[0]] = r
		}
		if l := lines[w.supplier]; len(l) < 7 || l[2] != "DE02120300000000202051" || l[3] != "BYLADEM1001" || l[4] != "82.82" || l[5] != "EUR" || l[6] != "W-1, W-2" {
			t.Errorf("widgets line %v", l)
		}
		if l := lines[w.other]; len(l) < 7 || l[2] != "FR1420041010050500013M02606" || l[3] != "" || l[4] != "23.80" || l[6] != "G-1" {
			t.Errorf("gadgets line %v", l)
		}

		// Bank files carry bank accounts: partners:sensitive is needed.
		w.s.As(t, []string{"readonly"}, w.company).Do(t, "GET", "/v1/payment-runs/"+id+"/pain.001", nil).ExpectProblem(t, 403, apperr.Forbidden)
		list := w.approver.Do(t, "GET", "/v1/payment-runs?status=executed", nil).Expect(t, 200).JSON(t)
		if n := len(list["data"].([]any)); n != 1 {
			t.Errorf("executed runs %d", n)
		}

		root := w.s.As(t, []string{"admin"})
		otherCo := root.Do(t, "POST", "/v1/companies", map[string]any{"legal_name": "Other GmbH", "base_currency": "EUR", "time_zone": "Europe/Berlin"}).
			Expect(t, 201).JSON(t)["id"].(string)
		stranger := w.s.As(t, []string{"admin"}, otherCo)
		for _, path := range []string{"", "/pain.001", "/csv"} {
			stranger.Do(t, "GET", "/v1/payment-runs/"+id+path, nil).ExpectProblem(t, 404, apperr.NotFound)
		}
		stranger.Do(t, "POST", "/v1/payment-runs/"+id+"/approve", nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "POST", "/v1/payment-runs/"+id+"/execute", nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// A supplier without an IBAN refuses the execution, naming the supplier,
// before anything is paid.
func TestPaymentRunSupplierWithoutIBAN(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newRunWorld(t, e)
		bare := w.admin.Do(t, "POST", "/v1/suppliers", map[string]any{"name": "Cash Only Ltd", "currency": "EUR"}).Expect(t, 201).JSON(t)["id"].(string)
		bill := w.serviceBill(t, bare, "C-1", "2026-05-10", "10")
		run := w.finance.Do(t, "POST", "/v1/payment-runs", map[string]any{"payment_date": "2026-06-20", "currency": "EUR", "supplier_id": bare}).
			Expect(t, 201).JSON(t)
		id := run["id"].(string)
		w.approver.Do(t, "POST", "/v1/payment-runs/"+id+"/approve", nil).Expect(t, 200)
		prob := w.finance.Do(t, "POST", "/v1/payment-runs/"+id+"/execute", nil).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, prob, "/items/0/supplier_id")
		if !strings.Contains(fmt.Sprint(prob.Errors), "Cash Only Ltd") {
			t.Errorf("problem does not name the supplier: %v", prob)
		}
		wantBill(t, "bill", w.admin.Do(t, "GET", "/v1/bills/"+bill, nil).Expect(t, 200).JSON(t), map[string]string{"payment_status": "unpaid"})
		wantBill(t, "run", w.admin.Do(t, "GET", "/v1/payment-runs/"+id, nil).Expect(t, 200).JSON(t), map[string]string{"status": "approved"})
		// The stuck run is cancelled: once, then it can neither be approved
		// nor executed; an executed run cannot be cancelled.
		if got := w.finance.Do(t, "POST", "/v1/payment-runs/"+id+"/cancel", nil).Expect(t, 200).JSON(t); got["status"] != "cancelled" {
			t.Fatalf("cancelled run %v", got)
		}
		w.finance.Do(t, "POST", "/v1/payment-runs/"+id+"/cancel", nil).Expect(t, 200)
		w.approver.Do(t, "POST", "/v1/payment-runs/"+id+"/approve", nil).ExpectProblem(t, 409, apperr.Conflict)
		w.finance.Do(t, "POST", "/v1/payment-runs/"+id+"/execute", nil).ExpectProblem(t, 409, apperr.Conflict)
		w.serviceBill(t, w.supplier, "C-2", "2026-05-10", "10")
		paid := w.finance.Do(t, "POST", "/v1/payment-runs", map[string]any{"payment_date": "2026-06-20", "currency": "EUR", "supplier_id": w.supplier}).
			Expect(t, 201).JSON(t)["id"].(string)
		w.approver.Do(t, "POST", "/v1/payment-runs/"+paid+"/approve", nil).Expect(t, 200)
		w.finance.Do(t, "POST", "/v1/payment-runs/"+paid+"/execute", nil).Expect(t, 200)
		w.finance.Do(t, "POST", "/v1/payment-runs/"+paid+"/cancel", nil).ExpectProblem(t, 409, apperr.Conflict)
		newCompanyCaller(t, w.world).Do(t, "POST", "/v1/payment-runs/"+id+"/cancel", nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// A run of more than 50 bills is executed as a long-running operation:
// 202 with the operation, whose result is the executed run.
func TestPaymentRunLargeIsAnOperation(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newRunWorld(t, e)
		for i := 0; i < 51; i++ {
			w.serviceBill(t, w.other, fmt.Sprintf("L-%02d", i), "2026-05-10", "1")
		}
		run := w.finance.Do(t, "POST", "/v1/payment-runs", map[string]any{"payment_date": "2026-06-20", "currency": "EUR"}).Expect(t, 201).JSON(t)
		id := run["id"].(string)
		wantBill(t, "run", run, map[string]string{"item_count": "51", "total": "60.69"})
		w.approver.Do(t, "POST", "/v1/payment-runs/"+id+"/approve", nil).Expect(t, 200)
		resp := w.finance.Do(t, "POST", "/v1/payment-runs/"+id+"/execute", nil).Expect(t, 202)
		op := resp.JSON(t)
		if op["status"] != "succeeded" || op["done"] != true || resp.Header.Get("Location") != "/v1/operations/"+op["id"].(string) {
			t.Fatalf("operation %v", op)
		}
		polled := w.finance.Do(t, "GET", "/v1/operations/"+op["id"].(string), nil).Expect(t, 200).JSON(t)
		result, _ := polled["result"].(map[string]any)
		if result["status"] != "executed" || result["operation_id"] != op["id"] {
			t.Errorf("operation result %v", polled)
		}
		got := w.finance.Do(t, "POST", "/v1/payment-runs/"+id+"/execute", nil).Expect(t, 200).JSON(t)
		if got["status"] != "executed" || len(got["payments"].([]any)) != 1 {
			t.Errorf("second execute %v", got)
		}
		xmllint(t, w.admin.Do(t, "GET", "/v1/payment-runs/"+id+"/pain.001", nil).Expect(t, 200).Body)
	})
}

func decSub(t *testing.T, a, b string) string {
	t.Helper()
	x, err := money.Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	return x.Sub(money.MustParse(b)).String()
}

func decEqual(t *testing.T, a, b string) bool {
	t.Helper()
	x, err1 := money.Parse(a)
	y, err2 := money.Parse(b)
	return err1 == nil && err2 == nil && x.Equal(y)
}

package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mainstay-erp/mainstay/internal/automation"
	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/clock"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// postInbound sends a notification to an inbound hook as an outside
// system would: no token, a Standard Webhooks signature.
func postInbound(t *testing.T, base, hook, secret, msgID string, at time.Time, body map[string]any) *http.Response {
	t.Helper()
	raw, _ := json.Marshal(body)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := wh.Sign(msgID, at, raw)
	req, _ := http.NewRequest("POST", base+"/v1/inbound/"+hook, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", fmt.Sprint(at.Unix()))
	req.Header.Set("webhook-signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func waitRuns(t *testing.T, c *apitest.Caller, rule string, cond func([]any) bool) []any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		runs := c.Do(t, "GET", "/v1/automations/"+rule+"/runs", nil).Expect(t, 200).JSON(t)["data"].([]any)
		if cond(runs) {
			return runs
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs of %s: %v", rule, runs)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// The documented example, end to end: a payment provider's signed
// "payment succeeded" notification → the payment is recorded and applied
// to the invoice it names → the invoice's paid event goes out by webhook.
// The provider's retry of the same notification changes nothing.
func TestInboundPaymentPaysInvoiceAndNotifies(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		sh := newShop(t, stockWorldOn(t, setupWorld(t, eventsServer(t, e))))
		c := sh.admin
		order := sh.checkout(t, c, "auto-1", cartLine("MUG-1", "2")).Expect(t, 201).JSON(t)["id"].(string)
		ship(t, c, order)
		inv := invoicesOf(t, c, order)[0]
		invID, gross := inv["id"].(string), inv["gross_total"].(string)

		rc := newReceiver(t)
		subscribe(t, c, rc.srv.URL, "mainstay.sales.invoice.paid")
		hook := c.Do(t, "POST", "/v1/inbound-hooks", map[string]any{"name": "PSP", "verification": map[string]any{
			"scheme": "standard_webhooks", "idempotency_pointer": "/id"}}).Expect(t, 201).JSON(t)
		hookID, secret := hook["id"].(string), hook["secret"].(string)
		rule := c.Do(t, "POST", "/v1/automations", map[string]any{"name": "Apply provider payments",
			"trigger":   map[string]any{"kind": "inbound", "hook_id": hookID},
			"condition": `data.payload.type = "payment.succeeded"`,
			"actions": []any{map[string]any{"type": "apply_payment", "params": map[string]any{
				"invoice_id": "{{/data/payload/data/invoice_id}}", "amount": "{{/data/payload/data/amount}}",
				"external_id": "{{/data/payload/data/id}}", "reference": "PSP {{/data/payload/data/id}}"}}},
		}).Expect(t, 201).JSON(t)["id"].(string)

		note := map[string]any{"id": "evt_psp_1", "type": "payment.succeeded", "data": map[string]any{"id": "pi_1", "invoice_id": invID, "amount": gross}}
		if r := postInbound(t, sh.s.URL, hookID, secret, "msg_1", time.Now(), note); r.StatusCode != 202 {
			t.Fatalf("notification: %d", r.StatusCode)
		}
		got := rc.waitFor(t, "invoice.paid", func(d []delivered) bool { return len(d) == 1 })
		if got[0].event["subject"] != invID || got[0].event["data"].(map[string]any)["payment_status"] != "paid" {
			t.Fatalf("paid event %v", got[0].event)
		}
		// The provider retries (same id, new signature): accepted, nothing new.
		if r := postInbound(t, sh.s.URL, hookID, secret, "msg_1b", time.Now(), note); r.StatusCode != 200 {
			t.Fatalf("retried notification: %d", r.StatusCode)
		}
		runs := waitRuns(t, c, rule, func(r []any) bool { return len(r) == 1 && r[0].(map[string]any)["status"] == "succeeded" })
		step := runs[0].(map[string]any)["steps"].([]any)[0].(map[string]any)
		pay := step["output"].(map[string]any)
		if pay["external_id"] != "pi_1" || norm(t, pay["amount"]) != norm(t, gross) {
			t.Fatalf("payment %v", pay)
		}
		if n := len(c.Do(t, "GET", "/v1/payments", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 1 {
			t.Fatalf("%d payments", n)
		}
		// Forged, stale and unknown notifications are refused.
		if r := postInbound(t, sh.s.URL, hookID, "whsec_"+strings.Repeat("A", 43)+"=", "msg_2", time.Now(), note); r.StatusCode != 401 {
			t.Fatalf("forged: %d", r.StatusCode)
		}
		if r := postInbound(t, sh.s.URL, hookID, secret, "msg_3", time.Now().Add(-time.Hour), note); r.StatusCode != 401 {
			t.Fatalf("stale: %d", r.StatusCode)
		}
		if r := postInbound(t, sh.s.URL, "ih_nope", secret, "msg_4", time.Now(), note); r.StatusCode != 404 {
			t.Fatalf("unknown hook: %d", r.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(rc.all()); n != 1 {
			t.Fatalf("%d paid events after retries and forgeries", n)
		}
		// create_invoice calls POST /v1/invoices for the order: this one
		// invoiced itself when it shipped, so a dry run reports the 409.
		inv2 := c.Do(t, "POST", "/v1/automations", map[string]any{"name": "invoice on ship",
			"trigger": map[string]any{"kind": "event", "event_types": []any{"mainstay.sales.shipment.shipped"}},
			"actions": []any{map[string]any{"type": "create_invoice", "params": map[string]any{"sales_order_id": "{{/data/sales_order_id}}"}}},
		}).Expect(t, 201).JSON(t)["id"].(string)
		dry := c.Do(t, "POST", "/v1/automations/"+inv2+"/test", map[string]any{"event": map[string]any{"data": map[string]any{"sales_order_id": order}}}).
			Expect(t, 200).JSON(t)
		if dry["status"] != "failed" || !strings.Contains(dry["error"].(string), "409") {
			t.Fatalf("create_invoice on an invoiced order: %v", dry)
		}
	})
}

// A schedule fires in the company's time zone, driven by an injectable
// clock: a payment run is proposed for the bills due, once per scheduled
// time even with two engines.
func TestScheduledPaymentRun(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newRunWorld(t, e)
		w.serviceBill(t, w.supplier, "S-1", "2026-11-02", "100.00")
		c := w.admin
		rule := c.Do(t, "POST", "/v1/automations", map[string]any{"name": "Friday payment run",
			"trigger": map[string]any{"kind": "schedule", "cron": "0 6 * * 5"},
			"actions": []any{map[string]any{"type": "start_payment_run", "params": map[string]any{
				"payment_date": "{{/today}}", "due_before": "2027-12-31", "currency": "EUR"}}},
		}).Expect(t, 201).JSON(t)
		next, _ := time.Parse(time.RFC3339, rule["next_run_at"].(string))
		// Berlin is UTC+1 in winter: 06:00 local is 05:00 UTC, on a Friday.
		if next.Weekday() != time.Friday || next.Hour() != 5 || next.Minute() != 0 {
			t.Fatalf("next run %v", next)
		}
		clk := clock.NewManual(next.Add(-time.Minute))
		engines := []*automation.Engine{
			{DB: w.s.App.DB(), API: w.s.App.API(), Clock: clk},
			{DB: w.s.App.DB(), API: w.s.App.API(), Clock: clk},
		}
		ctx := context.Background()
		for _, en := range engines {
			if _, err := en.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if runs := c.Do(t, "GET", "/v1/automations/"+rule["id"].(string)+"/runs", nil).Expect(t, 200).JSON(t)["data"].([]any); len(runs) != 0 {
			t.Fatalf("ran before its time: %v", runs)
		}
		clk.Advance(2 * time.Minute)
		for _, en := range engines {
			if _, err := en.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
		runs := waitRuns(t, c, rule["id"].(string), func(r []any) bool { return len(r) == 1 && r[0].(map[string]any)["status"] != "pending" })
		run := runs[0].(map[string]any)
		if run["status"] != "succeeded" {
			t.Fatalf("run %v", run)
		}
		pr := run["steps"].([]any)[0].(map[string]any)["output"].(map[string]any)
		if pr["status"] != "proposed" || pr["payment_date"] != next.In(mustZone(t, "Europe/Berlin")).Format(time.DateOnly) || len(pr["items"].([]any)) != 1 {
			t.Fatalf("payment run %v", pr)
		}
		after := c.Do(t, "GET", "/v1/automations/"+rule["id"].(string), nil).Expect(t, 200).JSON(t)
		if n, _ := time.Parse(time.RFC3339, after["next_run_at"].(string)); !n.Equal(next.Add(7 * 24 * time.Hour)) {
			t.Fatalf("next run after firing %v", after["next_run_at"])
		}
	})
}

func mustZone(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Rules are checked when saved, can be dry-run without writing, run once
// per event, skip when their condition is false, stop chains at the depth
// limit, and fail clearly — without escalating — once their creator lost
// a scope.
func TestAutomationRules(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newEventWorld(t, e)
		c := w.admin
		p := c.Do(t, "POST", "/v1/automations", map[string]any{"name": "bad", "trigger": map[string]any{"kind": "event", "event_types": []any{"mainstay.nope.*"}},
			"condition": "data.x = ", "actions": []any{map[string]any{"type": "launch_rocket", "params": map[string]any{}},
				map[string]any{"type": "post_journal_entry", "params": map[string]any{"colour": "red"}}}}).ExpectProblem(t, 422, apperr.Invalid)
		for _, ptr := range []string{"/trigger/event_types/0", "/condition", "/actions/0/type", "/actions/1/params/lines", "/actions/1/params/colour"} {
			if !apitest.HasPointer(p, ptr) {
				t.Errorf("no error at %s: %+v", ptr, p.Errors)
			}
		}
		sales := w.s.As(t, []string{"sales"}, w.company)
		sales.Do(t, "GET", "/v1/automations", nil).ExpectProblem(t, 403, apperr.Forbidden)
		types := c.Do(t, "GET", "/v1/automations/action-types", nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(types) != 7 || types[0].(map[string]any)["params_schema"].(map[string]any)["properties"] == nil {
			t.Fatalf("action types %v", types)
		}

		// A journal entry from each large enough product's price, by a
		// client holding exactly what the rule needs.
		role := auth.Role{Name: "bookkeeper-bot", Scopes: []string{"automation:read", "automation:write", "ledger:read", "ledger:write", "catalog:read"}}
		if _, err := auth.CreateRole(context.Background(), w.s.App.DB(), role); err != nil {
			t.Fatal(err)
		}
		bot := w.s.As(t, []string{"bookkeeper-bot"}, w.company)
		rule := bot.Do(t, "POST", "/v1/automations", map[string]any{"name": "book price",
			"trigger":   map[string]any{"kind": "event", "event_types": []any{"mainstay.catalog.product.created"}},
			"condition": `data.list_price >= "10"`,
			"actions": []any{map[string]any{"type": "post_journal_entry", "params": map[string]any{"memo": "price of {{/data/sku}}",
				"lines": []any{map[string]any{"account_code": "1000", "debit": "{{/data/list_price}}"}, map[string]any{"account_code": "4000", "credit": "{{/data/list_price}}"}}}}},
		}).Expect(t, 201).JSON(t)["id"].(string)
		sample := map[string]any{"type": "mainstay.catalog.product.created", "data": map[string]any{"sku": "DRY", "list_price": "12.50"}}
		dry := bot.Do(t, "POST", "/v1/automations/"+rule+"/test", map[string]any{"event": sample}).Expect(t, 200).JSON(t)
		entry := dry["steps"].([]any)[0].(map[string]any)["output"].(map[string]any)
		if dry["status"] != "succeeded" || entry["memo"] != "price of DRY" {
			t.Fatalf("dry run %v", dry)
		}
		if n := len(c.Do(t, "GET", "/v1/journal-entries", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 0 {
			t.Fatalf("a dry run wrote %d entries", n)
		}
		w.product(t, "CHEAP", "5.00")
		w.product(t, "DEAR", "25.00")
		runs := waitRuns(t, c, rule, func(r []any) bool {
			done := 0
			for _, x := range r {
				if x.(map[string]any)["status"] != "pending" {
					done++
				}
			}
			return done == 2
		})
		statuses := map[string]int{}
		for _, x := range runs {
			statuses[x.(map[string]any)["status"].(string)]++
		}
		if statuses["succeeded"] != 1 || statuses["skipped"] != 1 {
			t.Fatalf("runs %v", runs)
		}
		entries := c.Do(t, "GET", "/v1/journal-entries", nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(entries) != 1 || entries[0].(map[string]any)["memo"] != "price of DEAR" {
			t.Fatalf("entries %v", entries)
		}
		// A redelivered event never runs the rule twice.
		if _, err := w.s.App.DB().ExecContext(context.Background(), "UPDATE automation_rules SET cursor_seq = 0 WHERE id = $1", rule); err != nil {
			t.Fatal(err)
		}
		w.product(t, "MARK", "1.00")
		waitRuns(t, c, rule, func(r []any) bool { return len(r) == 3 })
		time.Sleep(200 * time.Millisecond)
		if n := len(c.Do(t, "GET", "/v1/automations/"+rule+"/runs", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 3 {
			t.Fatalf("%d runs after a replay of the feed, want 3", n)
		}

		// The creator loses ledger:write: the next run fails naming it.
		role.Scopes = []string{"automation:read", "automation:write", "ledger:read", "catalog:read"}
		if _, err := auth.UpdateRole(context.Background(), w.s.App.DB(), role); err != nil {
			t.Fatal(err)
		}
		w.product(t, "DEARER", "30.00")
		runs = waitRuns(t, c, rule, func(r []any) bool { return len(r) == 4 && r[0].(map[string]any)["status"] == "failed" })
		if msg := runs[0].(map[string]any)["error"].(string); !strings.Contains(msg, "ledger:write") {
			t.Fatalf("failure does not name the lost scope: %s", msg)
		}
		if n := len(c.Do(t, "GET", "/v1/journal-entries", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 1 {
			t.Fatalf("%d entries after the scope was lost", n)
		}

		// A rule that re-triggers itself stops at the depth limit.
		loop := c.Do(t, "POST", "/v1/automations", map[string]any{"name": "echo",
			"trigger": map[string]any{"kind": "event", "event_types": []any{"mainstay.automation.custom_event.emitted"}},
			"actions": []any{map[string]any{"type": "emit_event", "params": map[string]any{"name": "echo"}}},
		}).Expect(t, 201).JSON(t)["id"].(string)
		seed := c.Do(t, "POST", "/v1/automations", map[string]any{"name": "seed",
			"trigger": map[string]any{"kind": "event", "event_types": []any{"mainstay.catalog.product.created"}},
			"actions": []any{map[string]any{"type": "emit_event", "params": map[string]any{"name": "start"}}},
		}).Expect(t, 201).JSON(t)["id"].(string)
		w.product(t, "LOOP", "1.00")
		waitRuns(t, c, loop, func(r []any) bool { return len(r) > 0 && r[0].(map[string]any)["status"] == "skipped" })
		time.Sleep(300 * time.Millisecond)
		runs = c.Do(t, "GET", "/v1/automations/"+loop+"/runs", nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(runs) != automation.MaxDepth || !strings.Contains(runs[0].(map[string]any)["error"].(string), "loop") {
			t.Fatalf("%d echo runs (want %d, the last skipped): %v", len(runs), automation.MaxDepth, runs[0])
		}
		// Editing a rule makes the editor its owner: an automation-only
		// client cannot borrow the administrator's authority.
		if _, err := auth.CreateRole(context.Background(), w.s.App.DB(), auth.Role{Name: "rule-editor", Scopes: []string{"automation:read", "automation:write", "catalog:read"}}); err != nil {
			t.Fatal(err)
		}
		editor := w.s.As(t, []string{"rule-editor"}, w.company)
		cur := editor.Do(t, "GET", "/v1/automations/"+seed, nil).Expect(t, 200)
		prod := w.product(t, "TARGET", "3.00")["id"].(string)
		edited := editor.Do(t, "PATCH", "/v1/automations/"+seed, map[string]any{"actions": []any{map[string]any{"type": "update_record",
			"params": map[string]any{"path": "/v1/products/" + prod, "fields": map[string]any{"list_price": "0.01"}}}}},
			"Content-Type", "application/merge-patch+json", "If-Match", cur.Header.Get("ETag")).Expect(t, 200)
		if edited.JSON(t)["owner_client_id"] != editor.ID {
			t.Fatalf("owner after an edit: %s", edited.Body)
		}
		dry = editor.Do(t, "POST", "/v1/automations/"+seed+"/test", map[string]any{"event": map[string]any{"type": "x"}}).Expect(t, 200).JSON(t)
		if dry["status"] != "failed" || !strings.Contains(dry["error"].(string), "403") {
			t.Fatalf("an automation-only editor's rule patched a product: %v", dry)
		}
		if runs := editor.Do(t, "GET", "/v1/automations/"+rule+"/runs", nil).Expect(t, 200).JSON(t)["data"].([]any); runs[0].(map[string]any)["input"] != nil {
			t.Fatalf("another client's run input shown: %v", runs[0])
		}
		// Disabled rules do not run.
		time.Sleep(300 * time.Millisecond) // let TARGET's run finish
		before := len(c.Do(t, "GET", "/v1/automations/"+seed+"/runs", nil).Expect(t, 200).JSON(t)["data"].([]any))
		r := c.Do(t, "GET", "/v1/automations/"+seed, nil).Expect(t, 200)
		c.Do(t, "PATCH", "/v1/automations/"+seed, map[string]any{"enabled": false}, "Content-Type", "application/merge-patch+json",
			"If-Match", r.Header.Get("ETag")).Expect(t, 200)
		w.product(t, "AFTER", "1.00")
		time.Sleep(300 * time.Millisecond)
		if n := len(c.Do(t, "GET", "/v1/automations/"+seed+"/runs", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != before {
			t.Fatalf("a disabled rule ran: %d runs, %d before disabling", n, before)
		}
	})
}

// An inbound hook verifying a provider's own HMAC header (GitHub style:
// X-Hub-Signature-256: sha256=<hex>) triggers a rule that updates a record
// and calls an outside URL through the SSRF-safe client.
func TestInboundHMACUpdatesRecordAndCallsURL(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newEventWorld(t, e)
		c := w.admin
		cust := c.Do(t, "POST", "/v1/customers", map[string]any{"name": "Kunde AG", "currency": "EUR"}).Expect(t, 201).JSON(t)["id"].(string)
		hook := c.Do(t, "POST", "/v1/inbound-hooks", map[string]any{"name": "CRM", "secret": "s3cr3t", "verification": map[string]any{
			"scheme": "hmac", "header": "X-Hub-Signature-256", "prefix": "sha256=", "idempotency_pointer": "/delivery"}}).Expect(t, 201).JSON(t)
		hookID := hook["id"].(string)
		rc := newReceiver(t)
		rule := c.Do(t, "POST", "/v1/automations", map[string]any{"name": "CRM rating",
			"trigger": map[string]any{"kind": "inbound", "hook_id": hookID},
			"actions": []any{
				map[string]any{"type": "update_record", "params": map[string]any{"path": "/v1/customers/{{/data/payload/customer}}",
					"fields": map[string]any{"credit_limit": "{{/data/payload/limit}}"}}},
				map[string]any{"type": "call_url", "params": map[string]any{"url": rc.srv.URL + "/notify", "body": map[string]any{"customer": "{{/data/payload/customer}}"}}},
			}}).Expect(t, 201).JSON(t)["id"].(string)
		send := func(secret string, body map[string]any) int {
			raw, _ := json.Marshal(body)
			mac := hmacHex(secret, raw)
			req, _ := http.NewRequest("POST", w.s.URL+"/v1/inbound/"+hookID, bytes.NewReader(raw))
			req.Header.Set("X-Hub-Signature-256", "sha256="+mac)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		note := map[string]any{"delivery": "d-1", "customer": cust, "limit": "5000.00"}
		if st := send("wrong", note); st != 401 {
			t.Fatalf("bad HMAC: %d", st)
		}
		// The outside URL is down at first: the run is retried later, and
		// the record update it made is rolled back meanwhile.
		rc.setAnswer(func(*http.Request) int { return http.StatusServiceUnavailable })
		if st := send("s3cr3t", note); st != 202 {
			t.Fatalf("HMAC notification: %d", st)
		}
		runs := waitRuns(t, c, rule, func(r []any) bool { return len(r) == 1 && r[0].(map[string]any)["attempts"].(float64) == 1 })
		first := runs[0].(map[string]any)
		if first["status"] != "pending" || !strings.Contains(first["error"].(string), "503") || first["next_attempt_at"] == nil {
			t.Fatalf("after a transient failure: %v", first)
		}
		if lim := c.Do(t, "GET", "/v1/customers/"+cust, nil).Expect(t, 200).JSON(t)["credit_limit"]; lim != nil && norm(t, lim) == "5000" {
			t.Fatal("the failed run's update was kept")
		}
		rc.setAnswer(nil)
		next, _ := time.Parse(time.RFC3339Nano, first["next_attempt_at"].(string))
		retry := &automation.Engine{DB: w.s.App.DB(), API: w.s.App.API(), Clock: clock.NewManual(next.Add(time.Second)), AllowLoopback: true}
		if _, err := retry.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		got := rc.waitFor(t, "the outside call", func(d []delivered) bool { return len(d) == 1 })
		if got[0].event["customer"] != cust || got[0].header.Get("Idempotency-Key") == "" {
			t.Fatalf("outside call %v %v", got[0].event, got[0].header)
		}
		runs = waitRuns(t, c, rule, func(r []any) bool { return len(r) == 1 && r[0].(map[string]any)["status"] == "succeeded" })
		if runs[0].(map[string]any)["attempts"].(float64) != 2 {
			t.Fatalf("run %v", runs[0])
		}
		if lim := c.Do(t, "GET", "/v1/customers/"+cust, nil).Expect(t, 200).JSON(t)["credit_limit"]; norm(t, lim) != "5000" {
			t.Fatalf("credit limit %v", lim)
		}
		// An inbound hook a rule uses cannot be deleted.
		c.Do(t, "DELETE", "/v1/inbound-hooks/"+hookID, nil).ExpectProblem(t, 409, apperr.Conflict)
	})
}

func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

package app_test

import (
	"net/url"
	"sync"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// balanceOf is an account's balance (debit − credit) in the trial
// balance, normalised ("1.2", "0").
func balanceOf(t *testing.T, c *apitest.Caller, account, asOf string) string {
	t.Helper()
	tb := c.Do(t, "GET", "/v1/reports/trial-balance?as_of="+asOf, nil).Expect(t, 200).JSON(t)
	for _, l := range tb["lines"].([]any) {
		if m := l.(map[string]any); m["account_id"] == account {
			return money.MustParse(toString(m["balance"])).Normalize().String()
		}
	}
	return "0"
}

func line(account, side, amount string, extra ...any) map[string]any {
	m := map[string]any{"account_id": account, side: amount}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

func lineOf(t *testing.T, entry map[string]any, no int) map[string]any {
	t.Helper()
	for _, l := range entry["lines"].([]any) {
		if m := l.(map[string]any); m["line_no"] == float64(no) {
			return m
		}
	}
	t.Fatalf("entry has no line %d: %v", no, entry)
	return nil
}

func TestForeignCurrencyPostingAndSettlement(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		c := w.admin
		bank, ar, revenue := accountByCode(t, c, "1000"), accountByCode(t, c, "1100"), accountByCode(t, c, "4000")
		gain, loss, rounding := accountByCode(t, c, "4900"), accountByCode(t, c, "6900"), accountByCode(t, c, "6950")

		// Rates: one per currency and day; bad ones name their field.
		for _, r := range [][2]string{{"2026-03-01", "1.1"}, {"2026-03-15", "1.12"}, {"2026-03-20", "1.015"}, {"2026-03-25", "1.05"}} {
			c.Do(t, "POST", "/v1/exchange-rates", map[string]any{"currency": "USD", "date": r[0], "rate": r[1], "source": "ECB"}).Expect(t, 201)
		}
		c.Do(t, "POST", "/v1/exchange-rates", map[string]any{"currency": "USD", "date": "2026-03-01", "rate": "1.2"}).ExpectProblem(t, 409, apperr.Conflict)
		p := c.Do(t, "POST", "/v1/exchange-rates", map[string]any{"currency": "XXY", "date": "2026-03-02", "rate": "1"}).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/currency") {
			t.Errorf("bad currency not pointed at: %+v", p.Errors)
		}
		p = c.Do(t, "POST", "/v1/exchange-rates", map[string]any{"currency": "USD", "date": "2026-02-30", "rate": "-1"}).ExpectProblem(t, 422, apperr.Invalid)
		for _, ptr := range []string{"/date", "/rate"} {
			if !apitest.HasPointer(p, ptr) {
				t.Errorf("bad rate: no error at %s: %+v", ptr, p.Errors)
			}
		}
		list := c.Do(t, "GET", "/v1/exchange-rates?filter="+url.QueryEscape(`currency = "USD" AND date <= "2026-03-16"`)+"&order_by=date%20desc", nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(list) != 2 || list[0].(map[string]any)["rate"] != "1.12" {
			t.Fatalf("rates listed: %v", list)
		}

		// An invoice in USD on 5 March takes the rate of 1 March.
		inv := c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-05", "lines": []any{
			line(ar, "debit", "100.00", "currency", "USD"), line(revenue, "credit", "100.00", "currency", "USD")}}).Expect(t, 201).JSON(t)
		l1 := lineOf(t, inv, 1)
		if l1["debit"] != "110.00" || l1["txn_currency"] != "USD" || l1["txn_amount"] != "100.00" || l1["rate"] != "1.1" {
			t.Fatalf("converted line %v", l1)
		}
		// A foreign-currency entry must balance in its currency.
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-05", "lines": []any{
			line(ar, "debit", "100.00", "currency", "USD"), line(revenue, "credit", "99.99", "currency", "USD")}}).ExpectProblem(t, 422, apperr.Invalid)
		// No rate on or before the date: 422 naming the line's currency.
		p = c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-05", "lines": []any{
			line(ar, "debit", "10.00", "currency", "GBP"), line(revenue, "credit", "10.00", "currency", "GBP")}}).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/lines/0/currency") {
			t.Fatalf("missing rate not pointed at: %+v", p.Errors)
		}
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-02-28", "lines": []any{
			line(ar, "debit", "10.00", "currency", "USD"), line(revenue, "credit", "10.00", "currency", "USD")}}).ExpectProblem(t, 422, apperr.Invalid)

		// Conversion rounding at 1.015: 1.00 → 1.02 against 0.33 → 0.33
		// twice and 0.34 → 0.35: the cent goes to the rounding account.
		rnd := c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-21", "lines": []any{
			line(ar, "debit", "1.00", "currency", "USD"),
			line(revenue, "credit", "0.33", "currency", "USD"), line(revenue, "credit", "0.33", "currency", "USD"), line(revenue, "credit", "0.34", "currency", "USD")}}).
			Expect(t, 201).JSON(t)
		if l := lineOf(t, rnd, 5); l["account_id"] != rounding || l["kind"] != "rounding" || l["credit"] != "0.01" {
			t.Fatalf("rounding line %v", l)
		}
		// Mixed currencies that do not balance in the company currency.
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-05", "lines": []any{
			line(bank, "debit", "109.00"), line(revenue, "credit", "100.00", "currency", "USD")}}).ExpectProblem(t, 422, apperr.Invalid)
		// …and that do, with the day's rate.
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-05", "lines": []any{
			line(bank, "debit", "110.00"), line(revenue, "credit", "100.00", "currency", "USD")}}).Expect(t, 201)

		// Settlement at 1.12 of 60 of the 100 invoiced at 1.1: carrying
		// value 66.00, value today 67.20, gain 1.20.
		settles := map[string]any{"entry_id": inv["id"], "line_no": 1}
		pay1 := c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-16", "lines": []any{
			line(bank, "debit", "60.00", "currency", "USD"), line(ar, "credit", "60.00", "currency", "USD", "settles", settles)}}).Expect(t, 201).JSON(t)
		if l := lineOf(t, pay1, 2); l["credit"] != "66.00" {
			t.Fatalf("settling line not at carrying value: %v", l)
		}
		if l := lineOf(t, pay1, 3); l["account_id"] != gain || l["kind"] != "fx_gain" || l["credit"] != "1.20" {
			t.Fatalf("realized gain line %v", l)
		}
		// More than is open: 409; a settlement on the wrong side or account: 422.
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-16", "lines": []any{
			line(bank, "debit", "40.01", "currency", "USD"), line(ar, "credit", "40.01", "currency", "USD", "settles", settles)}}).ExpectProblem(t, 409, apperr.Conflict)
		p = c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-16", "lines": []any{
			line(bank, "credit", "10.00", "currency", "USD"), line(ar, "debit", "10.00", "currency", "USD", "settles", settles)}}).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/lines/1/settles") {
			t.Fatalf("wrong-side settlement not pointed at: %+v", p.Errors)
		}
		// The rest at 1.05 (26 March): carrying value is what is left,
		// 44.00, exactly; value 42.00; loss 2.00.
		pay2 := c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-26", "lines": []any{
			line(bank, "debit", "40.00", "currency", "USD"), line(ar, "credit", "40.00", "currency", "USD", "settles", settles)}}).Expect(t, 201).JSON(t)
		if l := lineOf(t, pay2, 2); l["credit"] != "44.00" {
			t.Fatalf("last settlement not at the rest of the carrying value: %v", l)
		}
		if l := lineOf(t, pay2, 3); l["account_id"] != loss || l["kind"] != "fx_loss" || l["debit"] != "2.00" {
			t.Fatalf("realized loss line %v", l)
		}
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-26", "lines": []any{
			line(bank, "debit", "1.00", "currency", "USD"), line(ar, "credit", "1.00", "currency", "USD", "settles", settles)}}).ExpectProblem(t, 409, apperr.Conflict)
		// The invoice cannot be reversed while payments settle it.
		c.Do(t, "POST", "/v1/journal-entries/"+inv["id"].(string)+"/reverse", map[string]any{"date": "2026-03-27"}).ExpectProblem(t, 409, apperr.Conflict)
		// Receivables in the company currency: 110 − 66 − 44 (+ 1.02 of
		// the rounding example, still open).
		if got := balanceOf(t, c, ar, "2026-03-31"); got != "1.02" {
			t.Fatalf("receivables %s, want 1.02", got)
		}
		if got := balanceOf(t, c, gain, "2026-03-31"); got != "-1.2" {
			t.Fatalf("exchange gains %s", got)
		}
		// Reversing the last payment reopens 40 at its carrying value…
		c.Do(t, "POST", "/v1/journal-entries/"+pay2["id"].(string)+"/reverse", map[string]any{"date": "2026-03-27"}).Expect(t, 201)
		if got := balanceOf(t, c, ar, "2026-03-31"); got != "45.02" {
			t.Fatalf("receivables after reversing a payment %s, want 45.02", got)
		}
		// …which can be settled again.
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-27", "lines": []any{
			line(bank, "debit", "40.00", "currency", "USD", "rate", "1.1"), line(ar, "credit", "40.00", "currency", "USD", "settles", settles)}}).Expect(t, 201)
		if got := balanceOf(t, c, ar, "2026-03-31"); got != "1.02" {
			t.Fatalf("receivables after settling again %s, want 1.02", got)
		}
		// A foreign invoice nobody paid is reversed at its own rate and is
		// then closed: nothing left to settle.
		inv2 := c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-05", "lines": []any{
			line(ar, "debit", "10.00", "currency", "USD"), line(revenue, "credit", "10.00", "currency", "USD")}}).Expect(t, 201).JSON(t)
		rev := c.Do(t, "POST", "/v1/journal-entries/"+inv2["id"].(string)+"/reverse", map[string]any{"date": "2026-03-26"}).Expect(t, 201).JSON(t)
		if l := lineOf(t, rev, 1); l["credit"] != "11.00" || l["rate"] != "1.1" {
			t.Fatalf("reversal not at the original rate: %v", l)
		}
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-27", "lines": []any{
			line(bank, "debit", "1.00", "currency", "USD"), line(ar, "credit", "1.00", "currency", "USD", "settles", map[string]any{"entry_id": inv2["id"], "line_no": 1})}}).
			ExpectProblem(t, 409, apperr.Conflict)
	})
}

// TestConcurrentSettlementsPostgres races two payments that each settle a
// whole invoice line: exactly one may win.
func TestConcurrentSettlementsPostgres(t *testing.T) {
	w := newWorld(t, db.Postgres)
	c := w.admin
	bank, ar, revenue := accountByCode(t, c, "1000"), accountByCode(t, c, "1100"), accountByCode(t, c, "4000")
	c.Do(t, "POST", "/v1/exchange-rates", map[string]any{"currency": "USD", "date": "2026-01-01", "rate": "0.9"}).Expect(t, 201)
	for round := 0; round < 5; round++ {
		inv := c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-05", "lines": []any{
			line(ar, "debit", "100.00", "currency", "USD"), line(revenue, "credit", "100.00", "currency", "USD")}}).Expect(t, 201).JSON(t)
		var wg sync.WaitGroup
		statuses := make([]int, 4)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-03-06", "lines": []any{
					line(bank, "debit", "100.00", "currency", "USD"),
					line(ar, "credit", "100.00", "currency", "USD", "settles", map[string]any{"entry_id": inv["id"], "line_no": 1})}}).Status
			}()
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case 201:
				won++
			case 409:
			default:
				t.Fatalf("round %d: statuses %v", round, statuses)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d settlements of one line succeeded (%v)", round, won, statuses)
		}
	}
	if got := balanceOf(t, c, ar, "2026-12-31"); got != "0" {
		t.Fatalf("receivables %s after settling every invoice once", got)
	}
}

func TestJournalDraftsAndList(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		c := w.admin
		bank, revenue := accountByCode(t, c, "1000"), accountByCode(t, c, "4000")
		draft := c.Do(t, "POST", "/v1/journal-entries", map[string]any{"status": "draft", "date": "2026-04-01", "lines": []any{
			line(bank, "debit", "50.00"), line(revenue, "credit", "40.00")}}).Expect(t, 201).JSON(t)
		if draft["status"] != "draft" || draft["number"] != nil {
			t.Fatalf("draft %v", draft)
		}
		id := draft["id"].(string)
		c.Do(t, "POST", "/v1/journal-entries/"+id+"/post", nil).ExpectProblem(t, 422, apperr.Invalid)
		for i := 0; i < 3; i++ {
			c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-04-0" + string(rune('2'+i)), "lines": []any{
				line(bank, "debit", "1.00"), line(revenue, "credit", "1.00")}}).Expect(t, 201)
		}
		drafts := c.Do(t, "GET", "/v1/journal-entries?filter="+url.QueryEscape(`status = "draft"`), nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(drafts) != 1 || drafts[0].(map[string]any)["id"] != id {
			t.Fatalf("drafts %v", drafts)
		}
		// Pages of two, newest first, then the rest.
		page := c.Do(t, "GET", "/v1/journal-entries?order_by=date%20desc&page_size=2&filter="+url.QueryEscape(`status = "posted"`), nil).Expect(t, 200).JSON(t)
		got := page["data"].([]any)
		if len(got) != 2 || got[0].(map[string]any)["date"] != "2026-04-04" || page["next_page_token"] == "" {
			t.Fatalf("first page %v", page)
		}
		next := c.Do(t, "GET", "/v1/journal-entries?order_by=date%20desc&page_size=2&filter="+url.QueryEscape(`status = "posted"`)+"&page_token="+url.QueryEscape(page["next_page_token"].(string)), nil).Expect(t, 200).JSON(t)
		if rest := next["data"].([]any); len(rest) != 1 || rest[0].(map[string]any)["date"] != "2026-04-02" || next["next_page_token"] != "" {
			t.Fatalf("second page %v", next)
		}
		// A token is bound to its query.
		c.Do(t, "GET", "/v1/journal-entries?page_size=2&page_token="+url.QueryEscape(page["next_page_token"].(string)), nil).ExpectProblem(t, 400, apperr.BadRequest)
		if n := len(c.Do(t, "GET", "/v1/journal-entries?account_id="+bank, nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 4 {
			t.Fatalf("entries on the bank account: %d, want 4", n)
		}
		c.Do(t, "GET", "/v1/journal-entries?filter="+url.QueryEscape(`amount > 3`), nil).ExpectProblem(t, 400, apperr.BadRequest)

		// The other company sees none of it.
		stranger := newCompanyCaller(t, w)
		if n := len(stranger.Do(t, "GET", "/v1/journal-entries", nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 0 {
			t.Fatalf("another company lists %d entries", n)
		}
		stranger.Do(t, "POST", "/v1/journal-entries/"+id+"/post", nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "DELETE", "/v1/journal-entries/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)

		// A balanced draft posts with the next number; posted entries
		// cannot be deleted, drafts can.
		d2 := c.Do(t, "POST", "/v1/journal-entries", map[string]any{"status": "draft", "date": "2026-04-05", "lines": []any{
			line(bank, "debit", "5.00"), line(revenue, "credit", "5.00")}}).Expect(t, 201).JSON(t)
		posted := c.Do(t, "POST", "/v1/journal-entries/"+d2["id"].(string)+"/post", nil).Expect(t, 200).JSON(t)
		if posted["status"] != "posted" || posted["number"] != float64(4) {
			t.Fatalf("posted draft %v", posted)
		}
		c.Do(t, "DELETE", "/v1/journal-entries/"+d2["id"].(string), nil).ExpectProblem(t, 409, apperr.Conflict)
		c.Do(t, "DELETE", "/v1/journal-entries/"+id, nil).Expect(t, 204)
		c.Do(t, "GET", "/v1/journal-entries/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

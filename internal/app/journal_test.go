package app_test

import (
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

func accountByCode(t *testing.T, c *apitest.Caller, code string) string {
	t.Helper()
	list := c.Do(t, "GET", "/v1/accounts?filter=code%20%3D%20%22"+code+"%22", nil).Expect(t, 200).JSON(t)["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("account %s: %v", code, list)
	}
	return list[0].(map[string]any)["id"].(string)
}

func TestJournalOverHTTP(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		bank, revenue := accountByCode(t, w.admin, "1000"), accountByCode(t, w.admin, "4000")
		entry := func(amount string) map[string]any {
			return map[string]any{"date": "2026-11-27", "memo": "cash sale", "lines": []any{
				map[string]any{"account_id": bank, "debit": amount}, map[string]any{"account_id": revenue, "credit": amount}}}
		}
		dry := w.admin.Do(t, "POST", "/v1/journal-entries?dry_run=true", entry("100.00")).Expect(t, 200).JSON(t)
		if dry["status"] != "posted" {
			t.Fatalf("dry run %v", dry)
		}
		tb := w.admin.Do(t, "GET", "/v1/reports/trial-balance?as_of=2026-12-31", nil).Expect(t, 200).JSON(t)
		if n := len(tb["lines"].([]any)); n != 0 {
			t.Fatalf("a dry run wrote %d balances", n)
		}
		posted := w.admin.Do(t, "POST", "/v1/journal-entries", entry("100.00")).Expect(t, 201).JSON(t)
		if posted["number"] != float64(1) {
			t.Fatalf("first entry %v", posted)
		}
		id := posted["id"].(string)
		unbalanced := entry("100.00")
		unbalanced["lines"].([]any)[1].(map[string]any)["credit"] = "99.99"
		w.admin.Do(t, "POST", "/v1/journal-entries", unbalanced).ExpectProblem(t, 422, apperr.Invalid)
		stranger := newCompanyCaller(t, w)
		foreign := accountByCode(t, stranger, "1000")
		bad := entry("5.00")
		bad["lines"].([]any)[0].(map[string]any)["account_id"] = foreign
		p := w.admin.Do(t, "POST", "/v1/journal-entries", bad).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/lines/0/account_id") {
			t.Fatalf("foreign account not pointed at: %+v", p.Errors)
		}
		stranger.Do(t, "GET", "/v1/journal-entries/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "POST", "/v1/journal-entries/"+id+"/reverse", map[string]any{"date": "2026-11-28"}).ExpectProblem(t, 404, apperr.NotFound)
		rev := w.admin.Do(t, "POST", "/v1/journal-entries/"+id+"/reverse", map[string]any{"date": "2026-11-28"}).Expect(t, 201).JSON(t)
		if rev["reversal_of"] != id || rev["number"] != float64(2) {
			t.Fatalf("reversal %v", rev)
		}
		w.admin.Do(t, "POST", "/v1/journal-entries/"+id+"/reverse", map[string]any{"date": "2026-11-28"}).ExpectProblem(t, 409, apperr.Conflict)
		tb = w.admin.Do(t, "GET", "/v1/reports/trial-balance?as_of=2026-11-27", nil).Expect(t, 200).JSON(t)
		if !strings.Contains(tbString(tb), `"debit":"100`) {
			t.Fatalf("trial balance on the 27th: %v", tb)
		}
		got := w.admin.Do(t, "GET", "/v1/journal-entries/"+id, nil).Expect(t, 200).JSON(t)
		if got["reversed_by"] != rev["id"] {
			t.Fatalf("original after reversal: %v", got)
		}
	})
}

func tbString(m map[string]any) string {
	var b strings.Builder
	for _, l := range m["lines"].([]any) {
		for k, v := range l.(map[string]any) {
			b.WriteString(`"` + k + `":"` + toString(v) + `",`)
		}
	}
	return b.String()
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

// Closing a period locks it for postings and reversals; only an admin
// reopens it.
func TestFiscalPeriods(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		year := w.admin.Do(t, "POST", "/v1/fiscal-years", map[string]any{"year": 2026}).Expect(t, 201).JSON(t)["data"].([]any)
		if len(year) != 12 {
			t.Fatalf("%d periods", len(year))
		}
		nov := year[10].(map[string]any)
		if nov["start"] != "2026-11-01" || nov["end"] != "2026-11-30" {
			t.Fatalf("November %v", nov)
		}
		w.admin.Do(t, "POST", "/v1/fiscal-years", map[string]any{"year": 2026}).ExpectProblem(t, 409, apperr.Conflict)
		bank, revenue := accountByCode(t, w.admin, "1000"), accountByCode(t, w.admin, "4000")
		entry := func(date string) map[string]any {
			return map[string]any{"date": date, "lines": []any{
				map[string]any{"account_id": bank, "debit": "10.00"}, map[string]any{"account_id": revenue, "credit": "10.00"}}}
		}
		posted := w.admin.Do(t, "POST", "/v1/journal-entries", entry("2026-11-10")).Expect(t, 201).JSON(t)
		finance := w.s.As(t, []string{"finance"}, w.company)
		finance.Do(t, "POST", "/v1/fiscal-periods/"+nov["id"].(string)+"/close", nil).Expect(t, 200)
		p := w.admin.Do(t, "POST", "/v1/journal-entries", entry("2026-11-15")).ExpectProblem(t, 409, apperr.Conflict)
		if !strings.Contains(p.Detail, "closed") {
			t.Fatalf("closed period: %s", p.Detail)
		}
		w.admin.Do(t, "POST", "/v1/journal-entries/"+posted["id"].(string)+"/reverse", map[string]any{"date": "2026-11-20"}).ExpectProblem(t, 409, apperr.Conflict)
		// A reversal dated into an open period is the way to correct it.
		w.admin.Do(t, "POST", "/v1/journal-entries/"+posted["id"].(string)+"/reverse", map[string]any{"date": "2026-12-01"}).Expect(t, 201)
		w.admin.Do(t, "POST", "/v1/journal-entries", entry("2026-12-02")).Expect(t, 201)
		finance.Do(t, "POST", "/v1/fiscal-periods/"+nov["id"].(string)+"/reopen", nil).ExpectProblem(t, 403, apperr.Forbidden)
		w.admin.Do(t, "POST", "/v1/fiscal-periods/"+nov["id"].(string)+"/reopen", nil).Expect(t, 200)
		w.admin.Do(t, "POST", "/v1/journal-entries", entry("2026-11-15")).Expect(t, 201)
		newCompanyCaller(t, w).Do(t, "POST", "/v1/fiscal-periods/"+nov["id"].(string)+"/close", nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// A non-negative account (stock) never goes below zero, even when postings
// race for its last units.
func TestNonNegativeAccounts(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		stock, bank := accountByCode(t, w.admin, "1200"), accountByCode(t, w.admin, "1000")
		move := func(debit, credit, amount string) map[string]any {
			return map[string]any{"date": "2026-11-27", "lines": []any{
				map[string]any{"account_id": debit, "debit": amount}, map[string]any{"account_id": credit, "credit": amount}}}
		}
		w.admin.Do(t, "POST", "/v1/journal-entries", move(bank, stock, "10.00")).ExpectProblem(t, 409, apperr.Conflict)
		w.admin.Do(t, "POST", "/v1/journal-entries", move(stock, bank, "100.00")).Expect(t, 201)
		// The bank is not flagged: it may go negative.
		w.admin.Do(t, "POST", "/v1/journal-entries", move(stock, bank, "1.00")).Expect(t, 201)
		start := make(chan struct{})
		results := make(chan int, 6)
		for range 6 {
			go func() {
				<-start
				results <- w.admin.Do(t, "POST", "/v1/journal-entries", move(bank, stock, "30.00")).Status
			}()
		}
		close(start)
		ok := 0
		for range 6 {
			switch s := <-results; s {
			case 201:
				ok++
			case 409:
			default:
				t.Errorf("racing credit: %d", s)
			}
		}
		if ok != 3 {
			t.Fatalf("%d credits of 30 against 101 succeeded, want 3", ok)
		}
		tb := w.admin.Do(t, "GET", "/v1/reports/trial-balance?as_of=2026-12-31", nil).Expect(t, 200).JSON(t)
		for _, l := range tb["lines"].([]any) {
			m := l.(map[string]any)
			if m["account_id"] == stock && !strings.HasPrefix(m["balance"].(string), "11") {
				t.Fatalf("stock balance %v, want 11", m["balance"])
			}
		}
	})
}

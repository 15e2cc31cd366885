package app_test

import (
	"sync"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func TestYearEndClosing(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		c := w.admin
		bank, revenue, payroll, re := accountByCode(t, c, "1000"), accountByCode(t, c, "4000"), accountByCode(t, c, "6000"), accountByCode(t, c, "3100")
		periods := c.Do(t, "POST", "/v1/fiscal-years", map[string]any{"year": 2026}).Expect(t, 201).JSON(t)["data"].([]any)
		dec := periods[11].(map[string]any)["id"].(string)
		c.Do(t, "POST", "/v1/fiscal-years/2025/close", nil).ExpectProblem(t, 404, apperr.NotFound)
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-05-01", "lines": []any{
			line(bank, "debit", "1000.00"), line(revenue, "credit", "1000.00")}}).Expect(t, 201)
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-06-30", "lines": []any{
			line(payroll, "debit", "300.00"), line(bank, "credit", "300.00")}}).Expect(t, 201)
		// Next year's postings are not this year's result.
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2027-01-02", "lines": []any{
			line(bank, "debit", "5.00"), line(revenue, "credit", "5.00")}}).Expect(t, 201)

		finance := w.s.As(t, []string{"finance"}, w.company)
		y := finance.Do(t, "POST", "/v1/fiscal-years/2026/close", nil).Expect(t, 200).JSON(t)
		if y["status"] != "closed" || y["net_result"] != "700.00" {
			t.Fatalf("closed year %v", y)
		}
		closingID := y["closing_entry_id"].(string)
		ce := c.Do(t, "GET", "/v1/journal-entries/"+closingID, nil).Expect(t, 200).JSON(t)
		if ce["kind"] != "closing" || ce["date"] != "2026-12-31" || len(ce["lines"].([]any)) != 3 {
			t.Fatalf("closing entry %v", ce)
		}
		for account, want := range map[string]string{revenue: "0", payroll: "0", re: "-700", bank: "700"} {
			if got := balanceOf(t, c, account, "2026-12-31"); got != want {
				t.Errorf("after closing, balance of %s is %s, want %s", account, got, want)
			}
		}
		if got := balanceOf(t, c, revenue, "2027-12-31"); got != "-5" {
			t.Errorf("next year's revenue %s, want -5", got)
		}
		// The closed year refuses postings, a second close, and reopening
		// its periods.
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-07-01", "lines": []any{
			line(bank, "debit", "1.00"), line(revenue, "credit", "1.00")}}).ExpectProblem(t, 409, apperr.Conflict)
		c.Do(t, "POST", "/v1/fiscal-years/2026/close", nil).ExpectProblem(t, 409, apperr.Conflict)
		c.Do(t, "POST", "/v1/fiscal-periods/"+dec+"/reopen", nil).ExpectProblem(t, 409, apperr.Conflict)
		got := c.Do(t, "GET", "/v1/fiscal-years/2026", nil).Expect(t, 200).JSON(t)
		if got["status"] != "closed" || !money.MustParse(got["net_result"].(string)).Equal(money.MustParse("700")) {
			t.Fatalf("year %v", got)
		}

		// Reopening is the admin's and reverses the closing entry.
		finance.Do(t, "POST", "/v1/fiscal-years/2026/reopen", nil).ExpectProblem(t, 403, apperr.Forbidden)
		c.Do(t, "POST", "/v1/fiscal-years/2026/reopen", nil).Expect(t, 200)
		c.Do(t, "POST", "/v1/fiscal-years/2026/reopen", nil).ExpectProblem(t, 409, apperr.Conflict)
		if got := balanceOf(t, c, re, "2026-12-31"); got != "0" {
			t.Errorf("retained earnings after reopening %s", got)
		}
		if got := balanceOf(t, c, revenue, "2026-12-31"); got != "-1000" {
			t.Errorf("revenue after reopening %s", got)
		}
		// Correct December, close again: the new result goes across.
		c.Do(t, "POST", "/v1/fiscal-periods/"+dec+"/reopen", nil).Expect(t, 200)
		c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-12-15", "lines": []any{
			line(bank, "debit", "100.00"), line(revenue, "credit", "100.00")}}).Expect(t, 201)
		y = c.Do(t, "POST", "/v1/fiscal-years/2026/close", nil).Expect(t, 200).JSON(t)
		if !money.MustParse(y["net_result"].(string)).Equal(money.MustParse("800")) {
			t.Fatalf("second close %v", y)
		}
		if got := balanceOf(t, c, re, "2026-12-31"); got != "-800" {
			t.Errorf("retained earnings after the second close %s", got)
		}
		// Closing and reopening are audited, naming who did it.
		for action, want := range map[string]int{"fiscal_year.close": 2, "fiscal_year.reopen": 1, "fiscal_period.reopen": 1} {
			var n int
			if err := w.s.App.DB().QueryRowContext(t.Context(), "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND company_id = $2 AND actor <> ''",
				action, w.company).Scan(&n); err != nil || n != want {
				t.Errorf("%d audit rows for %s (%v), want %d", n, action, err, want)
			}
		}
		newCompanyCaller(t, w).Do(t, "POST", "/v1/fiscal-years/2026/reopen", nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// TestYearCloseRacesPostersPostgres closes a year while postings into it
// race: every posting either committed before the close (and its revenue
// was closed into retained earnings) or was refused; none lands after.
func TestYearCloseRacesPostersPostgres(t *testing.T) {
	w := newWorld(t, db.Postgres)
	c := w.admin
	bank, revenue, re := accountByCode(t, c, "1000"), accountByCode(t, c, "4000"), accountByCode(t, c, "3100")
	c.Do(t, "POST", "/v1/fiscal-years", map[string]any{"year": 2026}).Expect(t, 201)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		posted int
		closed = make(chan struct{})
	)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-closed:
					return
				default:
				}
				r := c.Do(t, "POST", "/v1/journal-entries", map[string]any{"date": "2026-12-20", "lines": []any{
					line(bank, "debit", "1.00"), line(revenue, "credit", "1.00")}})
				switch r.Status {
				case 201:
					mu.Lock()
					posted++
					mu.Unlock()
				case 409:
					return
				default:
					t.Errorf("posting: %d", r.Status)
					return
				}
			}
		}()
	}
	for {
		mu.Lock()
		n := posted
		mu.Unlock()
		if n >= 10 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Do(t, "POST", "/v1/fiscal-years/2026/close", nil).Expect(t, 200)
	close(closed)
	wg.Wait()
	if got := balanceOf(t, c, revenue, "2026-12-31"); got != "0" {
		t.Fatalf("revenue left in the closed year: %s (a posting landed after the close)", got)
	}
	if got, want := balanceOf(t, c, re, "2026-12-31"), money.FromInt(int64(-posted)).String(); got != want {
		t.Fatalf("retained earnings %s, want %s (%d postings)", got, want, posted)
	}
}

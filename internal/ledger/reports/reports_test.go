package reports_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/reports"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// book posts two years of activity:
//
//	2025-03-01 capital 1000 into the bank
//	2025-06-30 sale 300 on account; cost of goods 100 paid from the bank
//	2025-12-31 closing entry: revenue 300 and cost 100 into retained earnings (kind closing)
//	2026-02-01 rent 50 from the bank; sale 200 on account
//	2026-02-15 the customer pays 120; a supplier invoice 80 of cost on account
//	2027-01-10 sale 999 (after every report date)
func book(t *testing.T, dbh *db.DB) {
	t.Helper()
	seedCompany(t, dbh, company, testChart)
	closingEntry := entry("2025-12-31", "acc_revenue", "300", "acc_cogs", "-100", "acc_retained", "-200")
	closingEntry.Kind = ledger.KindClosing
	mustPost(t, dbh,
		entry("2025-03-01", "acc_bank", "1000", "acc_capital", "-1000"),
		entry("2025-06-30", "acc_recv", "300", "acc_revenue", "-300"),
		entry("2025-06-30", "acc_cogs", "100", "acc_bank", "-100"),
		closingEntry,
		entry("2026-02-01", "acc_rent", "50", "acc_bank", "-50"),
		entry("2026-02-01", "acc_recv", "200", "acc_revenue", "-200"),
		entry("2026-02-15", "acc_bank", "120", "acc_recv", "-120"),
		entry("2026-02-15", "acc_cogs", "80", "acc_payables", "-80"),
		entry("2027-01-10", "acc_recv", "999", "acc_revenue", "-999"),
	)
	// A draft never counts.
	err := dbh.Transact(context.Background(), func(tx *db.Tx) error {
		_, err := ledger.CreateDraft(context.Background(), tx, entry("2026-02-20", "acc_bank", "7", "acc_revenue", "-7"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func eq(t *testing.T, what string, got money.Decimal, want string) {
	t.Helper()
	if !got.Equal(d(want)) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func eqp(t *testing.T, what string, got *money.Decimal, want string) {
	t.Helper()
	if got == nil {
		t.Errorf("%s missing, want %s", what, want)
		return
	}
	eq(t, what, *got, want)
}

func tbLine(t *testing.T, tb reports.TrialBalance, id string) reports.TrialBalanceLine {
	t.Helper()
	for _, l := range tb.Lines {
		if l.ID == acct(id) {
			return l
		}
	}
	t.Fatalf("no line for %s in %+v", id, tb.Lines)
	return reports.TrialBalanceLine{}
}

func TestTrialBalance(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		book(t, dbh)
		ctx := context.Background()
		tb, err := reports.TrialBalanceOf(ctx, dbh, company, reports.Period{From: "2026-01-01", To: "2026-12-31"},
			&reports.Period{To: "2025-12-31"})
		if err != nil {
			t.Fatal(err)
		}
		if tb.AsOf != "2026-12-31" || tb.From != "2026-01-01" || tb.CompareTo != "2025-12-31" || tb.Currency != "EUR" {
			t.Fatalf("header %+v", tb)
		}
		bank := tbLine(t, tb, "acc_bank")
		if bank.Code != "1000" || bank.Type != "asset" || bank.ParentID != acct("acc_assets") || bank.Name != "Account 1000" {
			t.Fatalf("bank account %+v", bank.ReportAccount)
		}
		// 1000 − 100 before 2026; −50 + 120 in it.
		eq(t, "bank opening", bank.OpeningBalance, "900")
		eq(t, "bank period debit", bank.PeriodDebit, "120")
		eq(t, "bank period credit", bank.PeriodCredit, "50")
		eq(t, "bank debit", bank.Debit, "1120")
		eq(t, "bank credit", bank.Credit, "150")
		eq(t, "bank balance", bank.Balance, "970")
		if bank.Comparison == nil {
			t.Fatal("no comparison")
		}
		eq(t, "bank comparison balance", bank.Comparison.Balance, "900")
		eq(t, "bank comparison opening", bank.Comparison.OpeningBalance, "0")
		// The parent rolls up bank (970) and receivables (300 + 200 − 120).
		parent := tbLine(t, tb, "acc_assets")
		eq(t, "assets own balance", parent.Balance, "0")
		eqp(t, "assets subtotal", parent.Subtotal, "1350")
		eqp(t, "assets comparison subtotal", parent.Comparison.Subtotal, "1200")
		if bank.Subtotal != nil {
			t.Errorf("a leaf has a subtotal: %v", bank.Subtotal)
		}
		// The closing entry is part of the trial balance.
		eq(t, "revenue balance", tbLine(t, tb, "acc_revenue").Balance, "-200")
		eq(t, "retained balance", tbLine(t, tb, "acc_retained").Balance, "-200")
		eq(t, "total debit", tb.Totals.Debit, tb.Totals.Credit.String())
		eq(t, "total balance", tb.Totals.Balance, "0")
		eq(t, "total period debit", tb.Totals.PeriodDebit, "450")
		eq(t, "total comparison debit", tb.Totals.Comparison.Debit, "1700")
		for i := 1; i < len(tb.Lines); i++ {
			if tb.Lines[i-1].Code >= tb.Lines[i].Code {
				t.Fatalf("lines not in code order: %s before %s", tb.Lines[i-1].Code, tb.Lines[i].Code)
			}
		}

		// As of a date, with no start: everything up to it, no opening.
		asOf, err := reports.TrialBalanceOf(ctx, dbh, company, reports.Period{To: "2026-02-01"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "bank as of 1 Feb", tbLine(t, asOf, "acc_bank").Balance, "850")
		eq(t, "bank opening without from", tbLine(t, asOf, "acc_bank").OpeningBalance, "0")
		if tbLine(t, asOf, "acc_bank").Comparison != nil || asOf.Totals.Comparison != nil {
			t.Fatal("comparison without a comparison period")
		}
		for _, l := range asOf.Lines {
			if l.ID == acct("acc_payables") {
				t.Fatal("payables listed before its first posting")
			}
		}

		_, err = reports.TrialBalanceOf(ctx, dbh, company, reports.Period{From: "2026-03-01", To: "2026-02-01"}, nil)
		if apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("inverted period: %v", err)
		}
	})
}

func line(t *testing.T, s reports.ReportSection, id string) reports.StatementLine {
	t.Helper()
	for _, l := range s.Lines {
		if l.AccountID == acct(id) || (id == "" && l.Computed != "") {
			return l
		}
	}
	t.Fatalf("no line %q in %+v", id, s.Lines)
	return reports.StatementLine{}
}

func TestBalanceSheetBalances(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		book(t, dbh)
		bs, err := reports.BalanceSheetOf(context.Background(), dbh, company, "2026-12-31", "2025-06-30")
		if err != nil {
			t.Fatal(err)
		}
		// Assets: bank 970, receivables 380.
		eq(t, "bank", line(t, bs.Assets, "acc_bank").Amount, "970")
		eq(t, "receivables", line(t, bs.Assets, "acc_recv").Amount, "380")
		eqp(t, "assets subtotal", line(t, bs.Assets, "acc_assets").Subtotal, "1350")
		eq(t, "assets", bs.Assets.Total, "1350")
		eq(t, "liabilities", bs.Liabilities.Total, "80")
		// Equity: capital 1000, retained 200 (2025, closed), unclosed
		// earnings 2026: 200 − 50 − 80 = 70.
		eq(t, "capital", line(t, bs.Equity, "acc_capital").Amount, "1000")
		eq(t, "retained", line(t, bs.Equity, "acc_retained").Amount, "200")
		earnings := line(t, bs.Equity, "")
		if earnings.Computed != "unclosed_earnings" || earnings.AccountID != "" {
			t.Fatalf("earnings line %+v", earnings)
		}
		eq(t, "unclosed earnings", earnings.Amount, "70")
		eq(t, "equity", bs.Equity.Total, "1270")
		eq(t, "liabilities and equity", bs.LiabilitiesAndEquity, bs.Assets.Total.String())
		// Mid-2025, before the closing: the year's 200 is unclosed.
		eqp(t, "comparison assets", bs.Assets.ComparisonTotal, "1200")
		eqp(t, "comparison earnings", earnings.Comparison, "200")
		eqp(t, "comparison retained", line(t, bs.Equity, "acc_retained").Comparison, "0")
		eqp(t, "comparison liabilities and equity", bs.ComparisonLiabilitiesAndEquity, "1200")
		for _, l := range bs.Assets.Lines {
			if l.Type != "asset" {
				t.Fatalf("%s in assets", l.Type)
			}
		}
	})
}

func TestProfitAndLossLeavesOutClosingEntries(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		book(t, dbh)
		ctx := context.Background()
		pl, err := reports.ProfitAndLossOf(ctx, dbh, company, reports.Period{From: "2025-01-01", To: "2025-12-31"},
			&reports.Period{To: "2026-12-31"})
		if err != nil {
			t.Fatal(err)
		}
		// 2025 without the closing entry on its last day: 300 − 100.
		eq(t, "2025 revenue", line(t, pl.Income, "acc_revenue").Amount, "300")
		eq(t, "2025 expenses", pl.Expenses.Total, "100")
		eq(t, "2025 net", pl.NetResult, "200")
		// The comparison period defaults to its fiscal year: 2026.
		if pl.CompareFrom != "2026-01-01" {
			t.Fatalf("compare_from %q", pl.CompareFrom)
		}
		eqp(t, "2026 revenue", pl.Income.ComparisonTotal, "200")
		eqp(t, "2026 rent", line(t, pl.Expenses, "acc_rent").Comparison, "50")
		eqp(t, "2026 expenses", pl.Expenses.ComparisonTotal, "130")
		eqp(t, "2026 net", pl.ComparisonNetResult, "70")

		// The closing day alone shows nothing: its only entry is the closing.
		day, err := reports.ProfitAndLossOf(ctx, dbh, company, reports.Period{From: "2025-12-31", To: "2025-12-31"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(day.Income.Lines) != 0 || !day.NetResult.IsZero() {
			t.Fatalf("closing day shows %+v", day)
		}
	})
}

func TestGeneralLedgerPagesKeepTheRunningBalance(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		seedCompany(t, dbh, company, testChart)
		var ps []ledger.Posting
		for i := 1; i <= 7; i++ {
			// Out of date order on purpose; two entries share a date.
			date := fmt.Sprintf("2026-03-%02d", 10-i/2)
			ps = append(ps, entry(date, "acc_bank", fmt.Sprintf("%d.25", i), "acc_revenue", fmt.Sprintf("-%d.25", i)))
		}
		ps = append(ps, entry("2026-01-05", "acc_bank", "-10", "acc_rent", "10"))
		mustPost(t, dbh, ps...)
		key := []byte("0123456789abcdef0123456789abcdef")
		req := reports.LedgerRequest{CompanyID: company, AccountID: acct("acc_bank"), Period: reports.Period{From: "2026-02-01", To: "2026-12-31"},
			Compare: &reports.Period{To: "2026-01-31"}, PageSize: 3, TokenKey: key, Fingerprint: "client"}
		var all []reports.GeneralLedgerLine
		pages := 0
		for {
			page, err := reports.GeneralLedgerOf(context.Background(), dbh, req)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			eq(t, "opening", page.OpeningBalance, "-10")
			eq(t, "closing", page.ClosingBalance, "19.75")
			eq(t, "debit", page.Debit, "29.75")
			eqp(t, "comparison closing", &page.Comparison.ClosingBalance, "-10")
			if page.Account.Code != "1000" {
				t.Fatalf("account %+v", page.Account)
			}
			all = append(all, page.Lines...)
			if page.NextPageToken == "" {
				break
			}
			req.PageToken = page.NextPageToken
		}
		if pages != 3 || len(all) != 7 {
			t.Fatalf("%d pages, %d lines", pages, len(all))
		}
		running := d("-10")
		for i, l := range all {
			running = running.Add(l.Debit).Sub(l.Credit)
			eq(t, fmt.Sprintf("line %d balance", i), l.Balance, running.String())
			if i > 0 {
				p := all[i-1]
				if p.Date > l.Date || (p.Date == l.Date && p.EntryNumber >= l.EntryNumber) {
					t.Fatalf("line %d out of order: %+v after %+v", i, l, p)
				}
			}
		}
		eq(t, "last running balance", all[6].Balance, "19.75")

		// A token is bound to its account and period.
		req.Period.From = "2026-01-01"
		if _, err := reports.GeneralLedgerOf(context.Background(), dbh, req); apperr.CodeOf(err) != apperr.BadRequest {
			t.Fatalf("token reused for another period: %v", err)
		}
		req.PageToken, req.AccountID = "", "acc_nope"
		if _, err := reports.GeneralLedgerOf(context.Background(), dbh, req); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("unknown account: %v", err)
		}
	})
}

// LoadPosted numbers entries after those already posted, gaplessly, and
// its entries count like any other.
func TestLoadPosted(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, dbh *db.DB) {
		seedCompany(t, dbh, company, testChart)
		ctx := context.Background()
		mustPost(t, dbh, entry("2026-01-01", "acc_bank", "5", "acc_capital", "-5"))
		var ps []ledger.Posting
		for i := 0; i < 1200; i++ {
			p := entry("2026-01-02", "acc_bank", "0.01", "acc_revenue", "-0.01")
			p.SourceType, p.SourceID, p.Purpose = "import", fmt.Sprint(i), "load"
			ps = append(ps, p)
		}
		var got ledger.Loaded
		err := dbh.Transact(ctx, func(tx *db.Tx) error {
			var err error
			got, err = ledger.LoadPosted(ctx, tx, ps)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Count != 1200 || got.First != 2 || got.Last != 1201 {
			t.Fatalf("loaded %+v", got)
		}
		next := mustPost(t, dbh, entry("2026-01-03", "acc_bank", "1", "acc_capital", "-1"))
		if next[0].Number != 1202 {
			t.Fatalf("next number %d", next[0].Number)
		}
		tb, err := reports.TrialBalanceOf(ctx, dbh, company, reports.Period{To: "2026-12-31"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "bank", tbLine(t, tb, "acc_bank").Balance, "18")
		// Loaded entries are posted, hence immutable.
		if _, err := dbh.ExecContext(ctx, "DELETE FROM journal_lines WHERE entry_id IN (SELECT id FROM journal_entries WHERE source_type = 'import')"); err == nil || !ledger.IsImmutable(err) {
			t.Fatalf("deleting loaded lines: %v", err)
		}
		// A source loaded twice is refused, and nothing of that load stays.
		err = dbh.Transact(ctx, func(tx *db.Tx) error {
			_, err := ledger.LoadPosted(ctx, tx, ps[:2])
			return err
		})
		if apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("second load: %v", err)
		}
		var n int
		if err := dbh.QueryRowContext(ctx, "SELECT COUNT(*) FROM journal_entries").Scan(&n); err != nil || n != 1202 {
			t.Fatalf("%d entries (%v)", n, err)
		}
	})
}

package reports_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/reports"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// benchAccounts is the size of the benchmark's chart.
const benchAccounts = 40

// BenchmarkTrialBalance1M times the trial balance over one million posted
// journal lines (250,000 entries of four lines over two years and 40
// accounts), loaded in bulk through ledger.LoadPosted, on each engine.
// Seeding takes minutes; it is skipped under -short. MAINSTAY_BENCH_LINES
// changes the number of lines (a multiple of four).
//
//	go test ./internal/ledger/reports -run '^$' -bench TrialBalance1M -benchtime=3x
func BenchmarkTrialBalance1M(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds a million journal lines")
	}
	lines := 1_000_000
	if s := os.Getenv("MAINSTAY_BENCH_LINES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 4 {
			b.Fatalf("MAINSTAY_BENCH_LINES=%q", s)
		}
		lines = n
	}
	for _, e := range dbtest.Engines {
		dbh := dbtest.Open(b, e)
		start := time.Now()
		seedBench(b, dbh, lines)
		b.Logf("%s: seeded %d lines in %s", e, lines, time.Since(start).Round(time.Millisecond))
		ctx := context.Background()
		b.Run(string(e), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				tb, err := reports.TrialBalanceOf(ctx, dbh, company, reports.Period{To: "2026-12-31"}, nil)
				if err != nil {
					b.Fatal(err)
				}
				if len(tb.Lines) != benchAccounts || !tb.Totals.Balance.IsZero() {
					b.Fatalf("%d lines, balance %s", len(tb.Lines), tb.Totals.Balance)
				}
			}
		})
		b.Run(string(e)+"/range+comparison", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, err := reports.TrialBalanceOf(ctx, dbh, company, reports.Period{From: "2026-01-01", To: "2026-12-31"},
					&reports.Period{From: "2025-01-01", To: "2025-12-31"})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// seedBench loads the lines in transactions of 100,000 lines each, then
// refreshes the planner's statistics (and on PostgreSQL the visibility
// map), as autovacuum would after a load of this size.
func seedBench(b *testing.B, dbh *db.DB, lines int) {
	b.Helper()
	chart := make([]account, benchAccounts)
	types := []string{"asset", "liability", "equity", "income", "expense"}
	for i := range chart {
		chart[i] = account{fmt.Sprintf("b%02d", i), fmt.Sprintf("%04d", 1000+i*10), types[i%len(types)], ""}
	}
	seedCompany(b, dbh, company, chart)
	ctx := context.Background()
	day0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const perTx = 25_000 // entries
	entries := lines / 4
	for start := 0; start < entries; start += perTx {
		batch := make([]ledger.Posting, 0, perTx)
		for n := start; n < min(start+perTx, entries); n++ {
			amount := money.New(int64(100+n%9973), 2)
			a, c := n%benchAccounts, (n*7+3)%benchAccounts
			batch = append(batch, ledger.Posting{
				CompanyID: company, Currency: "EUR", Date: day0.AddDate(0, 0, n%730).Format(time.DateOnly),
				Memo: "bench", SourceType: "bench", SourceID: strconv.Itoa(n), Purpose: "load",
				Lines: []ledger.Line{
					{AccountID: acct(chart[a].id), Debit: amount},
					{AccountID: acct(chart[(a+1)%benchAccounts].id), Debit: amount},
					{AccountID: acct(chart[c].id), Credit: amount},
					{AccountID: acct(chart[(c+2)%benchAccounts].id), Credit: amount},
				},
			})
		}
		if err := dbh.Transact(ctx, func(tx *db.Tx) error {
			_, err := ledger.LoadPosted(ctx, tx, batch)
			return err
		}); err != nil {
			b.Fatalf("load: %v", err)
		}
	}
	stmt := "ANALYZE"
	if dbh.Engine() == db.Postgres {
		stmt = "VACUUM ANALYZE"
	}
	for _, table := range []string{"journal_entries", "journal_lines"} {
		if _, err := dbh.ExecContext(ctx, stmt+" "+table); err != nil {
			b.Fatalf("%s %s: %v", stmt, table, err)
		}
	}
}

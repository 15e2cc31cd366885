package ledger_test

import (
	"context"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Posting reads the journal by key, never the whole of it: the cost of a
// post must not grow with the books. PostgreSQL counts sequential scans
// per table; a few hundred postings on one connection (the immutability
// trigger's plan is cached per connection) may not add one per line.
func TestPostingDoesNotScanTheJournal(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	bk := newBooks(t, d)
	ctx := context.Background()
	scans := func() int64 {
		t.Helper()
		var n int64
		if _, err := d.Write().ExecContext(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
		if err := d.Write().QueryRowContext(ctx, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'journal_entries'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	post := func(n int) {
		t.Helper()
		if err := d.Transact(ctx, func(tx *db.Tx) error {
			for range n {
				if _, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: bk.company, Currency: "EUR", Date: "2026-06-01",
					SourceType: "scan", SourceID: id.New("src"), Purpose: "sale", Lines: []ledger.Line{
						{AccountID: bk.bank, Debit: money.MustParse("119.00")},
						{AccountID: bk.revenue, Credit: money.MustParse("100.00")},
						{AccountID: bk.equity, Credit: money.MustParse("19.00")},
					}}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	post(50) // plans are made and cached while the journal is small
	before := scans()
	post(200)
	if got := scans() - before; got > 10 {
		t.Fatalf("200 postings (600 lines) scanned journal_entries %d times", got)
	}
}

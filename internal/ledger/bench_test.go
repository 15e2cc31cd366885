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

// BenchmarkPost measures postings per second through ledger.Post, each in
// its own transaction as a module would (three lines, one of them to the
// non-negative bank, so its lock and balance check are in the figure):
//
//	go test ./internal/ledger -run '^$' -bench Post -benchtime=2000x
func BenchmarkPost(b *testing.B) {
	for _, e := range dbtest.Engines {
		b.Run(string(e), func(b *testing.B) {
			d := dbtest.Open(b, e)
			bk := newBooks(b, d)
			ctx := context.Background()
			posting := func() ledger.Posting {
				return ledger.Posting{CompanyID: bk.company, Currency: "EUR", Date: "2026-06-01",
					SourceType: "bench", SourceID: id.New("src"), Purpose: "sale", Lines: []ledger.Line{
						{AccountID: bk.bank, Debit: money.MustParse("119.00")},
						{AccountID: bk.revenue, Credit: money.MustParse("100.00")},
						{AccountID: bk.equity, Credit: money.MustParse("19.00")},
					}}
			}
			b.ResetTimer() // creating the database is not posting
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := posting()
					if err := d.Transact(ctx, func(tx *db.Tx) error {
						_, err := ledger.Post(ctx, tx, p)
						return err
					}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "postings/s")
		})
	}
}

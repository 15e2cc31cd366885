package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/loadgen"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/config"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
	"github.com/mainstay-erp/mainstay/internal/sales/orders"
)

// BenchmarkCheckoutService measures the checkout service call alone — the
// transaction that finds or creates the customer, prices and taxes the
// cart, quotes shipping, creates the order and reserves its stock — with
// 16 goroutines over the bench dataset (1,000 products in 2 warehouses,
// 2,000 customers), no HTTP, token or middleware:
//
//	go test ./internal/app -run '^$' -bench CheckoutService -benchtime 3000x
func BenchmarkCheckoutService(b *testing.B) {
	for _, e := range dbtest.Engines {
		b.Run(string(e), func(b *testing.B) {
			a := newBenchApp(b, e)
			size := BenchSize{Products: 1000, Customers: 2000, Warehouses: 2, Orders: 0, LinesPerOrder: 1, Stock: 1_000_000}
			seed, err := a.seedBench(context.Background(), size, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			ctx := auth.WithPrincipal(reqctx.WithActor(context.Background(), "bench"),
				auth.Principal{ClientID: seed.ClientID, Scopes: auth.AllScopes(), Companies: []string{seed.CompanyID}})
			customers := checkoutCustomers{a.services.Customers}
			var n atomic.Int64
			b.SetParallelism(8) // 16 goroutines on 2 cores
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				rng := rand.New(rand.NewPCG(uint64(n.Add(1)), 7))
				for pb.Next() {
					i := n.Add(1)
					c := 1 + rng.IntN(size.Customers)
					in := orders.CheckoutInput{
						Customer: orders.CustomerInput{ExternalID: loadgen.CustomerRef(c), Name: fmt.Sprintf("Bench customer %d", c)},
						CreateInput: orders.CreateInput{CompanyID: seed.CompanyID, ExternalID: fmt.Sprintf("svc-%d", i),
							ShipTo: &orders.ShipTo{Country: "DE", PostalCode: "10115", City: "Berlin", Line1: "Hauptstr. 1"},
							Lines: []orders.LineInput{
								{SKU: loadgen.SKU(1 + rng.IntN(size.Products)), Quantity: money.FromInt(1)},
								{SKU: loadgen.SKU(1 + rng.IntN(size.Products)), Quantity: money.FromInt(2)},
							}},
					}
					err := a.db.Transact(ctx, func(tx *db.Tx) error {
						_, _, err := a.orders.Checkout(ctx, tx, customers, in)
						return err
					})
					// Two first checkouts of one new customer race to create
					// it; the handler runs the loser again.
					if err != nil && !errors.Is(err, orders.ErrRaced) {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "checkouts/s")
		})
	}
}

// newBenchApp is an app on a fresh database of the engine, not serving.
func newBenchApp(tb testing.TB, e db.Engine) *App {
	tb.Helper()
	cfg, _, err := config.Load("bench", []string{"--data-dir", tb.TempDir()}, func(string) string { return "" }, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MasterKey = "bWFpbnN0YXktdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGU="
	if e == db.Postgres {
		cfg.DatabaseURL = dbtest.PostgresURL(tb, false)
	}
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a
}

// The checks after a bench run pass on a sound book and fail on each
// breakage they exist to catch: a stock level reserved beyond its
// reservations, an unbalanced posted entry, an order reported that is not
// stored, an order whose confirmed event is missing.
func TestBenchChecksCatchBreakage(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			a := newBenchApp(t, e)
			ctx := context.Background()
			seed, err := a.seedBench(ctx, BenchSize{Products: 4, Customers: 3, Warehouses: 1, Orders: 5, LinesPerOrder: 2, Stock: 10}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			co := seed.CompanyID
			sys := auth.WithPrincipal(reqctx.WithActor(ctx, "test"), auth.Principal{ClientID: seed.ClientID, Scopes: auth.AllScopes(), Companies: []string{co}})
			var order orders.SalesOrder
			if err := a.db.Transact(sys, func(tx *db.Tx) error {
				order, _, err = a.orders.Checkout(sys, tx, checkoutCustomers{a.services.Customers}, orders.CheckoutInput{
					Customer: orders.CustomerInput{ExternalID: loadgen.CustomerRef(1), Name: "C"},
					CreateInput: orders.CreateInput{CompanyID: co, ExternalID: "run-0-1", ShipTo: &orders.ShipTo{Country: "DE"},
						Lines: []orders.LineInput{{SKU: loadgen.SKU(1), Quantity: money.FromInt(2)}}},
				})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			failed := func(created []string) []string {
				t.Helper()
				checks, err := a.verifyBench(ctx, co, "run", created)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, c := range checks {
					if !c.OK {
						names = append(names, c.Name)
					}
				}
				return names
			}
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := a.db.ExecContext(ctx, q, args...); err != nil {
					t.Fatal(err)
				}
			}
			if f := failed([]string{order.ID}); len(f) != 0 {
				t.Fatalf("a sound book fails %v", f)
			}
			if f := failed([]string{order.ID, "so_phantom"}); !slices.Equal(f, []string{"each order and event once"}) {
				t.Fatalf("an order reported but not stored: failed %v", f)
			}

			exec("UPDATE stock_levels SET reserved = reserved + 1 WHERE company_id = $1 AND reserved > 0", co)
			if f := failed([]string{order.ID}); !slices.Equal(f, []string{"no oversell"}) {
				t.Fatalf("a level reserved beyond its reservations: failed %v", f)
			}
			exec("UPDATE stock_levels SET reserved = reserved - 1 WHERE company_id = $1 AND reserved > 0", co)

			// An unbalanced entry can only be posted around the ledger: a
			// draft changed, then marked posted.
			var draft ledger.Entry
			if err := a.db.Transact(sys, func(tx *db.Tx) error {
				var acct [2]string
				for i, code := range []string{"1000", "4000"} {
					if err := tx.QueryRowContext(ctx, "SELECT id FROM accounts WHERE company_id = $1 AND code = $2", co, code).Scan(&acct[i]); err != nil {
						return err
					}
				}
				draft, err = ledger.CreateDraft(sys, tx, ledger.Posting{CompanyID: co, Currency: "EUR", Date: a.db.Now().Format(time.DateOnly), Memo: "t",
					Lines: []ledger.Line{{AccountID: acct[0], Debit: money.FromInt(5)}, {AccountID: acct[1], Credit: money.FromInt(5)}}})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			exec("UPDATE journal_lines SET debit = debit + 1 WHERE entry_id = $1 AND debit > 0", draft.ID)
			if f := failed([]string{order.ID}); len(f) != 0 {
				t.Fatalf("an unbalanced draft (not yet posted) fails %v", f)
			}
			exec("UPDATE journal_entries SET status = 'posted', number = 999999, posted_at = $2 WHERE id = $1", draft.ID, a.db.Now())
			if f := failed([]string{order.ID}); !slices.Equal(f, []string{"ledger balanced"}) {
				t.Fatalf("an unbalanced posted entry: failed %v", f)
			}

			exec("DELETE FROM outbox_events WHERE subject = $1 AND type = $2", order.ID, orders.EventConfirmed)
			if f := failed([]string{order.ID}); !slices.Contains(f, "each order and event once") {
				t.Fatalf("an order without its confirmed event: failed %v", f)
			}
		})
	}
}

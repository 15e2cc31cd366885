package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

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
			cfg, _, err := config.Load("bench", []string{"--data-dir", b.TempDir()}, func(string) string { return "" }, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			cfg.MasterKey = "bWFpbnN0YXktdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGU="
			if e == db.Postgres {
				cfg.DatabaseURL = dbtest.PostgresURL(b, false)
			}
			log := slog.New(slog.DiscardHandler)
			a, err := New(context.Background(), cfg, log)
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			size := BenchSize{Products: 1000, Customers: 2000, Warehouses: 2, Orders: 0, LinesPerOrder: 1, Stock: 1_000_000}
			seed, err := a.seedBench(context.Background(), size, log)
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

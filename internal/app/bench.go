package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/inventory/sites"
	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/periods"
	"github.com/mainstay-erp/mainstay/internal/loadgen"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/ratelimit"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
	"github.com/mainstay-erp/mainstay/internal/sales/orders"
)

// BenchSize is the dataset `mainstay bench` seeds.
type BenchSize struct {
	Products, Customers, Warehouses int
	Orders, LinesPerOrder           int   // historical orders, each with its ledger posting
	Stock                           int64 // opening stock per product and warehouse
}

// externalID names the bench company of this catalog, so that a second
// run reuses it and another size gets its own. The order history is not
// part of the name: a run asking for more history adds to it.
func (s BenchSize) externalID() string {
	return fmt.Sprintf("mainstay-bench-p%d-c%d-w%d", s.Products, s.Customers, s.Warehouses)
}

// benchSeed is a seeded bench company and a client to load it with.
type benchSeed struct {
	CompanyID      string
	ClientID       string
	Secret         string
	SampleOrderIDs []string
	Reused         bool
}

// seedBench finds or creates the bench company of size s: products with
// German VAT and weights, a carrier, s.Warehouses warehouses each holding
// s.Stock of every product (valued into the ledger), customers, and an
// order history whose sales are posted to the ledger. Everything goes
// through the stores, in transactions of many records, not over HTTP.
// It then makes a fresh storefront client (the sales role) whose rate
// limits are high enough never to refuse the load.
func (a *App) seedBench(ctx context.Context, s BenchSize, log *slog.Logger) (benchSeed, error) {
	ctx = auth.WithPrincipal(reqctx.WithActor(ctx, "system"), auth.Principal{ClientID: "system", Scopes: auth.AllScopes()})
	var out benchSeed
	co, err := a.services.Companies.GetByExternalID(ctx, "", s.externalID())
	switch {
	case err == nil:
		out.Reused = true
		if err := a.topUpBenchHistory(ctx, co.Value.ID, s, log); err != nil {
			return out, err
		}
	case apperr.CodeOf(err) == apperr.NotFound:
		co, err = a.services.Companies.Create(ctx, "", map[string]any{
			"external_id": s.externalID(), "legal_name": "Mainstay Bench GmbH", "base_currency": "EUR", "time_zone": "Europe/Berlin",
			"addresses": []any{map[string]any{"kind": "registered", "line1": "Benchstraße 1", "city": "Berlin", "postal_code": "10115", "country": "DE"}},
		})
		if err != nil {
			return out, fmt.Errorf("seed bench company: %w", err)
		}
		if err := a.seedBenchData(ctx, co.Value.ID, s, log); err != nil {
			return out, err
		}
	default:
		return out, fmt.Errorf("find bench company: %w", err)
	}
	out.CompanyID = co.Value.ID
	if err := a.vacuumBench(ctx); err != nil {
		return out, err
	}
	rows, err := a.db.QueryContext(ctx, "SELECT id FROM sales_orders WHERE company_id = $1 ORDER BY id LIMIT 1000", out.CompanyID)
	if err != nil {
		return out, fmt.Errorf("sample bench orders: %w", err)
	}
	if out.SampleOrderIDs, err = db.Collect(rows, func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	}); err != nil {
		return out, fmt.Errorf("sample bench orders: %w", err)
	}
	c, secret, err := auth.CreateClient(ctx, a.db, auth.NewClient{Name: "mainstay bench", Roles: []string{"sales"}, Companies: []string{out.CompanyID}})
	if err != nil {
		return out, fmt.Errorf("create bench client: %w", err)
	}
	generous := ratelimit.Quota{Limit: 100_000_000, Window: time.Minute}
	if err := ratelimit.Set(ctx, a.db, c.ID, map[string]ratelimit.Quota{
		ratelimit.ClassRead: generous, ratelimit.ClassWrite: generous, ratelimit.ClassHeavy: generous, ratelimit.ClassToken: generous,
	}); err != nil {
		return out, fmt.Errorf("bench client quota: %w", err)
	}
	out.ClientID, out.Secret = c.ID, secret
	return out, nil
}

// vacuumBench brings PostgreSQL's statistics up to date after seeding
// and clears the dead rows earlier runs left where checkouts updated
// stock levels and the sequencer numbered events, as autovacuum would (it
// may be off, as on the machine docs/benchmarks.md was measured on), so
// each run starts from the same state. SQLite is left as the server
// leaves it, unanalyzed: with statistics (sqlite_stat4) it re-plans a
// prepared statement whenever a bound value changes, which costs more
// than the plans gain here.
func (a *App) vacuumBench(ctx context.Context) error {
	if a.db.Engine() != db.Postgres {
		return nil
	}
	for _, table := range []string{"products", "customers", "stock_levels", "product_costs", "stock_reservations",
		"sales_orders", "journal_entries", "journal_lines", "outbox_events", "audit_log"} {
		if _, err := a.db.ExecContext(ctx, "VACUUM ANALYZE "+table); err != nil {
			return fmt.Errorf("bench: vacuum %s: %w", table, err)
		}
	}
	return nil
}

// benchChunk is how many records one seeding transaction writes.
const benchChunk = 1000

func (a *App) seedBenchData(ctx context.Context, company string, s BenchSize, log *slog.Logger) error {
	sv := a.services
	started := time.Now()
	step := func(what string, n int, t0 time.Time) {
		log.Info("bench seed", "step", what, "records", n, "took", time.Since(t0).Round(time.Millisecond))
	}
	year := a.db.Now().Year()
	if err := a.db.Transact(ctx, func(tx *db.Tx) error {
		for _, y := range []int{year - 1, year} {
			if _, err := periods.CreateYear(ctx, tx, company, y, "01-01"); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("seed bench fiscal years: %w", err)
	}
	unit, err := metaID(sv.Units.Create(ctx, company, map[string]any{"code": "ea", "name": "Each"}))
	if err != nil {
		return fmt.Errorf("seed bench unit: %w", err)
	}
	tax, err := metaID(sv.TaxCategories.Create(ctx, company, map[string]any{"code": "standard", "name": "Standard rate"}))
	if err != nil {
		return fmt.Errorf("seed bench tax category: %w", err)
	}
	if _, err := sv.TaxRates.Create(ctx, company, map[string]any{"tax_category_id": tax, "country": "DE", "rate": "19", "name": "DE VAT"}); err != nil {
		return fmt.Errorf("seed bench tax rate: %w", err)
	}
	if _, err := sv.Carriers.Create(ctx, company, map[string]any{"code": "DHL", "name": "DHL Paket", "currency": "EUR", "tax_category_id": tax,
		"zones": []any{map[string]any{"name": "Germany", "countries": []any{"DE"}, "free_above": "150",
			"rates": []any{map[string]any{"max_weight_kg": "5", "amount": "4.90"}, map[string]any{"max_weight_kg": "31.5", "amount": "9.90"}}}}}); err != nil {
		return fmt.Errorf("seed bench carrier: %w", err)
	}
	var receiving []string
	for i := 1; i <= s.Warehouses; i++ {
		v, err := sv.Warehouses.Create(ctx, company, map[string]any{"code": fmt.Sprintf("WH%d", i), "name": fmt.Sprintf("Warehouse %d", i)})
		if err != nil {
			return fmt.Errorf("seed bench warehouse: %w", err)
		}
		loc, err := sites.DefaultLocation(ctx, a.db, company, v.Value.ID, sites.Receiving)
		if err != nil {
			return fmt.Errorf("seed bench warehouse: %w", err)
		}
		receiving = append(receiving, loc)
	}

	t0 := time.Now()
	first := fmt.Sprintf("%d-01-01", year)
	for start := 1; start <= s.Products; start += benchChunk {
		err := a.db.Transact(ctx, func(tx *db.Tx) error {
			tctx := db.ContextWithTx(ctx, tx)
			for i := start; i < start+benchChunk && i <= s.Products; i++ {
				price := money.New(int64(199+(i*7919)%9800), 2)
				v, err := sv.Products.Create(tctx, company, map[string]any{
					"sku": loadgen.SKU(i), "name": fmt.Sprintf("Bench product %d", i), "stock_unit_id": unit,
					"list_price": price.String(), "currency": "EUR", "tax_category_id": tax,
					"weight": fmt.Sprintf("0.%d", 1+i%9), "weight_unit": "kg",
				})
				if err != nil {
					return fmt.Errorf("product %d: %w", i, err)
				}
				cost := money.RoundAmount(price.Mul(money.MustParse("0.4")), "EUR", money.HalfEven)
				for w, loc := range receiving {
					if _, err := inventory.Post(ctx, tx, inventory.MoveInput{
						CompanyID: company, Type: inventory.Opening, ProductID: v.Value.ID, ToLocationID: loc,
						Quantity: money.FromInt(s.Stock), UnitCost: &cost, Date: first, Reason: "opening stock",
						SourceType: "bench", SourceID: v.Value.ID, Purpose: fmt.Sprintf("opening_%d", w),
					}); err != nil {
						return fmt.Errorf("opening stock of %s: %w", loadgen.SKU(i), err)
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed bench products: %w", err)
		}
	}
	step("products with opening stock", s.Products, t0)

	t0 = time.Now()
	for start := 1; start <= s.Customers; start += benchChunk {
		err := a.db.Transact(ctx, func(tx *db.Tx) error {
			tctx := db.ContextWithTx(ctx, tx)
			for i := start; i < start+benchChunk && i <= s.Customers; i++ {
				_, err := sv.Customers.Create(tctx, company, map[string]any{
					"external_id": loadgen.CustomerRef(i), "name": fmt.Sprintf("Bench customer %d", i), "currency": "EUR",
					"emails":          []any{fmt.Sprintf("c%d@bench.example", i)},
					"billing_address": map[string]any{"line1": fmt.Sprintf("Hauptstraße %d", i%300+1), "city": "Berlin", "postal_code": "10115", "country": "DE"},
				})
				if err != nil {
					return fmt.Errorf("customer %d: %w", i, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed bench customers: %w", err)
		}
	}
	step("customers", s.Customers, t0)

	if err := a.topUpBenchHistory(ctx, company, s, log); err != nil {
		return err
	}
	step("all", s.Products+s.Customers+s.Orders, started)
	return nil
}

// topUpBenchHistory loads historical orders until the company has
// s.Orders of them (the orders without a storefront id).
func (a *App) topUpBenchHistory(ctx context.Context, company string, s BenchSize, log *slog.Logger) error {
	var have int
	if err := a.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sales_orders WHERE company_id = $1 AND external_id = ''", company).Scan(&have); err != nil {
		return fmt.Errorf("bench history: %w", err)
	}
	if have >= s.Orders {
		return nil
	}
	t0 := time.Now()
	r := a.db.Reader(ctx)
	type product struct {
		id, sku string
		price   money.Decimal
	}
	rows, err := r.QueryContext(ctx, "SELECT id, sku, list_price FROM products WHERE company_id = $1 ORDER BY sku", company)
	if err != nil {
		return fmt.Errorf("bench history: %w", err)
	}
	products, err := db.Collect(rows, func(rows *sql.Rows) (product, error) {
		var p product
		return p, rows.Scan(&p.id, &p.sku, money.Price(&p.price))
	})
	if err != nil {
		return fmt.Errorf("bench history: %w", err)
	}
	rows, err = r.QueryContext(ctx, "SELECT id FROM customers WHERE company_id = $1 ORDER BY id", company)
	if err != nil {
		return fmt.Errorf("bench history: %w", err)
	}
	customers, err := db.Collect(rows, func(rows *sql.Rows) (string, error) {
		var id string
		return id, rows.Scan(&id)
	})
	if err != nil {
		return fmt.Errorf("bench history: %w", err)
	}
	var warehouse, tax string
	if err := r.QueryRowContext(ctx, "SELECT id FROM warehouses WHERE company_id = $1 ORDER BY code LIMIT 1", company).Scan(&warehouse); err != nil {
		return fmt.Errorf("bench history: %w", err)
	}
	if err := r.QueryRowContext(ctx, "SELECT id FROM tax_categories WHERE company_id = $1 AND code = 'standard'", company).Scan(&tax); err != nil {
		return fmt.Errorf("bench history: %w", err)
	}
	if len(products) == 0 || len(customers) == 0 {
		return fmt.Errorf("bench history: the company has no products or customers")
	}
	if err := a.seedBenchHistory(ctx, company, have, s, warehouse, tax, customers, func(i int) (string, string, money.Decimal) {
		p := products[i%len(products)]
		return p.id, p.sku, p.price
	}); err != nil {
		return err
	}
	log.Info("bench seed", "step", "historical orders with their postings", "records", s.Orders-have, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// seedBenchHistory loads orders from..s.Orders: confirmed, shipped,
// invoiced and paid orders of the past year, and the sale of each into
// the ledger (bank against revenue and VAT), benchChunk×5 orders per
// transaction.
func (a *App) seedBenchHistory(ctx context.Context, company string, from int, s BenchSize, warehouse, tax string, customers []string,
	product func(i int) (id, sku string, price money.Decimal)) error {
	accts := map[string]string{}
	for _, code := range []string{"1000", "2200", "4000"} {
		var id string
		if err := a.db.QueryRowContext(ctx, "SELECT id FROM accounts WHERE company_id = $1 AND code = $2", company, code).Scan(&id); err != nil {
			return fmt.Errorf("seed bench history: account %s: %w", code, err)
		}
		accts[code] = id
	}
	rate := money.FromInt(19)
	today := a.db.Now().UTC().Truncate(24 * time.Hour)
	const perTx = benchChunk * 5
	for start := from; start < s.Orders; start += perTx {
		batch := make([]orders.SalesOrder, 0, perTx)
		posts := make([]ledger.Posting, 0, perTx)
		for n := start; n < min(start+perTx, s.Orders); n++ {
			at := today.Add(-time.Duration(1+n%364) * 24 * time.Hour).Add(time.Duration(n%86400) * time.Second)
			o := orders.SalesOrder{
				ID: id.New("so"), CompanyID: company, Status: orders.Confirmed, FulfilmentStatus: "fulfilled", InvoicingStatus: "invoiced",
				PaymentStatus: "paid", CustomerID: customers[(n*31)%len(customers)], Currency: "EUR", OrderDate: at.Format(time.DateOnly),
				WarehouseID: warehouse, Version: 1, CreatedAt: at, UpdatedAt: at, ConfirmedAt: &at,
			}
			var net, taxes money.Decimal
			for l := range s.LinesPerOrder {
				pid, sku, price := product(n*s.LinesPerOrder + l)
				qty := money.FromInt(int64(1 + (n+l)%3))
				amount := money.RoundAmount(price.Mul(qty), "EUR", money.HalfEven)
				lineTax := money.RoundAmount(amount.Mul(rate).Mul(money.MustParse("0.01")), "EUR", money.HalfEven)
				o.Lines = append(o.Lines, orders.OrderLine{LineNo: l + 1, ProductID: pid, SKU: sku, Name: "Bench product", Quantity: qty,
					StockQuantity: qty, UnitPrice: price, NetAmount: amount, TaxCategoryID: tax, TaxRate: rate, TaxAmount: lineTax,
					GrossAmount: amount.Add(lineTax), Shipped: qty})
				net, taxes = net.Add(amount), taxes.Add(lineTax)
			}
			o.Taxes = []orders.OrderTax{{TaxCategoryID: tax, Rate: rate, Base: net, Amount: taxes}}
			o.NetTotal, o.TaxTotal, o.GrossTotal = net, taxes, net.Add(taxes)
			batch = append(batch, o)
			posts = append(posts, ledger.Posting{CompanyID: company, Currency: "EUR", Date: o.OrderDate, Memo: "Sale " + o.ID,
				SourceType: "sales_order", SourceID: o.ID, Purpose: "bench_history",
				Lines: []ledger.Line{{AccountID: accts["1000"], Debit: o.GrossTotal}, {AccountID: accts["4000"], Credit: net}, {AccountID: accts["2200"], Credit: taxes}}})
		}
		if err := a.db.Transact(ctx, func(tx *db.Tx) error {
			if err := orders.LoadHistory(ctx, tx, batch); err != nil {
				return err
			}
			_, err := ledger.LoadPosted(ctx, tx, posts)
			return err
		}); err != nil {
			return fmt.Errorf("seed bench history: %w", err)
		}
	}
	return nil
}

// benchCheck is one correctness check after a run.
type benchCheck struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// verifyBench checks what the load must not have broken: no stock sold
// twice (no level reserved or held beyond what is on hand, and every
// level's reserved equal to its active reservations), every journal
// entry balanced, and every order the run's checkouts created present
// once with one created and one confirmed event each.
func (a *App) verifyBench(ctx context.Context, company, runID string, created []string) ([]benchCheck, error) {
	r := a.db.Reader(ctx)
	count := func(query string, args ...any) (int64, error) {
		var n int64
		err := r.QueryRowContext(ctx, query, args...).Scan(&n)
		return n, err
	}
	var checks []benchCheck
	add := func(name string, ok bool, detail string, args ...any) {
		checks = append(checks, benchCheck{Name: name, OK: ok, Detail: fmt.Sprintf(detail, args...)})
	}
	over, err := count("SELECT COUNT(*) FROM stock_levels WHERE company_id = $1 AND reserved + held > on_hand", company)
	if err != nil {
		return nil, fmt.Errorf("verify stock: %w", err)
	}
	mismatch, err := count(`SELECT COUNT(*) FROM stock_levels l LEFT JOIN (
  SELECT product_id, location_id, lot, SUM(quantity) AS q FROM stock_reservations WHERE company_id = $1 AND status = 'active' GROUP BY product_id, location_id, lot
) r ON r.product_id = l.product_id AND r.location_id = l.location_id AND r.lot = l.lot
WHERE l.company_id = $1 AND l.reserved <> COALESCE(r.q, 0)`, company)
	if err != nil {
		return nil, fmt.Errorf("verify reservations: %w", err)
	}
	add("no oversell", over == 0 && mismatch == 0, "%d stock levels reserved or held beyond on hand; %d whose reserved differs from their active reservations", over, mismatch)

	unbalanced, err := count(`SELECT COUNT(*) FROM (SELECT l.entry_id FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
WHERE e.company_id = $1 AND e.status = 'posted' GROUP BY l.entry_id HAVING SUM(l.debit) <> SUM(l.credit)) x`, company)
	if err != nil {
		return nil, fmt.Errorf("verify ledger: %w", err)
	}
	// Compared in SQL: the sums of a large book overflow 64 bits.
	var diff string
	if err := r.QueryRowContext(ctx, `SELECT CAST(COALESCE(SUM(l.debit), 0) - COALESCE(SUM(l.credit), 0) AS TEXT) FROM journal_lines l
JOIN journal_entries e ON e.id = l.entry_id WHERE e.company_id = $1 AND e.status = 'posted'`, company).Scan(&diff); err != nil {
		return nil, fmt.Errorf("verify ledger: %w", err)
	}
	entries, err := count("SELECT COUNT(*) FROM journal_entries WHERE company_id = $1 AND status = 'posted'", company)
	if err != nil {
		return nil, fmt.Errorf("verify ledger: %w", err)
	}
	add("ledger balanced", unbalanced == 0 && diff == "0", "%d entries, %d unbalanced; debits − credits over the book: %s", entries, unbalanced, diff)

	stored, err := count("SELECT COUNT(*) FROM sales_orders WHERE company_id = $1 AND external_id LIKE $2", company, runID+"-%")
	if err != nil {
		return nil, fmt.Errorf("verify orders: %w", err)
	}
	// The events are grouped first: outbox_events has no index on
	// subject, and a join per order read the whole outbox each time.
	off, err := count(`SELECT COUNT(*) FROM sales_orders o LEFT JOIN (
  SELECT subject, COUNT(*) AS n, COUNT(DISTINCT type) AS types FROM outbox_events
  WHERE company_id = $1 AND type IN ($3, $4) GROUP BY subject
) e ON e.subject = o.id
WHERE o.company_id = $1 AND o.external_id LIKE $2 AND (e.n IS NULL OR e.n <> 2 OR e.types <> 2)`,
		company, runID+"-%", orders.EventCreated, orders.EventConfirmed)
	if err != nil {
		return nil, fmt.Errorf("verify events: %w", err)
	}
	add("each order and event once", stored == int64(len(created)) && off == 0,
		"%d orders answered 201, %d stored; %d without exactly one created and one confirmed event", len(created), stored, off)
	return checks, nil
}

// printChecks writes the checks, one per line.
func printChecks(w io.Writer, checks []benchCheck) {
	fmt.Fprintln(w)
	for _, c := range checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %-26s %s\n", mark, c.Name, strings.TrimSpace(c.Detail))
	}
}

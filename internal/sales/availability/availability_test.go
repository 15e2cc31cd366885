package availability_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/sales/availability"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// seed writes the rows of the resource engine and package inventory with
// raw SQL, so thousands of them take milliseconds.
type seed struct {
	tb  testing.TB
	q   db.Querier
	ctx context.Context
}

func (s seed) exec(sqlText string, args ...any) {
	s.tb.Helper()
	if _, err := s.q.ExecContext(s.ctx, sqlText, args...); err != nil {
		s.tb.Fatalf("%.60s: %v", sqlText, err)
	}
}

var now = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func (s seed) company(id string) {
	s.exec(`INSERT INTO companies (id, version, created_at, updated_at, doc, legal_name, base_currency, active)
VALUES ($1, 1, $2, $2, '{}', $1, 'EUR', TRUE)`, id, now)
}

func (s seed) warehouse(company, id, code string) {
	s.exec(`INSERT INTO warehouses (id, company_id, version, created_at, updated_at, doc, code, name, active)
VALUES ($1, $2, 1, $3, $3, '{}', $4, $4, TRUE)`, id, company, now, code)
}

func (s seed) location(company, id, warehouse, kind, toWarehouse string) {
	s.exec(`INSERT INTO locations (id, company_id, version, created_at, updated_at, doc, warehouse_id, code, name, kind, is_default, to_warehouse_id, active)
VALUES ($1, $2, 1, $3, $3, '{}', $4, $1, $1, $5, FALSE, $6, TRUE)`, id, company, now, warehouse, kind, toWarehouse)
}

func (s seed) product(company, id, sku string) {
	s.exec(`INSERT INTO products (id, company_id, version, created_at, updated_at, doc, sku, name, list_price, currency, tax_category_id, active)
VALUES ($1, $2, 1, $3, $3, '{}', $4, $4, 0, 'EUR', '', TRUE)`, id, company, now, sku)
}

func (s seed) level(company, product, location, lot, onHand, reserved, held string) {
	q := func(v string) money.Decimal { return money.MustParse(v) }
	oh, rs, hd := q(onHand), q(reserved), q(held)
	s.exec(`INSERT INTO stock_levels (company_id, product_id, location_id, lot, on_hand, reserved, held)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, company, product, location, lot, money.Quantity(&oh), money.Quantity(&rs), money.Quantity(&hd))
}

// world is two warehouses: BER1 with a bin, a receiving dock and a
// transit location towards HAM1, and HAM1 with a bin.
func world(s seed, company string) {
	s.company(company)
	s.warehouse(company, company+"_ber", "BER1")
	s.warehouse(company, company+"_ham", "HAM1")
	s.location(company, company+"_ber_bin", company+"_ber", "storage", "")
	s.location(company, company+"_ber_recv", company+"_ber", "receiving", "")
	s.location(company, company+"_ber_transit", company+"_ber", "transit", company+"_ham")
	s.location(company, company+"_ham_bin", company+"_ham", "storage", "")
}

// show prints an item as "sku found avail/on/res/held/inc [CODE avail/on/inc …]".
func show(it availability.Item) string {
	var ws []string
	for _, w := range it.Warehouses {
		ws = append(ws, fmt.Sprintf("%s %s/%s/%s", w.Code, w.Available, w.OnHand, w.Incoming))
	}
	return fmt.Sprintf("%s %s %v %s/%s/%s/%s/%s [%s]", it.SKU, it.ProductID, it.Found, it.Available, it.OnHand, it.Reserved, it.Held, it.Incoming, strings.Join(ws, ", "))
}

func TestForSumsLevelsPerWarehouse(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := seed{t, d, ctx}
		world(s, "a")
		world(s, "b")
		s.product("a", "p_mug", "MUG")
		s.product("a", "p_over", "OVERSOLD")
		s.product("a", "p_empty", "EMPTY")
		s.product("b", "p_mug_b", "MUG")
		// MUG: BER1 13.5 on hand (two lots in the bin, the dock), 3 reserved,
		// 1 held; 4 in transit to HAM1, which has 5.
		s.level("a", "p_mug", "a_ber_bin", "", "10", "3", "1")
		s.level("a", "p_mug", "a_ber_bin", "L1", "1.5", "0", "0")
		s.level("a", "p_mug", "a_ber_recv", "", "2", "0", "0")
		s.level("a", "p_mug", "a_ber_transit", "", "4", "0", "0")
		s.level("a", "p_mug", "a_ham_bin", "", "5", "0", "0")
		// OVERSOLD: BER1 reserved beyond its stock shows 0, not -3, and does
		// not hide HAM1's 3.
		s.level("a", "p_over", "a_ber_bin", "", "2", "5", "0")
		s.level("a", "p_over", "a_ham_bin", "", "3", "0", "0")
		// A level emptied by moves stays as a row of zeros.
		s.level("a", "p_empty", "a_ber_bin", "", "0", "0", "0")
		// Company b's MUG must not leak into a's answer.
		s.level("b", "p_mug_b", "b_ber_bin", "", "1000", "0", "0")

		items, err := availability.For(ctx, d, "a", []string{"MUG", "NOPE", "OVERSOLD", "EMPTY"}, []string{"p_mug", "p_mug_b"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range items {
			got = append(got, show(it))
		}
		want := []string{
			"MUG p_mug true 14.5/18.5/3/1/4 [BER1 9.5/13.5/0, HAM1 5/5/4]",
			"NOPE  false 0/0/0/0/0 []",
			"OVERSOLD p_over true 3/5/5/0/0 [BER1 0/2/0, HAM1 3/3/0]",
			"EMPTY p_empty true 0/0/0/0/0 []",
			"MUG p_mug true 14.5/18.5/3/1/4 [BER1 9.5/13.5/0, HAM1 5/5/4]",
			" p_mug_b false 0/0/0/0/0 []",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}

		// A warehouse filter narrows the list and the totals.
		items, err = availability.For(ctx, d, "a", []string{"MUG"}, nil, []string{"HAM1"})
		if err != nil {
			t.Fatal(err)
		}
		if g := show(items[0]); g != "MUG p_mug true 5/5/0/0/4 [HAM1 5/5/4]" {
			t.Fatalf("HAM1 only: %s", g)
		}
		// Another company's warehouse code is unknown here.
		_, err = availability.For(ctx, d, "a", []string{"MUG"}, nil, []string{"HAM1", "PAR1"})
		if e := apperr.As(err); e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Pointer != "query:warehouse" {
			t.Fatalf("unknown warehouse: %v", err)
		}
		for _, n := range []int{0, availability.MaxItems + 1} {
			_, err = availability.For(ctx, d, "a", make([]string, n), nil, nil)
			if e := apperr.As(err); e.Code != apperr.BadRequest || e.Fields[0].Pointer != "query:sku" {
				t.Fatalf("%d items: %v", n, err)
			}
		}
	})
}

// BenchmarkAvailability asks for 200 SKUs out of 5,000 products with stock
// in 4 locations each (20,000 stock levels), on both engines.
func BenchmarkAvailability(b *testing.B) {
	for _, e := range dbtest.Engines {
		b.Run(string(e), func(b *testing.B) {
			d := dbtest.Open(b, e)
			ctx := context.Background()
			const products = 5000
			err := d.Transact(ctx, func(tx *db.Tx) error {
				s := seed{b, tx, ctx}
				world(s, "a")
				for start := 0; start < products; start += 500 {
					var prods, levels []string
					for i := start; i < start+500; i++ {
						prods = append(prods, fmt.Sprintf("('p%05d', 'a', 1, '2026-05-04', '2026-05-04', '{}', 'SKU-%05d', 'Product %d', 0, 'EUR', '', TRUE)", i, i, i))
						for j, loc := range []string{"a_ber_bin", "a_ber_recv", "a_ber_transit", "a_ham_bin"} {
							levels = append(levels, fmt.Sprintf("('a', 'p%05d', '%s', '', %d, %d, 0)", i, loc, (i%50+j)*1000000, (i%3)*1000000))
						}
					}
					s.exec(`INSERT INTO products (id, company_id, version, created_at, updated_at, doc, sku, name, list_price, currency, tax_category_id, active) VALUES ` + strings.Join(prods, ", "))
					s.exec(`INSERT INTO stock_levels (company_id, product_id, location_id, lot, on_hand, reserved, held) VALUES ` + strings.Join(levels, ", "))
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if e == db.Postgres {
				if _, err := d.ExecContext(ctx, "ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			skus := make([]string, availability.MaxItems)
			for i := range skus {
				skus[i] = fmt.Sprintf("SKU-%05d", i*products/len(skus)+7)
			}
			for b.Loop() {
				items, err := availability.For(ctx, d.Reader(ctx), "a", skus, nil, nil)
				if err != nil || len(items) != len(skus) || len(items[0].Warehouses) != 2 {
					b.Fatalf("%v %d", err, len(items))
				}
			}
		})
	}
}

package money_test

import (
	"context"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// Amounts are scaled integers in SQL, so comparisons are numeric (a text
// column would put "9.50" after "100.00") and sums are exact on both
// engines (a float would make ten 0.1 lines 0.9999999999999999).
func TestExactComparisonAndSumInSQL(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, "CREATE TABLE lines (name TEXT NOT NULL, amount BIGINT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		insert := func(name, amount string) {
			a := money.MustParse(amount)
			if _, err := d.ExecContext(ctx, "INSERT INTO lines (name, amount) VALUES ($1, $2)", name, money.Amount(&a)); err != nil {
				t.Fatal(err)
			}
		}
		insert("small", "9.50")
		insert("big", "100.00")
		limit := money.MustParse("10")
		var names []string
		rows, err := d.QueryContext(ctx, "SELECT name FROM lines WHERE amount >= $1 ORDER BY amount", money.Amount(&limit))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		rows.Close()
		if len(names) != 1 || names[0] != "big" {
			t.Fatalf("amount >= 10 matched %v, want [big]", names)
		}
		var maxAmount money.Decimal
		if err := d.QueryRowContext(ctx, "SELECT MAX(amount) FROM lines").Scan(money.Amount(&maxAmount)); err != nil {
			t.Fatal(err)
		}
		if !maxAmount.Equal(money.MustParse("100")) {
			t.Fatalf("max = %s, want 100", maxAmount)
		}

		if _, err := d.ExecContext(ctx, "DELETE FROM lines"); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			insert("tenth", "0.1")
		}
		var sum money.Decimal
		if err := d.QueryRowContext(ctx, "SELECT SUM(amount) FROM lines").Scan(money.Amount(&sum)); err != nil {
			t.Fatal(err)
		}
		if !sum.Equal(money.MustParse("1")) || sum.String() != "1.0000" {
			t.Fatalf("sum of ten 0.1 = %s, want exactly 1.0000", sum)
		}

		// Sums beyond int64 still scan exactly (PostgreSQL widens SUM to
		// numeric; SQLite refuses with an overflow error rather than wrap).
		if _, err := d.ExecContext(ctx, "DELETE FROM lines"); err != nil {
			t.Fatal(err)
		}
		huge := money.MustParse("900000000000000")
		insert("a", huge.String())
		insert("b", huge.String())
		var big money.Decimal
		err = d.QueryRowContext(ctx, "SELECT SUM(amount) FROM lines").Scan(money.Amount(&big))
		switch d.Engine() {
		case db.Postgres:
			if err != nil || !big.Equal(money.MustParse("1800000000000000")) {
				t.Fatalf("huge sum = %s (%v), want 1800000000000000", big, err)
			}
		case db.SQLite:
			if err == nil {
				t.Fatalf("SQLite summed past int64 without an error: %s", big)
			}
		}
	})
}

func TestAmountTooPreciseIsRefusedNotRounded(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, "CREATE TABLE lines (amount BIGINT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		a := money.MustParse("0.00001")
		if _, err := d.ExecContext(ctx, "INSERT INTO lines (amount) VALUES ($1)", money.Amount(&a)); err == nil {
			t.Fatal("an amount with 5 decimals was stored at scale 4")
		}
		var n int
		_ = d.QueryRowContext(ctx, "SELECT COUNT(*) FROM lines").Scan(&n)
		if n != 0 {
			t.Fatalf("%d rows written", n)
		}
	})
}

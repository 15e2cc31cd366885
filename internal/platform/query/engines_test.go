package query

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// The end-to-end tests run a store's list query, as a store would build
// it, on both engines.

const itemsDDL = `CREATE TABLE query_test_items (
	id         TEXT PRIMARY KEY,
	company    TEXT NOT NULL,
	grp        INTEGER NOT NULL,
	price      BIGINT NOT NULL,
	name       TEXT NOT NULL,
	active     BOOLEAN NOT NULL,
	status     TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL
)`

var itemSchema = Schema{
	{Name: "grp", Column: "grp", Kind: Int, Sortable: true},
	{Name: "price", Column: "price", Kind: Decimal, Scale: 2, Sortable: true},
	{Name: "name", Column: "name", Kind: String, Sortable: true},
	{Name: "active", Column: "active", Kind: Bool, Sortable: true},
	{Name: "status", Column: "status", Kind: Enum, Values: []string{"draft", "confirmed", "cancelled"}},
	{Name: "created_at", Column: "created_at", Kind: Time, Sortable: true},
}

type item struct {
	ID      string
	Company string
	Grp     int64
	Price   int64 // scale 2
	Name    string
	Active  bool
	Status  string
	Created time.Time
}

// key returns the row's order values in the cursor form.
func (it item) key(orders []Order) []any {
	vals := make([]any, len(orders))
	for i, o := range orders {
		switch o.Field.Name {
		case "grp":
			vals[i] = it.Grp
		case "price":
			vals[i] = it.Price
		case "name":
			vals[i] = it.Name
		case "active":
			vals[i] = it.Active
		case "created_at":
			vals[i] = it.Created
		}
	}
	return vals
}

// compareItems orders rows the way OrderSQL tells the database to. The
// test data keeps names lower-case ASCII and ids digits, so the databases'
// text collations agree with Go's byte order.
func compareItems(orders []Order, a, b item) int {
	for i, o := range orders {
		var c int
		switch x := a.key(orders)[i].(type) {
		case int64:
			c = cmp.Compare(x, b.key(orders)[i].(int64))
		case string:
			c = cmp.Compare(x, b.key(orders)[i].(string))
		case bool:
			c = cmp.Compare(b2i(x), b2i(b.key(orders)[i].(bool)))
		case time.Time:
			c = x.Compare(b.key(orders)[i].(time.Time))
		}
		if o.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(a.ID, b.ID)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

var baseTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func insertItems(t *testing.T, d *db.DB, items ...item) {
	t.Helper()
	for _, it := range items {
		_, err := d.ExecContext(context.Background(),
			`INSERT INTO query_test_items (id, company, grp, price, name, active, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			it.ID, it.Company, it.Grp, it.Price, it.Name, it.Active, it.Status, it.Created)
		if err != nil {
			t.Fatalf("insert %+v: %v", it, err)
		}
	}
}

// listItems is one List call: the company condition first (so the filter's
// placeholders start after it), then the filter, then the keyset, and one
// row more than the page to know whether another page follows.
func listItems(t *testing.T, d *db.DB, key []byte, company, filter, orderBy, token string, pageSize int) ([]item, string, error) {
	t.Helper()
	expr, err := ParseFilter(filter)
	if err != nil {
		return nil, "", err
	}
	orders, err := ParseOrderBy(orderBy, itemSchema)
	if err != nil {
		return nil, "", err
	}
	where := []string{"company = $1"}
	args := []any{company}
	fsql, fargs, err := CompileFilter(expr, itemSchema, len(args)+1)
	if err != nil {
		return nil, "", err
	}
	if fsql != "" {
		where = append(where, fsql)
		args = append(args, fargs...)
	}
	fp := Fingerprint(filter, orderBy, company, "cli_test")
	if token != "" {
		c, err := DecodeToken(key, token, fp)
		if err != nil {
			return nil, "", err
		}
		ksql, kargs, err := Keyset(orders, c, "id", len(args)+1)
		if err != nil {
			return nil, "", err
		}
		where = append(where, ksql)
		args = append(args, kargs...)
	}
	q := fmt.Sprintf(`SELECT id, company, grp, price, name, active, status, created_at FROM query_test_items WHERE %s ORDER BY %s LIMIT %d`,
		strings.Join(where, " AND "), OrderSQL(orders, "id"), pageSize+1)
	rows, err := d.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("query %s %v: %v", q, args, err)
	}
	defer rows.Close()
	var out []item
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.ID, &it.Company, &it.Grp, &it.Price, &it.Name, &it.Active, &it.Status, &it.Created); err != nil {
			t.Fatalf("scan: %v", err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v", err)
	}
	if len(out) <= pageSize {
		return out, "", nil
	}
	out = out[:pageSize]
	last := out[len(out)-1]
	c, err := NewCursor(orders, last.key(orders), last.ID)
	if err != nil {
		t.Fatalf("cursor: %v", err)
	}
	return out, EncodeToken(key, c, fp), nil
}

func TestFilterOnDatabase(t *testing.T) {
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		if _, err := d.ExecContext(context.Background(), itemsDDL); err != nil {
			t.Fatal(err)
		}
		at := func(min int) time.Time { return baseTime.Add(time.Duration(min) * time.Minute) }
		insertItems(t, d,
			item{"i1", "co_1", 1, 950, "bolt", true, "draft", at(0)},                                          // 9.50
			item{"i2", "co_1", 2, 10000, "nut", false, "confirmed", at(10)},                                   // 100.00
			item{"i3", "co_1", 3, 100000, "washer", true, "cancelled", at(20).Add(123456 * time.Microsecond)}, // 1000.00
			item{"i4", "co_1", 1, -50, "shim", false, "confirmed", at(30)},                                    // -0.50
			item{"i5", "co_2", 1, 10000, "nut", true, "confirmed", at(10)},                                    // another company
		)
		for _, tt := range []struct {
			filter string
			want   []string
		}{
			{``, []string{"i1", "i2", "i3", "i4"}},
			// A text comparison would put "9.50" above "100"; scaled integers do not.
			{`price >= "100"`, []string{"i2", "i3"}},
			{`price >= 100`, []string{"i2", "i3"}},
			{`price > "9.5"`, []string{"i2", "i3"}},
			{`price < 10`, []string{"i1", "i4"}},
			{`price = "100.00"`, []string{"i2"}},
			{`price < 0`, []string{"i4"}},
			{`price != -0.5`, []string{"i1", "i2", "i3"}},
			{`active = true`, []string{"i1", "i3"}},
			{`active != true`, []string{"i2", "i4"}},
			{`status = "confirmed"`, []string{"i2", "i4"}},
			{`NOT status = "confirmed"`, []string{"i1", "i3"}},
			{`-status = "confirmed"`, []string{"i1", "i3"}},
			{`name >= "shim"`, []string{"i3", "i4"}},
			{`name = "nut"`, []string{"i2"}},
			{`grp = 1`, []string{"i1", "i4"}},
			{`grp >= 2`, []string{"i2", "i3"}},
			{`created_at > "2025-03-01T12:10:00Z"`, []string{"i3", "i4"}},
			{`created_at >= "2025-03-01T13:10:00+01:00"`, []string{"i2", "i3", "i4"}},
			{`created_at > "2025-03-01T12:20:00.123456Z"`, []string{"i4"}},
			{`created_at > "2025-03-01T12:20:00.123455Z"`, []string{"i3", "i4"}},
			{`created_at <= "2025-03-01T12:20:00.1Z"`, []string{"i1", "i2"}},
			// OR binds tighter than AND: grp = 1 AND (status = "draft" OR price > 500).
			{`grp = 1 AND status = "draft" OR price > 50`, []string{"i1"}},
			{`(grp = 1 AND status = "draft") OR price > 50`, []string{"i1", "i2", "i3"}},
			{`grp = 1 active = false`, []string{"i4"}},
		} {
			t.Run(tt.filter, func(t *testing.T) {
				rows, next, err := listItems(t, d, testKey, "co_1", tt.filter, "", "", 100)
				if err != nil {
					t.Fatalf("list: %v", err)
				}
				var got []string
				for _, r := range rows {
					got = append(got, r.ID)
				}
				if !slices.Equal(got, tt.want) || next != "" {
					t.Errorf("filter %s = %v (next %q), want %v", tt.filter, got, next, tt.want)
				}
			})
		}
	})
}

// TestPagingUnderInserts walks every page while rows are inserted on both
// sides of the cursor, including rows tied with the cursor row on every
// order field and differing only in id. Every row present at the start and
// matching the filter must be served exactly once; rows inserted ahead of
// the cursor are served, rows inserted behind it are not.
func TestPagingUnderInserts(t *testing.T) {
	type pagingCase struct {
		filter, orderBy string
		match           func(item) bool
	}
	cases := []pagingCase{
		{``, ``, func(item) bool { return true }},
		{``, `grp`, func(item) bool { return true }},
		{`price >= "100"`, `grp desc`, func(it item) bool { return it.Price >= 10000 }},
		{`active = true OR status = "confirmed"`, `grp desc, price`,
			func(it item) bool { return it.Active || it.Status == "confirmed" }},
		{`NOT status = "cancelled" AND created_at >= "2025-03-01T12:02:00Z"`, `created_at desc, name`,
			func(it item) bool { return it.Status != "cancelled" && !it.Created.Before(baseTime.Add(2*time.Minute)) }},
		{`price < 100.5 grp != 2`, `active, grp desc, name desc`,
			func(it item) bool { return it.Price < 10050 && it.Grp != 2 }},
	}
	dbtest.ForEachEngine(t, func(t *testing.T, d *db.DB) {
		if _, err := d.ExecContext(context.Background(), itemsDDL); err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(7, 11))
		used := map[int]bool{}
		newID := func(n int) (string, bool) {
			if n < 0 || used[n] {
				return "", false
			}
			used[n] = true
			return fmt.Sprintf("it%08d", n), true
		}
		names := []string{"alpha", "bravo", "charlie", "delta"}
		statuses := []string{"draft", "confirmed", "cancelled"}
		prices := []int64{-100, 0, 500, 950, 10000, 10050, 250000}
		randomItem := func(company string) item {
			var id string
			for ok := false; !ok; {
				id, ok = newID(r.IntN(100_000_000))
			}
			return item{
				ID: id, Company: company,
				Grp:     int64(r.IntN(4)),
				Price:   prices[r.IntN(len(prices))],
				Name:    names[r.IntN(len(names))],
				Active:  r.IntN(2) == 0,
				Status:  statuses[r.IntN(len(statuses))],
				Created: baseTime.Add(time.Duration(r.IntN(5)) * time.Minute),
			}
		}
		var all []item
		for range 150 {
			it := randomItem("co_1")
			all = append(all, it)
			insertItems(t, d, it)
		}
		for range 20 { // another company's rows must never appear
			insertItems(t, d, randomItem("co_2"))
		}

		for _, tc := range cases {
			t.Run(tc.filter+" | "+tc.orderBy, func(t *testing.T) {
				orders, err := ParseOrderBy(tc.orderBy, itemSchema)
				if err != nil {
					t.Fatal(err)
				}
				initial := map[string]bool{}
				for _, it := range all {
					if it.Company == "co_1" && tc.match(it) {
						initial[it.ID] = true
					}
				}
				seen := map[string]int{}
				ahead := map[string]bool{} // inserted after the cursor and matching: must be served
				behind := map[string]bool{}
				var prev *item
				token := ""
				pages := 0
				for {
					rows, next, err := listItems(t, d, testKey, "co_1", tc.filter, tc.orderBy, token, 7)
					if err != nil {
						t.Fatalf("page %d: %v", pages, err)
					}
					pages++
					if pages > 200 {
						t.Fatal("more than 200 pages; the walk does not end")
					}
					for _, it := range rows {
						seen[it.ID]++
						if it.Company != "co_1" {
							t.Errorf("row %s of company %s served", it.ID, it.Company)
						}
						if !tc.match(it) {
							t.Errorf("row %+v does not match the filter", it)
						}
						if prev != nil && compareItems(orders, *prev, it) >= 0 {
							t.Errorf("row %+v served after %+v, out of order", it, *prev)
						}
						prev = &it
					}
					if next == "" {
						break
					}
					// Between pages, insert rows around the cursor row: ties on
					// every order field with the neighbouring ids, and random
					// rows landing on either side.
					cur := rows[len(rows)-1]
					n := 0
					fmt.Sscanf(cur.ID, "it%d", &n)
					var fresh []item
					for _, m := range []int{n - 1, n + 1} {
						if id, ok := newID(m); ok {
							tie := cur
							tie.ID = id
							fresh = append(fresh, tie)
						}
					}
					fresh = append(fresh, randomItem("co_1"), randomItem("co_1"), randomItem("co_2"))
					insertItems(t, d, fresh...)
					for _, it := range fresh {
						all = append(all, it)
						if it.Company != "co_1" || !tc.match(it) {
							continue
						}
						if compareItems(orders, cur, it) < 0 {
							ahead[it.ID] = true
						} else {
							behind[it.ID] = true
						}
					}
					token = next
				}
				for id, n := range seen {
					if n > 1 {
						t.Errorf("row %s served %d times", id, n)
					}
				}
				for id := range initial {
					if seen[id] == 0 {
						t.Errorf("row %s, present from the start, was skipped", id)
					}
				}
				for id := range ahead {
					if seen[id] == 0 {
						t.Errorf("row %s, inserted ahead of the cursor, was skipped", id)
					}
				}
				for id := range behind {
					if seen[id] > 0 {
						t.Errorf("row %s, inserted behind the cursor, was served", id)
					}
				}
				if len(behind) == 0 || len(ahead) == 0 || pages < 5 {
					t.Errorf("weak walk: %d pages, %d rows inserted ahead, %d behind", pages, len(ahead), len(behind))
				}
			})
		}

		t.Run("token bound to its request", func(t *testing.T) {
			_, token, err := listItems(t, d, testKey, "co_1", `grp >= 1`, `grp desc`, "", 3)
			if err != nil || token == "" {
				t.Fatalf("first page: token %q, %v", token, err)
			}
			if _, _, err := listItems(t, d, testKey, "co_1", `grp >= 1`, `grp desc`, token, 3); err != nil {
				t.Fatalf("second page with the same request: %v", err)
			}
			for _, tt := range []struct{ name, company, filter, orderBy, token string }{
				{"other filter", "co_1", `grp >= 0`, `grp desc`, token},
				{"other order", "co_1", `grp >= 1`, `grp`, token},
				{"other company", "co_2", `grp >= 1`, `grp desc`, token},
				{"edited", "co_1", `grp >= 1`, `grp desc`, token[:5] + flip(token[5]) + token[6:]},
				{"truncated", "co_1", `grp >= 1`, `grp desc`, token[:len(token)-1]},
				{"garbage", "co_1", `grp >= 1`, `grp desc`, "not-a-token"},
			} {
				t.Run(tt.name, func(t *testing.T) {
					_, _, err := listItems(t, d, testKey, tt.company, tt.filter, tt.orderBy, tt.token, 3)
					wantBadToken(t, err)
				})
			}
		})
	})
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

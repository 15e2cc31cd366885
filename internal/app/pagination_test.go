package app_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// A walk of many pages, with a filter and an order on a non-unique field,
// while rows are inserted on both sides of the cursor between pages: every
// row that existed when the walk began is seen exactly once, and no row is
// seen twice.
func TestPaginationIsStableUnderConcurrentInserts(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		prices := []string{"1.00", "2.00", "3.00"}
		before := map[string]bool{}
		for i := range 30 {
			p := w.product(t, fmt.Sprintf("P-%02d", i), prices[i%3])
			before[p["id"].(string)] = true
		}
		// An archived product the filter must skip.
		w.admin.Do(t, "POST", "/v1/products", map[string]any{"sku": "ARCH", "name": "Old", "stock_unit_id": w.unit, "list_price": "2.00", "currency": "EUR", "active": false}).Expect(t, 201)

		q := "filter=" + url.QueryEscape("active = true") + "&order_by=" + url.QueryEscape("list_price desc") + "&page_size=5"
		seen := map[string]int{}
		token, pages, extra := "", 0, 0
		for {
			path := "/v1/products?" + q
			if token != "" {
				path += "&page_token=" + url.QueryEscape(token)
			}
			page := w.admin.Do(t, "GET", path, nil).Expect(t, 200).JSON(t)
			pages++
			var last float64
			for i, item := range page["data"].([]any) {
				m := item.(map[string]any)
				seen[m["id"].(string)]++
				if m["active"] != true {
					t.Fatalf("filter let through %v", m)
				}
				var price float64
				fmt.Sscan(m["list_price"].(string), &price)
				if i > 0 && price > last {
					t.Fatalf("page %d not in descending price order", pages)
				}
				last = price
			}
			token, _ = page["next_page_token"].(string)
			if token == "" {
				break
			}
			// Rows on both sides of the cursor: a high price sorts before
			// it (already passed), a low one after it (still ahead).
			w.product(t, fmt.Sprintf("HI-%d", extra), "9.00")
			w.product(t, fmt.Sprintf("LO-%d", extra), "0.50")
			extra++
			if pages == 1 {
				// The token is bound to its filter and order: reused with
				// another, it is refused.
				w.admin.Do(t, "GET", "/v1/products?filter="+url.QueryEscape("active = false")+"&order_by="+url.QueryEscape("list_price desc")+"&page_token="+url.QueryEscape(token), nil).
					ExpectProblem(t, 400, apperr.BadRequest)
				w.admin.Do(t, "GET", "/v1/products?filter="+url.QueryEscape("active = true")+"&order_by=name&page_token="+url.QueryEscape(token), nil).
					ExpectProblem(t, 400, apperr.BadRequest)
				// An edited token is refused too.
				w.admin.Do(t, "GET", "/v1/products?"+q+"&page_token="+url.QueryEscape(token[:len(token)-2]+"AA"), nil).
					ExpectProblem(t, 400, apperr.BadRequest)
			}
			if pages > 50 {
				t.Fatal("walk does not end")
			}
		}
		if pages < 5 {
			t.Fatalf("only %d pages; the test needs at least 5", pages)
		}
		for id, n := range seen {
			if n > 1 {
				t.Fatalf("%s seen %d times", id, n)
			}
		}
		for id := range before {
			if seen[id] != 1 {
				t.Fatalf("%s, present from the start, was skipped", id)
			}
		}
		// Low-priced rows inserted ahead of the cursor were reached.
		lo := 0
		for id := range seen {
			if !before[id] {
				lo++
			}
		}
		if lo == 0 {
			t.Fatal("no row inserted ahead of the cursor was seen; inserts did not interleave")
		}
	})
}

func TestListParameters(t *testing.T) {
	w := newWorld(t, db.SQLite)
	w.product(t, "A", "9.50")
	w.product(t, "B", "100.00")
	// Decimal filters compare numerically.
	list := w.admin.Do(t, "GET", "/v1/products?filter="+url.QueryEscape(`list_price >= "10"`), nil).Expect(t, 200).JSON(t)
	data := list["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["sku"] != "B" {
		t.Fatalf("list_price >= 10 gave %v", data)
	}
	list = w.admin.Do(t, "GET", "/v1/products?fields=sku,list_price&order_by=sku", nil).Expect(t, 200).JSON(t)
	first := list["data"].([]any)[0].(map[string]any)
	if len(first) != 2 || first["sku"] != "A" {
		t.Fatalf("fields gave %v", first)
	}
	for _, bad := range []string{"page_size=-1", "page_size=x", "filter=" + url.QueryEscape("colour = 1"), "filter=" + url.QueryEscape("sku = "), "order_by=colour", "fields=colour", "page_token=garbage"} {
		w.admin.Do(t, "GET", "/v1/products?"+bad, nil).ExpectProblem(t, 400, apperr.BadRequest)
	}
	big := w.admin.Do(t, "GET", "/v1/products?page_size=100000", nil).Expect(t, 200).JSON(t)
	if len(big["data"].([]any)) != 2 {
		t.Fatal("an oversize page_size was refused instead of capped")
	}
}

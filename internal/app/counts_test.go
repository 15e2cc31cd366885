package app_test

import (
	"bytes"
	"fmt"
	"net/url"
	"sync"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

func countLine(product, location, counted string, extra ...string) map[string]any {
	l := map[string]any{"product_id": product, "location_id": location, "counted_quantity": counted}
	for i := 0; i+1 < len(extra); i += 2 {
		l[extra[i]] = extra[i+1]
	}
	return l
}

func (s *stockWorld) count(t *testing.T, date string, lines ...map[string]any) *apitest.Response {
	t.Helper()
	ls := make([]any, len(lines))
	for i, l := range lines {
		ls[i] = l
	}
	return s.admin.Do(t, "POST", "/v1/stock-counts", map[string]any{"date": date, "lines": ls})
}

func countLines(t *testing.T, c map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range c["lines"].([]any) {
		out = append(out, l.(map[string]any))
	}
	return out
}

// TestStockCountPostsDifferences counts more, less and the same as is on
// hand: posting moves the two differences as adjustments, the levels then
// equal the count, and the valuation still equals the ledger.
func TestStockCountPostsDifferences(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		a := s.product(t, "CNT-A", "9.00")["id"].(string)
		b := s.product(t, "CNT-B", "9.00", "valuation_method", "fifo")["id"].(string)
		c := s.product(t, "CNT-C", "9.00")["id"].(string)
		s.move(t, map[string]any{"type": "receipt", "product_id": a, "to_location_id": s.bin, "quantity": "10", "unit_cost": "2.00"}).Expect(t, 201)
		s.move(t, map[string]any{"type": "receipt", "product_id": b, "to_location_id": s.bin, "quantity": "10", "unit_cost": "3.00"}).Expect(t, 201)
		s.move(t, map[string]any{"type": "receipt", "product_id": c, "to_location_id": s.recv, "quantity": "5", "unit_cost": "1.00"}).Expect(t, 201)

		r := s.count(t, "2026-05-10", countLine(a, s.bin, "12"), countLine(b, s.bin, "7.5"), countLine(c, s.recv, "5")).Expect(t, 201)
		draft := r.JSON(t)
		id := draft["id"].(string)
		if draft["status"] != "draft" || r.Header.Get("Location") != "/v1/stock-counts/"+id {
			t.Fatalf("draft %v (Location %q)", draft, r.Header.Get("Location"))
		}
		for i, want := range [][2]string{{"10", "2"}, {"10", "-2.5"}, {"5", "0"}} {
			l := countLines(t, draft)[i]
			if l["book_quantity"] != want[0] || l["difference"] != want[1] || l["move_id"] != nil || l["line"] != float64(i+1) {
				t.Fatalf("draft line %d %v, want book %s difference %s", i+1, l, want[0], want[1])
			}
		}
		// A draft changes nothing.
		if l := s.level(t, a, s.bin); l["on_hand"] != "10" {
			t.Fatalf("level after the draft %v", l)
		}

		posted := s.admin.Do(t, "POST", "/v1/stock-counts/"+id+"/post", nil).Expect(t, 200).JSON(t)
		if posted["status"] != "posted" || posted["posted_at"] == nil {
			t.Fatalf("posted %v", posted)
		}
		lines := countLines(t, posted)
		for i, want := range []struct{ book, diff, value, from, to string }{
			{"10", "2", "4.00", "", s.bin},    // found at the average cost 2.00
			{"10", "-2.5", "7.50", s.bin, ""}, // lost from the FIFO layer at 3.00
		} {
			l := lines[i]
			if l["book_quantity"] != want.book || l["difference"] != want.diff || l["move_id"] == nil {
				t.Fatalf("posted line %d %v", i+1, l)
			}
			m := s.admin.Do(t, "GET", "/v1/stock-moves/"+l["move_id"].(string), nil).Expect(t, 200).JSON(t)
			if m["type"] != "adjustment" || m["reason"] != "stock count "+id || m["date"] != "2026-05-10" || m["value"] != want.value ||
				m["source_type"] != "stock_count" || m["source_id"] != id || m["purpose"] != "line "+string(rune('1'+i)) ||
				str(m["from_location_id"]) != want.from || str(m["to_location_id"]) != want.to {
				t.Fatalf("adjustment of line %d: %v", i+1, m)
			}
		}
		if lines[2]["move_id"] != nil || lines[2]["difference"] != "0" {
			t.Fatalf("an equal line moved: %v", lines[2])
		}
		for _, want := range []struct{ product, loc, qty string }{{a, s.bin, "12"}, {b, s.bin, "7.5"}, {c, s.recv, "5"}} {
			if l := s.level(t, want.product, want.loc); l["on_hand"] != want.qty {
				t.Fatalf("level of %s after the count %v, want %s", want.product, l, want.qty)
			}
		}
		s.valuationMatchesLedger(t, "2026-12-31")
		// Inventory adjustments: 7.50 lost less 4.00 found.
		if got := balanceOf(t, s.admin, accountByCode(t, s.admin, "5100"), "2026-12-31"); got != "3.5" {
			t.Fatalf("inventory adjustments %s, want 3.5", got)
		}
		// GET shows the sheet as posted; a posted count keeps its book
		// quantities when stock moves later.
		s.move(t, map[string]any{"type": "issue", "product_id": a, "from_location_id": s.bin, "quantity": "1"}).Expect(t, 201)
		got := s.admin.Do(t, "GET", "/v1/stock-counts/"+id, nil).Expect(t, 200).JSON(t)
		if l := countLines(t, got)[0]; got["status"] != "posted" || l["book_quantity"] != "10" || l["move_id"] != lines[0]["move_id"] {
			t.Fatalf("posted count read back %v", got)
		}
		// Posting again is a conflict, and moves nothing.
		s.admin.Do(t, "POST", "/v1/stock-counts/"+id+"/post", nil).ExpectProblem(t, 409, apperr.Conflict)
		if l := s.level(t, a, s.bin); l["on_hand"] != "11" {
			t.Fatalf("level after posting twice %v", l)
		}
	})
}

// TestStockCountBookAtPosting: stock that moves between writing the sheet
// and posting it is counted against what is on hand at posting.
func TestStockCountBookAtPosting(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		a := s.product(t, "CNT-A", "9.00")["id"].(string)
		s.move(t, map[string]any{"type": "receipt", "product_id": a, "to_location_id": s.bin, "quantity": "10", "unit_cost": "2.00"}).Expect(t, 201)
		draft := s.count(t, "2026-05-10", countLine(a, s.bin, "10")).Expect(t, 201).JSON(t)
		if l := countLines(t, draft)[0]; l["difference"] != "0" {
			t.Fatalf("draft %v", l)
		}
		s.move(t, map[string]any{"type": "issue", "product_id": a, "from_location_id": s.bin, "quantity": "4"}).Expect(t, 201)
		// The draft shows the book as it is now.
		if l := countLines(t, s.admin.Do(t, "GET", "/v1/stock-counts/"+draft["id"].(string), nil).Expect(t, 200).JSON(t))[0]; l["book_quantity"] != "6" {
			t.Fatalf("draft after the issue %v", l)
		}
		// The same key replays the first post.
		first := s.admin.Do(t, "POST", "/v1/stock-counts/"+draft["id"].(string)+"/post", nil, "Idempotency-Key", "count-post-1").Expect(t, 200)
		again := s.admin.Do(t, "POST", "/v1/stock-counts/"+draft["id"].(string)+"/post", nil, "Idempotency-Key", "count-post-1").Expect(t, 200)
		if !bytes.Equal(first.Body, again.Body) {
			t.Fatalf("replay differs:\n%s\n%s", first.Body, again.Body)
		}
		l := countLines(t, first.JSON(t))[0]
		if l["book_quantity"] != "6" || l["difference"] != "4" || l["move_id"] == nil {
			t.Fatalf("posted line %v, want book 6 and difference 4", l)
		}
		if lv := s.level(t, a, s.bin); lv["on_hand"] != "10" {
			t.Fatalf("level %v, want the 10 counted", lv)
		}
		s.valuationMatchesLedger(t, "2026-12-31")
	})
}

// TestStockCountRefusals: bad lines are 422 at their fields, a product
// without a cost needs one, reserved stock and closed periods are 409,
// another company's count is 404.
func TestStockCountRefusals(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		a := s.product(t, "CNT-A", "9.00")["id"].(string)
		lotted := s.product(t, "CNT-LOT", "9.00", "tracking", "lot")["id"].(string)
		serial := s.product(t, "CNT-SER", "9.00", "tracking", "serial")["id"].(string)
		p := s.count(t, "2026-02-30",
			countLine("prod_nope", s.bin, "1"),
			countLine(a, "loc_nope", "1"),
			countLine(a, s.recv, "-1"),
			countLine(lotted, s.bin, "1"),
			countLine(a, s.bin, "1"),
			countLine(a, s.bin, "2"),
			countLine(lotted, s.recv, "0.0000001", "lot", "L1"),
			countLine(a, s.recv, "1", "lot", "L1"),
			countLine(serial, s.bin, "2", "lot", "SN1"),
		).ExpectProblem(t, 422, apperr.Invalid)
		for _, ptr := range []string{"/date", "/lines/0/product_id", "/lines/1/location_id", "/lines/2/counted_quantity", "/lines/3/lot",
			"/lines/5", "/lines/6/counted_quantity", "/lines/7/lot", "/lines/8/counted_quantity"} {
			if !apitest.HasPointer(p, ptr) {
				t.Errorf("no error at %s: %+v", ptr, p.Errors)
			}
		}
		if apitest.HasPointer(p, "/lines/4") {
			t.Errorf("the first of two equal lines was refused: %+v", p.Errors)
		}
		s.admin.Do(t, "POST", "/v1/stock-counts", map[string]any{"date": "2026-05-10", "lines": []any{}}).ExpectProblem(t, 422, apperr.Invalid)
		s.admin.Do(t, "POST", "/v1/stock-counts", map[string]any{"date": "2026-05-10", "lines": []any{
			map[string]any{"product_id": a, "location_id": s.bin, "counted_quantity": 1}}}).ExpectProblem(t, 422, apperr.Invalid)

		// Stock found of a product with none to take a cost from needs
		// unit_costs; the count stays a draft until it has one.
		cnt := s.count(t, "2026-05-10", countLine(lotted, s.bin, "3", "lot", "L1")).Expect(t, 201).JSON(t)
		post := "/v1/stock-counts/" + cnt["id"].(string) + "/post"
		p = s.admin.Do(t, "POST", post, nil).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/unit_costs") {
			t.Fatalf("missing cost not pointed at: %+v", p)
		}
		p = s.admin.Do(t, "POST", post, map[string]any{"unit_costs": []any{map[string]any{"line": 2, "unit_cost": "1"}}}).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/unit_costs") {
			t.Fatalf("cost for a line the count lacks: %+v", p)
		}
		got := s.admin.Do(t, "POST", post, map[string]any{"unit_costs": []any{map[string]any{"line": 1, "unit_cost": "1.50"}}}).Expect(t, 200).JSON(t)
		m := s.admin.Do(t, "GET", "/v1/stock-moves/"+countLines(t, got)[0]["move_id"].(string), nil).Expect(t, 200).JSON(t)
		if m["value"] != "4.50" || m["lot"] != "L1" {
			t.Fatalf("found stock at the given cost: %v", m)
		}

		// Reserved stock cannot be counted away: 409 naming the line.
		s.move(t, map[string]any{"type": "receipt", "product_id": a, "to_location_id": s.bin, "quantity": "5", "unit_cost": "2"}).Expect(t, 201)
		s.admin.Do(t, "POST", "/v1/stock-reservations", map[string]any{"source_type": "sales_order", "source_id": "so-1", "lines": []any{
			map[string]any{"product_id": a, "location_id": s.bin, "quantity": "4"}}}).Expect(t, 201)
		cnt = s.count(t, "2026-05-10", countLine(a, s.recv, "0"), countLine(a, s.bin, "0")).Expect(t, 201).JSON(t)
		p = s.admin.Do(t, "POST", "/v1/stock-counts/"+cnt["id"].(string)+"/post", nil).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/lines/1/counted_quantity") {
			t.Fatalf("shortage not pointed at the line: %+v", p)
		}
		if got := s.admin.Do(t, "GET", "/v1/stock-counts/"+cnt["id"].(string), nil).Expect(t, 200).JSON(t); got["status"] != "draft" {
			t.Fatalf("a refused post changed the count: %v", got)
		}

		// Another company sees none of it.
		stranger := newCompanyCaller(t, s.world)
		stranger.Do(t, "GET", "/v1/stock-counts/"+cnt["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "POST", "/v1/stock-counts/"+cnt["id"].(string)+"/post", nil).ExpectProblem(t, 404, apperr.NotFound)
		if l := stranger.Do(t, "GET", "/v1/stock-counts", nil).Expect(t, 200).JSON(t)["data"].([]any); len(l) != 0 {
			t.Fatalf("another company lists %v", l)
		}
		s.admin.Do(t, "GET", "/v1/stock-counts/cnt_nope", nil).ExpectProblem(t, 404, apperr.NotFound)

		// A count dated in a closed period is not posted.
		periods := s.admin.Do(t, "POST", "/v1/fiscal-years", map[string]any{"year": 2026}).Expect(t, 201).JSON(t)["data"].([]any)
		s.admin.Do(t, "POST", "/v1/fiscal-periods/"+periods[5].(map[string]any)["id"].(string)+"/close", nil).Expect(t, 200)
		cnt = s.count(t, "2026-06-10", countLine(a, s.bin, "6")).Expect(t, 201).JSON(t)
		s.admin.Do(t, "POST", "/v1/stock-counts/"+cnt["id"].(string)+"/post", nil).ExpectProblem(t, 409, apperr.Conflict)
		s.valuationMatchesLedger(t, "2026-12-31")
	})
}

// TestStockCountList pages counts oldest first and filters by status.
func TestStockCountList(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		a := s.product(t, "CNT-A", "9.00")["id"].(string)
		s.move(t, map[string]any{"type": "receipt", "product_id": a, "to_location_id": s.bin, "quantity": "1", "unit_cost": "1"}).Expect(t, 201)
		var ids []string
		for i := 0; i < 3; i++ {
			ids = append(ids, s.count(t, "2026-05-10", countLine(a, s.bin, "1")).Expect(t, 201).JSON(t)["id"].(string))
		}
		s.admin.Do(t, "POST", "/v1/stock-counts/"+ids[1]+"/post", nil).Expect(t, 200)
		var seen []string
		token := ""
		for page := 0; ; page++ {
			if page > 3 {
				t.Fatal("paging does not end")
			}
			r := s.admin.Do(t, "GET", "/v1/stock-counts?page_size=2&page_token="+url.QueryEscape(token), nil).Expect(t, 200).JSON(t)
			for _, c := range r["data"].([]any) {
				seen = append(seen, c.(map[string]any)["id"].(string))
			}
			if token = r["next_page_token"].(string); token == "" {
				break
			}
		}
		if len(seen) != 3 || seen[0] != ids[0] || seen[1] != ids[1] || seen[2] != ids[2] {
			t.Fatalf("pages %v, want %v", seen, ids)
		}
		drafts := s.admin.Do(t, "GET", "/v1/stock-counts?filter="+url.QueryEscape(`status = "draft"`), nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(drafts) != 2 || drafts[0].(map[string]any)["id"] != ids[0] || drafts[1].(map[string]any)["id"] != ids[2] {
			t.Fatalf("drafts %v", drafts)
		}
		s.admin.Do(t, "GET", "/v1/stock-counts?filter="+url.QueryEscape(`status = "void"`), nil).ExpectProblem(t, 400, apperr.BadRequest)
		x := s.admin.Do(t, "GET", "/v1/stock-counts/"+ids[1], nil, "Accept", "application/xml").Expect(t, 200)
		if !bytes.Contains(x.Body, []byte("<status>posted</status>")) {
			t.Fatalf("XML count: %s", x.Body)
		}
	})
}

// TestStockCountRace posts one count from several clients while stock is
// issued: one post wins, the rest are 409, and the posted line's book is
// what was on hand when it posted (the issues before it are in the book,
// the ones after it come off the counted quantity).
func TestStockCountRace(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		a := s.product(t, "CNT-A", "9.00")["id"].(string)
		s.move(t, map[string]any{"type": "receipt", "product_id": a, "to_location_id": s.bin, "quantity": "20", "unit_cost": "2"}).Expect(t, 201)
		id := s.count(t, "2026-05-10", countLine(a, s.bin, "15")).Expect(t, 201).JSON(t)["id"].(string)
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			posted []map[string]any
		)
		for i := 0; i < 4; i++ {
			wg.Add(2)
			go func() {
				defer wg.Done()
				r := s.admin.Do(t, "POST", "/v1/stock-counts/"+id+"/post", nil)
				switch r.Status {
				case 200:
					mu.Lock()
					posted = append(posted, r.JSON(t))
					mu.Unlock()
				case 409:
				default:
					t.Errorf("post: %d %s", r.Status, r.Body)
				}
			}()
			go func() {
				defer wg.Done()
				s.move(t, map[string]any{"type": "issue", "product_id": a, "from_location_id": s.bin, "quantity": "1"}).Expect(t, 201)
			}()
		}
		wg.Wait()
		if len(posted) != 1 {
			t.Fatalf("%d posts succeeded, want 1", len(posted))
		}
		l := countLines(t, posted[0])[0]
		book := money.MustParse(l["book_quantity"].(string))
		issuedBefore := 20 - book.Decimal().IntPart()
		if book.Add(money.MustParse(l["difference"].(string))).String() != "15" || issuedBefore < 0 || issuedBefore > 4 {
			t.Fatalf("posted line %v", l)
		}
		if got, want := s.level(t, a, s.bin)["on_hand"], fmt.Sprint(15-(4-issuedBefore)); got != want {
			t.Fatalf("on hand %s, want %s (15 counted less the %d issues after posting)", got, want, 4-issuedBefore)
		}
		s.valuationMatchesLedger(t, "2026-12-31")
	})
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

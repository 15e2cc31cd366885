package app_test

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// stockWorld is a company with a warehouse (its receiving dock and one
// bin) to move stock in.
type stockWorld struct {
	*world
	recv, bin string
}

func newStockWorld(t *testing.T, e db.Engine) *stockWorld {
	t.Helper()
	return stockWorldOn(t, newWorld(t, e))
}

func stockWorldOn(t testing.TB, w *world) *stockWorld {
	t.Helper()
	wh := w.admin.Do(t, "POST", "/v1/warehouses", map[string]any{"code": "BER1", "name": "Berlin"}).Expect(t, 201).JSON(t)
	locs := w.admin.Do(t, "GET", "/v1/locations?filter="+url.QueryEscape(`code = "BER1-RECV"`), nil).Expect(t, 200).JSON(t)["data"].([]any)
	if len(locs) != 1 {
		t.Fatalf("receiving location: %v", locs)
	}
	bin := w.admin.Do(t, "POST", "/v1/locations", map[string]any{"warehouse_id": wh["id"], "code": "BER1-A-01", "name": "Aisle A, bin 1"}).Expect(t, 201).JSON(t)
	return &stockWorld{world: w, recv: locs[0].(map[string]any)["id"].(string), bin: bin["id"].(string)}
}

func (s *stockWorld) move(t testing.TB, body map[string]any) *apitest.Response {
	t.Helper()
	if _, ok := body["date"]; !ok {
		body["date"] = "2026-05-04"
	}
	return s.admin.Do(t, "POST", "/v1/stock-moves", body)
}

func (s *stockWorld) level(t *testing.T, product, location string) map[string]string {
	t.Helper()
	out := map[string]string{"on_hand": "0", "reserved": "0", "held": "0", "available": "0"}
	list := s.admin.Do(t, "GET", "/v1/stock-levels?product_id="+product+"&location_id="+location, nil).Expect(t, 200).JSON(t)["data"].([]any)
	for _, l := range list {
		for k := range out {
			out[k] = money.MustParse(l.(map[string]any)[k].(string)).Normalize().String()
		}
	}
	return out
}

// valuationMatchesLedger checks the inventory valuation against the
// inventory account in the trial balance.
func (s *stockWorld) valuationMatchesLedger(t *testing.T, asOf string) string {
	t.Helper()
	v := s.admin.Do(t, "GET", "/v1/reports/inventory-valuation?as_of="+asOf, nil).Expect(t, 200).JSON(t)
	total := money.MustParse(v["total"].(string)).Normalize().String()
	if ledger := balanceOf(t, s.admin, accountByCode(t, s.admin, "1200"), asOf); ledger != total {
		t.Fatalf("inventory valuation %s, ledger inventory account %s", total, ledger)
	}
	return total
}

func TestStockMovesValuationAndLedger(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		avg := s.product(t, "AVG-1", "9.00")["id"].(string)
		fifo := s.product(t, "FIFO-1", "9.00", "valuation_method", "fifo")["id"].(string)

		// Moving average: 10 at 2.00 and 10 at 3.00 make 2.50; issuing 4
		// takes 10.00 to cost of goods sold.
		r1 := s.move(t, map[string]any{"type": "receipt", "product_id": avg, "to_location_id": s.recv, "quantity": "10", "unit_cost": "2.00"}).Expect(t, 201).JSON(t)
		if r1["value"] != "20.00" || r1["journal_entry_id"] == nil {
			t.Fatalf("receipt %v", r1)
		}
		s.move(t, map[string]any{"type": "receipt", "product_id": avg, "to_location_id": s.recv, "quantity": "10", "unit_cost": "3.00"}).Expect(t, 201)
		is := s.move(t, map[string]any{"type": "issue", "product_id": avg, "from_location_id": s.recv, "quantity": "4"}).Expect(t, 201).JSON(t)
		if is["value"] != "10.00" {
			t.Fatalf("moving-average issue %v", is)
		}
		if got := balanceOf(t, s.admin, accountByCode(t, s.admin, "5000"), "2026-12-31"); got != "10" {
			t.Fatalf("cost of goods sold %s", got)
		}
		// FIFO across three layers: 5 at 1, 5 at 2, 5 at 4.
		for _, c := range []string{"1", "2", "4"} {
			s.move(t, map[string]any{"type": "receipt", "product_id": fifo, "to_location_id": s.bin, "quantity": "5", "unit_cost": c}).Expect(t, 201)
		}
		if v := s.move(t, map[string]any{"type": "issue", "product_id": fifo, "from_location_id": s.bin, "quantity": "7"}).Expect(t, 201).JSON(t)["value"]; v != "9.00" {
			t.Fatalf("first FIFO issue %v, want 9.00 (5 × 1 + 2 × 2)", v)
		}
		if v := s.move(t, map[string]any{"type": "issue", "product_id": fifo, "from_location_id": s.bin, "quantity": "5"}).Expect(t, 201).JSON(t)["value"]; v != "14.00" {
			t.Fatalf("second FIFO issue %v, want 14.00 (3 × 2 + 2 × 4)", v)
		}
		// Stock: 16 of avg (value 40), 3 of fifo (value 12).
		if got := s.valuationMatchesLedger(t, "2026-12-31"); got != "52" {
			t.Fatalf("valuation %s, want 52", got)
		}
		// Transfers move stock, not value.
		s.move(t, map[string]any{"type": "transfer", "product_id": avg, "from_location_id": s.recv, "to_location_id": s.bin, "quantity": "6"}).Expect(t, 201)
		if l := s.level(t, avg, s.bin); l["on_hand"] != "6" {
			t.Fatalf("bin after transfer %v", l)
		}
		// More than is there: 409 naming the quantity; nothing changes.
		p := s.move(t, map[string]any{"type": "issue", "product_id": avg, "from_location_id": s.bin, "quantity": "6.5"}).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/quantity") {
			t.Fatalf("shortage not pointed at: %+v", p.Errors)
		}
		// Bad input names each field.
		p = s.move(t, map[string]any{"type": "adjustment", "product_id": avg, "quantity": "-1"}).ExpectProblem(t, 422, apperr.Invalid)
		for _, ptr := range []string{"/to_location_id", "/reason", "/quantity"} {
			if !apitest.HasPointer(p, ptr) {
				t.Errorf("no error at %s: %+v", ptr, p.Errors)
			}
		}
		// An adjustment finds stock at the current average cost (2.50).
		adj := s.move(t, map[string]any{"type": "adjustment", "product_id": avg, "to_location_id": s.bin, "quantity": "2", "reason": "count"}).Expect(t, 201).JSON(t)
		if adj["value"] != "5.00" {
			t.Fatalf("adjustment %v", adj)
		}
		if got := balanceOf(t, s.admin, accountByCode(t, s.admin, "5100"), "2026-12-31"); got != "-5" {
			t.Fatalf("inventory adjustments %s", got)
		}
		// Reversing the issue puts the units back at its value.
		s.admin.Do(t, "POST", "/v1/stock-moves/"+is["id"].(string)+"/reverse", map[string]any{"date": "2026-05-05"}).Expect(t, 201)
		s.admin.Do(t, "POST", "/v1/stock-moves/"+is["id"].(string)+"/reverse", map[string]any{"date": "2026-05-05"}).ExpectProblem(t, 409, apperr.Conflict)
		if got := balanceOf(t, s.admin, accountByCode(t, s.admin, "5000"), "2026-12-31"); got != "23" {
			t.Fatalf("cost of goods sold after reversing 10 of it: %s, want 23 (9 + 14)", got)
		}
		if l := s.level(t, avg, s.recv); l["on_hand"] != "14" { // 20 − 4 − 6 + 4
			t.Fatalf("receiving after the reversal %v", l)
		}
		s.valuationMatchesLedger(t, "2026-12-31")
		// A closed period refuses moves dated in it.
		periods := s.admin.Do(t, "POST", "/v1/fiscal-years", map[string]any{"year": 2026}).Expect(t, 201).JSON(t)["data"].([]any)
		s.admin.Do(t, "POST", "/v1/fiscal-periods/"+periods[5].(map[string]any)["id"].(string)+"/close", nil).Expect(t, 200)
		s.move(t, map[string]any{"type": "receipt", "product_id": avg, "to_location_id": s.recv, "quantity": "1", "unit_cost": "1", "date": "2026-06-10"}).
			ExpectProblem(t, 409, apperr.Conflict)
		// Moves are immutable in the database.
		d := s.s.App.DB()
		if _, err := d.ExecContext(t.Context(), "UPDATE stock_moves SET quantity = 1 WHERE id = $1", r1["id"]); err == nil {
			t.Fatal("a stock move was changed with raw SQL")
		}
		if _, err := d.ExecContext(t.Context(), "DELETE FROM stock_moves WHERE id = $1", r1["id"]); err == nil {
			t.Fatal("a stock move was deleted with raw SQL")
		}
		// Another company sees none of it.
		stranger := newCompanyCaller(t, s.world)
		stranger.Do(t, "GET", "/v1/stock-moves/"+r1["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "POST", "/v1/stock-moves", map[string]any{"type": "issue", "product_id": avg, "from_location_id": s.recv, "quantity": "1", "date": "2026-05-04"}).
			ExpectProblem(t, 422, apperr.Invalid)
	})
}

func TestStockUnitsLotsReservationsAndHolds(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		box := s.admin.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "box", "name": "Box"}).Expect(t, 201).JSON(t)["id"].(string)
		boxed := s.product(t, "BOX-1", "1.00", "sales_unit_id", box, "sales_unit_factor", "6")
		// 2 boxes of 6 come in as 12 stock units.
		m := s.move(t, map[string]any{"type": "receipt", "product_id": boxed["id"], "to_location_id": s.bin, "quantity": "2", "unit_id": box, "unit_cost": "0.50"}).Expect(t, 201).JSON(t)
		if m["quantity"] != "12" || m["entered_quantity"] != "2" || m["value"] != "6.00" {
			t.Fatalf("boxed receipt %v", m)
		}
		other := s.admin.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "kg", "name": "Kilogram"}).Expect(t, 201).JSON(t)["id"].(string)
		s.move(t, map[string]any{"type": "issue", "product_id": boxed["id"], "from_location_id": s.bin, "quantity": "1", "unit_id": other}).ExpectProblem(t, 422, apperr.Invalid)

		// Lots: required, recorded with expiry, traced.
		lotted := s.product(t, "LOT-1", "5.00", "tracking", "lot")["id"].(string)
		s.move(t, map[string]any{"type": "receipt", "product_id": lotted, "to_location_id": s.bin, "quantity": "5", "unit_cost": "1"}).ExpectProblem(t, 422, apperr.Invalid)
		s.move(t, map[string]any{"type": "receipt", "product_id": lotted, "to_location_id": s.bin, "quantity": "5", "unit_cost": "1", "lot": "L1", "lot_expiry": "2027-01-31"}).Expect(t, 201)
		s.move(t, map[string]any{"type": "receipt", "product_id": lotted, "to_location_id": s.bin, "quantity": "3", "unit_cost": "1", "lot": "L2"}).Expect(t, 201)
		s.move(t, map[string]any{"type": "issue", "product_id": lotted, "from_location_id": s.bin, "quantity": "6", "lot": "L1"}).ExpectProblem(t, 409, apperr.Conflict)
		s.move(t, map[string]any{"type": "issue", "product_id": lotted, "from_location_id": s.bin, "quantity": "4", "lot": "L1"}).Expect(t, 201)
		trace := s.admin.Do(t, "GET", "/v1/lots/trace?product_id="+lotted+"&lot=L1", nil).Expect(t, 200).JSON(t)
		tr := trace["moves"].([]any)
		if trace["expiry_date"] != "2027-01-31" || len(tr) != 2 || tr[0].(map[string]any)["type"] != "receipt" || tr[1].(map[string]any)["type"] != "issue" {
			t.Fatalf("trace %v", tr)
		}
		if n := len(s.admin.Do(t, "GET", "/v1/stock-levels?product_id="+lotted, nil).Expect(t, 200).JSON(t)["data"].([]any)); n != 2 {
			t.Fatalf("levels split by lot: %d rows, want 2", n)
		}
		// Serial numbers: one unit each, never twice in stock.
		serial := s.product(t, "SER-1", "500.00", "tracking", "serial")["id"].(string)
		s.move(t, map[string]any{"type": "receipt", "product_id": serial, "to_location_id": s.bin, "quantity": "2", "unit_cost": "100", "lot": "SN1"}).ExpectProblem(t, 422, apperr.Invalid)
		s.move(t, map[string]any{"type": "receipt", "product_id": serial, "to_location_id": s.bin, "quantity": "1", "unit_cost": "100", "lot": "SN1"}).Expect(t, 201)
		s.move(t, map[string]any{"type": "receipt", "product_id": serial, "to_location_id": s.recv, "quantity": "1", "unit_cost": "100", "lot": "SN1"}).ExpectProblem(t, 409, apperr.Conflict)

		// Reservations and holds take from available, not on hand.
		pid := boxed["id"].(string)
		res := s.admin.Do(t, "POST", "/v1/stock-reservations", map[string]any{"source_type": "sales_order", "source_id": "so-1", "lines": []any{
			map[string]any{"product_id": pid, "location_id": s.bin, "quantity": "5"}}}).Expect(t, 201).JSON(t)
		if len(res["data"].([]any)) != 1 {
			t.Fatalf("reservation %v", res)
		}
		h := s.admin.Do(t, "POST", "/v1/stock-holds", map[string]any{"product_id": pid, "location_id": s.bin, "quantity": "4", "reason": "QC sample failed"}).Expect(t, 201).JSON(t)
		if l := s.level(t, pid, s.bin); l["on_hand"] != "12" || l["reserved"] != "5" || l["held"] != "4" || l["available"] != "3" {
			t.Fatalf("level %v", l)
		}
		// All or nothing: one line short refuses both.
		s.admin.Do(t, "POST", "/v1/stock-reservations", map[string]any{"source_type": "sales_order", "source_id": "so-2", "lines": []any{
			map[string]any{"product_id": pid, "location_id": s.bin, "quantity": "2"},
			map[string]any{"product_id": lotted, "location_id": s.bin, "lot": "L2", "quantity": "4"}}}).ExpectProblem(t, 409, apperr.Conflict)
		// A backordered line reserves what is there.
		part := s.admin.Do(t, "POST", "/v1/stock-reservations", map[string]any{"source_type": "sales_order", "source_id": "so-3", "lines": []any{
			map[string]any{"product_id": pid, "location_id": s.bin, "quantity": "10", "partial": true}}}).Expect(t, 201).JSON(t)["data"].([]any)
		if q := part[0].(map[string]any)["quantity"]; q != "3" {
			t.Fatalf("partial reservation %v", part)
		}
		s.move(t, map[string]any{"type": "issue", "product_id": pid, "from_location_id": s.bin, "quantity": "1"}).ExpectProblem(t, 409, apperr.Conflict)
		// Shipping the order uses its reservation.
		s.move(t, map[string]any{"type": "issue", "product_id": pid, "from_location_id": s.bin, "quantity": "5", "reservation": map[string]any{"source_type": "sales_order", "source_id": "so-1"}}).Expect(t, 201)
		s.admin.Do(t, "POST", "/v1/stock-reservations/release", map[string]any{"source_type": "sales_order", "source_id": "so-3"}).Expect(t, 200)
		s.admin.Do(t, "POST", "/v1/stock-holds/"+h["id"].(string)+"/lift", nil).Expect(t, 200)
		s.admin.Do(t, "POST", "/v1/stock-holds/"+h["id"].(string)+"/lift", nil).ExpectProblem(t, 409, apperr.Conflict)
		if l := s.level(t, pid, s.bin); l["on_hand"] != "7" || l["reserved"] != "0" || l["held"] != "0" || l["available"] != "7" {
			t.Fatalf("level after shipping, releasing and lifting %v", l)
		}
		s.valuationMatchesLedger(t, "2026-12-31")
	})
}

// TestStockRace races reservations and issues against one product: stock
// never goes below zero, no reservation is lost, and the levels equal the
// moves afterwards.
func TestStockRace(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		pid := s.product(t, "RACE-1", "1.00")["id"].(string)
		s.move(t, map[string]any{"type": "receipt", "product_id": pid, "to_location_id": s.bin, "quantity": "20", "unit_cost": "1"}).Expect(t, 201)
		var (
			wg                sync.WaitGroup
			mu                sync.Mutex
			reserved, shipped int
			issued            int
		)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				order := fmt.Sprintf("so-%d", i)
				r := s.admin.Do(t, "POST", "/v1/stock-reservations", map[string]any{"source_type": "sales_order", "source_id": order, "lines": []any{
					map[string]any{"product_id": pid, "location_id": s.bin, "quantity": "3"}}})
				if r.Status == 201 {
					mu.Lock()
					reserved += 3
					mu.Unlock()
					if i%2 == 0 {
						s.move(t, map[string]any{"type": "issue", "product_id": pid, "from_location_id": s.bin, "quantity": "3",
							"reservation": map[string]any{"source_type": "sales_order", "source_id": order}}).Expect(t, 201)
						mu.Lock()
						shipped += 3
						mu.Unlock()
					}
				} else if r.Status != 409 {
					t.Errorf("reserve: %d", r.Status)
				}
				if s.move(t, map[string]any{"type": "issue", "product_id": pid, "from_location_id": s.bin, "quantity": "2"}).Status == 201 {
					mu.Lock()
					issued += 2
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		l := s.level(t, pid, s.bin)
		onHand, res := money.MustParse(l["on_hand"]), money.MustParse(l["reserved"])
		if onHand.IsNegative() || money.MustParse(l["available"]).IsNegative() {
			t.Fatalf("stock below zero: %v", l)
		}
		if want := money.FromInt(int64(20 - shipped - issued)); !onHand.Equal(want) {
			t.Fatalf("on hand %s, want %s (20 − %d shipped − %d issued)", onHand, want, shipped, issued)
		}
		if want := money.FromInt(int64(reserved - shipped)); !res.Equal(want) {
			t.Fatalf("reserved %s, want %s: a reservation was lost", res, want)
		}
		var fromMoves money.Decimal
		err := s.s.App.DB().QueryRowContext(t.Context(), `SELECT COALESCE(SUM(CASE WHEN to_location_id = $1 THEN quantity ELSE -quantity END), 0)
FROM stock_moves WHERE product_id = $2 AND (to_location_id = $1 OR from_location_id = $1)`, s.bin, pid).Scan(money.Quantity(&fromMoves))
		if err != nil || !fromMoves.Equal(onHand) {
			t.Fatalf("moves sum to %s, level says %s (%v)", fromMoves, onHand, err)
		}
		s.valuationMatchesLedger(t, "2026-12-31")
	})
}

// TestValuationEqualsLedgerAfterRandomMoves runs random receipts, issues,
// transfers, adjustments and reversals over FIFO and moving-average
// products and checks the valuation against the ledger after each.
func TestValuationEqualsLedgerAfterRandomMoves(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		products := []string{s.product(t, "R-AVG", "1.00")["id"].(string), s.product(t, "R-FIFO", "1.00", "valuation_method", "fifo")["id"].(string)}
		locs := []string{s.recv, s.bin}
		rng := rand.New(rand.NewPCG(7, uint64(len(e))))
		var moves []string
		for step := 0; step < 40; step++ {
			p, loc := products[rng.IntN(2)], locs[rng.IntN(2)]
			qty := fmt.Sprintf("%d.%d", rng.IntN(5)+1, rng.IntN(10))
			var r *apitest.Response
			switch k := rng.IntN(6); {
			case k <= 1:
				r = s.move(t, map[string]any{"type": "receipt", "product_id": p, "to_location_id": loc, "quantity": qty, "unit_cost": fmt.Sprintf("%d.%03d", rng.IntN(9)+1, rng.IntN(1000))})
			case k == 2:
				r = s.move(t, map[string]any{"type": "issue", "product_id": p, "from_location_id": loc, "quantity": qty})
			case k == 3:
				r = s.move(t, map[string]any{"type": "transfer", "product_id": p, "from_location_id": loc, "to_location_id": locs[1-slicesIndex(locs, loc)], "quantity": qty})
			case k == 4:
				r = s.move(t, map[string]any{"type": "adjustment", "product_id": p, "from_location_id": loc, "quantity": qty, "reason": "damaged"})
			default:
				if len(moves) == 0 {
					continue
				}
				r = s.admin.Do(t, "POST", "/v1/stock-moves/"+moves[rng.IntN(len(moves))]+"/reverse", map[string]any{"date": "2026-05-06"})
			}
			switch r.Status {
			case 201:
				moves = append(moves, r.JSON(t)["id"].(string))
			case 409, 422:
			default:
				t.Fatalf("step %d: %d %s", step, r.Status, r.Body)
			}
			s.valuationMatchesLedger(t, "2026-12-31")
		}
		if len(moves) < 10 {
			t.Fatalf("only %d of 40 random moves succeeded", len(moves))
		}
	})
}

func slicesIndex(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestTransfersOpeningStockAndProductSettings(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		pid := s.product(t, "TR-1", "3.00")["id"].(string)
		berlin := s.admin.Do(t, "GET", "/v1/warehouses?filter="+url.QueryEscape(`code = "BER1"`), nil).Expect(t, 200).JSON(t)["data"].([]any)[0].(map[string]any)["id"].(string)
		hamburg := s.admin.Do(t, "POST", "/v1/warehouses", map[string]any{"code": "HAM1", "name": "Hamburg"}).Expect(t, 201).JSON(t)["id"].(string)
		transit := s.admin.Do(t, "POST", "/v1/locations", map[string]any{"warehouse_id": berlin, "code": "BER1-HAM1", "name": "On the road to Hamburg",
			"kind": "transit", "to_warehouse_id": hamburg}).Expect(t, 201).JSON(t)["id"].(string)
		hamRecv := s.admin.Do(t, "GET", "/v1/locations?filter="+url.QueryEscape(`code = "HAM1-RECV"`), nil).Expect(t, 200).JSON(t)["data"].([]any)[0].(map[string]any)["id"].(string)

		// Opening stock through the batch endpoint: a dry run writes nothing.
		batch := map[string]any{"operations": []any{
			map[string]any{"method": "POST", "path": "/v1/stock-moves", "body": map[string]any{"type": "opening", "product_id": pid, "to_location_id": s.bin, "quantity": "8", "unit_cost": "1.25", "date": "2026-01-01"}},
			map[string]any{"method": "POST", "path": "/v1/stock-moves", "body": map[string]any{"type": "opening", "product_id": pid, "to_location_id": hamRecv, "quantity": "2", "unit_cost": "1.25", "date": "2026-01-01"}},
		}}
		dry := s.admin.Do(t, "POST", "/v1/batch?dry_run=true", batch).Expect(t, 200).JSON(t)
		if dry["committed"] != false || len(dry["results"].([]any)) != 2 {
			t.Fatalf("dry run %v", dry)
		}
		if l := s.level(t, pid, s.bin); l["on_hand"] != "0" {
			t.Fatalf("a dry run moved stock: %v", l)
		}
		s.admin.Do(t, "POST", "/v1/batch", batch).Expect(t, 200)
		if got := balanceOf(t, s.admin, accountByCode(t, s.admin, "3900"), "2026-12-31"); got != "-12.5" {
			t.Fatalf("opening balances account %s, want -12.5", got)
		}
		s.valuationMatchesLedger(t, "2026-12-31")

		// Two-step transfer: on the road it is Hamburg's incoming.
		s.move(t, map[string]any{"type": "transfer", "product_id": pid, "from_location_id": s.bin, "to_location_id": transit, "quantity": "5"}).Expect(t, 201)
		stock := func() map[string]map[string]any {
			out := map[string]map[string]any{}
			for _, r := range s.admin.Do(t, "GET", "/v1/warehouse-stock?product_id="+pid, nil).Expect(t, 200).JSON(t)["data"].([]any) {
				m := r.(map[string]any)
				out[m["warehouse_id"].(string)] = m
			}
			return out
		}
		ws := stock()
		if ws[berlin]["on_hand"] != "3" || ws[hamburg]["on_hand"] != "2" || ws[hamburg]["incoming"] != "5" {
			t.Fatalf("during the transfer %v", ws)
		}
		s.move(t, map[string]any{"type": "transfer", "product_id": pid, "from_location_id": transit, "to_location_id": hamRecv, "quantity": "5"}).Expect(t, 201)
		if ws = stock(); ws[hamburg]["on_hand"] != "7" || ws[hamburg]["incoming"] != "0" {
			t.Fatalf("after the transfer %v", ws)
		}
		s.valuationMatchesLedger(t, "2026-12-31")

		// Products and locations with stock history are archived, not deleted.
		loc := s.admin.Do(t, "GET", "/v1/locations/"+transit, nil).Expect(t, 200)
		s.admin.Do(t, "DELETE", "/v1/locations/"+transit, nil, "If-Match", loc.Header.Get("ETag")).ExpectProblem(t, 409, apperr.Conflict)
		pr := s.admin.Do(t, "GET", "/v1/products/"+pid, nil).Expect(t, 200)
		s.admin.Do(t, "DELETE", "/v1/products/"+pid, nil, "If-Match", pr.Header.Get("ETag")).ExpectProblem(t, 409, apperr.Conflict)
		// How a product is valued and tracked is fixed once stock moved.
		prod := s.admin.Do(t, "GET", "/v1/products/"+pid, nil).Expect(t, 200)
		p := s.admin.Do(t, "PATCH", "/v1/products/"+pid, map[string]any{"valuation_method": "fifo"}, "If-Match", prod.Header.Get("ETag")).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/valuation_method") {
			t.Fatalf("setting change not pointed at: %+v", p.Errors)
		}
		fresh := s.product(t, "TR-2", "3.00")
		r := s.admin.Do(t, "GET", "/v1/products/"+fresh["id"].(string), nil).Expect(t, 200)
		s.admin.Do(t, "PATCH", "/v1/products/"+fresh["id"].(string), map[string]any{"valuation_method": "fifo"}, "If-Match", r.Header.Get("ETag")).Expect(t, 200)
	})
}

// A hold naming a lot quarantines the lot at its location: units of it
// reserved before the hold cannot be issued (shipped, consumed) until the
// hold is lifted, on both engines.
func TestHeldLotIsQuarantined(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		pid := s.product(t, "QLOT-1", "9.00", "tracking", "lot")["id"].(string)
		s.move(t, map[string]any{"type": "receipt", "product_id": pid, "to_location_id": s.bin, "quantity": "10", "unit_cost": "4", "lot": "L1"}).Expect(t, 201)
		s.admin.Do(t, "POST", "/v1/stock-reservations", map[string]any{"source_type": "sales_order", "source_id": "so-q", "lines": []any{
			map[string]any{"product_id": pid, "location_id": s.bin, "lot": "L1", "quantity": "4"}}}).Expect(t, 201)
		h := s.admin.Do(t, "POST", "/v1/stock-holds", map[string]any{"product_id": pid, "location_id": s.bin, "lot": "L1", "quantity": "6",
			"reason": "inspection failed"}).Expect(t, 201).JSON(t)
		ship := map[string]any{"type": "issue", "product_id": pid, "from_location_id": s.bin, "lot": "L1", "quantity": "4",
			"reservation": map[string]any{"source_type": "sales_order", "source_id": "so-q"}}
		p := s.move(t, ship).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/lot") {
			t.Fatalf("problem %+v", p)
		}
		if l := s.level(t, pid, s.bin); l["on_hand"] != "10" || l["reserved"] != "4" || l["held"] != "6" {
			t.Fatalf("level after the refused issue %v", l)
		}
		s.admin.Do(t, "POST", "/v1/stock-holds/"+h["id"].(string)+"/lift", nil).Expect(t, 200)
		s.move(t, ship).Expect(t, 201)
	})
}

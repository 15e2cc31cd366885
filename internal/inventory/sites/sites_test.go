package sites_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/app"
	"github.com/mainstay-erp/mainstay/internal/inventory/sites"
	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func anyETag(string) error { return nil }

// fixture is a company with a unit of measure, driven through the
// services as another module would.
type fixture struct {
	ctx  context.Context
	db   *db.DB
	svc  app.Services
	co   string
	unit string
}

func newFixture(t *testing.T, e db.Engine) *fixture {
	t.Helper()
	s := apitest.Start(t, e)
	f := &fixture{
		ctx: auth.WithPrincipal(context.Background(), auth.Principal{ClientID: "test", Scopes: auth.AllScopes()}),
		db:  s.App.DB(), svc: s.App.Services(),
	}
	f.co = f.company(t, "Sites GmbH")
	unit, err := f.svc.Units.Create(f.ctx, f.co, map[string]any{"code": "ea", "name": "Each"})
	if err != nil {
		t.Fatal(err)
	}
	f.unit = unit.Value.ID
	return f
}

func (f *fixture) company(t *testing.T, name string) string {
	t.Helper()
	co, err := f.svc.Companies.Create(f.ctx, "", map[string]any{"legal_name": name, "base_currency": "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	return co.Value.ID
}

func (f *fixture) warehouse(t *testing.T, co, code string) string {
	t.Helper()
	v, err := f.svc.Warehouses.Create(f.ctx, co, map[string]any{"code": code, "name": "Warehouse " + code})
	if err != nil {
		t.Fatalf("create warehouse %s: %v", code, err)
	}
	return v.Value.ID
}

func (f *fixture) location(t *testing.T, body map[string]any) string {
	t.Helper()
	v, err := f.svc.Locations.Create(f.ctx, f.co, body)
	if err != nil {
		t.Fatalf("create location %v: %v", body, err)
	}
	return v.Value.ID
}

func (f *fixture) product(t *testing.T, sku string) string {
	t.Helper()
	p, err := f.svc.Products.Create(f.ctx, f.co, map[string]any{"sku": sku, "name": "Thing " + sku, "stock_unit_id": f.unit, "list_price": "1", "currency": "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	return p.Value.ID
}

func (f *fixture) rule(t *testing.T, product, warehouse, point, qty string, extra ...any) string {
	t.Helper()
	body := map[string]any{"product_id": product, "warehouse_id": warehouse, "reorder_point": point, "reorder_quantity": qty}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i].(string)] = extra[i+1]
	}
	v, err := f.svc.ReorderRules.Create(f.ctx, f.co, body)
	if err != nil {
		t.Fatalf("create reorder rule %v: %v", body, err)
	}
	return v.Value.ID
}

// stock writes a stock_levels row the way package inventory keeps them.
func (f *fixture) stock(t *testing.T, product, location, lot, onHand, reserved, held string) {
	t.Helper()
	q := func(s string) money.Decimal { return money.MustParse(s) }
	oh, rs, hd := q(onHand), q(reserved), q(held)
	if _, err := f.db.ExecContext(f.ctx, `INSERT INTO stock_levels (company_id, product_id, location_id, lot, on_hand, reserved, held)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, f.co, product, location, lot, money.Quantity(&oh), money.Quantity(&rs), money.Quantity(&hd)); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) defaultLocation(warehouse, kind string) (string, error) {
	return f.defaultLocationOf(f.co, warehouse, kind)
}

func (f *fixture) defaultLocationOf(co, warehouse, kind string) (string, error) {
	var id string
	err := f.db.Transact(f.ctx, func(tx *db.Tx) error {
		var err error
		id, err = sites.DefaultLocation(f.ctx, tx, co, warehouse, kind)
		return err
	})
	return id, err
}

func (f *fixture) locations(t *testing.T, filter string) []*sites.Location {
	t.Helper()
	page, err := f.svc.Locations.List(f.ctx, resource.ListParams{CompanyID: f.co, Filter: filter, OrderBy: "code", PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

func wantCode(t *testing.T, err error, code apperr.Code, pointers ...string) {
	t.Helper()
	e := apperr.As(err)
	if e.Code != code {
		t.Fatalf("got %v, want %s", err, code)
	}
	for _, p := range pointers {
		found := false
		for _, fe := range e.Fields {
			found = found || fe.Pointer == p
		}
		if !found {
			t.Errorf("%v does not point at %s", err, p)
		}
	}
}

// A new warehouse comes with its default receiving and shipping
// locations; each warehouse has at most one default per kind, and a
// default stays active.
func TestDefaultLocations(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			wh := f.warehouse(t, f.co, "BER1")
			locs := f.locations(t, `warehouse_id = "`+wh+`"`)
			if len(locs) != 2 {
				t.Fatalf("a new warehouse has %d locations, want 2", len(locs))
			}
			recv, ship := locs[0], locs[1]
			if recv.Code != "BER1-RECV" || recv.Kind != sites.Receiving || !recv.IsDefault || !recv.Active ||
				ship.Code != "BER1-SHIP" || ship.Kind != sites.Shipping || !ship.IsDefault || !ship.Active {
				t.Fatalf("default locations %+v %+v", recv, ship)
			}
			for kind, want := range map[string]string{sites.Receiving: recv.ID, sites.Shipping: ship.ID} {
				got, err := f.defaultLocation(wh, kind)
				if err != nil || got != want {
					t.Fatalf("DefaultLocation %s = %q, %v; want %s", kind, got, err, want)
				}
			}
			_, err := f.defaultLocation(wh, sites.Storage)
			wantCode(t, err, apperr.NotFound)
			_, err = f.defaultLocation("wh_nope", sites.Receiving)
			wantCode(t, err, apperr.NotFound)
			other := f.company(t, "Other Ltd")
			foreign := f.warehouse(t, other, "BER1") // codes are unique per company only
			_, err = f.defaultLocation(foreign, sites.Receiving)
			wantCode(t, err, apperr.NotFound)
			if _, err := f.defaultLocationOf(other, foreign, sites.Receiving); err != nil {
				t.Fatalf("the other company's own default: %v", err)
			}

			// One default per warehouse and kind; other warehouses and kinds
			// are free.
			_, err = f.svc.Locations.Create(f.ctx, f.co, map[string]any{"warehouse_id": wh, "code": "BER1-DOCK2", "name": "Dock 2", "kind": "receiving", "is_default": true})
			wantCode(t, err, apperr.Conflict, "/is_default")
			if !strings.Contains(err.Error(), recv.ID) {
				t.Errorf("%v does not name the current default %s", err, recv.ID)
			}
			bin := f.location(t, map[string]any{"warehouse_id": wh, "code": "BER1-A-01", "name": "Bin A-01", "is_default": true})
			if got, err := f.defaultLocation(wh, sites.Storage); err != nil || got != bin {
				t.Fatalf("default storage = %q, %v; want %s", got, err, bin)
			}
			dock2 := f.location(t, map[string]any{"warehouse_id": wh, "code": "BER1-DOCK2", "name": "Dock 2", "kind": "receiving"})
			_, err = f.svc.Locations.Patch(f.ctx, dock2, map[string]any{"is_default": true}, anyETag)
			wantCode(t, err, apperr.Conflict, "/is_default")

			// A default cannot be archived; handing the role over works in
			// two steps.
			_, err = f.svc.Locations.Patch(f.ctx, recv.ID, map[string]any{"active": false}, anyETag)
			wantCode(t, err, apperr.Invalid, "/active")
			if _, err := f.svc.Locations.Patch(f.ctx, recv.ID, map[string]any{"active": false, "is_default": false}, anyETag); err != nil {
				t.Fatal(err)
			}
			_, err = f.defaultLocation(wh, sites.Receiving)
			wantCode(t, err, apperr.NotFound)
			if _, err := f.svc.Locations.Patch(f.ctx, dock2, map[string]any{"is_default": true}, anyETag); err != nil {
				t.Fatal(err)
			}
			if got, err := f.defaultLocation(wh, sites.Receiving); err != nil || got != dock2 {
				t.Fatalf("default receiving = %q, %v; want %s", got, err, dock2)
			}

			// A location stays in its warehouse.
			wh2 := f.warehouse(t, f.co, "HAM1")
			_, err = f.svc.Locations.Patch(f.ctx, bin, map[string]any{"warehouse_id": wh2}, anyETag)
			wantCode(t, err, apperr.Invalid, "/warehouse_id")

			// A warehouse whose default location codes are taken is refused
			// whole, pointing at its code.
			f.location(t, map[string]any{"warehouse_id": wh, "code": "MUC1-SHIP", "name": "Confusing"})
			_, err = f.svc.Warehouses.Create(f.ctx, f.co, map[string]any{"code": "MUC1", "name": "Munich"})
			wantCode(t, err, apperr.Conflict, "/code")
			page, err := f.svc.Warehouses.List(f.ctx, resource.ListParams{CompanyID: f.co, Filter: `code = "MUC1"`})
			if err != nil || len(page.Items) != 0 {
				t.Fatalf("the refused warehouse exists: %v %v", page.Items, err)
			}
			if n := len(f.locations(t, `code = "MUC1-RECV"`)); n != 0 {
				t.Fatalf("the refused warehouse left %d receiving locations", n)
			}

			// Locations refer to their warehouse, so it is archived, not
			// deleted.
			err = f.svc.Warehouses.Delete(f.ctx, wh, anyETag)
			wantCode(t, err, apperr.Conflict)
		})
	}
}

// Transit locations join two warehouses; LocationInfo tells other modules
// what a location is.
func TestTransitLocations(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			from, to := f.warehouse(t, f.co, "BER1"), f.warehouse(t, f.co, "HAM1")
			for _, c := range []struct {
				body    map[string]any
				pointer string
			}{
				{map[string]any{"warehouse_id": from, "code": "T1", "name": "Transit", "kind": "transit"}, "/to_warehouse_id"},
				{map[string]any{"warehouse_id": from, "code": "T1", "name": "Transit", "kind": "transit", "to_warehouse_id": from}, "/to_warehouse_id"},
				{map[string]any{"warehouse_id": from, "code": "T1", "name": "Bin", "to_warehouse_id": to}, "/to_warehouse_id"},
				{map[string]any{"warehouse_id": from, "code": "T1", "name": "Transit", "kind": "transit", "to_warehouse_id": "wh_nope"}, "/to_warehouse_id"},
				{map[string]any{"warehouse_id": "wh_nope", "code": "T1", "name": "Bin"}, "/warehouse_id"},
				{map[string]any{"warehouse_id": from, "code": "T1", "name": "Bin", "kind": "quarantine"}, "/kind"},
			} {
				_, err := f.svc.Locations.Create(f.ctx, f.co, c.body)
				wantCode(t, err, apperr.Invalid, c.pointer)
			}
			transit := f.location(t, map[string]any{"warehouse_id": from, "code": "BER1-HAM1", "name": "On the road to Hamburg", "kind": "transit", "to_warehouse_id": to})
			// Changing the kind away from transit must drop the destination.
			_, err := f.svc.Locations.Patch(f.ctx, transit, map[string]any{"kind": "storage"}, anyETag)
			wantCode(t, err, apperr.Invalid, "/to_warehouse_id")

			var info sites.Info
			err = f.db.Transact(f.ctx, func(tx *db.Tx) error {
				var err error
				info, err = sites.LocationInfo(f.ctx, tx, f.co, transit)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			want := sites.Info{ID: transit, WarehouseID: from, Code: "BER1-HAM1", Kind: sites.Transit, ToWarehouseID: to, Active: true}
			if info != want {
				t.Fatalf("LocationInfo = %+v, want %+v", info, want)
			}

			// Another company's location is unknown, not forbidden.
			other := f.company(t, "Other Ltd")
			_, err = sites.LocationInfo(f.ctx, f.db, other, transit)
			var nf *sites.LocationNotFoundError
			if !errors.As(err, &nf) || nf.LocationID != transit {
				t.Fatalf("LocationInfo from another company: %v", err)
			}
			wantCode(t, err, apperr.Invalid)
			if len(apperr.As(err).Fields) != 0 {
				t.Errorf("the plain error carries pointers: %+v", apperr.As(err).Fields)
			}
			wantCode(t, nf.At("/lines/0/location_id"), apperr.Invalid, "/lines/0/location_id")
		})
	}
}

// The suggestion arithmetic: available over the warehouse's own
// locations, incoming over transit towards it, whole multiples of the
// reorder quantity.
func TestReorderSuggestions(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			ber, ham := f.warehouse(t, f.co, "BER1"), f.warehouse(t, f.co, "HAM1")
			berRecv, err := f.defaultLocation(ber, sites.Receiving)
			if err != nil {
				t.Fatal(err)
			}
			berBin := f.location(t, map[string]any{"warehouse_id": ber, "code": "BER1-A-01", "name": "Bin"})
			hamBin := f.location(t, map[string]any{"warehouse_id": ham, "code": "HAM1-A-01", "name": "Bin"})
			hamToBer := f.location(t, map[string]any{"warehouse_id": ham, "code": "HAM1-BER1", "name": "To Berlin", "kind": "transit", "to_warehouse_id": ber})
			berToHam := f.location(t, map[string]any{"warehouse_id": ber, "code": "BER1-HAM1", "name": "To Hamburg", "kind": "transit", "to_warehouse_id": ham})
			p1, p2, p3, p4, p5, p6 := f.product(t, "P1"), f.product(t, "P2"), f.product(t, "P3"), f.product(t, "P4"), f.product(t, "P5"), f.product(t, "P6")

			// P1 in Berlin: available (8−1−1) + 2 + (1.5−1.5 held) = 8 over
			// two locations and two lots, incoming 0.5 from Hamburg; stock
			// leaving for Hamburg and stock in Hamburg do not count.
			f.stock(t, p1, berBin, "", "8", "1", "1")
			f.stock(t, p1, berRecv, "", "2", "0", "0")
			f.stock(t, p1, berBin, "LOT-7", "1.5", "0", "1.5")
			f.stock(t, p1, hamToBer, "", "0.5", "0", "0")
			f.stock(t, p1, berToHam, "", "100", "0", "0")
			f.stock(t, p1, hamBin, "", "40", "0", "0")
			r1 := f.rule(t, p1, ber, "10", "20", "lead_time_days", 7)
			// P1 in Hamburg: 40 on hand + 100 incoming, far above its point.
			f.rule(t, p1, ham, "50", "10")
			// P2: deep below the point: 95 short, lots of 20 → 5 lots.
			f.stock(t, p2, berBin, "", "5", "0", "0")
			r2 := f.rule(t, p2, ber, "100", "20")
			// P3: exactly at the point suggests one lot.
			f.stock(t, p3, berBin, "", "10", "0", "0")
			r3 := f.rule(t, p3, ber, "10", "5")
			// P4: a millionth above the point suggests nothing.
			f.stock(t, p4, berBin, "", "10.000001", "0", "0")
			f.rule(t, p4, ber, "10", "5")
			// P5: no stock, fractional lots: 0.5 short of 0.5 → 3 × 0.25.
			r5 := f.rule(t, p5, ber, "0.5", "0.25")
			// P6: below its point, but the rule is archived.
			f.rule(t, p6, ber, "10", "5", "active", false)

			suggest := func(filter sites.Filter) map[string]sites.Suggestion {
				t.Helper()
				got, err := sites.Suggest(f.ctx, f.db, f.co, filter, "2026-03-02")
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]sites.Suggestion{}
				for _, s := range got {
					out[s.ReorderRuleID] = s
				}
				if len(out) != len(got) {
					t.Fatalf("a rule suggested twice: %+v", got)
				}
				return out
			}
			got := suggest(sites.Filter{})
			if len(got) != 4 {
				t.Fatalf("got %d suggestions, want 4 (P1, P2, P3, P5 in Berlin): %+v", len(got), got)
			}
			for _, c := range []struct {
				rule, available, incoming, shortfall, qty string
			}{
				{r1, "8", "0.5", "1.5", "20"},
				{r2, "5", "0", "95", "100"},
				{r3, "10", "0", "0", "5"},
				{r5, "0", "0", "0.5", "0.75"},
			} {
				s, ok := got[c.rule]
				if !ok {
					t.Errorf("no suggestion for rule %s", c.rule)
					continue
				}
				if s.Available.String() != c.available || s.Incoming.String() != c.incoming ||
					s.Shortfall.String() != c.shortfall || s.SuggestedQuantity.String() != c.qty {
					t.Errorf("rule %s: available %s incoming %s shortfall %s quantity %s; want %s %s %s %s", c.rule,
						s.Available, s.Incoming, s.Shortfall, s.SuggestedQuantity, c.available, c.incoming, c.shortfall, c.qty)
				}
				if s.WarehouseID != ber || s.WarehouseCode != "BER1" || s.NeededBy != "2026-03-02" {
					t.Errorf("rule %s: %+v", c.rule, s)
				}
			}
			if s := got[r1]; s.SKU != "P1" || s.ProductName != "Thing P1" || s.ProductID != p1 || s.LeadTimeDays != 7 ||
				s.ReorderPoint.String() != "10" || s.ReorderQuantity.String() != "20" {
				t.Errorf("P1 suggestion %+v", s)
			}

			if only := suggest(sites.Filter{ProductID: p2}); len(only) != 1 || only[r2].ProductID != p2 {
				t.Errorf("product filter: %+v", only)
			}
			if only := suggest(sites.Filter{WarehouseID: ham}); len(only) != 0 {
				t.Errorf("Hamburg needs nothing: %+v", only)
			}
			// Stock arriving in Hamburg's transit towards Berlin is counted
			// the moment it is there; archiving a warehouse or product
			// silences its rules.
			f.stock(t, p2, hamToBer, "", "90", "0", "0")
			if _, err := f.svc.Products.Patch(f.ctx, p3, map[string]any{"active": false}, anyETag); err != nil {
				t.Fatal(err)
			}
			got = suggest(sites.Filter{WarehouseID: ber})
			if _, ok := got[r3]; ok || len(got) != 3 {
				t.Errorf("after archiving P3: %+v", got)
			}
			if s := got[r2]; s.Incoming.String() != "90" || s.Shortfall.String() != "5" || s.SuggestedQuantity.String() != "20" {
				t.Errorf("P2 with 90 incoming: %+v", s)
			}
			if _, err := f.svc.Warehouses.Patch(f.ctx, ber, map[string]any{"active": false}, anyETag); err != nil {
				t.Fatal(err)
			}
			if got := suggest(sites.Filter{}); len(got) != 0 {
				t.Errorf("an archived warehouse still suggests: %+v", got)
			}
		})
	}
}

// One rule per product and warehouse; quantities are exact and bounded.
func TestReorderRuleRules(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			wh, wh2, p := f.warehouse(t, f.co, "BER1"), f.warehouse(t, f.co, "HAM1"), f.product(t, "P1")
			id := f.rule(t, p, wh, "10", "20")
			_, err := f.svc.ReorderRules.Create(f.ctx, f.co, map[string]any{"product_id": p, "warehouse_id": wh, "reorder_point": "1", "reorder_quantity": "2"})
			wantCode(t, err, apperr.Conflict, "/product_id", "/warehouse_id")
			other := f.rule(t, p, wh2, "1", "2")
			_, err = f.svc.ReorderRules.Patch(f.ctx, other, map[string]any{"warehouse_id": wh}, anyETag)
			wantCode(t, err, apperr.Conflict, "/warehouse_id")
			if _, err := f.svc.ReorderRules.Patch(f.ctx, id, map[string]any{"reorder_point": "12.345678"}, anyETag); err != nil {
				t.Fatal(err)
			}
			for i, c := range []struct {
				body    map[string]any
				pointer string
			}{
				{map[string]any{"reorder_point": "-1", "reorder_quantity": "2"}, "/reorder_point"},
				{map[string]any{"reorder_point": "1", "reorder_quantity": "0"}, "/reorder_quantity"},
				{map[string]any{"reorder_point": "1.0000001", "reorder_quantity": "2"}, "/reorder_point"},
				{map[string]any{"reorder_point": "1", "reorder_quantity": "10000000000000"}, "/reorder_quantity"},
				{map[string]any{"reorder_point": "1", "reorder_quantity": "2", "lead_time_days": -1}, "/lead_time_days"},
			} {
				c.body["product_id"], c.body["warehouse_id"] = f.product(t, fmt.Sprintf("X%d", i)), wh
				_, err := f.svc.ReorderRules.Create(f.ctx, f.co, c.body)
				wantCode(t, err, apperr.Invalid, c.pointer)
			}
		})
	}
}

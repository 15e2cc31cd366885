package app_test

import (
	"context"
	"encoding/xml"
	"net/url"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// putStock writes a stock_levels row as package inventory keeps them.
func putStock(t *testing.T, w *world, product, location, onHand, reserved string) {
	t.Helper()
	oh, rs, held := money.MustParse(onHand), money.MustParse(reserved), money.Decimal{}
	if _, err := w.s.App.DB().ExecContext(context.Background(), `INSERT INTO stock_levels (company_id, product_id, location_id, lot, on_hand, reserved, held)
VALUES ($1, $2, $3, '', $4, $5, $6)`, w.company, product, location, money.Quantity(&oh), money.Quantity(&rs), money.Quantity(&held)); err != nil {
		t.Fatal(err)
	}
}

func listData(t *testing.T, c *apitest.Caller, path string) []map[string]any {
	t.Helper()
	raw := c.Do(t, "GET", path, nil).Expect(t, 200).JSON(t)["data"].([]any)
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i] = v.(map[string]any)
	}
	return out
}

func TestWarehousesAndLocationsOverHTTP(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		created := w.admin.Do(t, "POST", "/v1/warehouses", map[string]any{
			"code": "BER1", "name": "Berlin", "address": map[string]any{"line1": "Hafenstr. 1", "city": "Berlin", "country": "DE"},
		}).Expect(t, 201)
		wh := created.JSON(t)
		id := wh["id"].(string)
		if !strings.HasPrefix(id, "wh_") || wh["active"] != true || wh["company_id"] != w.company || wh["address"].(map[string]any)["city"] != "Berlin" {
			t.Fatalf("created %s", created.Body)
		}
		locs := listData(t, w.admin, "/v1/locations?order_by=code&filter="+url.QueryEscape(`warehouse_id = "`+id+`"`))
		if len(locs) != 2 || locs[0]["code"] != "BER1-RECV" || locs[0]["kind"] != "receiving" || locs[0]["is_default"] != true ||
			locs[1]["code"] != "BER1-SHIP" || locs[1]["kind"] != "shipping" || locs[1]["is_default"] != true {
			t.Fatalf("default locations %v", locs)
		}
		if !strings.HasPrefix(locs[0]["id"].(string), "loc_") {
			t.Fatalf("location id %v", locs[0]["id"])
		}
		ham := w.admin.Do(t, "POST", "/v1/warehouses", map[string]any{"code": "HAM1", "name": "Hamburg"}).Expect(t, 201).JSON(t)["id"].(string)
		bin := w.admin.Do(t, "POST", "/v1/locations", map[string]any{"warehouse_id": id, "code": "BER1-A-01", "name": "Bin A-01"}).Expect(t, 201).JSON(t)
		if bin["kind"] != "storage" || bin["is_default"] != false || bin["active"] != true {
			t.Fatalf("bin %v", bin)
		}
		transit := w.admin.Do(t, "POST", "/v1/locations", map[string]any{"warehouse_id": ham, "code": "HAM1-BER1", "name": "To Berlin", "kind": "transit", "to_warehouse_id": id}).
			Expect(t, 201).JSON(t)
		if transit["to_warehouse_id"] != id {
			t.Fatalf("transit %v", transit)
		}

		// Bad input names its fields.
		for _, c := range []struct {
			path     string
			body     map[string]any
			pointers []string
		}{
			{"/v1/warehouses", map[string]any{"code": "has space", "name": ""}, []string{"/code", "/name"}},
			{"/v1/warehouses", map[string]any{"code": "W", "name": "W", "address": map[string]any{"city": "Berlin", "country": "Germany"}}, []string{"/address/line1", "/address/country"}},
			{"/v1/locations", map[string]any{"code": "X1", "name": "X"}, []string{"/warehouse_id"}},
			{"/v1/locations", map[string]any{"warehouse_id": id, "code": "X1", "name": "X", "kind": "transit"}, []string{"/to_warehouse_id"}},
			{"/v1/locations", map[string]any{"warehouse_id": id, "code": "X1", "name": "X", "kind": "transit", "to_warehouse_id": id}, []string{"/to_warehouse_id"}},
			{"/v1/locations", map[string]any{"warehouse_id": id, "code": "X1", "name": "X", "to_warehouse_id": ham}, []string{"/to_warehouse_id"}},
			{"/v1/locations", map[string]any{"warehouse_id": id, "code": "X1", "name": "X", "kind": "dock"}, []string{"/kind"}},
			{"/v1/locations", map[string]any{"warehouse_id": id, "code": "X1", "name": "X", "is_default": true, "active": false}, []string{"/active"}},
		} {
			p := w.admin.Do(t, "POST", c.path, c.body).ExpectProblem(t, 422, apperr.Invalid)
			wantPointers(t, p, c.pointers...)
		}

		// Duplicates are conflicts naming the field.
		p := w.admin.Do(t, "POST", "/v1/warehouses", map[string]any{"code": "BER1", "name": "Again"}).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, p, "/code")
		p = w.admin.Do(t, "POST", "/v1/locations", map[string]any{"warehouse_id": id, "code": "BER1-A-01", "name": "Again"}).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, p, "/code")
		p = w.admin.Do(t, "POST", "/v1/locations", map[string]any{"warehouse_id": id, "code": "BER1-DOCK2", "name": "Dock 2", "kind": "receiving", "is_default": true}).
			ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, p, "/is_default")
		p = patchJSON(t, w.admin, "/v1/locations/"+bin["id"].(string), `{"warehouse_id": "`+ham+`"}`).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/warehouse_id")
		// A warehouse with locations is archived, not deleted.
		w.admin.Do(t, "DELETE", "/v1/warehouses/"+id, nil).ExpectProblem(t, 409, apperr.Conflict)
		patchJSON(t, w.admin, "/v1/warehouses/"+id, `{"active": false}`).Expect(t, 200)

		// Companies are isolated both ways.
		stranger := newCompanyCaller(t, w)
		stranger.Do(t, "GET", "/v1/warehouses/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "GET", "/v1/locations/"+bin["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "DELETE", "/v1/locations/"+bin["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
		if n := len(listData(t, stranger, "/v1/locations")); n != 0 {
			t.Fatalf("another company lists %d locations", n)
		}
		p = stranger.Do(t, "POST", "/v1/locations", map[string]any{"warehouse_id": id, "code": "MINE", "name": "Mine"}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/warehouse_id")
		// Codes are unique per company only.
		stranger.Do(t, "POST", "/v1/warehouses", map[string]any{"code": "BER1", "name": "Their Berlin"}).Expect(t, 201)
	})
}

func TestReorderRulesAndSuggestionsOverHTTP(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		wh := w.admin.Do(t, "POST", "/v1/warehouses", map[string]any{"code": "BER1", "name": "Berlin"}).Expect(t, 201).JSON(t)["id"].(string)
		recv := listData(t, w.admin, "/v1/locations?filter="+url.QueryEscape(`warehouse_id = "`+wh+`" AND kind = "receiving"`))[0]["id"].(string)
		mug, pen := w.product(t, "MUG", "5.00")["id"].(string), w.product(t, "PEN", "1.00")["id"].(string)

		rule := w.admin.Do(t, "POST", "/v1/reorder-rules", map[string]any{"product_id": mug, "warehouse_id": wh, "reorder_point": "10", "reorder_quantity": "24", "lead_time_days": 5}).
			Expect(t, 201).JSON(t)
		ruleID := rule["id"].(string)
		if !strings.HasPrefix(ruleID, "rro_") || rule["reorder_point"] != "10" || rule["reorder_quantity"] != "24" || rule["lead_time_days"] != float64(5) || rule["active"] != true {
			t.Fatalf("created rule %v", rule)
		}
		w.admin.Do(t, "POST", "/v1/reorder-rules", map[string]any{"product_id": pen, "warehouse_id": wh, "reorder_point": "2.5", "reorder_quantity": "100"}).Expect(t, 201)
		// Decimal filters compare numerically.
		if got := listData(t, w.admin, "/v1/reorder-rules?filter="+url.QueryEscape(`reorder_point >= "9.5"`)); len(got) != 1 || got[0]["id"] != ruleID {
			t.Fatalf("filtered rules %v", got)
		}

		for _, c := range []struct {
			body     map[string]any
			pointers []string
		}{
			{map[string]any{"product_id": mug, "warehouse_id": wh, "reorder_point": "-1", "reorder_quantity": "0"}, []string{"/reorder_point", "/reorder_quantity"}},
			{map[string]any{"product_id": mug, "warehouse_id": wh, "reorder_point": "1.0000001", "reorder_quantity": "1"}, []string{"/reorder_point"}},
			{map[string]any{"product_id": mug, "warehouse_id": wh, "reorder_point": 1, "reorder_quantity": "1"}, []string{"/reorder_point"}},
			{map[string]any{"product_id": mug, "warehouse_id": wh, "reorder_point": "1", "reorder_quantity": "1", "lead_time_days": -2}, []string{"/lead_time_days"}},
			{map[string]any{"product_id": "prod_nope", "warehouse_id": "wh_nope", "reorder_point": "1", "reorder_quantity": "1"}, []string{"/product_id", "/warehouse_id"}},
		} {
			p := w.admin.Do(t, "POST", "/v1/reorder-rules", c.body).ExpectProblem(t, 422, apperr.Invalid)
			wantPointers(t, p, c.pointers...)
		}
		p := w.admin.Do(t, "POST", "/v1/reorder-rules", map[string]any{"product_id": mug, "warehouse_id": wh, "reorder_point": "1", "reorder_quantity": "1"}).
			ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, p, "/product_id", "/warehouse_id")
		if !strings.Contains(p.Detail, ruleID) {
			t.Errorf("conflict %q does not name %s", p.Detail, ruleID)
		}

		// MUG: 7 on hand, 1 reserved → 6 available, 4 short of 10 → one lot
		// of 24. PEN: 3 available, above 2.5 → nothing.
		putStock(t, w, mug, recv, "7", "1")
		putStock(t, w, pen, recv, "3", "0")
		out := w.admin.Do(t, "GET", "/v1/reorder-suggestions", nil).Expect(t, 200).JSON(t)
		data := out["data"].([]any)
		if out["company_id"] != w.company || len(data) != 1 {
			t.Fatalf("suggestions %v", out)
		}
		s := data[0].(map[string]any)
		today := out["date"].(string)
		if s["reorder_rule_id"] != ruleID || s["product_id"] != mug || s["sku"] != "MUG" || s["warehouse_id"] != wh || s["warehouse_code"] != "BER1" ||
			s["available"] != "6" || s["incoming"] != "0" || s["shortfall"] != "4" || s["suggested_quantity"] != "24" ||
			s["lead_time_days"] != float64(5) || s["needed_by"] != today || len(today) != 10 {
			t.Fatalf("suggestion %v", s)
		}
		if got := w.admin.Do(t, "GET", "/v1/reorder-suggestions?product_id="+pen, nil).Expect(t, 200).JSON(t)["data"].([]any); len(got) != 0 {
			t.Fatalf("PEN suggestions %v", got)
		}
		p = w.admin.Do(t, "GET", "/v1/reorder-suggestions?warehouse_id=wh_nope&product_id=prod_nope", nil).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "query:warehouse_id", "query:product_id")

		// XML: the same answer, quantities as decimal strings.
		raw := w.admin.Do(t, "GET", "/v1/reorder-suggestions?warehouse_id="+wh, nil, "Accept", "application/xml").Expect(t, 200)
		if !strings.HasPrefix(raw.Header.Get("Content-Type"), "application/xml") {
			t.Fatalf("Content-Type %q", raw.Header.Get("Content-Type"))
		}
		var doc struct {
			XMLName xml.Name `xml:"reorder_suggestions"`
			Date    string   `xml:"date"`
			Items   []struct {
				SKU      string `xml:"sku"`
				Quantity string `xml:"suggested_quantity"`
				NeededBy string `xml:"needed_by"`
			} `xml:"data>item"`
		}
		if err := xml.Unmarshal(raw.Body, &doc); err != nil {
			t.Fatalf("%v: %s", err, raw.Body)
		}
		if doc.Date != today || len(doc.Items) != 1 || doc.Items[0].SKU != "MUG" || doc.Items[0].Quantity != "24" || doc.Items[0].NeededBy != today {
			t.Fatalf("XML %s", raw.Body)
		}

		// Another company sees none of it and cannot name our records.
		stranger := newCompanyCaller(t, w)
		stranger.Do(t, "GET", "/v1/reorder-rules/"+ruleID, nil).ExpectProblem(t, 404, apperr.NotFound)
		if got := stranger.Do(t, "GET", "/v1/reorder-suggestions", nil).Expect(t, 200).JSON(t)["data"].([]any); len(got) != 0 {
			t.Fatalf("another company's suggestions %v", got)
		}
		p = stranger.Do(t, "GET", "/v1/reorder-suggestions?warehouse_id="+wh, nil).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "query:warehouse_id")
		p = stranger.Do(t, "POST", "/v1/reorder-rules", map[string]any{"product_id": mug, "warehouse_id": wh, "reorder_point": "1", "reorder_quantity": "1"}).
			ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/product_id", "/warehouse_id")

		// Archiving the rule silences it.
		patchJSON(t, w.admin, "/v1/reorder-rules/"+ruleID, `{"active": false}`).Expect(t, 200)
		if got := w.admin.Do(t, "GET", "/v1/reorder-suggestions", nil).Expect(t, 200).JSON(t)["data"].([]any); len(got) != 0 {
			t.Fatalf("suggestions after archiving %v", got)
		}
	})
}

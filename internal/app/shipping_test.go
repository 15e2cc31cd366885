package app_test

import (
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// dhlCarrier is a carrier with a whole-country zone, a Munich zone by
// postal prefix, and free shipping in Germany from 50 EUR.
func dhlCarrier(taxCategory string) map[string]any {
	c := map[string]any{
		"code": "DHL", "name": "DHL Paket", "currency": "EUR",
		"tracking_url_template": "https://www.dhl.de/track?piececode={tracking_number}",
		"zones": []any{
			map[string]any{"name": "Germany", "countries": []any{"DE"}, "free_above": "50.00", "rates": []any{
				map[string]any{"max_weight_kg": "1", "amount": "4.90"},
				map[string]any{"max_weight_kg": "5", "amount": "6.90"},
				map[string]any{"max_weight_kg": "31.5", "amount": "12.00"},
			}},
			map[string]any{"name": "Munich", "countries": []any{"DE"}, "postal_prefixes": []any{"80", "81"}, "rates": []any{
				map[string]any{"max_weight_kg": "1", "amount": "3.90"},
				map[string]any{"max_weight_kg": "10", "amount": "5.00"},
			}},
		},
	}
	if taxCategory != "" {
		c["tax_category_id"] = taxCategory
	}
	return c
}

func optionsSummary(t *testing.T, q map[string]any) string {
	t.Helper()
	var parts []string
	for _, o := range q["options"].([]any) {
		m := o.(map[string]any)
		parts = append(parts, fmt.Sprintf("%s/%s=%s/%v", m["carrier_code"], m["zone"], m["amount"], m["free"]))
	}
	for _, s := range q["skipped"].([]any) {
		parts = append(parts, "skip "+s.(map[string]any)["carrier_code"].(string))
	}
	return strings.Join(parts, ", ")
}

func TestCarriersAndShippingQuote(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		tax := s.admin.Do(t, "POST", "/v1/tax-categories", map[string]any{"code": "std", "name": "Standard"}).Expect(t, 201).JSON(t)["id"].(string)
		dhl := s.admin.Do(t, "POST", "/v1/carriers", dhlCarrier(tax)).Expect(t, 201).JSON(t)
		if !strings.HasPrefix(dhl["id"].(string), "car_") || dhl["active"] != true || dhl["tax_category_id"] != tax {
			t.Fatalf("created %v", dhl)
		}
		s.admin.Do(t, "POST", "/v1/carriers", map[string]any{"code": "UPS", "name": "UPS", "currency": "EUR", "zones": []any{
			map[string]any{"name": "DACH", "countries": []any{"DE", "AT", "CH"}, "rates": []any{map[string]any{"max_weight_kg": "20", "amount": "9.00"}}},
		}}).Expect(t, 201)
		s.admin.Do(t, "POST", "/v1/carriers", map[string]any{"code": "USPS", "name": "USPS", "currency": "USD", "zones": []any{
			map[string]any{"name": "World", "countries": []any{"DE", "US"}, "rates": []any{map[string]any{"max_weight_kg": "20", "amount": "30.00"}}},
		}}).Expect(t, 201)
		// A sales client (a storefront) may manage carriers and quote.
		sales := s.s.As(t, []string{"sales"}, s.company)
		if got := sales.Do(t, "GET", "/v1/carriers?filter=currency%20%3D%20%22EUR%22&order_by=code", nil).Expect(t, 200).JSON(t)["data"].([]any); len(got) != 2 {
			t.Fatalf("EUR carriers %v", got)
		}

		// A cart by SKU and by product id: 4 × 250 g + 1 × 1 lb = 1.45359237 kg.
		mug := s.product(t, "MUG-1", "9.00", "weight", "250", "weight_unit", "g")["id"].(string)
		s.product(t, "PAN-1", "30.00", "weight", "1", "weight_unit", "lb")
		q := sales.Do(t, "POST", "/v1/shipping/quote", map[string]any{
			"currency": "EUR", "destination": map[string]any{"country": "DE", "postal_code": "80331"},
			"lines": []any{map[string]any{"product_id": mug, "quantity": "4"}, map[string]any{"sku": "PAN-1", "quantity": "1"}}, "goods_value": "66.00",
		}).Expect(t, 200).JSON(t)
		if q["weight_kg"] != "1.45359237" || q["currency"] != "EUR" {
			t.Fatalf("quote %v", q)
		}
		// Munich's 1-10 kg band (free_above is the Germany zone's), then UPS.
		if got := optionsSummary(t, q); got != "DHL/Munich=5.00/false, UPS/DACH=9.00/false, skip USPS" {
			t.Fatalf("quote %s", got)
		}
		first := q["options"].([]any)[0].(map[string]any)
		if first["tax_category_id"] != tax || first["carrier_id"] != dhl["id"] || first["carrier_name"] != "DHL Paket" || first["currency"] != "EUR" {
			t.Fatalf("option %v", first)
		}
		if reason := q["skipped"].([]any)[0].(map[string]any)["reason"].(string); !strings.Contains(reason, "USD") {
			t.Fatalf("skip reason %q", reason)
		}
		// weight_kg directly; free at the threshold exactly.
		q = sales.Do(t, "POST", "/v1/shipping/quote", map[string]any{
			"currency": "EUR", "destination": map[string]any{"country": "DE", "postal_code": "10115"}, "weight_kg": "5", "goods_value": "50.00",
		}).Expect(t, 200).JSON(t)
		if got := optionsSummary(t, q); got != "DHL/Germany=0.00/true, UPS/DACH=9.00/false, skip USPS" {
			t.Fatalf("free quote %s", got)
		}
		// XML in and out.
		body := `<?xml version="1.0"?><shipping_quote_request><currency>EUR</currency>` +
			`<destination><country>AT</country><postal_code>1010</postal_code></destination>` +
			`<lines><item><sku>MUG-1</sku><quantity>2</quantity></item></lines><goods_value>18.00</goods_value></shipping_quote_request>`
		x := sales.Do(t, "POST", "/v1/shipping/quote", body, "Content-Type", "application/xml", "Accept", "application/xml").Expect(t, 200)
		var xq struct {
			XMLName  xml.Name `xml:"shipping_quote"`
			WeightKg string   `xml:"weight_kg"`
			Options  []struct {
				Code   string `xml:"carrier_code"`
				Amount string `xml:"amount"`
			} `xml:"options>item"`
			Skipped []struct {
				Code   string `xml:"carrier_code"`
				Reason string `xml:"reason"`
			} `xml:"skipped>item"`
		}
		if err := xml.Unmarshal(x.Body, &xq); err != nil {
			t.Fatalf("%v: %s", err, x.Body)
		}
		if xq.WeightKg != "0.5" || len(xq.Options) != 1 || xq.Options[0].Code != "UPS" || xq.Options[0].Amount != "9.00" || len(xq.Skipped) != 2 {
			t.Fatalf("XML quote %+v\n%s", xq, x.Body)
		}

		// Validation: pointers into the body.
		for _, c := range []struct {
			name    string
			body    map[string]any
			pointer string
		}{
			{"lower-case country", map[string]any{"currency": "EUR", "destination": map[string]any{"country": "de"}, "weight_kg": "1", "goods_value": "0"}, "/destination/country"},
			{"lines and weight", map[string]any{"currency": "EUR", "destination": map[string]any{"country": "DE"}, "weight_kg": "1", "goods_value": "0",
				"lines": []any{map[string]any{"sku": "MUG-1", "quantity": "1"}}}, "/weight_kg"},
			{"neither", map[string]any{"currency": "EUR", "destination": map[string]any{"country": "DE"}, "goods_value": "0"}, "/lines"},
			{"unknown sku", map[string]any{"currency": "EUR", "destination": map[string]any{"country": "DE"}, "goods_value": "0",
				"lines": []any{map[string]any{"sku": "MUG-1", "quantity": "1"}, map[string]any{"sku": "NOPE", "quantity": "1"}}}, "/lines/1/sku"},
			{"zero quantity", map[string]any{"currency": "EUR", "destination": map[string]any{"country": "DE"}, "goods_value": "0",
				"lines": []any{map[string]any{"sku": "MUG-1", "quantity": "0"}}}, "/lines/0/quantity"},
			{"number for a decimal", map[string]any{"currency": "EUR", "destination": map[string]any{"country": "DE"}, "weight_kg": 1, "goods_value": "0"}, "/weight_kg"},
			{"missing goods_value", map[string]any{"currency": "EUR", "destination": map[string]any{"country": "DE"}, "weight_kg": "1"}, "/goods_value"},
		} {
			p := sales.Do(t, "POST", "/v1/shipping/quote", c.body).ExpectProblem(t, 422, apperr.Invalid)
			if !apitest.HasPointer(p, c.pointer) {
				t.Errorf("%s: %+v, want a pointer at %s", c.name, p.Errors, c.pointer)
			}
		}
		for _, c := range []struct {
			name    string
			change  func(m map[string]any)
			pointer string
		}{
			{"bands not increasing", func(m map[string]any) {
				m["zones"].([]any)[0].(map[string]any)["rates"].([]any)[1].(map[string]any)["max_weight_kg"] = "1.0"
			}, "/zones/0/rates/1/max_weight_kg"},
			{"alpha-3 country", func(m map[string]any) { m["zones"].([]any)[1].(map[string]any)["countries"] = []any{"DEU"} }, "/zones/1/countries/0"},
			{"amount beyond cents", func(m map[string]any) {
				m["zones"].([]any)[1].(map[string]any)["rates"].([]any)[0].(map[string]any)["amount"] = "3.999"
			}, "/zones/1/rates/0/amount"},
			{"tracking template", func(m map[string]any) { m["tracking_url_template"] = "https://track.example/" }, "/tracking_url_template"},
			{"another company's tax category", func(m map[string]any) { m["tax_category_id"] = "taxc_other" }, "/tax_category_id"},
		} {
			m := dhlCarrier(tax)
			m["code"] = "BAD"
			c.change(m)
			p := s.admin.Do(t, "POST", "/v1/carriers", m).ExpectProblem(t, 422, apperr.Invalid)
			if !apitest.HasPointer(p, c.pointer) {
				t.Errorf("%s: %+v, want a pointer at %s", c.name, p.Errors, c.pointer)
			}
		}
		s.admin.Do(t, "POST", "/v1/carriers", dhlCarrier("")).ExpectProblem(t, 409, apperr.Conflict)

		// Another company sees none of it.
		other := setupWorld(t, s.s)
		if got := other.admin.Do(t, "GET", "/v1/carriers", nil).Expect(t, 200).JSON(t)["data"].([]any); len(got) != 0 {
			t.Fatalf("other company lists %v", got)
		}
		other.admin.Do(t, "GET", "/v1/carriers/"+dhl["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
		q = other.admin.Do(t, "POST", "/v1/shipping/quote", map[string]any{
			"currency": "EUR", "destination": map[string]any{"country": "DE"}, "weight_kg": "1", "goods_value": "0",
		}).Expect(t, 200).JSON(t)
		if got := optionsSummary(t, q); got != "" {
			t.Fatalf("other company's quote %s", got)
		}
		p := other.admin.Do(t, "POST", "/v1/shipping/quote", map[string]any{
			"currency": "EUR", "destination": map[string]any{"country": "DE"}, "lines": []any{map[string]any{"product_id": mug, "quantity": "1"}}, "goods_value": "0",
		}).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/lines/0/product_id") {
			t.Fatalf("another company's product: %+v", p.Errors)
		}
		p = other.admin.Do(t, "POST", "/v1/shipping/quote", map[string]any{
			"currency": "EUR", "destination": map[string]any{"country": "DE"}, "weight_kg": "1", "goods_value": "0", "carrier_id": dhl["id"],
		}).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "/carrier_id") {
			t.Fatalf("another company's carrier: %+v", p.Errors)
		}
		// Archiving a carrier takes it out of quotes.
		etag := s.admin.Do(t, "GET", "/v1/carriers/"+dhl["id"].(string), nil).Expect(t, 200).Header.Get("ETag")
		s.admin.Do(t, "PATCH", "/v1/carriers/"+dhl["id"].(string), `{"active":false}`, "Content-Type", "application/merge-patch+json", "If-Match", etag).Expect(t, 200)
		q = sales.Do(t, "POST", "/v1/shipping/quote", map[string]any{
			"currency": "EUR", "destination": map[string]any{"country": "DE"}, "weight_kg": "1", "goods_value": "0",
		}).Expect(t, 200).JSON(t)
		if got := optionsSummary(t, q); got != "UPS/DACH=9.00/false, skip USPS" {
			t.Fatalf("after archiving DHL: %s", got)
		}
	})
}

func TestAvailabilityManySKUs(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		s := newStockWorld(t, e)
		mug := s.product(t, "MUG-1", "9.00")["id"].(string)
		pan := s.product(t, "PAN-1", "30.00")["id"].(string)
		s.product(t, "NEW-1", "1.00")
		// A second warehouse with its own bin.
		ham := s.admin.Do(t, "POST", "/v1/warehouses", map[string]any{"code": "HAM1", "name": "Hamburg"}).Expect(t, 201).JSON(t)["id"].(string)
		hamBin := s.admin.Do(t, "POST", "/v1/locations", map[string]any{"warehouse_id": ham, "code": "HAM1-A", "name": "Bin A"}).Expect(t, 201).JSON(t)["id"].(string)
		s.move(t, map[string]any{"type": "receipt", "product_id": mug, "to_location_id": s.recv, "quantity": "10", "unit_cost": "2"}).Expect(t, 201)
		s.move(t, map[string]any{"type": "transfer", "product_id": mug, "from_location_id": s.recv, "to_location_id": s.bin, "quantity": "4"}).Expect(t, 201)
		s.move(t, map[string]any{"type": "receipt", "product_id": mug, "to_location_id": hamBin, "quantity": "2.5", "unit_cost": "2"}).Expect(t, 201)
		s.move(t, map[string]any{"type": "receipt", "product_id": pan, "to_location_id": s.bin, "quantity": "3", "unit_cost": "10"}).Expect(t, 201)
		s.admin.Do(t, "POST", "/v1/stock-reservations", map[string]any{"source_type": "sales_order", "source_id": "so-1",
			"lines": []any{map[string]any{"product_id": mug, "location_id": s.bin, "quantity": "1"}}}).Expect(t, 201)

		// A storefront (sales role) asks for several SKUs, one unknown.
		sales := s.s.As(t, []string{"sales"}, s.company)
		got := sales.Do(t, "GET", "/v1/availability?sku=MUG-1&sku=NOPE&sku=PAN-1&sku=NEW-1&product_id="+pan, nil).Expect(t, 200).JSON(t)
		data := got["data"].([]any)
		var lines []string
		for _, d := range data {
			m := d.(map[string]any)
			var ws []string
			for _, w := range m["warehouses"].([]any) {
				wm := w.(map[string]any)
				ws = append(ws, fmt.Sprintf("%s %s/%s", wm["code"], wm["available"], wm["on_hand"]))
			}
			lines = append(lines, fmt.Sprintf("%s %v %s/%s/%s [%s]", m["sku"], m["found"], m["available"], m["on_hand"], m["reserved"], strings.Join(ws, ", ")))
		}
		want := []string{
			"MUG-1 true 11.5/12.5/1 [BER1 9/10, HAM1 2.5/2.5]",
			"NOPE false 0/0/0 []",
			"PAN-1 true 3/3/0 [BER1 3/3]",
			"NEW-1 true 0/0/0 []",
			"PAN-1 true 3/3/0 [BER1 3/3]",
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Fatalf("availability\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		if data[0].(map[string]any)["product_id"] != mug {
			t.Fatalf("item %v", data[0])
		}
		// The warehouse filter, and XML.
		x := sales.Do(t, "GET", "/v1/availability?sku=MUG-1&warehouse=HAM1", nil, "Accept", "application/xml").Expect(t, 200)
		var xa struct {
			XMLName xml.Name `xml:"availability"`
			Items   []struct {
				SKU        string   `xml:"sku"`
				Available  string   `xml:"available"`
				Warehouses []string `xml:"warehouses>item>code"`
			} `xml:"data>item"`
		}
		if err := xml.Unmarshal(x.Body, &xa); err != nil {
			t.Fatalf("%v: %s", err, x.Body)
		}
		if len(xa.Items) != 1 || xa.Items[0].Available != "2.5" || strings.Join(xa.Items[0].Warehouses, ",") != "HAM1" {
			t.Fatalf("HAM1 only: %+v\n%s", xa, x.Body)
		}
		p := sales.Do(t, "GET", "/v1/availability?sku=MUG-1&warehouse=PAR1", nil).ExpectProblem(t, 422, apperr.Invalid)
		if !apitest.HasPointer(p, "query:warehouse") {
			t.Fatalf("unknown warehouse: %+v", p.Errors)
		}
		sales.Do(t, "GET", "/v1/availability", nil).ExpectProblem(t, 400, apperr.BadRequest)
		many := "/v1/availability?sku=X" + strings.Repeat("&sku=X", 200)
		sales.Do(t, "GET", many, nil).ExpectProblem(t, 400, apperr.BadRequest)

		// Another company: the same SKU is unknown there, and its own
		// warehouses only.
		other := setupWorld(t, s.s)
		got = other.admin.Do(t, "GET", "/v1/availability?sku=MUG-1&product_id="+mug, nil).Expect(t, 200).JSON(t)
		for _, d := range got["data"].([]any) {
			if d.(map[string]any)["found"] != false {
				t.Fatalf("another company sees %v", d)
			}
		}
		other.admin.Do(t, "GET", "/v1/availability?sku=MUG-1&warehouse=BER1", nil).ExpectProblem(t, 422, apperr.Invalid)
	})
}

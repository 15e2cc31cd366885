package app_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Prices, tax rates and the quote over HTTP: JSON and XML, problem
// pointers, the company's tax rounding, exemptions and company isolation.
func TestPricingOverHTTP(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		std := w.admin.Do(t, "POST", "/v1/tax-categories", map[string]any{"code": "standard", "name": "Standard"}).Expect(t, 201).JSON(t)["id"].(string)
		mug := w.product(t, "MUG", "9.99", "tax_category_id", std)["id"].(string)
		cheap := w.product(t, "CHEAP", "0.99", "tax_category_id", std)["id"].(string)

		rate := w.admin.Do(t, "POST", "/v1/tax-rates", map[string]any{"tax_category_id": std, "country": "DE", "rate": "19", "name": "DE VAT standard"}).Expect(t, 201).JSON(t)
		if rate["rate"] != "19" || !strings.HasPrefix(rate["id"].(string), "txr_") || rate["active"] != true {
			t.Fatalf("tax rate %v", rate)
		}
		p := w.admin.Do(t, "POST", "/v1/tax-rates", map[string]any{"tax_category_id": std, "country": "DE", "rate": "7", "name": "again"}).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, p, "/valid_from")
		p = w.admin.Do(t, "POST", "/v1/tax-rates", map[string]any{"tax_category_id": std, "country": "Germany", "region": "bavaria", "rate": "101", "name": "x"}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/country", "/region")

		consumer := w.admin.Do(t, "POST", "/v1/customers", map[string]any{"name": "Erika", "currency": "EUR", "customer_group": "consumer"}).Expect(t, 201).JSON(t)["id"].(string)
		p = w.admin.Do(t, "POST", "/v1/customers", map[string]any{"name": "Embassy", "currency": "EUR", "tax_exempt": true}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/tax_exemption_reason")
		exempt := w.admin.Do(t, "POST", "/v1/customers", map[string]any{"name": "Embassy", "currency": "EUR", "customer_group": "consumer",
			"tax_exempt": true, "tax_exemption_reason": "Vienna Convention"}).Expect(t, 201).JSON(t)
		if exempt["tax_exempt"] != true || exempt["tax_exemption_reason"] != "Vienna Convention" {
			t.Fatalf("exempt customer %v", exempt)
		}

		p = w.admin.Do(t, "POST", "/v1/price-lists", map[string]any{"code": "SHOP", "name": "Shop", "currency": "EUR", "prices": []any{
			map[string]any{"product_id": mug, "unit_price": "9.99"},
			map[string]any{"product_id": mug, "unit_price": "9.49", "min_quantity": "0"},
		}}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/prices/1/min_quantity")
		list := w.admin.Do(t, "POST", "/v1/price-lists", map[string]any{"code": "SHOP", "name": "Shop", "currency": "EUR", "tax_inclusive": true,
			"customer_group": "consumer", "prices": []any{
				map[string]any{"product_id": mug, "unit_price": "9.99"},
				map[string]any{"product_id": mug, "unit_price": "9.49", "min_quantity": "10", "discount_percent": "5"},
			}}).Expect(t, 201).JSON(t)
		listID := list["id"].(string)
		if !strings.HasPrefix(listID, "pl_") || list["priority"] != float64(0) || list["active"] != true {
			t.Fatalf("price list %v", list)
		}

		// JSON: a tax-inclusive price for the customer's group.
		q := w.admin.Do(t, "POST", "/v1/prices/quote", map[string]any{"customer_id": consumer, "date": "2024-06-15",
			"ship_to": map[string]any{"country": "DE"}, "lines": []any{map[string]any{"sku": "MUG", "quantity": "1"}}}).Expect(t, 200).JSON(t)
		line := q["lines"].([]any)[0].(map[string]any)
		for k, want := range map[string]any{"product_id": mug, "sku": "MUG", "price_list_id": listID, "tax_inclusive": true, "quantity": "1",
			"unit_price": "9.99", "discount_percent": "0", "discount": "0.00", "net_amount": "8.39", "tax_rate": "19", "tax_amount": "1.60",
			"gross_amount": "9.99", "tax_category_id": std} {
			if line[k] != want {
				t.Errorf("line %s = %v, want %v", k, line[k], want)
			}
		}
		for k, want := range map[string]any{"company_id": w.company, "customer_id": consumer, "currency": "EUR", "date": "2024-06-15",
			"tax_inclusive": true, "tax_rounding": "line", "tax_exempt": false, "net_total": "8.39", "tax_total": "1.60", "gross_total": "9.99"} {
			if q[k] != want {
				t.Errorf("quote %s = %v, want %v", k, q[k], want)
			}
		}
		if taxes := q["taxes"].([]any); len(taxes) != 1 || taxes[0].(map[string]any)["base"] != "8.39" || taxes[0].(map[string]any)["amount"] != "1.60" {
			t.Errorf("taxes %v", q["taxes"])
		}

		// The company's document rounding, and its registered address as
		// the jurisdiction when the quote names none.
		patchJSON(t, w.admin, "/v1/companies/"+w.company, `{"tax_rounding": "cents"}`).ExpectProblem(t, 422, apperr.Invalid)
		patchJSON(t, w.admin, "/v1/companies/"+w.company, `{"tax_rounding": "document", "addresses": [{"kind": "registered", "line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}]}`).Expect(t, 200)
		three := []any{map[string]any{"product_id": cheap, "quantity": "1"}, map[string]any{"product_id": cheap, "quantity": "1"}, map[string]any{"product_id": cheap, "quantity": "1"}}
		q = w.admin.Do(t, "POST", "/v1/prices/quote", map[string]any{"lines": three}).Expect(t, 200).JSON(t)
		if q["tax_rounding"] != "document" || q["net_total"] != "2.97" || q["tax_total"] != "0.56" || q["gross_total"] != "3.53" ||
			q["ship_to"].(map[string]any)["country"] != "DE" || q["tax_inclusive"] != false {
			t.Fatalf("document rounding %v", q)
		}
		patchJSON(t, w.admin, "/v1/companies/"+w.company, `{"tax_rounding": "line"}`).Expect(t, 200)
		q = w.admin.Do(t, "POST", "/v1/prices/quote", map[string]any{"lines": three}).Expect(t, 200).JSON(t)
		if q["tax_total"] != "0.57" || q["gross_total"] != "3.54" {
			t.Fatalf("line rounding %v", q)
		}

		// An exempt customer pays the net that an inclusive price holds.
		q = w.admin.Do(t, "POST", "/v1/prices/quote", map[string]any{"customer_id": exempt["id"], "lines": []any{map[string]any{"sku": "MUG", "quantity": "10"}}}).Expect(t, 200).JSON(t)
		line = q["lines"].([]any)[0].(map[string]any)
		// 10 × 9.49 = 94.90 − 5 % (4.745 → 4.74, half-even) = 90.16 gross → 75.76 net.
		if q["tax_exempt"] != true || line["discount"] != "4.74" || line["net_amount"] != "75.76" || line["tax_amount"] != "0.00" || q["gross_total"] != "75.76" {
			t.Fatalf("exempt %v", q)
		}

		// XML in and out.
		body := `<price_quote_request><customer_id>` + consumer + `</customer_id><date>2024-06-15</date>` +
			`<ship_to><country>DE</country></ship_to><lines><item><sku>MUG</sku><quantity>2</quantity></item></lines></price_quote_request>`
		raw := w.admin.Do(t, "POST", "/v1/prices/quote", body, "Content-Type", "application/xml", "Accept", "application/xml").Expect(t, 200)
		if !strings.HasPrefix(raw.Header.Get("Content-Type"), "application/xml") {
			t.Fatalf("content type %s", raw.Header.Get("Content-Type"))
		}
		var doc struct {
			XMLName    xml.Name `xml:"price_quote"`
			Currency   string   `xml:"currency"`
			GrossTotal string   `xml:"gross_total"`
			Lines      []struct {
				SKU       string `xml:"sku"`
				NetAmount string `xml:"net_amount"`
				TaxAmount string `xml:"tax_amount"`
			} `xml:"lines>item"`
		}
		if err := xml.Unmarshal(raw.Body, &doc); err != nil {
			t.Fatalf("%v: %s", err, raw.Body)
		}
		// 2 × 9.99 = 19.98 gross → 16.79 net, 3.19 tax.
		if doc.Currency != "EUR" || doc.GrossTotal != "19.98" || len(doc.Lines) != 1 || doc.Lines[0].NetAmount != "16.79" || doc.Lines[0].TaxAmount != "3.19" {
			t.Fatalf("XML quote %s", raw.Body)
		}
		raw = w.admin.Do(t, "POST", "/v1/prices/quote", `<price_quote_request><lines><item><sku>NOPE</sku><quantity>1</quantity></item></lines></price_quote_request>`,
			"Content-Type", "application/xml", "Accept", "application/xml").Expect(t, 422)
		if !strings.Contains(string(raw.Body), "<pointer>/lines/0/sku</pointer>") || !strings.HasPrefix(raw.Header.Get("Content-Type"), "application/problem+xml") {
			t.Fatalf("XML problem %s %s", raw.Header.Get("Content-Type"), raw.Body)
		}

		// Problems point at the field.
		for _, c := range []struct {
			body     map[string]any
			pointers []string
		}{
			{map[string]any{"lines": []any{}}, []string{"/lines"}},
			{map[string]any{"lines": []any{map[string]any{"sku": "MUG", "quantity": 1}}}, []string{"/lines/0/quantity"}},
			{map[string]any{"lines": []any{map[string]any{"sku": "NOPE", "quantity": "1"}, map[string]any{"quantity": "1"}}}, []string{"/lines/0/sku", "/lines/1/product_id"}},
			{map[string]any{"ship_to": map[string]any{"country": "de"}, "lines": []any{map[string]any{"sku": "MUG", "quantity": "1"}}}, []string{"/ship_to/country"}},
			{map[string]any{"currency": "EURO", "lines": []any{map[string]any{"sku": "MUG", "quantity": "1"}}}, []string{"/currency"}},
			{map[string]any{"ship_to": map[string]any{"country": "FR"}, "lines": []any{map[string]any{"sku": "MUG", "quantity": "1"}}}, []string{"/lines/0"}},
			{map[string]any{"currency": "USD", "lines": []any{map[string]any{"sku": "MUG", "quantity": "1"}}}, []string{"/lines/0"}},
			{map[string]any{"customer_id": "cus_nope", "lines": []any{map[string]any{"sku": "MUG", "quantity": "0"}}}, []string{"/customer_id"}},
		} {
			p := w.admin.Do(t, "POST", "/v1/prices/quote", c.body).ExpectProblem(t, 422, apperr.Invalid)
			wantPointers(t, p, c.pointers...)
		}

		// Quoting writes nothing, so sales:read is enough; without it, 403.
		w.s.As(t, []string{"readonly"}, w.company).Do(t, "POST", "/v1/prices/quote", map[string]any{"lines": three}).Expect(t, 200)
		w.s.As(t, []string{"inventory"}, w.company).Do(t, "POST", "/v1/prices/quote", map[string]any{"lines": three}).ExpectProblem(t, 403, apperr.Forbidden)

		// Companies are isolated both ways.
		stranger := newCompanyCaller(t, w)
		p = stranger.Do(t, "POST", "/v1/prices/quote", map[string]any{"customer_id": consumer, "ship_to": map[string]any{"country": "DE"},
			"lines": []any{map[string]any{"product_id": mug, "quantity": "1"}}}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/customer_id")
		p = stranger.Do(t, "POST", "/v1/prices/quote", map[string]any{"ship_to": map[string]any{"country": "DE"},
			"lines": []any{map[string]any{"product_id": mug, "quantity": "1"}}}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/lines/0/product_id")
		p = stranger.Do(t, "POST", "/v1/prices/quote", map[string]any{"company_id": w.company, "lines": three}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/company_id")
		stranger.Do(t, "GET", "/v1/price-lists/"+listID, nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "GET", "/v1/tax-rates/"+rate["id"].(string), nil).ExpectProblem(t, 404, apperr.NotFound)
		if got := stranger.Do(t, "GET", "/v1/price-lists", nil).Expect(t, 200).JSON(t)["data"].([]any); len(got) != 0 {
			t.Fatalf("another company lists %v", got)
		}
		p = stranger.Do(t, "POST", "/v1/price-lists", map[string]any{"code": "STEAL", "name": "x", "currency": "GBP",
			"prices": []any{map[string]any{"product_id": mug, "unit_price": "1"}}}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/prices")

		// A listed product cannot go; the list can, and takes its prices.
		w.admin.Do(t, "DELETE", "/v1/products/"+mug, nil).ExpectProblem(t, 409, apperr.Conflict)
		w.admin.Do(t, "DELETE", "/v1/price-lists/"+listID, nil).Expect(t, 204)
		q = w.admin.Do(t, "POST", "/v1/prices/quote", map[string]any{"customer_id": consumer, "lines": []any{map[string]any{"sku": "MUG", "quantity": "1"}}}).Expect(t, 200).JSON(t)
		if line := q["lines"].([]any)[0].(map[string]any); line["price_list_id"] != nil || line["gross_amount"] != "11.89" {
			t.Fatalf("after deleting the list %v", line)
		}
	})
}

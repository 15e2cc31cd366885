package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/operations"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
)

// Each resource accepts a valid record and refuses its business-rule
// violations with a pointer.
func TestEveryResourceValidates(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		box := w.admin.Do(t, "POST", "/v1/units-of-measure", map[string]any{"code": "box", "name": "Box",
			"conversions": []any{map[string]any{"to_unit_id": w.unit, "factor": "12"}}}).Expect(t, 201).JSON(t)["id"].(string)
		terms := w.admin.Do(t, "POST", "/v1/payment-terms", map[string]any{"code": "2-10-30", "name": "2/10 net 30", "net_days": 30,
			"discount_percent": "2", "discount_days": 10}).Expect(t, 201).JSON(t)["id"].(string)
		taxc := w.admin.Do(t, "POST", "/v1/tax-categories", map[string]any{"code": "std", "name": "Standard"}).Expect(t, 201).JSON(t)["id"].(string)
		w.admin.Do(t, "POST", "/v1/products", map[string]any{"sku": "BOXED", "name": "Boxed", "stock_unit_id": w.unit, "sales_unit_id": box,
			"sales_unit_factor": "12", "list_price": "30.000001", "currency": "EUR", "tax_category_id": taxc}).Expect(t, 201)
		w.admin.Do(t, "POST", "/v1/customers", map[string]any{"name": "C", "currency": "EUR", "payment_terms_id": terms,
			"credit_limit": "5000.00", "customer_group": "retail", "emails": []any{"buyer@example.com"},
			"billing_address": map[string]any{"line1": "Main St 1", "city": "Berlin", "country": "DE"}}).Expect(t, 201)
		w.admin.Do(t, "POST", "/v1/suppliers", map[string]any{"name": "S", "currency": "USD", "payment_terms_id": terms}).Expect(t, 201)

		root := w.s.As(t, []string{"admin"})
		cases := []struct {
			caller  *apitest.Caller
			path    string
			body    map[string]any
			pointer string
		}{
			{root, "/v1/companies", map[string]any{"legal_name": "X", "base_currency": "EUR", "time_zone": "Mars/Olympus"}, "/time_zone"},
			{root, "/v1/companies", map[string]any{"legal_name": "X", "base_currency": "EUR", "fiscal_year_start": "02-30"}, "/fiscal_year_start"},
			{w.admin, "/v1/units-of-measure", map[string]any{"code": "bad", "name": "Bad", "conversions": []any{map[string]any{"to_unit_id": w.unit, "factor": "0"}}}, "/conversions/0/factor"},
			{w.admin, "/v1/units-of-measure", map[string]any{"code": "x y", "name": "Space"}, "/code"},
			{w.admin, "/v1/payment-terms", map[string]any{"code": "p", "name": "P", "net_days": 10, "discount_percent": "150", "discount_days": 5}, "/discount_percent"},
			{w.admin, "/v1/payment-terms", map[string]any{"code": "q", "name": "Q", "net_days": 10, "discount_days": 5}, "/discount_days"},
			{w.admin, "/v1/products", map[string]any{"sku": "F", "name": "F", "stock_unit_id": w.unit, "list_price": "1", "currency": "EUR", "sales_unit_factor": "2"}, "/sales_unit_factor"},
			{w.admin, "/v1/products", map[string]any{"sku": "W", "name": "W", "stock_unit_id": w.unit, "list_price": "1", "currency": "EUR", "weight": "2"}, "/weight_unit"},
			{w.admin, "/v1/products", map[string]any{"sku": "T", "name": "T", "stock_unit_id": w.unit, "list_price": "1", "currency": "EUR", "tax_category_id": box}, "/tax_category_id"},
			{w.admin, "/v1/customers", map[string]any{"name": "E", "currency": "EUR", "emails": []any{"not-an-email"}}, "/emails/0"},
			{w.admin, "/v1/customers", map[string]any{"name": "L", "currency": "EUR", "credit_limit": "-1"}, "/credit_limit"},
			{w.admin, "/v1/suppliers", map[string]any{"name": "P", "currency": "EUR", "payment_terms_id": "pt_missing"}, "/payment_terms_id"},
		}
		for _, c := range cases {
			p := c.caller.Do(t, "POST", c.path, c.body).ExpectProblem(t, 422, apperr.Invalid)
			if !apitest.HasPointer(p, c.pointer) {
				t.Errorf("POST %s %v: no error at %s: %+v", c.path, c.body, c.pointer, p.Errors)
			}
		}
		// A unit referenced by another unit's conversion cannot be deleted.
		w.admin.Do(t, "DELETE", "/v1/payment-terms/"+terms, nil).ExpectProblem(t, 409, apperr.Conflict)
	})
}

func TestOperationsAreVisibleToTheirClientOnly(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		d := w.s.App.DB()
		ctx := reqctx.WithActor(context.Background(), w.admin.ID)
		var op operations.Operation
		err := d.Transact(ctx, func(tx *db.Tx) error {
			var err error
			op, err = operations.Start(ctx, tx, "test.import", w.company)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		got := w.admin.Do(t, "GET", "/v1/operations/"+op.ID, nil).Expect(t, 200).JSON(t)
		if got["status"] != "pending" || got["done"] != false {
			t.Fatalf("operation %v", got)
		}
		if err := operations.Finish(ctx, d, d.Now(), op.ID, map[string]int{"imported": 3}, nil); err != nil {
			t.Fatal(err)
		}
		got = w.admin.Do(t, "GET", "/v1/operations/"+op.ID, nil).Expect(t, 200).JSON(t)
		if got["status"] != "succeeded" || got["done"] != true || got["progress"] != float64(100) {
			t.Fatalf("finished operation %v", got)
		}
		other := w.s.As(t, []string{"admin"}, w.company)
		other.Do(t, "GET", "/v1/operations/"+op.ID, nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// Sensitive members need their scope to be read, written, searched or
// selected; a caller without it cannot clear them by replacing the record.
func TestSensitiveFieldsNeedTheirScope(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		finance := w.s.As(t, []string{"finance", "sales"}, w.company)
		sales := w.s.As(t, []string{"sales"}, w.company)
		cus := finance.Do(t, "PUT", "/v1/customers/external/c-1", map[string]any{"name": "Tax Co", "currency": "EUR", "tax_id": "DE999",
			"bank_accounts": []any{map[string]any{"holder": "Tax Co", "iban": "DE89370400440532013000"}}}).Expect(t, 201).JSON(t)
		id := cus["id"].(string)
		if cus["tax_id"] != "DE999" {
			t.Fatalf("holder of the scope does not see tax_id: %v", cus)
		}
		seen := sales.Do(t, "GET", "/v1/customers/"+id, nil).Expect(t, 200)
		if m := seen.JSON(t); m["tax_id"] != nil || m["bank_accounts"] != nil || m["name"] != "Tax Co" {
			t.Fatalf("sales sees %s", seen.Body)
		}
		list := sales.Do(t, "GET", "/v1/customers", nil).Expect(t, 200).JSON(t)
		if item := list["data"].([]any)[0].(map[string]any); item["tax_id"] != nil {
			t.Fatalf("list shows tax_id to sales: %v", item)
		}
		xmlBody := sales.Do(t, "GET", "/v1/customers/"+id, nil, "Accept", "application/xml").Expect(t, 200).Body
		if strings.Contains(string(xmlBody), "DE999") || !strings.Contains(string(xmlBody), "<customer>") {
			t.Fatalf("XML for sales: %s", xmlBody)
		}
		sales.Do(t, "GET", "/v1/customers?filter="+url.QueryEscape(`tax_id = "DE999"`), nil).ExpectProblem(t, 400, apperr.BadRequest)
		sales.Do(t, "GET", "/v1/customers?fields=name,tax_id", nil).ExpectProblem(t, 400, apperr.BadRequest)
		found := finance.Do(t, "GET", "/v1/customers?filter="+url.QueryEscape(`tax_id = "DE999"`), nil).Expect(t, 200).JSON(t)
		if len(found["data"].([]any)) != 1 {
			t.Fatal("the scope holder cannot search by tax_id")
		}
		etag := seen.Header.Get("ETag")
		sales.Do(t, "PATCH", "/v1/customers/"+id, `{"tax_id":"X"}`, "Content-Type", "application/merge-patch+json", "If-Match", etag).
			ExpectProblem(t, 403, apperr.Forbidden)
		// Patches and replacements without the member keep it.
		sales.Do(t, "PATCH", "/v1/customers/"+id, `{"name":"Tax Co 2"}`, "Content-Type", "application/merge-patch+json", "If-Match", etag).Expect(t, 200)
		sales.Do(t, "PUT", "/v1/customers/external/c-1", map[string]any{"name": "Tax Co 3", "currency": "EUR"}).Expect(t, 200)
		after := finance.Do(t, "GET", "/v1/customers/"+id, nil).Expect(t, 200).JSON(t)
		if after["tax_id"] != "DE999" || after["bank_accounts"] == nil || after["name"] != "Tax Co 3" {
			t.Fatalf("sensitive members lost by a caller who could not see them: %v", after)
		}
		// Reads that showed sensitive members are audited; sales' reads,
		// which showed none, are not.
		var finReads, salesReads int
		d := w.s.App.DB()
		_ = d.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM audit_log WHERE action = 'customer.read_sensitive' AND actor = $1", finance.ID).Scan(&finReads)
		_ = d.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM audit_log WHERE action = 'customer.read_sensitive' AND actor = $1", sales.ID).Scan(&salesReads)
		if finReads < 2 || salesReads != 0 {
			t.Fatalf("sensitive reads audited: finance %d (want ≥ 2), sales %d (want 0)", finReads, salesReads)
		}
	})
}

// Sensitive values are encrypted at rest: the raw tables (the record, its
// projections, the outbox, the audit log) never hold them in clear, while
// the API still returns them and finds records by them.
func TestSensitiveValuesAreEncryptedAtRest(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		const taxID, iban = "ATU12345678", "AT611904300234573201"
		cus := w.admin.Do(t, "POST", "/v1/customers", map[string]any{"name": "Secret GmbH", "currency": "EUR", "tax_id": taxID,
			"bank_accounts": []any{map[string]any{"holder": "Secret GmbH", "iban": iban}}}).Expect(t, 201).JSON(t)
		if cus["tax_id"] != taxID {
			t.Fatalf("API lost the tax id: %v", cus)
		}
		found := w.admin.Do(t, "GET", "/v1/customers?filter="+url.QueryEscape(`tax_id = "atu 1234-5678"`), nil).Expect(t, 200).JSON(t)
		if len(found["data"].([]any)) != 1 {
			t.Fatal("blind-index search by a differently typed tax id found nothing")
		}
		w.admin.Do(t, "GET", "/v1/customers?filter="+url.QueryEscape(`tax_id > "A"`), nil).ExpectProblem(t, 400, apperr.BadRequest)
		d := w.s.App.DB()
		ctx := context.Background()
		for _, q := range []string{
			"SELECT doc || ' ' || tax_id FROM customers",
			"SELECT CAST(data AS TEXT) FROM outbox_events",
			"SELECT CAST(details AS TEXT) FROM audit_log",
		} {
			rows, err := d.QueryContext(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var text string
				if err := rows.Scan(&text); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(text, taxID) || strings.Contains(text, iban) {
					t.Fatalf("%s holds a sensitive value in clear: %.200s", q, text)
				}
			}
			rows.Close()
		}
	})
}

package app_test

import (
	"net/url"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// patchJSON sends a merge patch under the record's current ETag.
func patchJSON(t *testing.T, c *apitest.Caller, path, patch string) *apitest.Response {
	t.Helper()
	etag := c.Do(t, "GET", path, nil).Expect(t, 200).Header.Get("ETag")
	return c.Do(t, "PATCH", path, patch, "Content-Type", "application/merge-patch+json", "If-Match", etag)
}

func wantPointers(t *testing.T, p apperr.Problem, pointers ...string) {
	t.Helper()
	for _, ptr := range pointers {
		if !apitest.HasPointer(p, ptr) {
			t.Errorf("no error at %s: %+v", ptr, p.Errors)
		}
	}
}

func TestPostingRulesOverHTTP(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		product := w.product(t, "BOOK-1", "12.00")["id"].(string)
		taxCat := w.admin.Do(t, "POST", "/v1/tax-categories", map[string]any{"code": "reduced", "name": "Reduced"}).Expect(t, 201).JSON(t)["id"].(string)
		books := w.admin.Do(t, "POST", "/v1/accounts", map[string]any{"code": "4010", "name": "Book sales", "type": "income"}).Expect(t, 201).JSON(t)["id"].(string)
		revenue, bank, cogs := accountByCode(t, w.admin, "4000"), accountByCode(t, w.admin, "1000"), accountByCode(t, w.admin, "5000")

		rule := w.admin.Do(t, "POST", "/v1/posting-rules", map[string]any{"role": "revenue", "product_id": product, "account_id": books}).Expect(t, 201).JSON(t)
		id := rule["id"].(string)
		if rule["role"] != "revenue" || rule["product_id"] != product || rule["account_id"] != books || rule["company_id"] != w.company {
			t.Fatalf("created rule %v", rule)
		}
		w.admin.Do(t, "POST", "/v1/posting-rules", map[string]any{"role": "revenue", "account_id": revenue}).Expect(t, 201)
		w.admin.Do(t, "POST", "/v1/posting-rules", map[string]any{"role": "revenue", "tax_category_id": taxCat, "account_id": revenue}).Expect(t, 201)
		w.admin.Do(t, "POST", "/v1/posting-rules", map[string]any{"role": "cogs", "payroll_component": "BONUS", "account_id": cogs}).Expect(t, 201)
		list := w.admin.Do(t, "GET", "/v1/posting-rules?filter="+url.QueryEscape(`role = "revenue" AND product_id = "`+product+`"`), nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != id {
			t.Fatalf("filtered list %v", list)
		}

		// Bad input names its field.
		for _, c := range []struct {
			body     map[string]any
			pointers []string
		}{
			{map[string]any{"role": "revenue", "product_id": product, "customer_group": "retail", "account_id": books}, []string{"/product_id", "/customer_group"}},
			{map[string]any{"role": "revenue", "account_id": bank}, []string{"/account_id"}},
			{map[string]any{"role": "receivables", "customer_group": "retail", "account_id": revenue}, []string{"/account_id"}},
			{map[string]any{"role": "sales", "account_id": revenue}, []string{"/role"}},
			{map[string]any{"role": "revenue", "customer_group": "retail"}, []string{"/account_id"}},
			{map[string]any{"role": "revenue", "product_id": "prod_nope", "account_id": books}, []string{"/product_id"}},
			{map[string]any{"role": "revenue", "tax_category_id": "taxc_nope", "account_id": books}, []string{"/tax_category_id"}},
			{map[string]any{"role": "payroll_expense", "payroll_component": "has space", "account_id": accountByCode(t, w.admin, "6000")}, []string{"/payroll_component"}},
		} {
			p := w.admin.Do(t, "POST", "/v1/posting-rules", c.body).ExpectProblem(t, 422, apperr.Invalid)
			wantPointers(t, p, c.pointers...)
		}

		// One rule per role and selector.
		p := w.admin.Do(t, "POST", "/v1/posting-rules", map[string]any{"role": "revenue", "product_id": product, "account_id": revenue}).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, p, "/product_id")
		p = w.admin.Do(t, "POST", "/v1/posting-rules", map[string]any{"role": "revenue", "account_id": books}).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, p, "/role")
		p = patchJSON(t, w.admin, "/v1/posting-rules/"+id, `{"product_id": null, "tax_category_id": "`+taxCat+`"}`).ExpectProblem(t, 409, apperr.Conflict)
		wantPointers(t, p, "/tax_category_id")
		patchJSON(t, w.admin, "/v1/posting-rules/"+id, `{"account_id": "`+revenue+`"}`).Expect(t, 200)

		// An archived account takes no new rules; a referenced one cannot go.
		archived := w.admin.Do(t, "POST", "/v1/accounts", map[string]any{"code": "4090", "name": "Old sales", "type": "income", "active": false}).Expect(t, 201).JSON(t)["id"].(string)
		p = w.admin.Do(t, "POST", "/v1/posting-rules", map[string]any{"role": "revenue", "customer_group": "old", "account_id": archived}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/account_id")
		w.admin.Do(t, "DELETE", "/v1/accounts/"+cogs, nil).ExpectProblem(t, 409, apperr.Conflict)
		w.admin.Do(t, "DELETE", "/v1/products/"+product, nil).ExpectProblem(t, 409, apperr.Conflict)

		// Companies are isolated both ways.
		stranger := newCompanyCaller(t, w)
		foreign := accountByCode(t, stranger, "4000")
		p = w.admin.Do(t, "POST", "/v1/posting-rules", map[string]any{"role": "revenue", "customer_group": "export", "account_id": foreign}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/account_id")
		p = stranger.Do(t, "POST", "/v1/posting-rules", map[string]any{"role": "revenue", "product_id": product, "account_id": foreign}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/product_id")
		stranger.Do(t, "GET", "/v1/posting-rules/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)
		stranger.Do(t, "DELETE", "/v1/posting-rules/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)
		// It sees only its own: the two default rules every company starts with.
		for _, r := range stranger.Do(t, "GET", "/v1/posting-rules", nil).Expect(t, 200).JSON(t)["data"].([]any) {
			if r.(map[string]any)["id"] == id {
				t.Fatalf("another company lists our rule %s", id)
			}
		}
		// Its own default for the same role is no duplicate of ours.
		stranger.Do(t, "POST", "/v1/posting-rules", map[string]any{"role": "revenue", "account_id": foreign}).Expect(t, 201)

		w.admin.Do(t, "DELETE", "/v1/posting-rules/"+id, nil).Expect(t, 204)
		w.admin.Do(t, "GET", "/v1/posting-rules/"+id, nil).ExpectProblem(t, 404, apperr.NotFound)
	})
}

// The hierarchy keeps one type per tree and never loops, over the API.
func TestChartHierarchyOverHTTP(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		create := func(body map[string]any) string {
			t.Helper()
			return w.admin.Do(t, "POST", "/v1/accounts", body).Expect(t, 201).JSON(t)["id"].(string)
		}
		top := create(map[string]any{"code": "6400", "name": "Office", "type": "expense"})
		mid := create(map[string]any{"code": "6110", "name": "Supplies", "type": "expense", "parent_id": top})
		leaf := create(map[string]any{"code": "6111", "name": "Paper", "type": "expense", "parent_id": mid})

		p := w.admin.Do(t, "POST", "/v1/accounts", map[string]any{"code": "1400", "name": "Prepaid", "type": "asset", "parent_id": top}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/parent_id")
		p = patchJSON(t, w.admin, "/v1/accounts/"+top, `{"parent_id": "`+leaf+`"}`).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/parent_id")
		p = patchJSON(t, w.admin, "/v1/accounts/"+mid, `{"parent_id": "`+mid+`"}`).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/parent_id")
		p = patchJSON(t, w.admin, "/v1/accounts/"+mid, `{"type": "asset"}`).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/parent_id", "/type")
		// A role needs an account of its type.
		odd := create(map[string]any{"code": "1500", "name": "Odd", "type": "asset"})
		p = patchJSON(t, w.admin, "/v1/accounts/"+odd, `{"role": "retained_earnings"}`).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/role")
		// Another company's account is no parent.
		stranger := newCompanyCaller(t, w)
		p = stranger.Do(t, "POST", "/v1/accounts", map[string]any{"code": "6120", "name": "Mine", "type": "expense", "parent_id": top}).ExpectProblem(t, 422, apperr.Invalid)
		wantPointers(t, p, "/parent_id")
		patchJSON(t, w.admin, "/v1/accounts/"+leaf, `{"parent_id": "`+top+`"}`).Expect(t, 200)
	})
}

package app_test

import (
	"net/url"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/ledger/chart"
	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Every new company starts with the standard chart; codes and roles are
// unique per company; the hierarchy refers only to existing accounts.
func TestChartOfAccounts(t *testing.T) {
	forEngines(t, func(t *testing.T, e db.Engine) {
		w := newWorld(t, e)
		list := w.admin.Do(t, "GET", "/v1/accounts?page_size=100&order_by=code", nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(list) != len(chart.Template) {
			t.Fatalf("%d accounts in a new company, want %d", len(list), len(chart.Template))
		}
		roles := map[string]bool{}
		for _, a := range list {
			if r, _ := a.(map[string]any)["role"].(string); r != "" {
				roles[r] = true
			}
		}
		for _, r := range chart.Roles {
			if !roles[r] {
				t.Errorf("no account with role %s", r)
			}
		}
		assets := w.admin.Do(t, "GET", "/v1/accounts?filter="+url.QueryEscape(`type = "asset"`), nil).Expect(t, 200).JSON(t)["data"].([]any)
		if len(assets) != 4 {
			t.Fatalf("%d asset accounts, want 4", len(assets))
		}
		bank := list[0].(map[string]any)["id"].(string)
		w.admin.Do(t, "POST", "/v1/accounts", map[string]any{"code": "1010", "name": "Bank EUR", "type": "asset", "parent_id": bank}).Expect(t, 201)
		p := w.admin.Do(t, "POST", "/v1/accounts", map[string]any{"code": "1010", "name": "Again", "type": "asset"}).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/code") {
			t.Fatalf("duplicate code: %+v", p.Errors)
		}
		p = w.admin.Do(t, "POST", "/v1/accounts", map[string]any{"code": "1020", "name": "Second bank", "type": "asset", "role": "bank"}).ExpectProblem(t, 409, apperr.Conflict)
		if !apitest.HasPointer(p, "/role") {
			t.Fatalf("duplicate role: %+v", p.Errors)
		}
		w.admin.Do(t, "POST", "/v1/accounts", map[string]any{"code": "1030", "name": "Orphan", "type": "asset", "parent_id": "acct_nope"}).ExpectProblem(t, 422, apperr.Invalid)
		w.admin.Do(t, "DELETE", "/v1/accounts/"+bank, nil).ExpectProblem(t, 409, apperr.Conflict)
	})
}

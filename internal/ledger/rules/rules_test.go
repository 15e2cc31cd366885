package rules_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mainstay-erp/mainstay/internal/app"
	"github.com/mainstay-erp/mainstay/internal/ledger/rules"
	"github.com/mainstay-erp/mainstay/internal/platform/apitest"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/dbtest"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func anyETag(string) error { return nil }

// fixture is a company with its template chart, a product and a tax
// category, driven through the services as a module would be.
type fixture struct {
	ctx             context.Context
	db              *db.DB
	svc             app.Services
	co              string
	product, taxCat string
	accounts        map[string]string // code → id
	unit            string
}

func newFixture(t *testing.T, e db.Engine) *fixture {
	t.Helper()
	s := apitest.Start(t, e)
	f := &fixture{
		ctx: auth.WithPrincipal(context.Background(), auth.Principal{ClientID: "test", Scopes: auth.AllScopes()}),
		db:  s.App.DB(), svc: s.App.Services(), accounts: map[string]string{},
	}
	f.co = f.company(t, "Rules GmbH")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	unit, err := f.svc.Units.Create(f.ctx, f.co, map[string]any{"code": "ea", "name": "Each"})
	must(err)
	f.unit = unit.Value.ID
	tc, err := f.svc.TaxCategories.Create(f.ctx, f.co, map[string]any{"code": "reduced", "name": "Reduced rate"})
	must(err)
	f.taxCat = tc.Value.ID
	p, err := f.svc.Products.Create(f.ctx, f.co, map[string]any{"sku": "BOOK", "name": "Book", "stock_unit_id": f.unit, "list_price": "10", "currency": "EUR"})
	must(err)
	f.product = p.Value.ID
	for _, a := range [][3]string{
		{"4010", "Book sales", "income"}, {"4020", "Reduced-rate sales", "income"}, {"4030", "Wholesale sales", "income"},
		{"4040", "Sales to supplier group", "income"}, {"4050", "Payroll recharges", "income"}, {"4060", "Default sales", "income"},
	} {
		v, err := f.svc.Accounts.Create(f.ctx, f.co, map[string]any{"code": a[0], "name": a[1], "type": a[2]})
		must(err)
		f.accounts[a[0]] = v.Value.ID
	}
	page, err := f.svc.Accounts.List(f.ctx, f.listAll())
	must(err)
	for _, a := range page.Items {
		f.accounts[a.Code] = a.ID
	}
	return f
}

func (f *fixture) listAll() resource.ListParams {
	return resource.ListParams{CompanyID: f.co, PageSize: 100}
}

func (f *fixture) company(t *testing.T, name string) string {
	t.Helper()
	co, err := f.svc.Companies.Create(f.ctx, "", map[string]any{"legal_name": name, "base_currency": "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	return co.Value.ID
}

func (f *fixture) rule(t *testing.T, body map[string]any) string {
	t.Helper()
	v, err := f.svc.PostingRules.Create(f.ctx, f.co, body)
	if err != nil {
		t.Fatalf("create rule %v: %v", body, err)
	}
	return v.Value.ID
}

func (f *fixture) determine(t *testing.T, role string, k rules.Keys) (string, error) {
	t.Helper()
	var got string
	err := f.db.Transact(f.ctx, func(tx *db.Tx) error {
		var err error
		got, err = rules.Determine(f.ctx, tx, f.co, role, k)
		return err
	})
	return got, err
}

func (f *fixture) wantAccount(t *testing.T, role string, k rules.Keys, code string) {
	t.Helper()
	got, err := f.determine(t, role, k)
	if err != nil {
		t.Fatalf("determine %s %+v: %v", role, k, err)
	}
	if got != f.accounts[code] {
		t.Fatalf("determine %s %+v: got %s, want account %s (%s)", role, k, got, code, f.accounts[code])
	}
}

func wantConflict(t *testing.T, err error, mentions ...string) {
	t.Helper()
	if apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("got %v, want a conflict", err)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("%q does not mention %q", err, m)
		}
	}
}

// The most specific rule wins: product, tax category, customer group,
// supplier group, payroll component, the company default, the chart's role.
func TestDeterminePrecedence(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			all := rules.Keys{ProductID: f.product, TaxCategoryID: f.taxCat, CustomerGroup: "wholesale", SupplierGroup: "importers", PayrollComponent: "RECHARGE"}
			// Without rules, the chart's revenue account.
			f.wantAccount(t, "revenue", all, "4000")
			def := f.rule(t, map[string]any{"role": "revenue", "account_id": f.accounts["4060"]})
			f.rule(t, map[string]any{"role": "revenue", "payroll_component": "RECHARGE", "account_id": f.accounts["4050"]})
			f.rule(t, map[string]any{"role": "revenue", "supplier_group": "importers", "account_id": f.accounts["4040"]})
			f.rule(t, map[string]any{"role": "revenue", "customer_group": "wholesale", "account_id": f.accounts["4030"]})
			f.rule(t, map[string]any{"role": "revenue", "tax_category_id": f.taxCat, "account_id": f.accounts["4020"]})
			f.rule(t, map[string]any{"role": "revenue", "product_id": f.product, "account_id": f.accounts["4010"]})

			f.wantAccount(t, "revenue", all, "4010")
			k := all
			k.ProductID = ""
			f.wantAccount(t, "revenue", k, "4020")
			k.TaxCategoryID = ""
			f.wantAccount(t, "revenue", k, "4030")
			k.CustomerGroup = ""
			f.wantAccount(t, "revenue", k, "4040")
			k.SupplierGroup = ""
			f.wantAccount(t, "revenue", k, "4050")
			k.PayrollComponent = ""
			f.wantAccount(t, "revenue", k, "4060")
			// Keys no rule names fall through to the default.
			f.wantAccount(t, "revenue", rules.Keys{ProductID: "prod_other", CustomerGroup: "retail"}, "4060")
			// Rules decide their own role only.
			f.wantAccount(t, "cogs", all, "5000")
			// Without the default, the chart's role account again.
			if err := f.svc.PostingRules.Delete(f.ctx, def, anyETag); err != nil {
				t.Fatal(err)
			}
			f.wantAccount(t, "revenue", rules.Keys{}, "4000")

			// Another company's rules and accounts play no part.
			other := f.company(t, "Other GmbH")
			var got string
			err := f.db.Transact(f.ctx, func(tx *db.Tx) error {
				var err error
				got, err = rules.Determine(f.ctx, tx, other, "revenue", all)
				return err
			})
			if err != nil || got == "" || got == f.accounts["4000"] || got == f.accounts["4010"] {
				t.Fatalf("other company's revenue account: %q, %v", got, err)
			}
		})
	}
}

// Determine sees rules written earlier in the caller's own transaction.
func TestDetermineInsideTheCallersTransaction(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			var got string
			err := f.db.Transact(f.ctx, func(tx *db.Tx) error {
				if _, err := f.svc.PostingRules.Create(db.ContextWithTx(f.ctx, tx), f.co, map[string]any{"role": "cogs", "product_id": f.product, "account_id": f.accounts["5000"]}); err != nil {
					return err
				}
				if _, err := f.svc.PostingRules.Create(db.ContextWithTx(f.ctx, tx), f.co, map[string]any{"role": "revenue", "product_id": f.product, "account_id": f.accounts["4010"]}); err != nil {
					return err
				}
				var err error
				got, err = rules.Determine(f.ctx, tx, f.co, "revenue", rules.Keys{ProductID: f.product})
				return err
			})
			if err != nil || got != f.accounts["4010"] {
				t.Fatalf("determined %q, %v; want 4010", got, err)
			}
		})
	}
}

func TestDetermineErrors(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			book := f.rule(t, map[string]any{"role": "revenue", "product_id": f.product, "account_id": f.accounts["4010"]})

			// The winning rule's account archived: an error, not a silent
			// fall-back to the default revenue account.
			if _, err := f.svc.Accounts.Patch(f.ctx, f.accounts["4010"], map[string]any{"active": false}, anyETag); err != nil {
				t.Fatal(err)
			}
			_, err := f.determine(t, "revenue", rules.Keys{ProductID: f.product})
			wantConflict(t, err, "revenue", book, "archived")
			f.wantAccount(t, "revenue", rules.Keys{}, "4000")

			// The chart's role account archived.
			if _, err := f.svc.Accounts.Patch(f.ctx, f.accounts["5000"], map[string]any{"active": false}, anyETag); err != nil {
				t.Fatal(err)
			}
			_, err = f.determine(t, "cogs", rules.Keys{})
			wantConflict(t, err, "cogs", "archived")

			// No rule and no account with the role.
			if _, err := f.svc.Accounts.Patch(f.ctx, f.accounts["6950"], map[string]any{"role": nil}, anyETag); err != nil {
				t.Fatal(err)
			}
			_, err = f.determine(t, "rounding", rules.Keys{ProductID: f.product})
			wantConflict(t, err, "rounding")

			// A role no module should ask for is a programming error.
			if _, err := f.determine(t, "sales", rules.Keys{}); err == nil || apperr.CodeOf(err) == apperr.Conflict || apperr.CodeOf(err) == apperr.Invalid {
				t.Fatalf("unknown role: %v", err)
			}
		})
	}
}

// Rules are checked on write: one selector, an active account of the role's
// type, one rule per role and selector.
func TestRuleChecks(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			f := newFixture(t, e)
			for name, c := range map[string]struct {
				body    map[string]any
				code    apperr.Code
				pointer string
			}{
				"two selectors":     {map[string]any{"role": "revenue", "product_id": f.product, "customer_group": "x", "account_id": f.accounts["4010"]}, apperr.Invalid, "/product_id"},
				"asset for revenue": {map[string]any{"role": "revenue", "account_id": f.accounts["1000"]}, apperr.Invalid, "/account_id"},
				"income for cogs":   {map[string]any{"role": "cogs", "product_id": f.product, "account_id": f.accounts["4010"]}, apperr.Invalid, "/account_id"},
				"unknown product":   {map[string]any{"role": "revenue", "product_id": "prod_nope", "account_id": f.accounts["4010"]}, apperr.Invalid, "/product_id"},
				"unknown account":   {map[string]any{"role": "revenue", "account_id": "acct_nope"}, apperr.Invalid, "/account_id"},
			} {
				_, err := f.svc.PostingRules.Create(f.ctx, f.co, c.body)
				if apperr.CodeOf(err) != c.code || !hasPointer(err, c.pointer) {
					t.Errorf("%s: got %v, want %s at %s", name, err, c.code, c.pointer)
				}
			}
			f.rule(t, map[string]any{"role": "receivables", "customer_group": "wholesale", "account_id": f.accounts["1100"]})
			_, err := f.svc.PostingRules.Create(f.ctx, f.co, map[string]any{"role": "receivables", "customer_group": "wholesale", "account_id": f.accounts["1100"]})
			if apperr.CodeOf(err) != apperr.Conflict || !hasPointer(err, "/customer_group") {
				t.Fatalf("duplicate: %v", err)
			}
			// The same group for another role, or a supplier group of the
			// same name, is another rule.
			f.rule(t, map[string]any{"role": "revenue", "customer_group": "wholesale", "account_id": f.accounts["4030"]})
			f.rule(t, map[string]any{"role": "receivables", "supplier_group": "wholesale", "account_id": f.accounts["1100"]})
		})
	}
}

func hasPointer(err error, pointer string) bool {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		return false
	}
	for _, f := range ae.Fields {
		if f.Pointer == pointer {
			return true
		}
	}
	return false
}

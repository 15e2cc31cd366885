// Package rules holds the account determination rules of a company: which
// account a role (revenue, cost of goods, tax payable, …) posts to for a
// product, a tax category, a customer or supplier group, a payroll
// component, or by default. Modules that post call Determine inside their
// own transaction to find the account; when no rule applies, the account
// carrying the role in the chart of accounts is the answer.
package rules

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/ledger/chart"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// Rule sends the postings of one role, for one selector, to an account.
type Rule struct {
	resource.Meta
	resource.Owned
	Role             string `json:"role" pattern:"^[a-z_]{1,40}$" doc:"The role this rule decides: an account role of the chart (bank, receivables, inventory, tax_receivable, payables, grir_clearing, tax_payable, payroll_liabilities, retained_earnings, revenue, fx_gain, cogs, payroll_expense, fx_loss, rounding) or a role only rules assign (inventory_adjustment, opening_balance). The set grows as modules arrive, so it is not a closed enum: treat unknown values as opaque."`
	ProductID        string `json:"product_id,omitempty" doc:"Selector: postings for this product. At most one selector; none makes the company default for the role."`
	TaxCategoryID    string `json:"tax_category_id,omitempty" doc:"Selector: postings for this tax category."`
	CustomerGroup    string `json:"customer_group,omitempty" minLength:"1" maxLength:"50" doc:"Selector: postings for customers of this customer_group."`
	SupplierGroup    string `json:"supplier_group,omitempty" minLength:"1" maxLength:"50" doc:"Selector: postings for suppliers of this supplier_group."`
	PayrollComponent string `json:"payroll_component,omitempty" pattern:"^[A-Za-z0-9._-]{1,50}$" doc:"Selector: postings for this payroll component code (e.g. BONUS)."`
	AccountID        string `json:"account_id" doc:"The account to post to: active, of the company, and of the type the role needs (revenue income, cogs expense, receivables asset, …)."`
}

// Keys are what a posting knows about its line, most specific first; empty
// keys match no rule.
type Keys struct {
	ProductID, TaxCategoryID, CustomerGroup, SupplierGroup, PayrollComponent string
}

// selector is one way a rule narrows its role, in precedence order: the
// order of this list is the order Determine tries them (rank in store.go).
type selector struct {
	name  string
	value func(*Rule) string
}

var selectors = []selector{
	{"product_id", func(r *Rule) string { return r.ProductID }},
	{"tax_category_id", func(r *Rule) string { return r.TaxCategoryID }},
	{"customer_group", func(r *Rule) string { return r.CustomerGroup }},
	{"supplier_group", func(r *Rule) string { return r.SupplierGroup }},
	{"payroll_component", func(r *Rule) string { return r.PayrollComponent }},
}

func column(name string, sortable bool, value func(*Rule) string) resource.Column[Rule] {
	return resource.Column[Rule]{
		Field: query.Field{Name: name, Column: name, Kind: query.String, Sortable: sortable},
		Value: func(r *Rule) any { return value(r) },
	}
}

func columns() []resource.Column[Rule] {
	cols := []resource.Column[Rule]{
		{Field: query.Field{Name: "role", Column: "role", Kind: query.Enum, Values: chart.PostingRoles, Sortable: true}, Value: func(r *Rule) any { return r.Role }},
		column("account_id", false, func(r *Rule) string { return r.AccountID }),
	}
	for _, s := range selectors {
		cols = append(cols, column(s.name, false, s.value))
	}
	return cols
}

// Spec declares the posting-rules resource.
var Spec = resource.Spec[Rule]{
	Module: "ledger", Plural: "posting-rules", Singular: "posting_rule", Title: "Posting rule", Prefix: "prule", Scoped: true,
	Description: "Account determination: which account a role posts to for a product, a tax category, a customer or supplier group " +
		"or a payroll component, or by default. The most specific rule wins (product, tax category, customer group, supplier group, " +
		"payroll component, the company default); without one, the account carrying the role in the chart of accounts is used. " +
		"One rule per role and selector.",
	Columns: columns(),
	Refs: []resource.Ref[Rule]{
		{Pointer: "/account_id", Target: "accounts", IDs: func(r *Rule) []string { return []string{r.AccountID} }},
		{Pointer: "/product_id", Target: "products", IDs: func(r *Rule) []string { return []string{r.ProductID} }},
		{Pointer: "/tax_category_id", Target: "tax-categories", IDs: func(r *Rule) []string { return []string{r.TaxCategoryID} }},
	},
	Validate:    validate,
	BeforeWrite: checkRule,
}

// validate refuses a rule with more than one selector: which one would
// decide is then a guess, and the rule's identity (role and selector)
// ambiguous.
func validate(_ context.Context, r *Rule) []apperr.FieldError {
	if !slices.Contains(chart.PostingRoles, r.Role) {
		return []apperr.FieldError{{Pointer: "/role", Detail: fmt.Sprintf("unknown role %q; one of %s", r.Role, strings.Join(chart.PostingRoles, ", "))}}
	}
	var given []string
	for _, s := range selectors {
		if s.value(r) != "" {
			given = append(given, s.name)
		}
	}
	if len(given) < 2 {
		return nil
	}
	errs := make([]apperr.FieldError, 0, len(given))
	for _, name := range given {
		errs = append(errs, apperr.FieldError{Pointer: "/" + name, Detail: "give at most one of " + strings.Join(given, ", ")})
	}
	return errs
}

// selectorOf names the rule's selector member and its value; a default rule
// has none.
func selectorOf(r *Rule) (name, value string) {
	for _, s := range selectors {
		if v := s.value(r); v != "" {
			return s.name, v
		}
	}
	return "", ""
}

// checkRule runs in the write transaction, once the engine has proven the
// account belongs to the company: the account must be able to take the
// role, and the role and selector must not already have a rule.
func checkRule(ctx context.Context, tx *db.Tx, r *Rule) error {
	acct, err := loadAccount(ctx, tx, r.CompanyID, r.AccountID)
	if err != nil {
		return fmt.Errorf("posting rule %s: %w", r.ID, err)
	}
	if !acct.active {
		return apperr.Field("/account_id", "account %s is archived; choose an active account", acct.code)
	}
	if !chart.RoleAccepts(r.Role, acct.typ) {
		return apperr.Field("/account_id", "account %s is of type %s; the %s role posts to accounts of type %s", acct.code, acct.typ, r.Role, chart.RoleTypesText(r.Role))
	}
	other, err := duplicate(ctx, tx, r)
	if err != nil {
		return fmt.Errorf("posting rule %s: %w", r.ID, err)
	}
	if other == "" {
		return nil
	}
	name, value := selectorOf(r)
	if name == "" {
		return apperr.New(apperr.Conflict, "Posting rule %s is already the default for role %s.", other, r.Role).
			WithFields(apperr.FieldError{Pointer: "/role", Detail: "already has a default rule: " + other})
	}
	return apperr.New(apperr.Conflict, "Posting rule %s already decides role %s for %s %s.", other, r.Role, name, value).
		WithFields(apperr.FieldError{Pointer: "/" + name, Detail: "already has a rule for role " + r.Role + ": " + other})
}

// Determine returns the account a posting of role goes to, inside the
// caller's transaction (q). The most specific match wins: a rule for
// keys.ProductID, then keys.TaxCategoryID, keys.CustomerGroup,
// keys.SupplierGroup, keys.PayrollComponent, then the company's default
// rule for the role, then the account carrying the role in the chart of
// accounts. The winner is final: if its account is archived or no longer
// of a type the role takes, Determine fails (409) rather than fall back to
// a less specific account the company did not choose for this posting. No
// match at all is 409 too: the company's configuration, not the request,
// has to change.
func Determine(ctx context.Context, q db.Querier, companyID, role string, keys Keys) (string, error) {
	if !slices.Contains(chart.PostingRoles, role) {
		return "", fmt.Errorf("determine account: unknown role %q", role)
	}
	m, err := determine(ctx, q, companyID, role, keys)
	if err != nil {
		return "", fmt.Errorf("determine %s account of %s: %w", role, companyID, err)
	}
	if !m.found {
		return "", apperr.New(apperr.Conflict,
			"No account for role %s: add a posting rule for it (POST /v1/posting-rules) or give an account the role %s in the chart of accounts.", role, role)
	}
	by := "the chart of accounts (role " + role + ")"
	if m.ruleID != "" {
		by = "posting rule " + m.ruleID
	}
	if !m.active {
		return "", apperr.New(apperr.Conflict, "Account %s, chosen for role %s by %s, is archived; choose an active account for the role.", m.code, role, by)
	}
	if !chart.RoleAccepts(role, m.typ) {
		return "", apperr.New(apperr.Conflict, "Account %s, chosen for role %s by %s, is of type %s; the role posts to accounts of type %s.", m.code, role, by, m.typ, chart.RoleTypesText(role))
	}
	return m.accountID, nil
}

// Rules is the registered posting-rules resource.
type Rules = resource.Resource[Rule, *Rule]

// SeedDefaults gives a new company the default rules of the roles only
// rules assign (chart.DefaultRules), after its chart is seeded, in the
// transaction that creates it (ctx carries it).
func SeedDefaults(ctx context.Context, tx *db.Tx, r *Rules, companyID string) error {
	for _, d := range chart.DefaultRules {
		var accountID string
		if err := tx.QueryRowContext(ctx, "SELECT id FROM accounts WHERE company_id = $1 AND code = $2", companyID, d.Code).Scan(&accountID); err != nil {
			return fmt.Errorf("default %s rule for %s: account %s: %w", d.Role, companyID, d.Code, err)
		}
		if _, err := r.Create(ctx, companyID, map[string]any{"role": d.Role, "account_id": accountID}); err != nil {
			return fmt.Errorf("default %s rule for %s: %w", d.Role, companyID, err)
		}
	}
	return nil
}

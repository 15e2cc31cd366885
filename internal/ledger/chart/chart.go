// Package chart holds the chart of accounts: the accounts every posting
// names, their types and hierarchy, the roles that let other modules find
// "the receivables account" of a company, and the standard template every
// new company starts with.
package chart

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// Account types.
const (
	Asset     = "asset"
	Liability = "liability"
	Equity    = "equity"
	Income    = "income"
	Expense   = "expense"
)

// Roles name the accounts other modules post to by meaning, not by code.
var Roles = []string{
	"bank", "receivables", "inventory", "tax_receivable", "payables", "grir_clearing", "tax_payable",
	"payroll_liabilities", "retained_earnings", "revenue", "fx_gain", "cogs", "payroll_expense", "fx_loss", "rounding",
}

// PostingRoles are what posting rules decide: the account roles, and
// roles only a posting rule assigns (no account carries them in the chart,
// whose role list is part of the published contract): stock found or lost
// and the other side of opening balances. New companies get a default
// rule for each (DefaultRules).
var PostingRoles = append(append([]string(nil), Roles...), "inventory_adjustment", "opening_balance")

// DefaultRules map the rule-only roles to template accounts by code.
var DefaultRules = []struct{ Role, Code string }{{"inventory_adjustment", "5100"}, {"opening_balance", "3900"}}

// RoleTypes are the account types each role may post to: a revenue rule
// pointing at an asset account would book sales as assets, which no
// balance check would catch later. Rounding differences go either way.
var RoleTypes = map[string][]string{
	"bank": {Asset}, "receivables": {Asset}, "inventory": {Asset}, "tax_receivable": {Asset},
	"payables": {Liability}, "grir_clearing": {Liability}, "tax_payable": {Liability}, "payroll_liabilities": {Liability},
	"retained_earnings": {Equity},
	"revenue":           {Income}, "fx_gain": {Income},
	"cogs": {Expense}, "payroll_expense": {Expense}, "fx_loss": {Expense},
	"rounding": {Income, Expense},
	// Stock found or lost in a count, scrapped, written off.
	"inventory_adjustment": {Expense},
	// The other side of opening balances taken over from a previous
	// system, cleared into retained earnings once they are all in.
	"opening_balance": {Equity},
}

// RoleAccepts reports whether an account of type typ may carry role.
func RoleAccepts(role, typ string) bool { return slices.Contains(RoleTypes[role], typ) }

// RoleTypesText is the types a role accepts, for error messages.
func RoleTypesText(role string) string { return strings.Join(RoleTypes[role], " or ") }

// Account is one account of a company's chart.
type Account struct {
	resource.Meta
	resource.Owned
	Code        string `json:"code" pattern:"^[A-Za-z0-9._-]{1,20}$" doc:"Unique per company, e.g. 1100."`
	Name        string `json:"name" minLength:"1" maxLength:"200"`
	Type        string `json:"type" enum:"asset,liability,equity,income,expense"`
	ParentID    string `json:"parent_id,omitempty" doc:"A summary account of the same type this one rolls up into."`
	Role        string `json:"role,omitempty" enum:"bank,receivables,inventory,tax_receivable,payables,grir_clearing,tax_payable,payroll_liabilities,retained_earnings,revenue,fx_gain,cogs,payroll_expense,fx_loss,rounding" doc:"What other modules post here; at most one account per role and company."`
	NonNegative bool   `json:"non_negative,omitempty" doc:"Postings may never take its balance below zero (stock, a bank without overdraft)."`
	Active      bool   `json:"active" required:"false"`
}

// Spec declares the accounts resource.
var Spec = resource.Spec[Account]{
	Module: "ledger", Plural: "accounts", Singular: "account", Title: "Account", Prefix: "acct", Scoped: true,
	Description: "The chart of accounts. Every new company starts with a standard chart; accounts with postings cannot be deleted (archive them).",
	Columns: []resource.Column[Account]{
		{Field: query.Field{Name: "code", Column: "code", Kind: query.String, Sortable: true}, Unique: true, Value: func(a *Account) any { return a.Code }},
		{Field: query.Field{Name: "name", Column: "name", Kind: query.String, Sortable: true}, Value: func(a *Account) any { return a.Name }},
		{Field: query.Field{Name: "type", Column: "type", Kind: query.Enum, Values: []string{Asset, Liability, Equity, Income, Expense}, Sortable: true}, Value: func(a *Account) any { return a.Type }},
		{Field: query.Field{Name: "parent_id", Column: "parent_id", Kind: query.String}, Value: func(a *Account) any { return a.ParentID }},
		{Field: query.Field{Name: "role", Column: "role", Kind: query.String}, Unique: true, Value: func(a *Account) any { return a.Role }},
		{Field: query.Field{Name: "non_negative", Column: "non_negative", Kind: query.Bool}, Value: func(a *Account) any { return a.NonNegative }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(a *Account) any { return a.Active }},
	},
	Refs:     []resource.Ref[Account]{{Pointer: "/parent_id", Target: "accounts", IDs: func(a *Account) []string { return []string{a.ParentID} }}},
	Defaults: map[string]any{"active": true},
	Validate: func(_ context.Context, a *Account) []apperr.FieldError {
		var errs []apperr.FieldError
		if a.ParentID != "" && a.ParentID == a.ID {
			errs = append(errs, apperr.FieldError{Pointer: "/parent_id", Detail: "an account cannot roll up into itself"})
		}
		if a.Role != "" && !RoleAccepts(a.Role, a.Type) {
			errs = append(errs, apperr.FieldError{Pointer: "/role", Detail: fmt.Sprintf("the %s role needs an account of type %s, not %s", a.Role, RoleTypesText(a.Role), a.Type)})
		}
		return errs
	},
	BeforeWrite: checkHierarchy,
}

// maxDepth bounds the walk up a parent chain. The chain is acyclic by this
// very check, so only a damaged table could reach it.
const maxDepth = 100

// checkHierarchy keeps the hierarchy a forest of same-typed trees: the
// parent has the account's type, following parents never comes back to
// the account, and a type change leaves no child of another type behind.
// Summaries roll their children's balances up, so mixing types would mix
// the statements' sections, and a cycle would make every roll-up loop.
//
// On PostgreSQL the ancestors are read FOR SHARE: two concurrent writes
// that would close a cycle between them (A under B, B under A) each hold
// their own row and wait for the other's, and the deadlock retry reruns
// one of them against the other's committed parent, which is then
// refused. SQLite has one writer, so reads in the transaction are current.
func checkHierarchy(ctx context.Context, tx *db.Tx, a *Account) error {
	var errs []apperr.FieldError
	next, parentCode := a.ParentID, ""
	for depth := 0; next != ""; depth++ {
		if next == a.ID {
			// depth 0 is a self-reference, which Validate has named.
			if depth > 0 {
				errs = append(errs, apperr.FieldError{Pointer: "/parent_id", Detail: fmt.Sprintf("account %s already rolls up into %s: the hierarchy would form a cycle", parentCode, a.Code)})
			}
			break
		}
		if depth == maxDepth {
			return fmt.Errorf("account %s: parent chain longer than %d", a.ID, maxDepth)
		}
		up, err := parentOf(ctx, tx, a.CompanyID, next)
		if errors.Is(err, sql.ErrNoRows) {
			// The engine's reference check has already proven the direct
			// parent exists; a vanished ancestor ends the chain.
			break
		}
		if err != nil {
			return fmt.Errorf("check hierarchy of account %s: %w", a.Code, err)
		}
		if depth == 0 {
			parentCode = up.code
		}
		if depth == 0 && up.typ != a.Type {
			errs = append(errs, apperr.FieldError{Pointer: "/parent_id", Detail: fmt.Sprintf("parent account %s is of type %s; an account rolls up only into a parent of its own type (%s)", up.code, up.typ, a.Type)})
		}
		next = up.parent
	}
	child, err := childOfOtherType(ctx, tx, a.CompanyID, a.ID, a.Type)
	if err != nil {
		return fmt.Errorf("check children of account %s: %w", a.Code, err)
	}
	if child != "" {
		errs = append(errs, apperr.FieldError{Pointer: "/type", Detail: fmt.Sprintf("child account %s has another type; move or retype it first", child)})
	}
	if len(errs) > 0 {
		return apperr.Fields(errs...)
	}
	return nil
}

type link struct{ code, typ, parent string }

// The hierarchy's SQL.
const (
	parentSQL     = `SELECT code, type, parent_id FROM accounts WHERE id = $1 AND company_id = $2`
	otherChildSQL = `SELECT code FROM accounts WHERE company_id = $1 AND parent_id = $2 AND type <> $3 ORDER BY code LIMIT 1`
)

func parentOf(ctx context.Context, tx *db.Tx, companyID, id string) (link, error) {
	q := parentSQL
	if tx.Engine() == db.Postgres {
		q += " FOR SHARE"
	}
	var l link
	err := tx.QueryRowContext(ctx, q, id, companyID).Scan(&l.code, &l.typ, &l.parent)
	return l, err
}

func childOfOtherType(ctx context.Context, tx *db.Tx, companyID, id, typ string) (string, error) {
	var code string
	err := tx.QueryRowContext(ctx, otherChildSQL, companyID, id, typ).Scan(&code)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return code, err
}

// Template is the standard chart every new company starts with.
var Template = []map[string]any{
	{"code": "1000", "name": "Bank", "type": Asset, "role": "bank"},
	{"code": "1100", "name": "Accounts receivable", "type": Asset, "role": "receivables"},
	{"code": "1200", "name": "Inventory", "type": Asset, "role": "inventory", "non_negative": true},
	{"code": "1300", "name": "Tax receivable", "type": Asset, "role": "tax_receivable"},
	{"code": "2000", "name": "Accounts payable", "type": Liability, "role": "payables"},
	{"code": "2100", "name": "Goods received, not invoiced", "type": Liability, "role": "grir_clearing"},
	{"code": "2200", "name": "Tax payable", "type": Liability, "role": "tax_payable"},
	{"code": "2300", "name": "Payroll liabilities", "type": Liability, "role": "payroll_liabilities"},
	{"code": "3000", "name": "Share capital", "type": Equity},
	{"code": "3100", "name": "Retained earnings", "type": Equity, "role": "retained_earnings"},
	{"code": "3900", "name": "Opening balances", "type": Equity},
	{"code": "4000", "name": "Revenue", "type": Income, "role": "revenue"},
	{"code": "4900", "name": "Realized exchange gains", "type": Income, "role": "fx_gain"},
	{"code": "5000", "name": "Cost of goods sold", "type": Expense, "role": "cogs"},
	{"code": "6000", "name": "Payroll expense", "type": Expense, "role": "payroll_expense"},
	{"code": "6100", "name": "Operating expenses", "type": Expense},
	{"code": "6900", "name": "Realized exchange losses", "type": Expense, "role": "fx_loss"},
	{"code": "5100", "name": "Inventory adjustments", "type": Expense},
	{"code": "6950", "name": "Rounding differences", "type": Expense, "role": "rounding"},
}

// Accounts is the registered accounts resource.
type Accounts = resource.Resource[Account, *Account]

// Seed creates the template chart for a new company, in the caller's
// transaction (ctx carries it).
func Seed(ctx context.Context, accounts *Accounts, companyID string) error {
	for _, a := range Template {
		body := make(map[string]any, len(a))
		for k, v := range a {
			body[k] = v
		}
		if _, err := accounts.Create(ctx, companyID, body); err != nil {
			return fmt.Errorf("seed account %s for %s: %w", a["code"], companyID, err)
		}
	}
	return nil
}

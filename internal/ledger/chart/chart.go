// Package chart holds the chart of accounts: the accounts every posting
// names, their types and hierarchy, the roles that let other modules find
// "the receivables account" of a company, and the standard template every
// new company starts with.
package chart

import (
	"context"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
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
		if a.ParentID != "" && a.ParentID == a.ID {
			return []apperr.FieldError{{Pointer: "/parent_id", Detail: "an account cannot roll up into itself"}}
		}
		return nil
	},
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
	{"code": "4000", "name": "Revenue", "type": Income, "role": "revenue"},
	{"code": "4900", "name": "Realized exchange gains", "type": Income, "role": "fx_gain"},
	{"code": "5000", "name": "Cost of goods sold", "type": Expense, "role": "cogs"},
	{"code": "6000", "name": "Payroll expense", "type": Expense, "role": "payroll_expense"},
	{"code": "6900", "name": "Realized exchange losses", "type": Expense, "role": "fx_loss"},
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

// Package partners holds the companies and people a company trades with:
// customers, suppliers, and the payment terms agreed with them.
package partners

import (
	"context"
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// PaymentTerms say when an invoice is due and any early-payment discount.
type PaymentTerms struct {
	resource.Meta
	resource.Owned
	Code            string         `json:"code" pattern:"^[A-Za-z0-9_.-]{1,30}$"`
	Name            string         `json:"name" minLength:"1" maxLength:"100"`
	NetDays         int            `json:"net_days" minimum:"0" maximum:"3650" doc:"Days after the invoice date the full amount is due."`
	DiscountPercent *money.Decimal `json:"discount_percent,omitempty" doc:"Early-payment discount, e.g. \"2\" for 2 %."`
	DiscountDays    int            `json:"discount_days,omitempty" minimum:"0" maximum:"3650"`
	Active          bool           `json:"active" required:"false"`
}

// Party holds what customers and suppliers share.
type Party struct {
	Name              string            `json:"name" minLength:"1" maxLength:"200"`
	Emails            []string          `json:"emails,omitempty" maxItems:"20" doc:"Email addresses."`
	Phones            []string          `json:"phones,omitempty" maxItems:"20"`
	BillingAddress    *company.Address  `json:"billing_address,omitempty"`
	ShippingAddresses []company.Address `json:"shipping_addresses,omitempty" maxItems:"50"`
	TaxID             string            `json:"tax_id,omitempty" maxLength:"50" doc:"Sensitive: returned and writable only with the partners:sensitive scope."`
	BankAccounts      []BankAccount     `json:"bank_accounts,omitempty" maxItems:"10" doc:"Sensitive: returned and writable only with the partners:sensitive scope."`
	PaymentTermsID    string            `json:"payment_terms_id,omitempty"`
	Currency          money.Currency    `json:"currency"`
	CreditLimit       *money.Decimal    `json:"credit_limit,omitempty" doc:"In the party's currency; absent means no limit."`
	Active            bool              `json:"active" required:"false"`
}

// BankAccount is where a party is paid or pays from.
type BankAccount struct {
	Holder        string `json:"holder" minLength:"1" maxLength:"200"`
	IBAN          string `json:"iban,omitempty" pattern:"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"`
	BIC           string `json:"bic,omitempty" pattern:"^[A-Z0-9]{8}([A-Z0-9]{3})?$"`
	AccountNumber string `json:"account_number,omitempty" maxLength:"34"`
	RoutingNumber string `json:"routing_number,omitempty" maxLength:"20"`
}

// sensitive are the members that need the partners:sensitive scope.
var sensitive = map[string]string{"tax_id": auth.PartnersSensitive, "bank_accounts": auth.PartnersSensitive}

// Customer buys from the company.
type Customer struct {
	resource.Meta
	resource.Owned
	Party
	CustomerGroup string `json:"customer_group,omitempty" maxLength:"50" doc:"e.g. retail, wholesale; prices and discounts can depend on it."`
	// Exemption is a fact about the customer (a certificate, a reverse-
	// charge registration), so it lives here rather than on each order.
	TaxExempt          bool   `json:"tax_exempt,omitempty" doc:"The customer pays no sales tax: quotes and orders tax every line at 0 (tax-inclusive prices have their tax taken out). Needs tax_exemption_reason."`
	TaxExemptionReason string `json:"tax_exemption_reason,omitempty" maxLength:"200" doc:"Why the customer is exempt (certificate number, reverse charge, export); required when tax_exempt is true."`
}

// Supplier sells to the company.
type Supplier struct {
	resource.Meta
	resource.Owned
	Party
	SupplierGroup string `json:"supplier_group,omitempty" maxLength:"50"`
}

// PaymentTermsSpec declares the payment-terms resource.
var PaymentTermsSpec = resource.Spec[PaymentTerms]{
	Module: "partners", Plural: "payment-terms", Singular: "payment_terms", Title: "Payment terms", Prefix: "pt", Scoped: true,
	Columns: []resource.Column[PaymentTerms]{
		{Field: query.Field{Name: "code", Column: "code", Kind: query.String, Sortable: true}, Unique: true, Value: func(p *PaymentTerms) any { return p.Code }},
		{Field: query.Field{Name: "net_days", Column: "net_days", Kind: query.Int, Sortable: true}, Value: func(p *PaymentTerms) any { return int64(p.NetDays) }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(p *PaymentTerms) any { return p.Active }},
	},
	Defaults: map[string]any{"active": true},
	Validate: func(_ context.Context, p *PaymentTerms) []apperr.FieldError {
		var errs []apperr.FieldError
		if p.DiscountPercent != nil {
			if p.DiscountPercent.Sign() <= 0 || p.DiscountPercent.Cmp(money.FromInt(100)) >= 0 {
				errs = append(errs, apperr.FieldError{Pointer: "/discount_percent", Detail: "must be more than 0 and less than 100"})
			}
			if p.DiscountDays <= 0 || p.DiscountDays > p.NetDays {
				errs = append(errs, apperr.FieldError{Pointer: "/discount_days", Detail: "must be from 1 to net_days with a discount"})
			}
		} else if p.DiscountDays != 0 {
			errs = append(errs, apperr.FieldError{Pointer: "/discount_days", Detail: "needs discount_percent"})
		}
		return errs
	},
}

func partyColumns[T any](party func(*T) *Party) []resource.Column[T] {
	return []resource.Column[T]{
		{Field: query.Field{Name: "name", Column: "name", Kind: query.String, Sortable: true}, Value: func(v *T) any { return party(v).Name }},
		{Field: query.Field{Name: "currency", Column: "currency", Kind: query.String, Sortable: true}, Value: func(v *T) any { return string(party(v).Currency) }},
		{Field: query.Field{Name: "payment_terms_id", Column: "payment_terms_id", Kind: query.String}, Value: func(v *T) any { return party(v).PaymentTermsID }},
		{Field: query.Field{Name: "active", Column: "active", Kind: query.Bool}, Value: func(v *T) any { return party(v).Active }},
		// Searchable for callers with partners:sensitive only (the engine
		// refuses the filter to others).
		{Field: query.Field{Name: "tax_id", Column: "tax_id", Kind: query.String}, Blind: true, Value: func(v *T) any { return party(v).TaxID }},
	}
}

func partyRefs[T any](party func(*T) *Party) []resource.Ref[T] {
	return []resource.Ref[T]{{Pointer: "/payment_terms_id", Target: "payment-terms", IDs: func(v *T) []string { return []string{party(v).PaymentTermsID} }}}
}

func validateParty(p *Party) []apperr.FieldError {
	var errs []apperr.FieldError
	if _, err := money.ParseCurrency(string(p.Currency)); err != nil {
		errs = append(errs, apperr.FieldError{Pointer: "/currency", Detail: err.Error()})
	}
	if p.CreditLimit != nil {
		if p.CreditLimit.IsNegative() {
			errs = append(errs, apperr.FieldError{Pointer: "/credit_limit", Detail: "must not be negative"})
		} else if _, err := p.CreditLimit.Scaled(money.AmountScale); err != nil {
			errs = append(errs, apperr.FieldError{Pointer: "/credit_limit", Detail: "too many decimals or too large"})
		}
	}
	for i, e := range p.Emails {
		if !plausibleEmail(e) {
			errs = append(errs, apperr.FieldError{Pointer: fmt.Sprintf("/emails/%d", i), Detail: fmt.Sprintf("%q is not an email address", e)})
		}
	}
	return errs
}

// plausibleEmail checks the shape only; deliverability is not ours to judge.
func plausibleEmail(s string) bool {
	at := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return at > 0 && at < len(s)-3 && len(s) <= 254
}

func customerParty(c *Customer) *Party { return &c.Party }
func supplierParty(s *Supplier) *Party { return &s.Party }

// CustomerSpec declares the customers resource.
var CustomerSpec = resource.Spec[Customer]{
	Module: "partners", Plural: "customers", Singular: "customer", Title: "Customer", Prefix: "cus", Scoped: true,
	Columns: append(partyColumns(customerParty), resource.Column[Customer]{
		Field: query.Field{Name: "customer_group", Column: "party_group", Kind: query.String, Sortable: true},
		Value: func(c *Customer) any { return c.CustomerGroup },
	}),
	Refs:      partyRefs(customerParty),
	Sensitive: sensitive,
	Encrypted: []string{"tax_id", "bank_accounts"},
	Defaults:  map[string]any{"active": true},
	Validate:  validateCustomer,
}

func validateCustomer(_ context.Context, c *Customer) []apperr.FieldError {
	errs := validateParty(&c.Party)
	if c.TaxExempt && strings.TrimSpace(c.TaxExemptionReason) == "" {
		errs = append(errs, apperr.FieldError{Pointer: "/tax_exemption_reason", Detail: "is required when tax_exempt is true (e.g. the exemption certificate number)"})
	}
	return errs
}

// SupplierSpec declares the suppliers resource.
var SupplierSpec = resource.Spec[Supplier]{
	Module: "partners", Plural: "suppliers", Singular: "supplier", Title: "Supplier", Prefix: "sup", Scoped: true,
	Columns: append(partyColumns(supplierParty), resource.Column[Supplier]{
		Field: query.Field{Name: "supplier_group", Column: "party_group", Kind: query.String, Sortable: true},
		Value: func(s *Supplier) any { return s.SupplierGroup },
	}),
	Refs:      partyRefs(supplierParty),
	Sensitive: sensitive,
	Encrypted: []string{"tax_id", "bank_accounts"},
	Defaults:  map[string]any{"active": true},
	Validate:  func(_ context.Context, s *Supplier) []apperr.FieldError { return validateParty(&s.Party) },
}

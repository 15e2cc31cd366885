// Package payments is the finance module's payments resource: incoming
// customer payments applied to one or several invoices, partial payments,
// over-payments kept as unapplied credit (applied later or refunded), and
// foreign-currency settlement. Every money movement is one ledger entry
// whose receivable lines settle the invoice's receivable line
// (ledger.Line.Settles), so the ledger values them at the invoice's
// carrying value and posts the realized exchange difference itself.
//
// Invoices are read from the invoices table (migration 0020), not through
// the invoicing package: payments only need the receivable line, the
// customer, the currency and the order, and set payment_status.
package payments

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Directions. Outgoing payments (to suppliers) come with purchasing.
const (
	Incoming = "incoming"
	Outgoing = "outgoing"
)

// Payment statuses of invoices and orders.
const (
	Unpaid        = "unpaid"
	PartiallyPaid = "partially_paid"
	Paid          = "paid"
)

// Ledger sources: a payment posts its receipt once, and each application
// and refund (source: the allocation) once.
const (
	SourceType         = "payment"
	PurposeReceipt     = "receipt"
	PurposeApplication = "application"
	PurposeRefund      = "refund"
)

// Event types.
const (
	EventReceived = "mainstay.finance.payment.received"
	EventApplied  = "mainstay.finance.payment.applied"
	EventRefunded = "mainstay.finance.payment.refunded"
)

// Payment is money received from a customer.
type Payment struct {
	ID              string              `json:"id"`
	CompanyID       string              `json:"company_id"`
	ExternalID      string              `json:"external_id,omitempty"`
	Direction       string              `json:"direction" enum:"incoming,outgoing"`
	Status          string              `json:"status" enum:"posted"`
	CustomerID      string              `json:"customer_id"`
	Currency        money.Currency      `json:"currency"`
	Amount          money.Decimal       `json:"amount"`
	Date            string              `json:"date"`
	Rate            *money.Decimal      `json:"rate,omitempty" doc:"The bank's rate (company-currency units per unit of currency), when one was given."`
	BankAccountID   string              `json:"bank_account_id"`
	Reference       string              `json:"reference,omitempty"`
	Unapplied       money.Decimal       `json:"unapplied" doc:"Credit not yet applied to an invoice or refunded."`
	JournalEntryID  string              `json:"journal_entry_id"`
	UnappliedLineNo int                 `json:"unapplied_line_no,omitempty" doc:"The line of journal_entry_id holding the unapplied credit, which applications and refunds settle."`
	Allocations     []PaymentAllocation `json:"allocations"`
	CreatedAt       time.Time           `json:"created_at"`
}

// PaymentAllocation is what a payment did with (part of) its amount:
// settled an invoice or paid credit back.
type PaymentAllocation struct {
	ID             string        `json:"id"`
	Kind           string        `json:"kind" enum:"invoice,refund"`
	InvoiceID      string        `json:"invoice_id,omitempty"`
	Amount         money.Decimal `json:"amount"`
	Date           string        `json:"date"`
	JournalEntryID string        `json:"journal_entry_id"`
	LineNo         int           `json:"line_no" doc:"The line of journal_entry_id that settled the invoice, or credited the bank for a refund."`
	CreatedAt      time.Time     `json:"created_at"`
}

// PaymentAllocationInput applies an amount (in the payment currency) to an
// invoice.
type PaymentAllocationInput struct {
	InvoiceID string        `json:"invoice_id" minLength:"1"`
	Amount    money.Decimal `json:"amount"`
}

// CreateInput is a new incoming payment.
type CreateInput struct {
	CompanyID     string
	CustomerID    string
	ExternalID    string
	Amount        money.Decimal
	Currency      money.Currency
	Date          string
	BankAccountID string
	Reference     string
	Rate          *money.Decimal
	Allocations   []PaymentAllocationInput
}

// ApplyInput applies unapplied credit to invoices.
type ApplyInput struct {
	Date        string
	Allocations []PaymentAllocationInput
}

// RefundInput pays unapplied credit back.
type RefundInput struct {
	Amount money.Decimal
	Date   string
	Rate   *money.Decimal
}

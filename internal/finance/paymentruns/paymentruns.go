// Package paymentruns pays due supplier bills in bulk: a run proposes the
// bills to pay by criteria (due date, supplier, currency, amount limits,
// early-payment discounts), is approved (by a second client when the
// company asks for four eyes), and is executed as one outgoing payment
// per supplier (bills.Pay), producing the bank files: an ISO 20022
// pain.001.001.09 SEPA credit transfer and a CSV.
//
// A run holds one currency, because a pain.001 payment information block
// and its control sum are in one currency (and SEPA is EUR only).
package paymentruns

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Statuses.
const (
	Proposed  = "proposed"
	Approved  = "approved"
	Executed  = "executed"
	Cancelled = "cancelled"
)

// Event types.
const (
	EventProposed  = "mainstay.finance.payment_run.proposed"
	EventApproved  = "mainstay.finance.payment_run.approved"
	EventCancelled = "mainstay.finance.payment_run.cancelled"
	EventExecuted  = "mainstay.finance.payment_run.executed"
)

// AsyncThreshold is the number of items above which execute answers 202
// with an operation.
const AsyncThreshold = 50

// Criteria select the bills a run proposes.
type Criteria struct {
	PaymentDate       string         `json:"payment_date" doc:"YYYY-MM-DD: the requested execution date of the transfers and the payments' posting date."`
	DueBefore         string         `json:"due_before,omitempty" doc:"Bills due on or before this date (YYYY-MM-DD); default payment_date."`
	SupplierID        string         `json:"supplier_id,omitempty" doc:"Only this supplier's bills."`
	Currency          money.Currency `json:"currency" doc:"The run's one currency; only bills in it are paid. pain.001 (SEPA) files need EUR."`
	MinAmount         *money.Decimal `json:"min_amount,omitempty" doc:"Bills whose amount to pay is below this are left out (skipped)."`
	MaxTotal          *money.Decimal `json:"max_total,omitempty" doc:"The run pays at most this much; the oldest due bills are taken first, the rest skipped."`
	TakeDiscounts     bool           `json:"take_discounts,omitempty" doc:"Also pay bills not yet due whose discount_date is on or after payment_date, taking the early-payment discount."`
	DiscountAccountID string         `json:"discount_account_id,omitempty" doc:"The income account discounts taken are credited to; default the account the posting rules give role revenue."`
}

// PaymentRunItem is one bill the run pays.
type PaymentRunItem struct {
	BillID            string        `json:"bill_id"`
	SupplierID        string        `json:"supplier_id"`
	SupplierReference string        `json:"supplier_reference" doc:"The supplier's number of the bill; the transfer's remittance information."`
	DueDate           string        `json:"due_date"`
	OpenAmount        money.Decimal `json:"open_amount" doc:"What the bill had open when proposed."`
	Amount            money.Decimal `json:"amount" doc:"What the run transfers for the bill."`
	DiscountTaken     money.Decimal `json:"discount_taken" doc:"Early-payment discount taken: settles the bill with amount, credited to the discount (income) account."`
}

// PaymentRunSkippedBill is a bill the criteria reached but the run leaves
// out, and why.
type PaymentRunSkippedBill struct {
	BillID     string `json:"bill_id"`
	SupplierID string `json:"supplier_id"`
	Reason     string `json:"reason"`
}

// PaymentRunPayment is the outgoing payment made for one supplier.
type PaymentRunPayment struct {
	SupplierID string        `json:"supplier_id"`
	PaymentID  string        `json:"payment_id" doc:"The payment in /v1/payments and /v1/supplier-payments; also the transfer's EndToEndId."`
	Amount     money.Decimal `json:"amount"`
	BillIDs    []string      `json:"bill_ids"`
}

// PaymentRun is a proposal of bills to pay together, its approval and
// execution.
type PaymentRun struct {
	ID            string                  `json:"id" readOnly:"true"`
	CompanyID     string                  `json:"company_id"`
	Status        string                  `json:"status" enum:"proposed,approved,executed,cancelled"`
	Currency      money.Currency          `json:"currency"`
	PaymentDate   string                  `json:"payment_date"`
	Criteria      Criteria                `json:"criteria"`
	Items         []PaymentRunItem        `json:"items" doc:"Grouped per supplier, oldest due first within a supplier."`
	Skipped       []PaymentRunSkippedBill `json:"skipped"`
	Payments      []PaymentRunPayment     `json:"payments" doc:"One per supplier, once executed."`
	Total         money.Decimal           `json:"total" doc:"The sum transferred."`
	DiscountTotal money.Decimal           `json:"discount_total" doc:"The sum of discounts taken."`
	ItemCount     int                     `json:"item_count"`
	ProposedBy    string                  `json:"proposed_by" doc:"The client that proposed the run."`
	ApprovedBy    string                  `json:"approved_by,omitempty"`
	ApprovedAt    *time.Time              `json:"approved_at,omitempty"`
	ExecutedAt    *time.Time              `json:"executed_at,omitempty"`
	OperationID   string                  `json:"operation_id,omitempty" doc:"The long-running operation that executed a large run."`
	CreatedAt     time.Time               `json:"created_at"`
	UpdatedAt     time.Time               `json:"updated_at"`
}

// PaymentRunRequest proposes a payment run.
type PaymentRunRequest struct {
	CompanyID         string         `json:"company_id,omitempty"`
	PaymentDate       string         `json:"payment_date" minLength:"1" doc:"YYYY-MM-DD: the requested execution date of the transfers and the payments' posting date."`
	DueBefore         string         `json:"due_before,omitempty" doc:"Bills due on or before this date; default payment_date."`
	SupplierID        string         `json:"supplier_id,omitempty" doc:"Only this supplier's bills."`
	Currency          money.Currency `json:"currency" doc:"Required: one run, one currency (pain.001 files need EUR)."`
	MinAmount         *money.Decimal `json:"min_amount,omitempty" doc:"Leave out bills whose amount to pay is below this."`
	MaxTotal          *money.Decimal `json:"max_total,omitempty" doc:"Pay at most this much, oldest due first."`
	TakeDiscounts     bool           `json:"take_discounts,omitempty" doc:"Also pay bills within their discount period, taking the early-payment discount."`
	DiscountAccountID string         `json:"discount_account_id,omitempty" doc:"Income account for discounts taken; default the revenue role's account."`
}

func (r *PaymentRunRequest) criteria() Criteria {
	return Criteria{PaymentDate: r.PaymentDate, DueBefore: r.DueBefore, SupplierID: r.SupplierID, Currency: r.Currency, MinAmount: r.MinAmount,
		MaxTotal: r.MaxTotal, TakeDiscounts: r.TakeDiscounts, DiscountAccountID: r.DiscountAccountID}
}

// PaymentRunList is a page of payment runs.
type PaymentRunList struct {
	Data          []PaymentRun `json:"data"`
	NextPageToken string       `json:"next_page_token"`
}

// Package bills is accounts payable: supplier bills made from purchase
// orders (three-way matched against the order and its goods receipts) or
// standalone for services, supplier credit notes, the approval of bills
// that did not match, and outgoing payments that settle them.
//
// A bill is posted as one ledger entry whose line 1 is the payable; every
// later movement of it (a payment, a credit note) is a line settling that
// line (ledger.Line.Settles), so what is open of a bill is what the ledger
// has open of its payable line.
//
// Purchase orders and goods receipts are read from their tables
// (migration 0023) with this package's own SQL: only the order lines'
// quantities and prices, the receipts' quantities and unit prices, and the
// billed quantities this package writes back are needed.
package bills

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Kinds and statuses.
const (
	KindBill       = "bill"
	KindCreditNote = "credit_note"

	Draft  = "draft"
	Posted = "posted"

	Matched       = "matched"
	Mismatch      = "mismatch"
	Approved      = "approved"
	NotApplicable = "not_applicable"

	Unpaid        = "unpaid"
	PartiallyPaid = "partially_paid"
	Paid          = "paid"

	// SourceType names bills and supplier credit notes as ledger sources;
	// PurposePayable is their one entry.
	SourceType     = "bill"
	PurposePayable = "payable"

	// PaymentSourceType and PurposeDisbursement name outgoing payments
	// (the same source type as customer payments: they share a table).
	PaymentSourceType   = "payment"
	PurposeDisbursement = "disbursement"
)

// Event types.
const (
	EventCreated           = "mainstay.purchasing.bill.created"
	EventPosted            = "mainstay.purchasing.bill.posted"
	EventApproved          = "mainstay.purchasing.bill.approved"
	EventBillPaid          = "mainstay.purchasing.bill.paid"
	EventBillPartiallyPaid = "mainstay.purchasing.bill.partially_paid"
	EventPaid              = "mainstay.finance.supplier_payment.sent"
)

// Bill is a supplier's bill or credit note as entered, with its three-way
// match result.
type Bill struct {
	ID                string         `json:"id"`
	CompanyID         string         `json:"company_id"`
	Kind              string         `json:"kind" enum:"bill,credit_note"`
	Number            int64          `json:"number,omitempty" doc:"Our gapless number per company; taken when posted."`
	Status            string         `json:"status" enum:"draft,posted"`
	MatchStatus       string         `json:"match_status" enum:"matched,mismatch,approved,not_applicable" doc:"mismatch blocks payment until a finance client approves the bill."`
	MatchReasons      []string       `json:"match_reasons,omitempty" doc:"Why the bill as a whole does not match (e.g. the printed tax total); line reasons are on the lines."`
	PaymentStatus     string         `json:"payment_status" enum:"unpaid,partially_paid,paid"`
	SupplierID        string         `json:"supplier_id"`
	SupplierReference string         `json:"supplier_reference" doc:"The supplier's number of the bill; unique per supplier."`
	PurchaseOrderID   string         `json:"purchase_order_id,omitempty"`
	CreditOf          string         `json:"credit_of,omitempty" doc:"The bill a credit note credits."`
	Currency          money.Currency `json:"currency"`
	BillDate          string         `json:"bill_date"`
	DueDate           string         `json:"due_date"`
	DiscountDate      string         `json:"discount_date,omitempty" doc:"Pay by this date to take discount_percent off (the supplier's payment terms)."`
	DiscountPercent   *money.Decimal `json:"discount_percent,omitempty"`
	Lines             []BillLine     `json:"lines"`
	Taxes             []BillTax      `json:"taxes" doc:"Input tax per category and rate."`
	NetTotal          money.Decimal  `json:"net_total"`
	TaxTotal          money.Decimal  `json:"tax_total"`
	GrossTotal        money.Decimal  `json:"gross_total"`
	PrintedTaxTotal   *money.Decimal `json:"printed_tax_total,omitempty" doc:"The tax total printed on the supplier's document, when given."`
	OpenAmount        *money.Decimal `json:"open_amount,omitempty" doc:"What is left to pay (bill currency), from the ledger; posted bills only."`
	JournalEntryID    string         `json:"journal_entry_id,omitempty"`
	PayableLineNo     int            `json:"payable_line_no,omitempty" doc:"The journal line outgoing payments settle."`
	ApprovedBy        string         `json:"approved_by,omitempty" doc:"The client that approved a mismatched bill for payment."`
	ApprovedAt        *time.Time     `json:"approved_at,omitempty"`
	CreatedAt         time.Time      `json:"created_at"`
	PostedAt          *time.Time     `json:"posted_at,omitempty"`
}

// BillLine is one billed line: a purchase order line (matched) or a
// service booked to an expense account.
type BillLine struct {
	LineNo              int            `json:"line_no"`
	PurchaseOrderLineNo int            `json:"purchase_order_line_no,omitempty"`
	ProductID           string         `json:"product_id,omitempty"`
	AccountID           string         `json:"account_id,omitempty" doc:"The expense account of a standalone (service) line."`
	Description         string         `json:"description,omitempty"`
	Quantity            money.Decimal  `json:"quantity"`
	UnitPrice           money.Decimal  `json:"unit_price"`
	NetAmount           money.Decimal  `json:"net_amount"`
	TaxCategoryID       string         `json:"tax_category_id,omitempty"`
	TaxRate             money.Decimal  `json:"tax_rate"`
	TaxAmount           money.Decimal  `json:"tax_amount"`
	GrossAmount         money.Decimal  `json:"gross_amount"`
	ReceiptValue        *money.Decimal `json:"receipt_value,omitempty" doc:"What the goods receipts booked for the quantity billed (GR/IR cleared at posting)."`
	PriceDifference     *money.Decimal `json:"price_difference,omitempty" doc:"Net amount less receipt value, posted to cost of goods sold."`
	Match               *BillMatch     `json:"match,omitempty"`
}

// BillMatch is the three-way match of one bill line against its order
// line and the goods received for it.
type BillMatch struct {
	Status           string        `json:"status" enum:"matched,mismatch"`
	Ordered          money.Decimal `json:"ordered"`
	Received         money.Decimal `json:"received"`
	PreviouslyBilled money.Decimal `json:"previously_billed"`
	OrderUnitPrice   money.Decimal `json:"order_unit_price"`
	ReceiptUnitPrice money.Decimal `json:"receipt_unit_price" doc:"Average unit price of the goods receipts (order currency)."`
	PriceTolerance   money.Decimal `json:"price_tolerance_percent"`
	Reasons          []string      `json:"reasons,omitempty"`
}

// BillTax sums the input tax of one category and rate.
type BillTax struct {
	TaxCategoryID string        `json:"tax_category_id,omitempty"`
	Rate          money.Decimal `json:"rate"`
	Base          money.Decimal `json:"base"`
	Amount        money.Decimal `json:"amount"`
}

// BillLineInput is one line as entered: an order line, or an account with a
// description for a service.
type BillLineInput struct {
	PurchaseOrderLineNo int           `json:"purchase_order_line_no,omitempty" doc:"The order line billed (bills from a purchase order)."`
	AccountID           string        `json:"account_id,omitempty" doc:"The expense account of a service line (standalone bills)."`
	Description         string        `json:"description,omitempty" maxLength:"500"`
	Quantity            money.Decimal `json:"quantity"`
	UnitPrice           money.Decimal `json:"unit_price"`
	TaxCategoryID       string        `json:"tax_category_id,omitempty" doc:"Default: the product's."`
}

// CreateInput is a new bill or supplier credit note.
type CreateInput struct {
	CompanyID         string
	Kind              string
	SupplierID        string
	SupplierReference string
	BillDate          string
	Currency          money.Currency
	PurchaseOrderID   string
	CreditOf          string
	Lines             []BillLineInput
	TaxTotal          *money.Decimal
	Post              bool
}

// SupplierPayment is money paid to a supplier. It is stored in the
// payments table (direction outgoing), so /v1/payments lists it too.
type SupplierPayment struct {
	ID             string                      `json:"id"`
	CompanyID      string                      `json:"company_id"`
	Direction      string                      `json:"direction" enum:"outgoing"`
	SupplierID     string                      `json:"supplier_id"`
	Currency       money.Currency              `json:"currency"`
	Amount         money.Decimal               `json:"amount"`
	Date           string                      `json:"date"`
	BankAccountID  string                      `json:"bank_account_id"`
	Reference      string                      `json:"reference,omitempty"`
	Unapplied      money.Decimal               `json:"unapplied" doc:"Paid in advance, not allocated to a bill (a debit on payables)."`
	JournalEntryID string                      `json:"journal_entry_id"`
	Allocations    []SupplierPaymentAllocation `json:"allocations"`
	CreatedAt      time.Time                   `json:"created_at"`
}

// SupplierPaymentAllocation is what a payment paid of one bill.
type SupplierPaymentAllocation struct {
	ID             string        `json:"id"`
	BillID         string        `json:"bill_id"`
	Amount         money.Decimal `json:"amount"`
	Date           string        `json:"date"`
	JournalEntryID string        `json:"journal_entry_id"`
	LineNo         int           `json:"line_no" doc:"The line of journal_entry_id that settled the bill's payable."`
}

// BillAllocationInput pays an amount (payment currency) of a bill.
type BillAllocationInput struct {
	BillID string        `json:"bill_id" minLength:"1"`
	Amount money.Decimal `json:"amount"`
}

// PayInput is an outgoing payment.
type PayInput struct {
	SupplierID    string
	Amount        money.Decimal
	Currency      money.Currency
	Date          string
	BankAccountID string
	Reference     string
	Allocations   []BillAllocationInput
	// Discounts are early-payment discounts taken, by bill id (payment
	// currency): each settles the bill's payable along with its
	// allocation and is credited to DiscountAccountID (an income account).
	// Not part of the supplier-payments API; the payment run sets them.
	Discounts         map[string]money.Decimal
	DiscountAccountID string
}

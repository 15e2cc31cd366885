// Package invoicing bills sales orders: invoices made from an order when it
// ships (or when it is confirmed, a company setting), credit notes, and
// customer returns that put stock back and credit what came back. A
// document is numbered gaplessly per company and series only when it is
// finalized, and finalizing posts receivables, revenue and tax to the
// ledger in the same transaction.
package invoicing

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Kinds, statuses and settings.
const (
	KindInvoice    = "invoice"
	KindCreditNote = "credit_note"

	Draft     = "draft"
	Finalized = "finalized"

	Unpaid = "unpaid"

	OnShipment     = "shipment"
	OnConfirmation = "confirmation"

	DefaultSeries    = "INV"
	CreditNoteSeries = "CN"

	// SourceType names invoices and credit notes as ledger sources.
	SourceType = "invoice"
	// ReturnSourceType names returns as the source of stock moves.
	ReturnSourceType = "customer_return"

	lineProduct  = "product"
	lineShipping = "shipping"
)

// Event types.
const (
	EventCreated       = "mainstay.sales.invoice.created"
	EventFinalized     = "mainstay.sales.invoice.finalized"
	EventPaid          = "mainstay.sales.invoice.paid"
	EventPartiallyPaid = "mainstay.sales.invoice.partially_paid"
	EventReturned      = "mainstay.sales.customer_return.created"
)

// Invoice is an invoice or a credit note, with every amount the law asks
// an invoice to show.
type Invoice struct {
	ID               string               `json:"id"`
	CompanyID        string               `json:"company_id"`
	Kind             string               `json:"kind" enum:"invoice,credit_note"`
	Series           string               `json:"series"`
	Number           int64                `json:"number,omitempty" doc:"Gapless per company and series; taken when finalized."`
	DocumentNumber   string               `json:"document_number,omitempty" doc:"Series and number as printed, e.g. INV-7."`
	Status           string               `json:"status" enum:"draft,finalized"`
	PaymentStatus    string               `json:"payment_status" enum:"unpaid,partially_paid,paid"`
	CustomerID       string               `json:"customer_id"`
	SalesOrderID     string               `json:"sales_order_id,omitempty"`
	ShipmentID       string               `json:"shipment_id,omitempty" doc:"The shipment this invoice bills, when a shipment made it."`
	ReturnID         string               `json:"return_id,omitempty" doc:"The customer return this credit note credits."`
	CreditOf         string               `json:"credit_of,omitempty" doc:"The invoice a credit note credits."`
	Currency         money.Currency       `json:"currency"`
	InvoiceDate      string               `json:"invoice_date"`
	DueDate          string               `json:"due_date"`
	Seller           InvoiceParty         `json:"seller"`
	Buyer            InvoiceParty         `json:"buyer"`
	PaymentTerms     *InvoicePaymentTerms `json:"payment_terms,omitempty"`
	TaxInclusive     bool                 `json:"tax_inclusive"`
	Lines            []InvoiceLine        `json:"lines"`
	Taxes            []InvoiceTax         `json:"taxes" doc:"Tax summary per category and rate."`
	NetTotal         money.Decimal        `json:"net_total"`
	TaxTotal         money.Decimal        `json:"tax_total"`
	GrossTotal       money.Decimal        `json:"gross_total"`
	OpenAmount       *money.Decimal       `json:"open_amount,omitempty" doc:"What is left to pay (invoice currency), from the ledger; finalized invoices only."`
	JournalEntryID   string               `json:"journal_entry_id,omitempty"`
	ReceivableLineNo int                  `json:"receivable_line_no,omitempty" doc:"The journal line payments settle."`
	CreatedAt        time.Time            `json:"created_at"`
	FinalizedAt      *time.Time           `json:"finalized_at,omitempty"`
}

// InvoiceParty is the seller or the buyer as printed on an invoice.
type InvoiceParty struct {
	ID      string           `json:"id,omitempty"`
	Name    string           `json:"name"`
	Address *company.Address `json:"address,omitempty"`
	TaxIDs  []company.TaxID  `json:"tax_ids,omitempty" doc:"The seller's tax registrations."`
}

// InvoicePaymentTerms are the terms printed on an invoice.
type InvoicePaymentTerms struct {
	ID              string         `json:"id"`
	Code            string         `json:"code"`
	Name            string         `json:"name"`
	NetDays         int            `json:"net_days"`
	DiscountPercent *money.Decimal `json:"discount_percent,omitempty"`
	DiscountDays    int            `json:"discount_days,omitempty"`
}

// InvoiceLine is one billed line: an order line (or part of it) or the
// shipping charge.
type InvoiceLine struct {
	LineNo          int           `json:"line_no"`
	Kind            string        `json:"kind" enum:"product,shipping"`
	OrderLineNo     int           `json:"order_line_no,omitempty"`
	ProductID       string        `json:"product_id,omitempty"`
	SKU             string        `json:"sku,omitempty"`
	Name            string        `json:"name"`
	Quantity        money.Decimal `json:"quantity" doc:"In the product's sales unit."`
	StockQuantity   money.Decimal `json:"stock_quantity" doc:"The same in the stock unit."`
	UnitPrice       money.Decimal `json:"unit_price"`
	DiscountPercent money.Decimal `json:"discount_percent"`
	Discount        money.Decimal `json:"discount"`
	NetAmount       money.Decimal `json:"net_amount"`
	TaxCategoryID   string        `json:"tax_category_id,omitempty"`
	TaxRate         money.Decimal `json:"tax_rate"`
	TaxAmount       money.Decimal `json:"tax_amount"`
	GrossAmount     money.Decimal `json:"gross_amount"`
}

// InvoiceTax sums the tax of one category and rate.
type InvoiceTax struct {
	TaxCategoryID string        `json:"tax_category_id,omitempty"`
	Rate          money.Decimal `json:"rate"`
	Base          money.Decimal `json:"base"`
	Amount        money.Decimal `json:"amount"`
}

// CustomerReturn is goods a customer sent back: stock put back at the
// cost it shipped with, and the credit note for it.
type CustomerReturn struct {
	ID           string               `json:"id"`
	CompanyID    string               `json:"company_id"`
	SalesOrderID string               `json:"sales_order_id"`
	Date         string               `json:"date"`
	LocationID   string               `json:"location_id"`
	Reason       string               `json:"reason,omitempty"`
	Lines        []CustomerReturnLine `json:"lines"`
	CreditNoteID string               `json:"credit_note_id,omitempty" doc:"Absent when nothing of the goods had been invoiced."`
	CreatedAt    time.Time            `json:"created_at"`
}

// CustomerReturnLine is what came back of one order line.
type CustomerReturnLine struct {
	LineNo      int           `json:"line_no" doc:"The order line."`
	ProductID   string        `json:"product_id"`
	Quantity    money.Decimal `json:"quantity" doc:"In stock units."`
	UnitCost    money.Decimal `json:"unit_cost" doc:"What it shipped at, company currency."`
	StockMoveID string        `json:"stock_move_id"`
}

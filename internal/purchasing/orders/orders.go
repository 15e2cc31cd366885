// Package orders holds purchase orders and goods receipts. An order is
// priced (given prices, else the supplier's price list with quantity
// breaks) and taxed at input tax of the company's country when created,
// takes a gapless number per company when sent, and is received in one or
// several goods receipts: each brings the stock in at the order's price
// (converted into the company currency at the receipt date's rate) and
// posts inventory against GR/IR clearing, in the receipt's transaction.
// Supplier bills (internal/purchasing/bills) set the billed quantities
// through Update.
package orders

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Statuses of a purchase order.
const (
	Draft             = "draft"
	Sent              = "sent"
	PartiallyReceived = "partially_received"
	Received          = "received"
	Billed            = "billed"
	Closed            = "closed"
	Cancelled         = "cancelled"
)

// ReceiptSourceType names goods receipts as the source of stock moves.
const ReceiptSourceType = "goods_receipt"

// Event types.
const (
	EventCreated   = "mainstay.purchasing.purchase_order.created"
	EventSent      = "mainstay.purchasing.purchase_order.sent"
	EventCancelled = "mainstay.purchasing.purchase_order.cancelled"
	EventClosed    = "mainstay.purchasing.purchase_order.closed"
	EventReceived  = "mainstay.purchasing.goods_receipt.posted"
)

// PurchaseOrder is an order to a supplier. Amounts are in its currency.
type PurchaseOrder struct {
	ID           string              `json:"id"`
	CompanyID    string              `json:"company_id"`
	Number       int64               `json:"number,omitempty" doc:"Gapless per company, taken when the order is sent; absent on drafts."`
	ExternalID   string              `json:"external_id,omitempty"`
	Status       string              `json:"status" enum:"draft,sent,partially_received,received,billed,closed,cancelled"`
	SupplierID   string              `json:"supplier_id"`
	Currency     money.Currency      `json:"currency"`
	OrderDate    string              `json:"order_date"`
	ExpectedDate string              `json:"expected_date,omitempty" doc:"YYYY-MM-DD the goods are expected."`
	WarehouseID  string              `json:"warehouse_id"`
	Lines        []PurchaseOrderLine `json:"lines"`
	NetTotal     money.Decimal       `json:"net_total"`
	TaxTotal     money.Decimal       `json:"tax_total"`
	GrossTotal   money.Decimal       `json:"gross_total"`
	Version      int64               `json:"version"`
	CreatedAt    time.Time           `json:"created_at"`
	UpdatedAt    time.Time           `json:"updated_at"`
	SentAt       *time.Time          `json:"sent_at,omitempty"`
}

// PurchaseOrderLine is one product ordered, in its stock unit.
type PurchaseOrderLine struct {
	LineNo           int           `json:"line_no"`
	ProductID        string        `json:"product_id"`
	SKU              string        `json:"sku"`
	Quantity         money.Decimal `json:"quantity" doc:"Ordered, in the product's stock unit."`
	ReceivedQuantity money.Decimal `json:"received_quantity" doc:"Received so far by goods receipts (stock units)."`
	BilledQuantity   money.Decimal `json:"billed_quantity" doc:"Billed so far by supplier bills (stock units)."`
	UnitPrice        money.Decimal `json:"unit_price" doc:"Net, per stock unit, in the order currency."`
	SupplierPriceID  string        `json:"supplier_price_id,omitempty" doc:"The supplier price the unit price was taken from; absent when the caller gave it."`
	NetAmount        money.Decimal `json:"net_amount"`
	TaxCategoryID    string        `json:"tax_category_id,omitempty"`
	TaxRate          money.Decimal `json:"tax_rate" doc:"Percent; 0 for a product without a tax category."`
	TaxAmount        money.Decimal `json:"tax_amount" doc:"Input tax."`
	GrossAmount      money.Decimal `json:"gross_amount"`
}

// GoodsReceipt is stock that arrived for a purchase order.
type GoodsReceipt struct {
	ID              string             `json:"id"`
	CompanyID       string             `json:"company_id"`
	PurchaseOrderID string             `json:"purchase_order_id"`
	Date            string             `json:"date"`
	LocationID      string             `json:"location_id"`
	Currency        money.Currency     `json:"currency" doc:"The order currency, of unit_price."`
	CompanyCurrency money.Currency     `json:"company_currency" doc:"The currency of unit_cost and value."`
	ExchangeRate    *money.Decimal     `json:"exchange_rate,omitempty" doc:"Order currency into company currency, when they differ: the rate of the latest day on or before the receipt date."`
	RateDate        string             `json:"rate_date,omitempty" doc:"The day exchange_rate is from."`
	Lines           []GoodsReceiptLine `json:"lines"`
	Value           money.Decimal      `json:"value" doc:"Sum of the lines' values, company currency."`
	CreatedAt       time.Time          `json:"created_at"`
}

// GoodsReceiptLine is what one order line received.
type GoodsReceiptLine struct {
	LineNo      int           `json:"line_no"`
	OrderLineNo int           `json:"order_line_no"`
	ProductID   string        `json:"product_id"`
	Quantity    money.Decimal `json:"quantity" doc:"In stock units."`
	UnitPrice   money.Decimal `json:"unit_price" doc:"The order's unit price, order currency."`
	UnitCost    money.Decimal `json:"unit_cost" doc:"Per stock unit in the company currency: unit_price at the exchange rate."`
	Value       money.Decimal `json:"value" doc:"What the receipt added to inventory (and to GR/IR clearing), company currency."`
	StockMoveID string        `json:"stock_move_id"`
}

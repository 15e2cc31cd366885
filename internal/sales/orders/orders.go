// Package orders holds sales orders and shipments: an order is priced and
// taxed when created (internal/sales/pricing), quotes its shipping
// (internal/sales/shipping), reserves stock for every line or none when
// confirmed (internal/inventory), and ships in one or several shipments
// that issue the reserved stock and post its cost. Fulfilment, invoicing
// and payment have separate statuses.
package orders

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Statuses.
const (
	Draft     = "draft"
	Confirmed = "confirmed"
	Cancelled = "cancelled"

	Unfulfilled = "unfulfilled"
	Partial     = "partially_fulfilled"
	Fulfilled   = "fulfilled"

	NotInvoiced = "not_invoiced"
	Unpaid      = "unpaid"
)

// SourceType names sales orders as the source of reservations.
const SourceType = "sales_order"

// Event types.
const (
	EventCreated   = "mainstay.sales.sales_order.created"
	EventConfirmed = "mainstay.sales.sales_order.confirmed"
	EventCancelled = "mainstay.sales.sales_order.cancelled"
	EventEdited    = "mainstay.sales.sales_order.edited"

	EventShipmentCreated = "mainstay.sales.shipment.created"
	EventPacked          = "mainstay.sales.shipment.packed"
	EventShipped         = "mainstay.sales.shipment.shipped"
)

// ShipTo is where an order goes, and its tax jurisdiction.
type ShipTo struct {
	Name       string `json:"name,omitempty" maxLength:"200"`
	Line1      string `json:"line1,omitempty" maxLength:"200"`
	Line2      string `json:"line2,omitempty" maxLength:"200"`
	City       string `json:"city,omitempty" maxLength:"100"`
	PostalCode string `json:"postal_code,omitempty" maxLength:"20"`
	Region     string `json:"region,omitempty" maxLength:"50" doc:"State or province, where taxes depend on it."`
	Country    string `json:"country" pattern:"^[A-Z]{2}$" doc:"ISO 3166-1 alpha-2."`
}

// SalesOrder is a customer's order.
type SalesOrder struct {
	ID               string         `json:"id"`
	CompanyID        string         `json:"company_id"`
	ExternalID       string         `json:"external_id,omitempty" doc:"The storefront's order id; one order per external id."`
	Status           string         `json:"status" enum:"draft,confirmed,cancelled"`
	FulfilmentStatus string         `json:"fulfilment_status" enum:"unfulfilled,partially_fulfilled,fulfilled"`
	InvoicingStatus  string         `json:"invoicing_status" enum:"not_invoiced,partially_invoiced,invoiced"`
	PaymentStatus    string         `json:"payment_status" enum:"unpaid,partially_paid,paid"`
	CustomerID       string         `json:"customer_id"`
	Currency         money.Currency `json:"currency"`
	OrderDate        string         `json:"order_date"`
	WarehouseID      string         `json:"warehouse_id"`
	AllowBackorder   bool           `json:"allow_backorder"`
	ShipTo           *ShipTo        `json:"ship_to,omitempty"`
	TaxInclusive     bool           `json:"tax_inclusive"`
	TaxExempt        bool           `json:"tax_exempt"`
	Lines            []OrderLine    `json:"lines"`
	Shipping         *ShippingLine  `json:"shipping,omitempty"`
	Taxes            []OrderTax     `json:"taxes"`
	NetTotal         money.Decimal  `json:"net_total"`
	TaxTotal         money.Decimal  `json:"tax_total"`
	GrossTotal       money.Decimal  `json:"gross_total"`
	Version          int64          `json:"version"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
	ConfirmedAt      *time.Time     `json:"confirmed_at,omitempty"`
}

// OrderLine is one priced line.
type OrderLine struct {
	LineNo          int           `json:"line_no"`
	ProductID       string        `json:"product_id"`
	SKU             string        `json:"sku"`
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
	PriceListID     string        `json:"price_list_id,omitempty"`
	Reserved        money.Decimal `json:"reserved" doc:"Stock units reserved and not yet shipped."`
	Picking         money.Decimal `json:"picking" doc:"Of the reserved, stock units on shipments being picked or packed."`
	Shipped         money.Decimal `json:"shipped" doc:"Stock units shipped."`
}

// ShippingLine is the shipping charge.
type ShippingLine struct {
	CarrierID   string        `json:"carrier_id"`
	CarrierCode string        `json:"carrier_code"`
	Zone        string        `json:"zone,omitempty"`
	Free        bool          `json:"free"`
	NetAmount   money.Decimal `json:"net_amount"`
	TaxRate     money.Decimal `json:"tax_rate"`
	TaxAmount   money.Decimal `json:"tax_amount"`
	GrossAmount money.Decimal `json:"gross_amount"`
	WeightKg    money.Decimal `json:"weight_kg"`
}

// OrderTax sums the tax of one category and rate.
type OrderTax struct {
	TaxCategoryID string        `json:"tax_category_id,omitempty"`
	Rate          money.Decimal `json:"rate"`
	Base          money.Decimal `json:"base"`
	Amount        money.Decimal `json:"amount"`
}

// Shipment is stock that left for an order.
type Shipment struct {
	ID             string         `json:"id"`
	CompanyID      string         `json:"company_id"`
	OrderID        string         `json:"sales_order_id"`
	Status         string         `json:"status" enum:"picking,packed,shipped"`
	Date           string         `json:"date"`
	CarrierID      string         `json:"carrier_id,omitempty"`
	TrackingNumber string         `json:"tracking_number,omitempty"`
	Lines          []ShipmentLine `json:"lines"`
	CreatedAt      time.Time      `json:"created_at"`
}

// ShipmentLine is what one order line shipped, with the stock moves.
type ShipmentLine struct {
	LineNo    int           `json:"line_no"`
	ProductID string        `json:"product_id"`
	Quantity  money.Decimal `json:"quantity" doc:"In stock units."`
	Cost      money.Decimal `json:"cost" doc:"Cost of goods sold, company currency."`
	MoveIDs   []string      `json:"stock_move_ids"`
}

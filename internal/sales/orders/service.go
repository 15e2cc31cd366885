package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mainstay-erp/mainstay/internal/company"
	"sort"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/sales/pricing"
	"github.com/mainstay-erp/mainstay/internal/sales/shipping"
)

// Module holds what other modules hook into: invoicing creates an
// invoice when an order is confirmed or shipped, in that transaction.
type Module struct {
	confirmed []func(ctx context.Context, tx *db.Tx, o *SalesOrder) error
	shipped   []func(ctx context.Context, tx *db.Tx, o *SalesOrder, s *Shipment) error
}

// New makes the module (one per running app).
func New() *Module { return &Module{} }

// OnConfirmed registers fn to run in the transaction that confirms an
// order, after its stock is reserved.
func (m *Module) OnConfirmed(fn func(ctx context.Context, tx *db.Tx, o *SalesOrder) error) {
	m.confirmed = append(m.confirmed, fn)
}

// OnShipped registers fn to run in the transaction of a shipment.
func (m *Module) OnShipped(fn func(ctx context.Context, tx *db.Tx, o *SalesOrder, s *Shipment) error) {
	m.shipped = append(m.shipped, fn)
}

// Update changes an order with fn in tx (the order row locked), for other
// modules' statuses: invoicing sets invoicing_status, payments
// payment_status.
func Update(ctx context.Context, tx *db.Tx, companyID, orderID string, fn func(o *SalesOrder) error) (SalesOrder, error) {
	o, _, err := loadOrder(ctx, tx, companyID, orderID, true)
	if err != nil {
		return SalesOrder{}, err
	}
	if err := fn(&o); err != nil {
		return SalesOrder{}, err
	}
	return o, updateOrder(ctx, tx, &o)
}

// LineInput is a product and quantity (in its sales unit) to order.
type LineInput struct {
	ProductID string        `json:"product_id,omitempty"`
	SKU       string        `json:"sku,omitempty"`
	Quantity  money.Decimal `json:"quantity"`
}

// CreateInput is a new order.
type CreateInput struct {
	CompanyID      string
	CustomerID     string
	ExternalID     string
	Currency       money.Currency
	OrderDate      string
	WarehouseID    string
	CarrierID      string
	ShipTo         *ShipTo
	AllowBackorder bool
	Lines          []LineInput
}

// hash fingerprints what an order asks for, so that a storefront retrying
// its order id with the same cart gets the same order and with another
// cart a 409.
func (in CreateInput) hash() string {
	b, _ := json.Marshal(struct {
		Customer, Currency, Warehouse, Carrier string
		ShipTo                                 *ShipTo
		Backorder                              bool
		Lines                                  []LineInput
	}{in.CustomerID, string(in.Currency), in.WarehouseID, in.CarrierID, in.ShipTo, in.AllowBackorder, in.Lines})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Create prices, taxes and stores a draft order in tx.
func Create(ctx context.Context, tx *db.Tx, in CreateInput) (SalesOrder, error) {
	// Fingerprinted as asked, before defaults are filled in, so a retry
	// compares like with like.
	hash := in.hash()
	o, err := price(ctx, tx, in)
	if err != nil {
		return SalesOrder{}, err
	}
	if err := insertOrder(ctx, tx, &o, hash); err != nil {
		if err == errExternalTaken {
			return SalesOrder{}, apperr.New(apperr.Conflict, "An order with external_id %q exists.", in.ExternalID).
				WithFields(apperr.FieldError{Pointer: "/external_id", Detail: "taken"}).Wrap(ErrRaced)
		}
		return SalesOrder{}, err
	}
	return o, record(ctx, tx, &o, "sales_order.create", EventCreated)
}

// price builds an order from what it asks for: every line priced and
// taxed, shipping quoted and taxed, totals. It writes nothing.
func price(ctx context.Context, tx *db.Tx, in CreateInput) (SalesOrder, error) {
	if len(in.Lines) == 0 {
		return SalesOrder{}, apperr.Field("/lines", "an order needs at least one line")
	}
	cust, err := loadCustomer(ctx, tx, in.CompanyID, in.CustomerID)
	if err != nil {
		return SalesOrder{}, err
	}
	if !cust.active {
		return SalesOrder{}, apperr.Field("/customer_id", "Customer %s is archived.", in.CustomerID)
	}
	base, zone, err := companyDefaults(ctx, tx, in.CompanyID)
	if err != nil {
		return SalesOrder{}, err
	}
	if in.Currency == "" {
		in.Currency = cust.currency
	}
	if in.Currency == "" {
		in.Currency = base
	}
	if in.OrderDate == "" {
		in.OrderDate = company.LocalDate(zone, tx.Now())
	}
	if in.WarehouseID == "" {
		if in.WarehouseID, err = defaultWarehouse(ctx, tx, in.CompanyID); err != nil {
			return SalesOrder{}, err
		}
	} else if err := checkWarehouse(ctx, tx, in.CompanyID, in.WarehouseID); err != nil {
		return SalesOrder{}, err
	}
	cart := make([]pricing.CartLine, len(in.Lines))
	for i, l := range in.Lines {
		cart[i] = pricing.CartLine{ProductID: l.ProductID, SKU: l.SKU, Quantity: l.Quantity}
	}
	qi := pricing.QuoteInput{CompanyID: in.CompanyID, CustomerID: in.CustomerID, Currency: in.Currency, Date: in.OrderDate, Lines: cart}
	if in.ShipTo != nil {
		qi.ShipTo = &pricing.Address{Country: in.ShipTo.Country, Region: in.ShipTo.Region}
	}
	quote, err := pricing.Quote(ctx, tx, qi)
	if err != nil {
		return SalesOrder{}, err
	}
	now := tx.Now()
	o := SalesOrder{
		ID: id.New("so"), CompanyID: in.CompanyID, ExternalID: in.ExternalID, Status: Draft, FulfilmentStatus: Unfulfilled,
		InvoicingStatus: NotInvoiced, PaymentStatus: Unpaid, CustomerID: in.CustomerID, Currency: quote.Currency, OrderDate: in.OrderDate,
		WarehouseID: in.WarehouseID, AllowBackorder: in.AllowBackorder, ShipTo: in.ShipTo, TaxInclusive: quote.TaxInclusive,
		TaxExempt: quote.Exempt, NetTotal: quote.NetTotal, TaxTotal: quote.TaxTotal, GrossTotal: quote.GrossTotal,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	weightLines := make([]shipping.CartLine, len(quote.Lines))
	for i, ql := range quote.Lines {
		stock, err := inventory.SalesToStock(ctx, tx, in.CompanyID, ql.ProductID, ql.Quantity, fmt.Sprintf("/lines/%d/quantity", i))
		if err != nil {
			return SalesOrder{}, err
		}
		o.Lines = append(o.Lines, OrderLine{
			LineNo: i + 1, ProductID: ql.ProductID, SKU: ql.SKU, Name: ql.Name, Quantity: ql.Quantity, StockQuantity: stock,
			UnitPrice: ql.UnitPrice, DiscountPercent: ql.DiscountPercent, Discount: ql.Discount, NetAmount: ql.NetAmount,
			TaxCategoryID: ql.TaxCategoryID, TaxRate: ql.TaxRate, TaxAmount: ql.TaxAmount, GrossAmount: ql.GrossAmount, PriceListID: ql.PriceListID,
		})
		weightLines[i] = shipping.CartLine{ProductID: ql.ProductID, Quantity: stock}
	}
	for _, t := range quote.Taxes {
		o.Taxes = append(o.Taxes, OrderTax{TaxCategoryID: t.TaxCategoryID, Rate: t.Rate, Base: t.Base, Amount: t.Amount})
	}
	if o.Taxes == nil {
		o.Taxes = []OrderTax{}
	}
	if err := addShipping(ctx, tx, &o, in, weightLines); err != nil {
		return SalesOrder{}, err
	}
	return o, nil
}

// Edit is a change to an order before anything of it ships: what is
// given replaces what the order had.
type Edit struct {
	Lines          []LineInput
	ShipTo         *ShipTo
	CarrierID      *string
	AllowBackorder *bool
}

// EditOrder changes a draft or confirmed order nothing of which is
// shipped or being picked: it is priced, taxed and its shipping quoted
// again; a confirmed order gives back its reservation and reserves the new
// lines, every line or none (409 listing the short ones; the order stays
// as it was), and its credit limit is checked again. version, when not
// zero, must be the order's (412 otherwise).
func (m *Module) EditOrder(ctx context.Context, tx *db.Tx, companyID, orderID string, version int64, e Edit) (SalesOrder, error) {
	o, _, err := loadOrder(ctx, tx, companyID, orderID, true)
	if err != nil {
		return SalesOrder{}, err
	}
	if version != 0 && version != o.Version {
		return SalesOrder{}, apperr.New(apperr.PreconditionFailed, "Sales order %s is at version %d, not %d; read it again and reapply your change.", o.ID, o.Version, version)
	}
	if o.Status == Cancelled {
		return SalesOrder{}, apperr.New(apperr.Conflict, "Sales order %s is cancelled.", o.ID)
	}
	for _, l := range o.Lines {
		if l.Shipped.Sign() > 0 || l.Picking.Sign() > 0 {
			return SalesOrder{}, apperr.New(apperr.Conflict, "Sales order %s has goods shipped or being picked; ship, return or cancel instead of editing.", o.ID)
		}
	}
	in := CreateInput{CompanyID: companyID, CustomerID: o.CustomerID, Currency: o.Currency, OrderDate: o.OrderDate,
		WarehouseID: o.WarehouseID, ShipTo: o.ShipTo, AllowBackorder: o.AllowBackorder, Lines: e.Lines}
	if o.Shipping != nil {
		in.CarrierID = o.Shipping.CarrierID
	}
	if e.ShipTo != nil {
		in.ShipTo = e.ShipTo
	}
	if e.CarrierID != nil {
		in.CarrierID = *e.CarrierID
	}
	if e.AllowBackorder != nil {
		in.AllowBackorder = *e.AllowBackorder
	}
	if in.Lines == nil {
		for _, l := range o.Lines {
			in.Lines = append(in.Lines, LineInput{ProductID: l.ProductID, Quantity: l.Quantity})
		}
	}
	n, err := price(ctx, tx, in)
	if err != nil {
		return SalesOrder{}, err
	}
	n.ID, n.ExternalID, n.Status, n.Version, n.CreatedAt, n.ConfirmedAt = o.ID, o.ExternalID, o.Status, o.Version, o.CreatedAt, o.ConfirmedAt
	n.InvoicingStatus, n.PaymentStatus = o.InvoicingStatus, o.PaymentStatus
	if o.Status == Confirmed {
		if _, err := inventory.Release(ctx, tx, companyID, inventory.Source{Type: SourceType, ID: o.ID}); err != nil {
			return SalesOrder{}, err
		}
		if err := m.reserve(ctx, tx, &n); err != nil {
			return SalesOrder{}, err
		}
	}
	if err := updateOrder(ctx, tx, &n); err != nil {
		return SalesOrder{}, err
	}
	return n, record(ctx, tx, &n, "sales_order.edit", EventEdited)
}

// addShipping quotes the shipping charge and adds it, taxed, to the
// totals. Without a destination, or when the company has no carriers, an
// order has no shipping charge (collection, digital goods).
func addShipping(ctx context.Context, tx *db.Tx, o *SalesOrder, in CreateInput, lines []shipping.CartLine) error {
	if in.ShipTo == nil {
		return nil
	}
	any, err := hasCarriers(ctx, tx, in.CompanyID)
	if err != nil || (!any && in.CarrierID == "") {
		return err
	}
	weight, err := shipping.CartWeightKg(ctx, tx, in.CompanyID, lines)
	if err != nil {
		return err
	}
	options, err := shipping.Quote(ctx, tx, shipping.QuoteInput{
		CompanyID: in.CompanyID, Currency: o.Currency, Destination: shipping.Destination{Country: in.ShipTo.Country, PostalCode: in.ShipTo.PostalCode},
		WeightKg: weight, GoodsValue: o.GrossTotal, CarrierID: in.CarrierID,
	})
	if err != nil {
		return err
	}
	if len(options) == 0 {
		ptr := "/ship_to"
		if in.CarrierID != "" {
			ptr = "/carrier_id"
		}
		return apperr.Field(ptr, "No carrier ships %s kg to %s %s in %s.", weight, in.ShipTo.Country, in.ShipTo.PostalCode, o.Currency)
	}
	opt := options[0]
	s := &ShippingLine{CarrierID: opt.CarrierID, CarrierCode: opt.CarrierCode, Zone: opt.Zone, Free: opt.Free, NetAmount: opt.Amount, WeightKg: weight}
	if opt.TaxCategoryID != "" && !o.TaxExempt && opt.Amount.Sign() > 0 {
		rate, err := pricing.TaxRate(ctx, tx, in.CompanyID, opt.TaxCategoryID, in.ShipTo.Country, in.ShipTo.Region, o.OrderDate)
		if err != nil {
			return err
		}
		s.TaxRate = rate
		s.TaxAmount = money.RoundAmount(opt.Amount.Mul(rate).Mul(money.New(1, -2)), o.Currency, money.HalfEven)
	}
	s.GrossAmount = s.NetAmount.Add(s.TaxAmount)
	o.Shipping = s
	o.NetTotal, o.TaxTotal, o.GrossTotal = o.NetTotal.Add(s.NetAmount), o.TaxTotal.Add(s.TaxAmount), o.GrossTotal.Add(s.GrossAmount)
	if s.TaxAmount.Sign() > 0 {
		o.Taxes = append(o.Taxes, OrderTax{TaxCategoryID: opt.TaxCategoryID, Rate: s.TaxRate, Base: s.NetAmount, Amount: s.TaxAmount})
	}
	return nil
}

func record(ctx context.Context, tx *db.Tx, o *SalesOrder, action, event string) error {
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: o.ID, CompanyID: o.CompanyID, Data: o}); err != nil {
		return fmt.Errorf("sales order %s: %w", o.ID, err)
	}
	return audit.Record(ctx, tx, audit.Entry{Action: action, ResourceType: "sales_order", ResourceID: o.ID, CompanyID: o.CompanyID,
		Details: map[string]any{"status": o.Status, "gross_total": o.GrossTotal.String()}})
}

// Get reads an order of the company.
func Get(ctx context.Context, q db.Querier, companyID, id string) (SalesOrder, error) {
	o, _, err := loadOrder(ctx, q, companyID, id, false)
	return o, err
}

// Confirm reserves stock for every line of a draft order, or none: a
// short line refuses the confirmation with 409 listing every short line,
// unless the order allows backorders (then short lines reserve what there
// is). It checks the customer's credit limit against the orders it has
// open. Confirming a confirmed order returns it unchanged.
func (m *Module) Confirm(ctx context.Context, tx *db.Tx, companyID, orderID string) (SalesOrder, error) {
	o, _, err := loadOrder(ctx, tx, companyID, orderID, true)
	if err != nil {
		return SalesOrder{}, err
	}
	switch o.Status {
	case Confirmed:
		return o, nil
	case Cancelled:
		return SalesOrder{}, apperr.New(apperr.Conflict, "Sales order %s is cancelled.", o.ID)
	}
	return m.confirm(ctx, tx, o)
}

// confirm confirms a draft order this transaction holds: loaded and
// locked by Confirm, or just created by Checkout.
func (m *Module) confirm(ctx context.Context, tx *db.Tx, o SalesOrder) (SalesOrder, error) {
	if err := m.reserve(ctx, tx, &o); err != nil {
		return SalesOrder{}, err
	}
	now := tx.Now()
	o.Status, o.ConfirmedAt = Confirmed, &now
	for _, fn := range m.confirmed {
		if err := fn(ctx, tx, &o); err != nil {
			return SalesOrder{}, err
		}
	}
	if err := updateOrder(ctx, tx, &o); err != nil {
		return SalesOrder{}, err
	}
	return o, record(ctx, tx, &o, "sales_order.confirm", EventConfirmed)
}

// reserve checks the customer's credit limit and reserves the order's
// lines in its warehouse, every line or none unless it allows backorders.
func (m *Module) reserve(ctx context.Context, tx *db.Tx, o *SalesOrder) error {
	cust, err := loadCustomer(ctx, tx, o.CompanyID, o.CustomerID)
	if err != nil {
		return err
	}
	if cust.creditLimit != nil && cust.currency == o.Currency {
		open, err := openExposure(ctx, tx, o.CompanyID, o.CustomerID, o.Currency, o.ID)
		if err != nil {
			return err
		}
		if after := open.Add(o.GrossTotal); after.Cmp(*cust.creditLimit) > 0 {
			return apperr.New(apperr.Conflict, "Customer %s would owe %s %s with this order, above the credit limit of %s.",
				o.CustomerID, after, o.Currency, cust.creditLimit).WithFields(apperr.FieldError{Pointer: "/customer_id", Detail: "credit limit"})
		}
	}
	want := make([]inventory.WarehouseLine, len(o.Lines))
	for i, l := range o.Lines {
		want[i] = inventory.WarehouseLine{ProductID: l.ProductID, Quantity: l.StockQuantity}
	}
	allocs, short, err := inventory.ReserveInWarehouse(ctx, tx, o.CompanyID, inventory.Source{Type: SourceType, ID: o.ID}, o.WarehouseID, want, o.AllowBackorder)
	if err != nil {
		return err
	}
	if len(short) > 0 && !o.AllowBackorder {
		return inventory.ShortageError(short, func(line int) string { return fmt.Sprintf("/lines/%d/quantity", line) })
	}
	for i := range o.Lines {
		o.Lines[i].Reserved = allocs[i].Reserved.Normalize()
	}
	return nil
}

// Cancel cancels an order nothing of which has shipped, releasing its
// reservations.
func Cancel(ctx context.Context, tx *db.Tx, companyID, orderID string) (SalesOrder, error) {
	o, _, err := loadOrder(ctx, tx, companyID, orderID, true)
	if err != nil {
		return SalesOrder{}, err
	}
	if o.Status == Cancelled {
		return o, nil
	}
	for _, l := range o.Lines {
		if l.Shipped.Sign() > 0 {
			return SalesOrder{}, apperr.New(apperr.Conflict, "Sales order %s has shipped goods; return them instead of cancelling.", o.ID)
		}
	}
	if _, err := inventory.Release(ctx, tx, companyID, inventory.Source{Type: SourceType, ID: o.ID}); err != nil {
		return SalesOrder{}, err
	}
	for i := range o.Lines {
		o.Lines[i].Reserved = money.Decimal{}
	}
	o.Status = Cancelled
	if err := updateOrder(ctx, tx, &o); err != nil {
		return SalesOrder{}, err
	}
	return o, record(ctx, tx, &o, "sales_order.cancel", EventCancelled)
}

// ShipLine asks to ship part of an order line, in stock units.
type ShipLine struct {
	LineNo   int           `json:"line_no"`
	Quantity money.Decimal `json:"quantity" doc:"In stock units; at most what is reserved for the line."`
}

// Shipment stages.
const (
	Picking = "picking"
	Packed  = "packed"
	Shipped = "shipped"
)

// ShipInput is a shipment of a confirmed order.
type ShipInput struct {
	CompanyID, OrderID, Date, CarrierID, TrackingNumber string
	Lines                                               []ShipLine // empty: everything reserved and not on another shipment
	// Stage is where the shipment starts: picking (stock stays reserved
	// until it ships) or shipped (the default: issued at once).
	Stage string
}

// Ship creates a shipment of a confirmed order in tx. Shipped at once by
// default; a shipment started at picking holds its quantities against the
// order's reservation and issues them when it ships (Advance).
func (m *Module) Ship(ctx context.Context, tx *db.Tx, in ShipInput) (Shipment, SalesOrder, error) {
	o, _, err := loadOrder(ctx, tx, in.CompanyID, in.OrderID, true)
	if err != nil {
		return Shipment{}, SalesOrder{}, err
	}
	if o.Status != Confirmed {
		return Shipment{}, SalesOrder{}, apperr.New(apperr.Conflict, "Sales order %s is %s; only confirmed orders ship.", o.ID, o.Status)
	}
	if in.Stage == "" {
		in.Stage = Shipped
	}
	if in.Stage != Picking && in.Stage != Shipped {
		return Shipment{}, SalesOrder{}, apperr.Field("/status", "a shipment starts at picking or shipped, not %q", in.Stage)
	}
	free := func(l OrderLine) money.Decimal { return l.Reserved.Sub(l.Picking) }
	want := map[int]money.Decimal{}
	if len(in.Lines) == 0 {
		for _, l := range o.Lines {
			if free(l).Sign() > 0 {
				want[l.LineNo] = free(l)
			}
		}
	}
	for i, l := range in.Lines {
		if l.LineNo < 1 || l.LineNo > len(o.Lines) {
			return Shipment{}, SalesOrder{}, apperr.Field(fmt.Sprintf("/lines/%d/line_no", i), "Sales order %s has no line %d.", o.ID, l.LineNo)
		}
		if l.Quantity.Sign() <= 0 {
			return Shipment{}, SalesOrder{}, apperr.Field(fmt.Sprintf("/lines/%d/quantity", i), "must be positive")
		}
		if left := free(o.Lines[l.LineNo-1]); l.Quantity.Add(want[l.LineNo]).Cmp(left) > 0 {
			return Shipment{}, SalesOrder{}, apperr.New(apperr.Conflict, "Line %d has %s reserved and not on another shipment; %s asked.", l.LineNo, left.Normalize(), l.Quantity).
				WithFields(apperr.FieldError{Pointer: fmt.Sprintf("/lines/%d/quantity", i), Detail: "more than is reserved"})
		}
		want[l.LineNo] = want[l.LineNo].Add(l.Quantity)
	}
	if len(want) == 0 {
		return Shipment{}, SalesOrder{}, apperr.New(apperr.Conflict, "Sales order %s has nothing reserved to ship.", o.ID)
	}
	s := Shipment{ID: id.New("shp"), CompanyID: in.CompanyID, OrderID: o.ID, Status: Picking, Date: in.Date,
		CarrierID: in.CarrierID, TrackingNumber: in.TrackingNumber, CreatedAt: tx.Now()}
	for i := range o.Lines {
		l := &o.Lines[i]
		if qty, ok := want[l.LineNo]; ok {
			s.Lines = append(s.Lines, ShipmentLine{LineNo: l.LineNo, ProductID: l.ProductID, Quantity: qty.Normalize(), MoveIDs: []string{}})
			l.Picking = l.Picking.Add(qty).Normalize()
		}
	}
	if in.Stage == Shipped {
		if err := m.issue(ctx, tx, &o, &s); err != nil {
			return Shipment{}, SalesOrder{}, err
		}
	}
	if err := insertShipment(ctx, tx, &s); err != nil {
		return Shipment{}, SalesOrder{}, err
	}
	if err := updateOrder(ctx, tx, &o); err != nil {
		return Shipment{}, SalesOrder{}, err
	}
	return s, o, m.recordShipment(ctx, tx, &o, &s)
}

// Advance moves a shipment on: picking → packed → shipped (packing may be
// skipped). Shipping issues its stock; carrier, tracking number and date
// given here replace what the shipment had.
func (m *Module) Advance(ctx context.Context, tx *db.Tx, companyID, shipmentID, to, date, carrierID, tracking string) (Shipment, SalesOrder, error) {
	s, err := getShipment(ctx, tx, companyID, shipmentID, true)
	if err != nil {
		return Shipment{}, SalesOrder{}, err
	}
	o, _, err := loadOrder(ctx, tx, companyID, s.OrderID, true)
	if err != nil {
		return Shipment{}, SalesOrder{}, err
	}
	switch {
	case s.Status == Shipped:
		return Shipment{}, SalesOrder{}, apperr.New(apperr.Conflict, "Shipment %s has shipped.", s.ID)
	case to == Packed && s.Status == Packed:
		return s, o, nil
	case to != Packed && to != Shipped:
		return Shipment{}, SalesOrder{}, apperr.Field("/status", "a shipment moves on to packed or shipped, not %q", to)
	}
	if date != "" {
		s.Date = date
	}
	if carrierID != "" {
		s.CarrierID = carrierID
	}
	if tracking != "" {
		s.TrackingNumber = tracking
	}
	if to == Packed {
		s.Status = Packed
	} else if err := m.issue(ctx, tx, &o, &s); err != nil {
		return Shipment{}, SalesOrder{}, err
	}
	if err := saveShipment(ctx, tx, &s); err != nil {
		return Shipment{}, SalesOrder{}, err
	}
	if err := updateOrder(ctx, tx, &o); err != nil {
		return Shipment{}, SalesOrder{}, err
	}
	return s, o, m.recordShipment(ctx, tx, &o, &s)
}

// issue ships a planned shipment: one stock move per reservation it draws
// on (each posting its cost of goods sold), the order's lines and
// fulfilment status updated, and the shipped hooks (invoicing) run.
func (m *Module) issue(ctx context.Context, tx *db.Tx, o *SalesOrder, s *Shipment) error {
	if s.Date == "" {
		_, zone, err := companyDefaults(ctx, tx, o.CompanyID)
		if err != nil {
			return err
		}
		s.Date = company.LocalDate(zone, tx.Now())
	}
	if s.CarrierID == "" && o.Shipping != nil {
		s.CarrierID = o.Shipping.CarrierID
	}
	src := inventory.Source{Type: SourceType, ID: o.ID}
	// Lines are issued in product order: each issue locks its product's
	// cost row, and one order for every writer keeps two shipments of the
	// same products from deadlocking.
	order := make([]int, len(s.Lines))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return s.Lines[order[a]].ProductID < s.Lines[order[b]].ProductID })
	for _, i := range order {
		line := &s.Lines[i]
		l := &o.Lines[line.LineNo-1]
		reservations, err := inventory.ActiveReservations(ctx, tx, o.CompanyID, src, l.ProductID)
		if err != nil {
			return err
		}
		need := line.Quantity
		for k, r := range reservations {
			if need.Sign() <= 0 {
				break
			}
			take := r.Quantity
			if take.Cmp(need) > 0 {
				take = need
			}
			mv, err := inventory.Post(ctx, tx, inventory.MoveInput{
				CompanyID: o.CompanyID, Type: inventory.Issue, ProductID: l.ProductID, FromLocationID: r.LocationID, Lot: r.Lot,
				Quantity: take, Date: s.Date, Memo: "Shipment " + s.ID + " of " + o.ID, Consumes: &src,
				SourceType: "shipment", SourceID: s.ID, Purpose: fmt.Sprintf("line %d.%d", l.LineNo, k+1),
			})
			if err != nil {
				return fmt.Errorf("ship line %d: %w", l.LineNo, err)
			}
			line.MoveIDs = append(line.MoveIDs, mv.ID)
			line.Cost = line.Cost.Add(mv.Value)
			need = need.Sub(take)
		}
		if need.Sign() > 0 {
			return apperr.New(apperr.Conflict, "Line %d: only %s of %s is reserved at the warehouse.", l.LineNo, line.Quantity.Sub(need), line.Quantity)
		}
		l.Reserved = l.Reserved.Sub(line.Quantity).Normalize()
		l.Picking = l.Picking.Sub(line.Quantity).Normalize()
		l.Shipped = l.Shipped.Add(line.Quantity).Normalize()
	}
	s.Status = Shipped
	o.FulfilmentStatus = Fulfilled
	for _, l := range o.Lines {
		if l.Shipped.Cmp(l.StockQuantity) < 0 {
			o.FulfilmentStatus = Partial
		}
	}
	for _, fn := range m.shipped {
		if err := fn(ctx, tx, o, s); err != nil {
			return err
		}
	}
	return nil
}

func (m *Module) recordShipment(ctx context.Context, tx *db.Tx, o *SalesOrder, s *Shipment) error {
	event := map[string]string{Picking: EventShipmentCreated, Packed: EventPacked, Shipped: EventShipped}[s.Status]
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: s.ID, CompanyID: s.CompanyID, Data: s}); err != nil {
		return fmt.Errorf("shipment %s: %w", s.ID, err)
	}
	return audit.Record(ctx, tx, audit.Entry{Action: "shipment." + s.Status, ResourceType: "shipment", ResourceID: s.ID, CompanyID: s.CompanyID,
		Details: map[string]any{"sales_order_id": o.ID, "lines": len(s.Lines)}})
}

// CustomerInput is the storefront's customer, found or created by its
// external id.
type CustomerInput struct {
	ExternalID    string   `json:"external_id" minLength:"1" maxLength:"100"`
	Name          string   `json:"name" minLength:"1" maxLength:"200"`
	Emails        []string `json:"emails,omitempty"`
	CustomerGroup string   `json:"customer_group,omitempty"`
}

// ErrRaced marks a checkout that lost a race to create the same customer
// or the same storefront order: run again, it finds the winner's record.
var ErrRaced = errors.New("a concurrent request created the same record")

// CustomerStore finds or creates customers (the partners resource, which
// this package cannot import without a cycle through the app).
type CustomerStore interface {
	FindOrCreate(ctx context.Context, companyID string, c CustomerInput, currency money.Currency) (string, error)
}

// CheckoutInput is a storefront's order in one call.
type CheckoutInput struct {
	CreateInput
	Customer CustomerInput
}

// Checkout finds or creates the customer, prices the cart, quotes
// shipping, creates and confirms the order, in tx. The storefront's order
// id (external id) makes it idempotent: the same content returns the
// existing order (created false), other content is 409 naming it. Nothing
// in it takes a company-wide number: no hot row on the request path.
func (m *Module) Checkout(ctx context.Context, tx *db.Tx, customers CustomerStore, in CheckoutInput) (SalesOrder, bool, error) {
	if strings.TrimSpace(in.ExternalID) == "" {
		return SalesOrder{}, false, apperr.Field("/external_id", "the storefront's order id is required: it makes checkout safe to retry")
	}
	cur := in.Currency
	if cur == "" {
		base, _, err := companyDefaults(ctx, tx, in.CompanyID)
		if err != nil {
			return SalesOrder{}, false, err
		}
		cur = base
	}
	custID, err := customers.FindOrCreate(db.ContextWithTx(ctx, tx), in.CompanyID, in.Customer, cur)
	if err != nil {
		return SalesOrder{}, false, err
	}
	in.CustomerID = custID
	if existing, found, err := orderByExternalID(ctx, tx, in.CompanyID, in.ExternalID); err != nil {
		return SalesOrder{}, false, err
	} else if found {
		o, hash, err := loadOrder(ctx, tx, in.CompanyID, existing, false)
		if err != nil {
			return SalesOrder{}, false, err
		}
		if hash != in.hash() {
			return SalesOrder{}, false, apperr.New(apperr.Conflict, "Order %s was checked out before as %s with other content.", in.ExternalID, o.ID).
				WithFields(apperr.FieldError{Pointer: "/external_id", Detail: "used by " + o.ID})
		}
		return o, false, nil
	}
	o, err := Create(ctx, tx, in.CreateInput)
	if err != nil {
		return SalesOrder{}, false, err
	}
	// Created in this transaction: no need to read it back and lock it.
	o, err = m.confirm(ctx, tx, o)
	return o, true, err
}

package orders

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/inventory"
	"github.com/mainstay-erp/mainstay/internal/inventory/sites"
	"github.com/mainstay-erp/mainstay/internal/ledger/fx"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/purchasing/supplierprices"
	"github.com/mainstay-erp/mainstay/internal/sales/pricing"
)

// percent turns a percentage into a fraction, exactly.
var percent = money.New(1, -2)

// PurchaseOrderLineInput is a product and quantity (stock units) to order.
type PurchaseOrderLineInput struct {
	ProductID     string         `json:"product_id"`
	Quantity      money.Decimal  `json:"quantity" doc:"In the product's stock unit, > 0, at most 6 decimal places."`
	UnitPrice     *money.Decimal `json:"unit_price,omitempty" doc:"Net, per stock unit, in the order currency; default the supplier's price (see /v1/supplier-prices)."`
	TaxCategoryID string         `json:"tax_category_id,omitempty" doc:"Default the product's tax category; none means no input tax."`
}

// CreateInput is a new purchase order.
type CreateInput struct {
	CompanyID, SupplierID, ExternalID string
	Currency                          money.Currency
	OrderDate, ExpectedDate           string
	WarehouseID                       string
	Lines                             []PurchaseOrderLineInput
}

func validDate(s string) bool {
	t, err := time.Parse(time.DateOnly, s)
	return err == nil && t.Format(time.DateOnly) == s
}

func roundingMode(co company.Company) money.RoundingMode {
	if m, err := money.ParseRoundingMode(co.RoundingMode); err == nil {
		return m
	}
	return money.HalfEven
}

// Create prices, taxes and stores a draft purchase order in tx. Every
// invalid input is reported at once, each at its pointer.
func Create(ctx context.Context, tx *db.Tx, in CreateInput) (PurchaseOrder, error) {
	if len(in.Lines) == 0 {
		return PurchaseOrder{}, apperr.Field("/lines", "an order needs at least one line")
	}
	sup, err := loadSupplier(ctx, tx, in.CompanyID, in.SupplierID)
	if err != nil {
		return PurchaseOrder{}, err
	}
	if !sup.active {
		return PurchaseOrder{}, apperr.Field("/supplier_id", "Supplier %s is archived.", in.SupplierID)
	}
	co, err := loadCompany(ctx, tx, in.CompanyID)
	if err != nil {
		return PurchaseOrder{}, err
	}
	var errs []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	if in.Currency == "" {
		in.Currency = sup.currency
	}
	if in.Currency == "" {
		in.Currency = co.BaseCurrency
	}
	if !in.Currency.Valid() {
		add("/currency", "%q is not an active ISO 4217 currency code", string(in.Currency))
	}
	if in.OrderDate == "" {
		in.OrderDate = company.LocalDate(co.TimeZone, tx.Now())
	} else if !validDate(in.OrderDate) {
		add("/order_date", "%q is not a date (YYYY-MM-DD)", in.OrderDate)
	}
	if in.ExpectedDate != "" && !validDate(in.ExpectedDate) {
		add("/expected_date", "%q is not a date (YYYY-MM-DD)", in.ExpectedDate)
	} else if in.ExpectedDate != "" && in.ExpectedDate < in.OrderDate {
		add("/expected_date", "must not be before the order date %s", in.OrderDate)
	}
	if len(errs) > 0 {
		return PurchaseOrder{}, apperr.Fields(errs...)
	}
	if in.WarehouseID == "" {
		if in.WarehouseID, err = defaultWarehouse(ctx, tx, in.CompanyID); err != nil {
			return PurchaseOrder{}, err
		}
	} else if err := checkWarehouse(ctx, tx, in.CompanyID, in.WarehouseID); err != nil {
		return PurchaseOrder{}, err
	}
	now := tx.Now()
	o := PurchaseOrder{
		ID: id.New("po"), CompanyID: in.CompanyID, ExternalID: in.ExternalID, Status: Draft, SupplierID: in.SupplierID,
		Currency: in.Currency, OrderDate: in.OrderDate, ExpectedDate: in.ExpectedDate, WarehouseID: in.WarehouseID,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	lines, err := priceLines(ctx, tx, co, &o, in.Lines)
	if err != nil {
		return PurchaseOrder{}, err
	}
	o.Lines = lines
	for _, l := range o.Lines {
		o.NetTotal, o.TaxTotal, o.GrossTotal = o.NetTotal.Add(l.NetAmount), o.TaxTotal.Add(l.TaxAmount), o.GrossTotal.Add(l.GrossAmount)
	}
	if err := insertOrder(ctx, tx, &o); err != nil {
		if errors.Is(err, errExternalTaken) {
			return PurchaseOrder{}, apperr.New(apperr.Conflict, "A purchase order with external_id %q exists.", in.ExternalID).
				WithFields(apperr.FieldError{Pointer: "/external_id", Detail: "taken"})
		}
		return PurchaseOrder{}, err
	}
	return o, record(ctx, tx, &o, "purchase_order.create", EventCreated)
}

// priceLines prices and taxes the lines: a given unit price, else the
// supplier's best price for the quantity on the order date; input tax at
// the rate of the line's tax category in the company's country (its
// registered address, else its first), rounded per line in the company's
// rounding mode. A line without a tax category carries no input tax.
func priceLines(ctx context.Context, q db.Querier, co company.Company, o *PurchaseOrder, in []PurchaseOrderLineInput) ([]PurchaseOrderLine, error) {
	var errs []apperr.FieldError
	add := func(ptr, format string, args ...any) {
		errs = append(errs, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	mode := roundingMode(co)
	country, region := companyJurisdiction(co)
	out := make([]PurchaseOrderLine, 0, len(in))
	for i, l := range in {
		at := fmt.Sprintf("/lines/%d/", i)
		p, found, err := loadProduct(ctx, q, o.CompanyID, l.ProductID)
		if err != nil {
			return nil, err
		}
		if !found {
			add(at+"product_id", "No product %q in this company.", l.ProductID)
			continue
		}
		if !p.Active {
			add(at+"product_id", "Product %s is archived.", p.SKU)
			continue
		}
		if l.Quantity.Sign() <= 0 {
			add(at+"quantity", "must be positive")
			continue
		} else if _, err := l.Quantity.Scaled(money.QuantityScale); err != nil {
			add(at+"quantity", "at most %d decimal places and 12 integer digits", money.QuantityScale)
			continue
		}
		line := PurchaseOrderLine{LineNo: i + 1, ProductID: l.ProductID, SKU: p.SKU, Quantity: l.Quantity.Normalize(), TaxCategoryID: l.TaxCategoryID}
		if line.TaxCategoryID == "" {
			line.TaxCategoryID = p.TaxCategoryID
		}
		switch {
		case l.UnitPrice != nil && l.UnitPrice.IsNegative():
			add(at+"unit_price", "must not be negative")
			continue
		case l.UnitPrice != nil:
			if _, err := l.UnitPrice.Scaled(money.PriceScale); err != nil {
				add(at+"unit_price", "at most %d decimal places and 12 integer digits", money.PriceScale)
				continue
			}
			line.UnitPrice = l.UnitPrice.Normalize()
		default:
			spID, price, ok, err := supplierprices.Lookup(ctx, q, o.CompanyID, o.SupplierID, l.ProductID, o.Currency, l.Quantity, o.OrderDate)
			if err != nil {
				return nil, err
			}
			if !ok {
				add(at+"unit_price", "Supplier %s has no active price for %s in %s for quantity %s on %s; give unit_price or add one at /v1/supplier-prices.",
					o.SupplierID, p.SKU, o.Currency, line.Quantity, o.OrderDate)
				continue
			}
			line.UnitPrice, line.SupplierPriceID = price, spID
		}
		line.NetAmount = money.RoundAmount(line.Quantity.Mul(line.UnitPrice), o.Currency, mode)
		if line.TaxCategoryID != "" {
			if country == "" {
				add(at+"tax_category_id", "The company has no address to take the input tax jurisdiction from; add one to the company.")
				continue
			}
			rate, err := pricing.TaxRate(ctx, q, o.CompanyID, line.TaxCategoryID, country, region, o.OrderDate)
			if errors.Is(err, pricing.ErrNoTaxRate) {
				add(at+"tax_category_id", "No tax rate for tax category %s in %s on %s; add one with POST /v1/tax-rates.", line.TaxCategoryID, country, o.OrderDate)
				continue
			}
			if err != nil {
				return nil, err
			}
			line.TaxRate = rate
			line.TaxAmount = money.RoundAmount(line.NetAmount.Mul(rate).Mul(percent), o.Currency, mode)
		}
		line.GrossAmount = line.NetAmount.Add(line.TaxAmount)
		out = append(out, line)
	}
	if len(errs) > 0 {
		return nil, apperr.Fields(errs...)
	}
	return out, nil
}

// companyJurisdiction is the country (and region) of the company's
// registered address, else of its first: where its input tax is levied.
func companyJurisdiction(co company.Company) (string, string) {
	for _, a := range co.Addresses {
		if a.Kind == "registered" {
			return a.Country, strings.ToUpper(a.Region)
		}
	}
	if len(co.Addresses) > 0 {
		return co.Addresses[0].Country, strings.ToUpper(co.Addresses[0].Region)
	}
	return "", ""
}

func record(ctx context.Context, tx *db.Tx, o *PurchaseOrder, action, event string) error {
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: o.ID, CompanyID: o.CompanyID, Data: o}); err != nil {
		return fmt.Errorf("purchase order %s: %w", o.ID, err)
	}
	return audit.Record(ctx, tx, audit.Entry{Action: action, ResourceType: "purchase_order", ResourceID: o.ID, CompanyID: o.CompanyID,
		Details: map[string]any{"status": o.Status, "number": o.Number, "gross_total": o.GrossTotal.String()}})
}

// Get reads a purchase order of the company.
func Get(ctx context.Context, q db.Querier, companyID, id string) (PurchaseOrder, error) {
	return loadOrder(ctx, q, companyID, id, false)
}

// Update changes an order with fn in tx, the order row locked, for other
// modules: supplier bills set lines' BilledQuantity and the status
// "billed". The status must stay one of the statuses above.
func Update(ctx context.Context, tx *db.Tx, companyID, id string, fn func(o *PurchaseOrder) error) (PurchaseOrder, error) {
	o, err := loadOrder(ctx, tx, companyID, id, true)
	if err != nil {
		return PurchaseOrder{}, err
	}
	if err := fn(&o); err != nil {
		return PurchaseOrder{}, err
	}
	return o, updateOrder(ctx, tx, &o)
}

// Send sends a draft order to the supplier, taking the company's next
// gapless purchase order number. Sending a sent order returns it
// unchanged.
func Send(ctx context.Context, tx *db.Tx, companyID, id string) (PurchaseOrder, error) {
	o, err := loadOrder(ctx, tx, companyID, id, true)
	if err != nil {
		return PurchaseOrder{}, err
	}
	switch o.Status {
	case Sent:
		return o, nil
	case Draft:
	default:
		return PurchaseOrder{}, apperr.New(apperr.Conflict, "Purchase order %s is %s; only drafts are sent.", o.ID, o.Status)
	}
	if o.Number, err = nextNumber(ctx, tx, companyID); err != nil {
		return PurchaseOrder{}, err
	}
	now := tx.Now()
	o.Status, o.SentAt = Sent, &now
	if err := updateOrder(ctx, tx, &o); err != nil {
		return PurchaseOrder{}, err
	}
	return o, record(ctx, tx, &o, "purchase_order.send", EventSent)
}

// Cancel cancels an order nothing of which was received or billed. A
// sent order keeps its number: the number was used.
func Cancel(ctx context.Context, tx *db.Tx, companyID, id string) (PurchaseOrder, error) {
	o, err := loadOrder(ctx, tx, companyID, id, true)
	if err != nil {
		return PurchaseOrder{}, err
	}
	if o.Status == Cancelled {
		return o, nil
	}
	for _, l := range o.Lines {
		if l.ReceivedQuantity.Sign() > 0 || l.BilledQuantity.Sign() > 0 {
			return PurchaseOrder{}, apperr.New(apperr.Conflict, "Purchase order %s has received or billed goods; close it instead of cancelling.", o.ID)
		}
	}
	if o.Status != Draft && o.Status != Sent {
		return PurchaseOrder{}, apperr.New(apperr.Conflict, "Purchase order %s is %s and cannot be cancelled.", o.ID, o.Status)
	}
	o.Status = Cancelled
	if err := updateOrder(ctx, tx, &o); err != nil {
		return PurchaseOrder{}, err
	}
	return o, record(ctx, tx, &o, "purchase_order.cancel", EventCancelled)
}

// Close closes a received or billed order: no more receipts against it.
func Close(ctx context.Context, tx *db.Tx, companyID, id string) (PurchaseOrder, error) {
	o, err := loadOrder(ctx, tx, companyID, id, true)
	if err != nil {
		return PurchaseOrder{}, err
	}
	switch o.Status {
	case Closed:
		return o, nil
	case Received, Billed:
	default:
		return PurchaseOrder{}, apperr.New(apperr.Conflict, "Purchase order %s is %s; only received or billed orders are closed.", o.ID, o.Status)
	}
	o.Status = Closed
	if err := updateOrder(ctx, tx, &o); err != nil {
		return PurchaseOrder{}, err
	}
	return o, record(ctx, tx, &o, "purchase_order.close", EventClosed)
}

// FromSuggestionsInput asks for a purchase order of the current reorder
// suggestions.
type FromSuggestionsInput struct {
	CompanyID, WarehouseID, SupplierID string
	ExpectedDate                       string
	Send                               bool
}

// FromSuggestions creates one draft order from the supplier with a line
// per current reorder suggestion of the warehouse (the suggested
// quantity, priced from the supplier's prices), sent at once when asked.
// Without an expected date, it is today plus the longest lead time of the
// suggestions. No suggestions is 409.
func FromSuggestions(ctx context.Context, tx *db.Tx, in FromSuggestionsInput) (PurchaseOrder, error) {
	if in.WarehouseID == "" {
		var err error
		if in.WarehouseID, err = defaultWarehouse(ctx, tx, in.CompanyID); err != nil {
			return PurchaseOrder{}, err
		}
	} else if err := checkWarehouse(ctx, tx, in.CompanyID, in.WarehouseID); err != nil {
		return PurchaseOrder{}, err
	}
	day, err := sites.Today(ctx, tx, in.CompanyID, tx.Now())
	if err != nil {
		return PurchaseOrder{}, err
	}
	sugg, err := sites.Suggest(ctx, tx, in.CompanyID, sites.Filter{WarehouseID: in.WarehouseID}, day)
	if err != nil {
		return PurchaseOrder{}, err
	}
	if len(sugg) == 0 {
		return PurchaseOrder{}, apperr.New(apperr.Conflict, "Warehouse %s has no reorder suggestions today (%s): nothing to order.", in.WarehouseID, day)
	}
	lines := make([]PurchaseOrderLineInput, len(sugg))
	lead := 0
	for i, s := range sugg {
		lines[i] = PurchaseOrderLineInput{ProductID: s.ProductID, Quantity: s.SuggestedQuantity}
		lead = max(lead, s.LeadTimeDays)
	}
	expected := in.ExpectedDate
	if expected == "" {
		t, _ := time.Parse(time.DateOnly, day)
		expected = t.AddDate(0, 0, lead).Format(time.DateOnly)
	}
	o, err := Create(ctx, tx, CreateInput{CompanyID: in.CompanyID, SupplierID: in.SupplierID, OrderDate: day, ExpectedDate: expected,
		WarehouseID: in.WarehouseID, Lines: lines})
	if err != nil || !in.Send {
		return o, err
	}
	return Send(ctx, tx, in.CompanyID, o.ID)
}

// GoodsReceiptLineInput receives part of an order line.
type GoodsReceiptLineInput struct {
	LineNo    int           `json:"line_no" minimum:"1"`
	Quantity  money.Decimal `json:"quantity" doc:"In stock units, > 0."`
	Lot       string        `json:"lot,omitempty" maxLength:"100" doc:"Lot or serial number, for tracked products."`
	LotExpiry string        `json:"lot_expiry,omitempty" doc:"YYYY-MM-DD, for a lot received the first time."`
}

// ReceiveInput is a goods receipt of a purchase order.
type ReceiveInput struct {
	CompanyID, OrderID, Date, LocationID string
	Lines                                []GoodsReceiptLineInput // empty: everything outstanding
}

// Receive posts a goods receipt in tx: for each line a stock receipt at
// the order's unit price (in the company currency, at the receipt date's
// exchange rate when the order is in another currency), each posting
// inventory against GR/IR clearing; then the order's received quantities
// and status. A line may bring in at most its quantity plus the company's
// over-receipt tolerance, counting what earlier receipts brought.
func Receive(ctx context.Context, tx *db.Tx, in ReceiveInput) (GoodsReceipt, PurchaseOrder, error) {
	o, err := loadOrder(ctx, tx, in.CompanyID, in.OrderID, true)
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return GoodsReceipt{}, PurchaseOrder{}, apperr.Field("/purchase_order_id", "No purchase order %q in this company.", in.OrderID)
		}
		return GoodsReceipt{}, PurchaseOrder{}, err
	}
	switch o.Status {
	case Sent, PartiallyReceived, Received, Billed:
	default:
		return GoodsReceipt{}, PurchaseOrder{}, apperr.New(apperr.Conflict, "Purchase order %s is %s; goods are received against sent orders.", o.ID, o.Status)
	}
	co, err := loadCompany(ctx, tx, in.CompanyID)
	if err != nil {
		return GoodsReceipt{}, PurchaseOrder{}, err
	}
	if in.Date == "" {
		in.Date = company.LocalDate(co.TimeZone, tx.Now())
	} else if !validDate(in.Date) {
		return GoodsReceipt{}, PurchaseOrder{}, apperr.Field("/date", "%q is not a date (YYYY-MM-DD)", in.Date)
	}
	if in.LocationID == "" {
		if in.LocationID, err = sites.DefaultLocation(ctx, tx, in.CompanyID, o.WarehouseID, sites.Receiving); err != nil {
			return GoodsReceipt{}, PurchaseOrder{}, err
		}
	} else {
		loc, err := sites.LocationInfo(ctx, tx, in.CompanyID, in.LocationID)
		var nf *sites.LocationNotFoundError
		if errors.As(err, &nf) {
			return GoodsReceipt{}, PurchaseOrder{}, nf.At("/location_id")
		}
		if err != nil {
			return GoodsReceipt{}, PurchaseOrder{}, err
		}
		if loc.WarehouseID != o.WarehouseID || !loc.Active || loc.Kind == sites.Transit {
			return GoodsReceipt{}, PurchaseOrder{}, apperr.Field("/location_id", "Location %s is not an active location of warehouse %s, where the order is delivered.", loc.Code, o.WarehouseID)
		}
	}
	tolerance := money.Decimal{}
	if co.OverReceiptTolerancePercent != nil {
		tolerance = *co.OverReceiptTolerancePercent
	}
	type want struct {
		qty            money.Decimal
		lot, lotExpiry string
	}
	var wants []want
	var lineNos []int
	if len(in.Lines) == 0 {
		for _, l := range o.Lines {
			if left := l.Quantity.Sub(l.ReceivedQuantity); left.Sign() > 0 {
				wants = append(wants, want{qty: left})
				lineNos = append(lineNos, l.LineNo)
			}
		}
		if len(wants) == 0 {
			return GoodsReceipt{}, PurchaseOrder{}, apperr.New(apperr.Conflict, "Purchase order %s has nothing outstanding to receive.", o.ID)
		}
	}
	asked := map[int]money.Decimal{}
	for i, l := range in.Lines {
		at := fmt.Sprintf("/lines/%d/", i)
		if l.LineNo < 1 || l.LineNo > len(o.Lines) {
			return GoodsReceipt{}, PurchaseOrder{}, apperr.Field(at+"line_no", "Purchase order %s has no line %d.", o.ID, l.LineNo)
		}
		if l.Quantity.Sign() <= 0 {
			return GoodsReceipt{}, PurchaseOrder{}, apperr.Field(at+"quantity", "must be positive")
		}
		if _, err := l.Quantity.Scaled(money.QuantityScale); err != nil {
			return GoodsReceipt{}, PurchaseOrder{}, apperr.Field(at+"quantity", "at most %d decimal places and 12 integer digits", money.QuantityScale)
		}
		ol := o.Lines[l.LineNo-1]
		limit := ol.Quantity.Add(ol.Quantity.Mul(tolerance).Mul(percent))
		total := ol.ReceivedQuantity.Add(asked[l.LineNo]).Add(l.Quantity)
		if total.Cmp(limit) > 0 {
			return GoodsReceipt{}, PurchaseOrder{}, apperr.New(apperr.Conflict,
				"Line %d ordered %s and received %s; %s more would exceed the over-receipt tolerance of %s%% (at most %s in all).",
				l.LineNo, ol.Quantity, ol.ReceivedQuantity.Normalize(), l.Quantity, tolerance.Normalize(), limit.Normalize()).
				WithFields(apperr.FieldError{Pointer: at + "quantity", Detail: "more than ordered plus the over-receipt tolerance"})
		}
		asked[l.LineNo] = asked[l.LineNo].Add(l.Quantity)
		wants = append(wants, want{qty: l.Quantity, lot: l.Lot, lotExpiry: l.LotExpiry})
		lineNos = append(lineNos, l.LineNo)
	}
	r := GoodsReceipt{ID: id.New("gr"), CompanyID: in.CompanyID, PurchaseOrderID: o.ID, Date: in.Date, LocationID: in.LocationID,
		Currency: o.Currency, CompanyCurrency: co.BaseCurrency, CreatedAt: tx.Now()}
	rate := money.FromInt(1)
	if o.Currency != co.BaseCurrency {
		rt, day, err := fx.Lookup(ctx, tx, in.CompanyID, o.Currency, in.Date)
		if errors.Is(err, fx.ErrNoRate) {
			return GoodsReceipt{}, PurchaseOrder{}, apperr.Field("/date", "No exchange rate of %s on or before %s to value the receipt in %s; add one at /v1/exchange-rates.",
				o.Currency, in.Date, co.BaseCurrency)
		}
		if err != nil {
			return GoodsReceipt{}, PurchaseOrder{}, err
		}
		rate, r.ExchangeRate, r.RateDate = rt, &rt, day
	}
	for i, w := range wants {
		ol := &o.Lines[lineNos[i]-1]
		cost := ol.UnitPrice
		if r.ExchangeRate != nil {
			cost = ol.UnitPrice.Mul(rate).Round(money.PriceScale, money.HalfEven)
		}
		cost = cost.Normalize()
		rl := GoodsReceiptLine{LineNo: i + 1, OrderLineNo: ol.LineNo, ProductID: ol.ProductID, Quantity: w.qty.Normalize(), UnitPrice: ol.UnitPrice, UnitCost: cost}
		mv, err := inventory.Post(ctx, tx, inventory.MoveInput{
			CompanyID: in.CompanyID, Type: inventory.Receipt, ProductID: ol.ProductID, ToLocationID: in.LocationID, Lot: w.lot, LotExpiry: w.lotExpiry,
			Quantity: w.qty, UnitCost: &cost, Date: in.Date, Memo: fmt.Sprintf("Goods receipt %s of %s", r.ID, o.ID),
			SourceType: ReceiptSourceType, SourceID: r.ID, Purpose: fmt.Sprintf("line %d", rl.LineNo),
		})
		if err != nil {
			return GoodsReceipt{}, PurchaseOrder{}, fmt.Errorf("receive line %d: %w", ol.LineNo, err)
		}
		rl.StockMoveID, rl.Value = mv.ID, mv.Value
		r.Value = r.Value.Add(mv.Value)
		r.Lines = append(r.Lines, rl)
		ol.ReceivedQuantity = ol.ReceivedQuantity.Add(w.qty).Normalize()
	}
	if o.Status == Sent || o.Status == PartiallyReceived || o.Status == Received {
		o.Status = Received
		for _, l := range o.Lines {
			if l.ReceivedQuantity.Cmp(l.Quantity) < 0 {
				o.Status = PartiallyReceived
			}
		}
	}
	if err := insertReceipt(ctx, tx, &r); err != nil {
		return GoodsReceipt{}, PurchaseOrder{}, err
	}
	if err := updateOrder(ctx, tx, &o); err != nil {
		return GoodsReceipt{}, PurchaseOrder{}, err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventReceived, Subject: r.ID, CompanyID: r.CompanyID, Data: r}); err != nil {
		return GoodsReceipt{}, PurchaseOrder{}, fmt.Errorf("goods receipt %s: %w", r.ID, err)
	}
	return r, o, audit.Record(ctx, tx, audit.Entry{Action: "goods_receipt.post", ResourceType: "goods_receipt", ResourceID: r.ID, CompanyID: r.CompanyID,
		Details: map[string]any{"purchase_order_id": o.ID, "lines": len(r.Lines), "value": r.Value.String()}})
}

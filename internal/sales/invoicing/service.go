package invoicing

import (
	"context"
	"errors"
	"fmt"
	"github.com/mainstay-erp/mainstay/internal/company"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/rules"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/sales/orders"
)

// errNothing is an order with nothing (more) to bill.
var errNothing = errors.New("nothing to invoice")

// Wire makes orders invoice themselves: in full when confirmed, or what
// each shipment shipped (the default), per the company's invoice_on. The
// invoice is created and finalized in the confirming or shipping
// transaction, so an order is never shipped without its invoice.
func Wire(m *orders.Module) {
	m.OnConfirmed(func(ctx context.Context, tx *db.Tx, o *orders.SalesOrder) error {
		s, err := loadSeller(ctx, tx, o.CompanyID)
		if err != nil || s.invoiceOn != OnConfirmation {
			return err
		}
		_, err = invoiceOrder(ctx, tx, s, o, nil, "", company.LocalDate(s.zone, tx.Now()), true)
		if errors.Is(err, errNothing) {
			return nil
		}
		return err
	})
	m.OnShipped(func(ctx context.Context, tx *db.Tx, o *orders.SalesOrder, sh *orders.Shipment) error {
		s, err := loadSeller(ctx, tx, o.CompanyID)
		if err != nil || s.invoiceOn != OnShipment {
			return err
		}
		want := map[int]money.Decimal{}
		for _, l := range sh.Lines {
			want[l.LineNo] = want[l.LineNo].Add(l.Quantity)
		}
		_, err = invoiceOrder(ctx, tx, s, o, want, sh.ID, sh.Date, true)
		if errors.Is(err, errNothing) {
			return nil
		}
		return err
	})
}

// CreateForOrder invoices what of a confirmed order is billable and not
// yet billed: what shipped, or everything when the company invoices on
// confirmation. Nothing left is 409.
func CreateForOrder(ctx context.Context, tx *db.Tx, companyID, orderID string, finalize bool) (Invoice, error) {
	var inv Invoice
	// Update holds the order's row, so two requests cannot bill the same
	// goods twice.
	_, err := orders.Update(ctx, tx, companyID, orderID, func(o *orders.SalesOrder) error {
		if o.Status != orders.Confirmed {
			return apperr.New(apperr.Conflict, "Sales order %s is %s; only confirmed orders are invoiced.", o.ID, o.Status)
		}
		s, err := loadSeller(ctx, tx, companyID)
		if err != nil {
			return err
		}
		billable := map[int]money.Decimal{}
		for _, l := range o.Lines {
			billable[l.LineNo] = l.Shipped
			if s.invoiceOn == OnConfirmation {
				billable[l.LineNo] = l.StockQuantity
			}
		}
		inv, err = invoiceOrder(ctx, tx, s, o, billable, "", company.LocalDate(s.zone, tx.Now()), finalize)
		if errors.Is(err, errNothing) {
			return apperr.New(apperr.Conflict, "Sales order %s has nothing left to invoice.", o.ID).
				WithFields(apperr.FieldError{Pointer: "/sales_order_id", Detail: "nothing to invoice"})
		}
		return err
	})
	return inv, err
}

// billed sums what earlier documents of one kind took of each order line.
type billed struct {
	stock, qty, net, tax, gross, discount money.Decimal
}

func billedOf(docs []Invoice, kind string) (map[int]billed, bool) {
	out := map[int]billed{}
	shipping := false
	for _, d := range docs {
		if d.Kind != kind {
			continue
		}
		for _, l := range d.Lines {
			if l.Kind == lineShipping {
				shipping = true
				continue
			}
			b := out[l.OrderLineNo]
			b.stock, b.qty = b.stock.Add(l.StockQuantity), b.qty.Add(l.Quantity)
			b.net, b.tax, b.gross, b.discount = b.net.Add(l.NetAmount), b.tax.Add(l.TaxAmount), b.gross.Add(l.GrossAmount), b.discount.Add(l.Discount)
			out[l.OrderLineNo] = b
		}
	}
	return out, shipping
}

// prorate bills stock units q of an order line whose earlier documents
// took done: each amount is the line's × q / its stock quantity, rounded
// half-even to the currency, except that the document completing the line
// takes exactly what is left, so all of them add up to the line.
func prorate(l orders.OrderLine, q money.Decimal, done billed, cur money.Currency, inclusive bool) (InvoiceLine, error) {
	il := InvoiceLine{Kind: lineProduct, OrderLineNo: l.LineNo, ProductID: l.ProductID, SKU: l.SKU, Name: l.Name, StockQuantity: q.Normalize(),
		UnitPrice: l.UnitPrice, DiscountPercent: l.DiscountPercent, TaxCategoryID: l.TaxCategoryID, TaxRate: l.TaxRate}
	if done.stock.Add(q).Cmp(l.StockQuantity) >= 0 {
		il.Quantity, il.NetAmount, il.TaxAmount = l.Quantity.Sub(done.qty), l.NetAmount.Sub(done.net), l.TaxAmount.Sub(done.tax)
		il.GrossAmount, il.Discount = l.GrossAmount.Sub(done.gross), l.Discount.Sub(done.discount)
		il.Quantity = il.Quantity.Normalize()
		return il, nil
	}
	part := func(v money.Decimal, places int32) (money.Decimal, error) {
		r, err := v.Mul(q).DivRound(l.StockQuantity, places, money.HalfEven)
		if err != nil {
			return r, fmt.Errorf("prorate line %d: %w", l.LineNo, err)
		}
		return r, nil
	}
	minor := cur.MinorUnits()
	var err error
	if il.Quantity, err = part(l.Quantity, money.QuantityScale); err != nil {
		return il, err
	}
	il.Quantity = il.Quantity.Normalize()
	if il.Discount, err = part(l.Discount, minor); err != nil {
		return il, err
	}
	if il.TaxAmount, err = part(l.TaxAmount, minor); err != nil {
		return il, err
	}
	// Rounded independently, net and gross could disagree with the tax by
	// a cent; the price the customer saw (gross when prices include tax)
	// is rounded, the other derived.
	if inclusive {
		if il.GrossAmount, err = part(l.GrossAmount, minor); err != nil {
			return il, err
		}
		il.NetAmount = il.GrossAmount.Sub(il.TaxAmount)
	} else {
		if il.NetAmount, err = part(l.NetAmount, minor); err != nil {
			return il, err
		}
		il.GrossAmount = il.NetAmount.Add(il.TaxAmount)
	}
	return il, nil
}

// invoiceOrder bills stock units want per order line (nil: everything
// not yet billed), capped at what is not yet billed, and the shipping
// charge with the order's first invoice. It sets o.InvoicingStatus; the
// caller saves the order.
func invoiceOrder(ctx context.Context, tx *db.Tx, s seller, o *orders.SalesOrder, want map[int]money.Decimal, shipmentID, date string, finalize bool) (Invoice, error) {
	prior, err := orderInvoices(ctx, tx, o.CompanyID, o.ID)
	if err != nil {
		return Invoice{}, err
	}
	done, shippingDone := billedOf(prior, KindInvoice)
	inv := newDocument(o, KindInvoice, s.series, date)
	inv.ShipmentID = shipmentID
	for _, l := range o.Lines {
		q := l.StockQuantity.Sub(done[l.LineNo].stock)
		if want != nil {
			w := want[l.LineNo]
			if want != nil && shipmentID == "" {
				// A limit (what shipped so far), not an amount to add.
				w = w.Sub(done[l.LineNo].stock)
			}
			if w.Cmp(q) < 0 {
				q = w
			}
		}
		if q.Sign() <= 0 {
			continue
		}
		il, err := prorate(l, q, done[l.LineNo], o.Currency, o.TaxInclusive)
		if err != nil {
			return Invoice{}, err
		}
		inv.Lines = append(inv.Lines, il)
	}
	if len(inv.Lines) == 0 {
		return Invoice{}, errNothing
	}
	if sh := o.Shipping; sh != nil && !shippingDone && sh.GrossAmount.Sign() > 0 {
		cat, err := carrierTaxCategory(ctx, tx, o.CompanyID, sh.CarrierID)
		if err != nil {
			return Invoice{}, err
		}
		inv.Lines = append(inv.Lines, InvoiceLine{Kind: lineShipping, SKU: sh.CarrierCode, Name: "Shipping (" + sh.CarrierCode + ")",
			Quantity: money.FromInt(1), StockQuantity: money.FromInt(1), UnitPrice: sh.NetAmount, NetAmount: sh.NetAmount,
			TaxCategoryID: cat, TaxRate: sh.TaxRate, TaxAmount: sh.TaxAmount, GrossAmount: sh.GrossAmount})
	}
	if err := create(ctx, tx, s, &inv, finalize); err != nil {
		return Invoice{}, err
	}
	o.InvoicingStatus = invoicingStatus(o, append(prior, inv))
	return inv, nil
}

func invoicingStatus(o *orders.SalesOrder, docs []Invoice) string {
	done, shipping := billedOf(docs, KindInvoice)
	any, all := false, true
	for _, l := range o.Lines {
		b := done[l.LineNo].stock
		any = any || b.Sign() > 0
		all = all && b.Cmp(l.StockQuantity) >= 0
	}
	if o.Shipping != nil && o.Shipping.GrossAmount.Sign() > 0 && !shipping {
		all = false
	}
	switch {
	case all:
		return "invoiced"
	case any:
		return "partially_invoiced"
	}
	return orders.NotInvoiced
}

func newDocument(o *orders.SalesOrder, kind, series, date string) Invoice {
	return Invoice{ID: id.New(map[string]string{KindInvoice: "inv", KindCreditNote: "cn"}[kind]), CompanyID: o.CompanyID, Kind: kind,
		Series: series, Status: Draft, PaymentStatus: Unpaid, CustomerID: o.CustomerID, SalesOrderID: o.ID, Currency: o.Currency,
		InvoiceDate: date, DueDate: date, TaxInclusive: o.TaxInclusive, Lines: []InvoiceLine{}}
}

// create totals a document, prints seller and buyer on it, stores it and
// finalizes it when asked.
func create(ctx context.Context, tx *db.Tx, s seller, inv *Invoice, finalize bool) error {
	for i := range inv.Lines {
		l := &inv.Lines[i]
		l.LineNo = i + 1
		inv.NetTotal, inv.TaxTotal, inv.GrossTotal = inv.NetTotal.Add(l.NetAmount), inv.TaxTotal.Add(l.TaxAmount), inv.GrossTotal.Add(l.GrossAmount)
	}
	inv.Taxes = taxSummary(inv.Lines)
	b, err := loadBuyer(ctx, tx, inv.CompanyID, inv.CustomerID)
	if err != nil {
		return err
	}
	inv.Seller = InvoiceParty{ID: inv.CompanyID, Name: s.legalName, Address: s.address(), TaxIDs: s.taxIDs}
	inv.Buyer = InvoiceParty{ID: inv.CustomerID, Name: b.name, Address: b.billing}
	if inv.PaymentTerms, err = loadPaymentTerms(ctx, tx, inv.CompanyID, b.paymentTermsID); err != nil {
		return err
	}
	inv.CreatedAt = tx.Now().UTC()
	if err := insertInvoice(ctx, tx, inv); err != nil {
		return err
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: inv.Kind + ".create", ResourceType: inv.Kind, ResourceID: inv.ID, CompanyID: inv.CompanyID,
		Details: map[string]any{"sales_order_id": inv.SalesOrderID, "gross_total": inv.GrossTotal.String()}}); err != nil {
		return err
	}
	if !finalize {
		if _, err := events.Record(ctx, tx, events.Event{Type: EventCreated, Subject: inv.ID, CompanyID: inv.CompanyID, Data: inv}); err != nil {
			return fmt.Errorf("invoice %s: %w", inv.ID, err)
		}
		return nil
	}
	return finalizeDoc(ctx, tx, s, b, inv)
}

func taxSummary(lines []InvoiceLine) []InvoiceTax {
	out := []InvoiceTax{}
	for _, l := range lines {
		if l.TaxAmount.IsZero() && l.TaxRate.IsZero() {
			continue
		}
		found := false
		for i := range out {
			if out[i].TaxCategoryID == l.TaxCategoryID && out[i].Rate.Equal(l.TaxRate) {
				out[i].Base, out[i].Amount = out[i].Base.Add(l.NetAmount), out[i].Amount.Add(l.TaxAmount)
				found = true
			}
		}
		if !found {
			out = append(out, InvoiceTax{TaxCategoryID: l.TaxCategoryID, Rate: l.TaxRate, Base: l.NetAmount, Amount: l.TaxAmount})
		}
	}
	return out
}

// Finalize numbers a draft and posts it; a finalized one is returned as
// it is.
func Finalize(ctx context.Context, tx *db.Tx, companyID, invoiceID string) (Invoice, error) {
	inv, err := loadInvoice(ctx, tx, companyID, invoiceID, true)
	if err != nil || inv.Status == Finalized {
		return inv, err
	}
	s, err := loadSeller(ctx, tx, companyID)
	if err != nil {
		return Invoice{}, err
	}
	b, err := loadBuyer(ctx, tx, companyID, inv.CustomerID)
	if err != nil {
		return Invoice{}, err
	}
	if err := finalizeDoc(ctx, tx, s, b, &inv); err != nil {
		return Invoice{}, err
	}
	return inv, nil
}

// finalizeDoc takes the document's number, sets its due date and posts
// it: receivables against revenue and tax, or the mirror for a credit
// note.
func finalizeDoc(ctx context.Context, tx *db.Tx, s seller, b buyer, inv *Invoice) error {
	n, err := nextNumber(ctx, tx, inv.CompanyID, inv.Series)
	if err != nil {
		return err
	}
	inv.Number, inv.DocumentNumber = n, fmt.Sprintf("%s-%d", inv.Series, n)
	if inv.Kind == KindInvoice && inv.PaymentTerms != nil {
		if inv.DueDate, err = dateAfter(inv.InvoiceDate, inv.PaymentTerms.NetDays); err != nil {
			return err
		}
	}
	if inv.GrossTotal.Sign() > 0 {
		entry, err := post(ctx, tx, s, b, inv)
		if err != nil {
			return err
		}
		inv.JournalEntryID, inv.ReceivableLineNo = entry.ID, 1
	}
	now := tx.Now().UTC()
	inv.Status, inv.FinalizedAt = Finalized, &now
	if err := markFinalized(ctx, tx, inv); err != nil {
		return err
	}
	// The event carries the invoice as GET returns it, open amount included.
	data := *inv
	if data.Kind == KindInvoice && data.JournalEntryID != "" {
		open, err := openAmount(ctx, tx, data)
		if err != nil {
			return err
		}
		data.OpenAmount = &open
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventFinalized, Subject: inv.ID, CompanyID: inv.CompanyID, Data: data}); err != nil {
		return fmt.Errorf("invoice %s: %w", inv.ID, err)
	}
	return audit.Record(ctx, tx, audit.Entry{Action: inv.Kind + ".finalize", ResourceType: inv.Kind, ResourceID: inv.ID, CompanyID: inv.CompanyID,
		Details: map[string]any{"number": inv.DocumentNumber, "gross_total": inv.GrossTotal.String()}})
}

// post books the document: line 1 the receivable (what payments settle),
// then revenue per line and tax per summary line, all in the document's
// currency (the ledger converts and rounds).
func post(ctx context.Context, tx *db.Tx, s seller, b buyer, inv *Invoice) (ledger.Entry, error) {
	cur := inv.Currency
	if cur == s.base {
		cur = ""
	}
	credit := inv.Kind == KindInvoice
	side := func(account string, v money.Decimal, creditSide bool, memo string) ledger.Line {
		l := ledger.Line{AccountID: account, Currency: cur, Memo: memo}
		if creditSide {
			l.Credit = v
		} else {
			l.Debit = v
		}
		return l
	}
	recv, err := rules.Determine(ctx, tx, inv.CompanyID, "receivables", rules.Keys{CustomerGroup: b.group})
	if err != nil {
		return ledger.Entry{}, err
	}
	first := side(recv, inv.GrossTotal, !credit, inv.DocumentNumber)
	if !credit {
		if first.Settles, err = settlement(ctx, tx, s, inv); err != nil {
			return ledger.Entry{}, err
		}
	}
	lines := []ledger.Line{first}
	for _, l := range inv.Lines {
		if l.NetAmount.Sign() <= 0 {
			continue
		}
		keys := rules.Keys{ProductID: l.ProductID, TaxCategoryID: l.TaxCategoryID, CustomerGroup: b.group}
		acct, err := rules.Determine(ctx, tx, inv.CompanyID, "revenue", keys)
		if err != nil {
			return ledger.Entry{}, err
		}
		lines = append(lines, side(acct, l.NetAmount, credit, l.Name))
	}
	for _, t := range inv.Taxes {
		if t.Amount.Sign() <= 0 {
			continue
		}
		acct, err := rules.Determine(ctx, tx, inv.CompanyID, "tax_payable", rules.Keys{TaxCategoryID: t.TaxCategoryID})
		if err != nil {
			return ledger.Entry{}, err
		}
		lines = append(lines, side(acct, t.Amount, credit, "Tax "+t.Rate.String()+" %"))
	}
	return ledger.Post(ctx, tx, ledger.Posting{CompanyID: inv.CompanyID, Date: inv.InvoiceDate, Currency: s.base, SourceType: SourceType,
		SourceID: inv.ID, Purpose: "receivable", Memo: inv.DocumentNumber + " " + inv.Buyer.Name, Lines: lines})
}

// settlement is the credited invoice's receivable line when a credit note
// can settle it: up to what is open; otherwise the credit note stays an
// unapplied credit of the customer.
func settlement(ctx context.Context, tx *db.Tx, _ seller, cn *Invoice) (*ledger.LineRef, error) {
	if cn.CreditOf == "" {
		return nil, nil
	}
	orig, err := loadInvoice(ctx, tx, cn.CompanyID, cn.CreditOf, false)
	if err != nil || orig.JournalEntryID == "" {
		return nil, err
	}
	ref := ledger.LineRef{EntryID: orig.JournalEntryID, LineNo: orig.ReceivableLineNo}
	open, _, found, err := ledger.OpenAmount(ctx, tx, cn.CompanyID, ref)
	if err != nil || !found || open.Cmp(cn.GrossTotal) < 0 {
		return nil, err
	}
	return &ref, nil
}

// RecordPayment writes the paid or partially_paid event of an invoice
// whose payment status a payment has just set, in that payment's
// transaction, with the invoice as GET returns it then (payment status and
// open amount after the payment). An unpaid invoice has nothing to tell.
func RecordPayment(ctx context.Context, tx *db.Tx, companyID, invoiceID string) error {
	inv, err := Get(ctx, tx, companyID, invoiceID)
	if err != nil {
		return err
	}
	event := map[string]string{"paid": EventPaid, "partially_paid": EventPartiallyPaid}[inv.PaymentStatus]
	if event == "" {
		return nil
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: inv.ID, CompanyID: inv.CompanyID, Data: inv}); err != nil {
		return fmt.Errorf("invoice %s: %w", inv.ID, err)
	}
	return nil
}

// Get reads an invoice with its open amount.
func Get(ctx context.Context, q db.Querier, companyID, id string) (Invoice, error) {
	inv, err := loadInvoice(ctx, q, companyID, id, false)
	if err != nil {
		return inv, err
	}
	if inv.Kind == KindInvoice && inv.JournalEntryID != "" {
		open, err := openAmount(ctx, q, inv)
		if err != nil {
			return inv, err
		}
		inv.OpenAmount = &open
	}
	return inv, nil
}

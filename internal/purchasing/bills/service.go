package bills

import (
	"context"
	"errors"
	"fmt"
	"github.com/mainstay-erp/mainstay/internal/company"
	"time"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/rules"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/purchasing/orders"
	"github.com/mainstay-erp/mainstay/internal/sales/pricing"
)

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func addDays(date string, days int) string {
	d, _ := time.Parse(time.DateOnly, date)
	return d.AddDate(0, 0, days).Format(time.DateOnly)
}

var hundred = money.FromInt(100)

// Create enters a supplier bill or credit note: it checks the input (422
// at each field), computes input tax and due dates, matches order lines
// against the order and its receipts, stores it, and posts it when asked.
func Create(ctx context.Context, tx *db.Tx, in CreateInput) (Bill, error) {
	if in.Kind == "" {
		in.Kind = KindBill
	}
	co, err := loadBuyer(ctx, tx, in.CompanyID)
	if err != nil {
		return Bill{}, err
	}
	var fields []apperr.FieldError
	bad := func(ptr, format string, args ...any) {
		fields = append(fields, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	sup, found, err := loadSupplier(ctx, tx, in.CompanyID, in.SupplierID)
	if err != nil {
		return Bill{}, err
	}
	if !found {
		bad("/supplier_id", "no supplier %q in this company", in.SupplierID)
	}
	if in.SupplierReference == "" {
		bad("/supplier_reference", "give the supplier's number of the %s", in.Kind)
	}
	if in.BillDate == "" {
		in.BillDate = company.LocalDate(co.zone, tx.Now())
	} else if !validDate(in.BillDate) {
		bad("/bill_date", "must be a date YYYY-MM-DD")
	}
	var credited Bill
	switch {
	case in.Kind == KindCreditNote && in.CreditOf == "":
		bad("/credit_of", "a credit note names the bill it credits")
	case in.Kind == KindCreditNote:
		credited, err = loadBill(ctx, tx, in.CompanyID, in.CreditOf, false)
		if apperr.CodeOf(err) == apperr.NotFound {
			bad("/credit_of", "no bill %q in this company", in.CreditOf)
		} else if err != nil {
			return Bill{}, err
		} else if credited.Kind != KindBill || credited.SupplierID != in.SupplierID {
			bad("/credit_of", "not a bill of this supplier")
		} else if in.PurchaseOrderID == "" {
			in.PurchaseOrderID = credited.PurchaseOrderID
		}
	case in.CreditOf != "":
		bad("/credit_of", "only credit notes credit a bill")
	}
	var o order
	if in.PurchaseOrderID != "" {
		o, found, err = loadOrder(ctx, tx, in.CompanyID, in.PurchaseOrderID, true)
		if err != nil {
			return Bill{}, err
		}
		switch {
		case !found:
			bad("/purchase_order_id", "no purchase order %q in this company", in.PurchaseOrderID)
		case o.SupplierID != in.SupplierID:
			bad("/purchase_order_id", "the order is another supplier's")
		case o.Status == "draft" || o.Status == "cancelled":
			bad("/purchase_order_id", "the order is %s", o.Status)
		}
	}
	if in.Currency == "" {
		switch {
		case credited.ID != "":
			in.Currency = credited.Currency
		case o.ID != "":
			in.Currency = o.Currency
		case sup.currency != "":
			in.Currency = sup.currency
		default:
			in.Currency = co.base
		}
	}
	if !in.Currency.Valid() {
		bad("/currency", "%q is not an ISO 4217 currency", in.Currency)
	} else if o.ID != "" && in.Currency != o.Currency {
		bad("/currency", "the order is in %s", o.Currency)
	} else if credited.ID != "" && in.Currency != credited.Currency {
		bad("/currency", "the bill credited is in %s", credited.Currency)
	}
	if in.TaxTotal != nil && (in.TaxTotal.IsNegative() || (in.Currency.Valid() && !money.RoundAmount(*in.TaxTotal, in.Currency, money.HalfEven).Equal(*in.TaxTotal))) {
		bad("/tax_total", "a non-negative amount with at most %d decimals", in.Currency.MinorUnits())
	}
	if len(in.Lines) == 0 {
		bad("/lines", "give at least one line")
	}
	b := Bill{ID: id.New(map[string]string{KindBill: "bill", KindCreditNote: "bcn"}[in.Kind]), CompanyID: in.CompanyID, Kind: in.Kind,
		Status: Draft, PaymentStatus: Unpaid, SupplierID: in.SupplierID, SupplierReference: in.SupplierReference,
		PurchaseOrderID: in.PurchaseOrderID, CreditOf: in.CreditOf, Currency: in.Currency, BillDate: in.BillDate, DueDate: in.BillDate,
		PrintedTaxTotal: in.TaxTotal, Lines: []BillLine{}, Taxes: []BillTax{}}
	seen := map[int]bool{}
	for i, l := range in.Lines {
		ptr := fmt.Sprintf("/lines/%d", i)
		bl := BillLine{LineNo: i + 1, PurchaseOrderLineNo: l.PurchaseOrderLineNo, AccountID: l.AccountID, Description: l.Description,
			Quantity: l.Quantity.Normalize(), UnitPrice: l.UnitPrice.Normalize(), TaxCategoryID: l.TaxCategoryID}
		if l.Quantity.Sign() <= 0 {
			bad(ptr+"/quantity", "must be greater than 0")
		} else if _, err := l.Quantity.Scaled(money.QuantityScale); err != nil {
			bad(ptr+"/quantity", "at most %d decimal places", money.QuantityScale)
		}
		if l.UnitPrice.IsNegative() {
			bad(ptr+"/unit_price", "must not be negative")
		} else if _, err := l.UnitPrice.Scaled(money.PriceScale); err != nil {
			bad(ptr+"/unit_price", "at most %d decimal places", money.PriceScale)
		}
		switch {
		case l.PurchaseOrderLineNo > 0 && l.AccountID != "":
			bad(ptr+"/account_id", "a line bills an order line or a service account, not both")
		case l.PurchaseOrderLineNo > 0:
			if in.PurchaseOrderID == "" {
				bad(ptr+"/purchase_order_line_no", "give purchase_order_id to bill order lines")
				continue
			}
			ol, ok := o.line(l.PurchaseOrderLineNo)
			if o.ID != "" && !ok {
				bad(ptr+"/purchase_order_line_no", "the order has no line %d", l.PurchaseOrderLineNo)
			} else if seen[l.PurchaseOrderLineNo] {
				bad(ptr+"/purchase_order_line_no", "the order line is billed twice; give it one line")
			}
			seen[l.PurchaseOrderLineNo] = true
			bl.ProductID = ol.ProductID
			if bl.TaxCategoryID == "" {
				bl.TaxCategoryID = ol.TaxCategoryID
			}
			if bl.TaxCategoryID == "" {
				if bl.TaxCategoryID, err = productTaxCategory(ctx, tx, in.CompanyID, ol.ProductID); err != nil {
					return Bill{}, err
				}
			}
		case l.AccountID != "":
			ok, err := accountOfType(ctx, tx, in.CompanyID, l.AccountID, "expense", "asset")
			if err != nil {
				return Bill{}, err
			}
			if !ok {
				bad(ptr+"/account_id", "not an active expense or asset account of this company")
			}
			if l.Description == "" {
				bad(ptr+"/description", "a service line says what it is")
			}
		default:
			bad(ptr, "give purchase_order_line_no (goods of the order) or account_id and description (a service)")
		}
		if l.TaxCategoryID != "" {
			ok, err := taxCategoryExists(ctx, tx, in.CompanyID, l.TaxCategoryID)
			if err != nil {
				return Bill{}, err
			}
			if !ok {
				bad(ptr+"/tax_category_id", "no tax category %q in this company", l.TaxCategoryID)
			}
		}
		b.Lines = append(b.Lines, bl)
	}
	if len(fields) > 0 {
		return Bill{}, apperr.Fields(fields...)
	}
	if existing, taken, err := findByReference(ctx, tx, in.CompanyID, in.SupplierID, in.Kind, in.SupplierReference); err != nil {
		return Bill{}, err
	} else if taken {
		return Bill{}, referenceTaken(existing, in.SupplierReference)
	}
	if err := price(ctx, tx, co, &b); err != nil {
		return Bill{}, err
	}
	if b.Kind == KindBill {
		t, err := loadTerms(ctx, tx, in.CompanyID, sup.termsID)
		if err != nil {
			return Bill{}, err
		}
		if t != nil {
			b.DueDate = addDays(b.BillDate, t.NetDays)
			if t.DiscountPercent != nil && t.DiscountPercent.Sign() > 0 {
				b.DiscountPercent, b.DiscountDate = t.DiscountPercent, addDays(b.BillDate, t.DiscountDays)
			}
		}
	}
	if err := match(ctx, tx, co, o, &b); err != nil {
		return Bill{}, err
	}
	b.CreatedAt = tx.Now().UTC().Truncate(time.Microsecond)
	if err := insertBill(ctx, tx, &b); err != nil {
		if errors.Is(err, errReferenceTaken) {
			return Bill{}, referenceTaken("", in.SupplierReference)
		}
		return Bill{}, err
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: b.Kind + ".create", ResourceType: "bill", ResourceID: b.ID, CompanyID: b.CompanyID,
		Details: map[string]any{"supplier_id": b.SupplierID, "gross_total": b.GrossTotal.String(), "match_status": b.MatchStatus}}); err != nil {
		return Bill{}, err
	}
	if !in.Post {
		data, err := Get(ctx, tx, b.CompanyID, b.ID)
		if err != nil {
			return Bill{}, err
		}
		if _, err := events.Record(ctx, tx, events.Event{Type: EventCreated, Subject: b.ID, CompanyID: b.CompanyID, Data: data}); err != nil {
			return Bill{}, fmt.Errorf("bill %s: %w", b.ID, err)
		}
		return b, nil
	}
	return post(ctx, tx, co, sup, o, b)
}

func referenceTaken(existing, ref string) error {
	detail := "already entered"
	if existing != "" {
		detail = "already entered as " + existing
	}
	return apperr.New(apperr.Conflict, "The supplier's document %q is %s.", ref, detail).
		WithFields(apperr.FieldError{Pointer: "/supplier_reference", Detail: detail})
}

// price computes each line's net, input tax (at the company country's
// rate for the line's tax category, rounded half-even per line) and
// gross, and the totals.
func price(ctx context.Context, tx *db.Tx, co buyer, b *Bill) error {
	minor := b.Currency.MinorUnits()
	b.NetTotal, b.TaxTotal, b.GrossTotal, b.Taxes = money.Decimal{}, money.Decimal{}, money.Decimal{}, []BillTax{}
	for i := range b.Lines {
		l := &b.Lines[i]
		l.NetAmount = money.RoundAmount(l.Quantity.Mul(l.UnitPrice), b.Currency, money.HalfEven)
		l.TaxRate, l.TaxAmount = money.Decimal{}, money.Decimal{}
		if l.TaxCategoryID != "" {
			if co.country == "" {
				return apperr.Field(fmt.Sprintf("/lines/%d/tax_category_id", i),
					"The company has no address, so no country to take the input tax rate from; add one to the company.")
			}
			rate, err := pricing.TaxRate(ctx, tx, b.CompanyID, l.TaxCategoryID, co.country, co.region, b.BillDate)
			if err != nil {
				if e := apperr.As(err); e.Code == apperr.Invalid {
					return apperr.New(apperr.Invalid, "%s", e.Message).WithFields(apperr.FieldError{Pointer: fmt.Sprintf("/lines/%d/tax_category_id", i), Detail: e.Message})
				}
				return err
			}
			tax, err := l.NetAmount.Mul(rate).DivRound(hundred, minor, money.HalfEven)
			if err != nil {
				return fmt.Errorf("tax of bill line %d: %w", l.LineNo, err)
			}
			l.TaxRate, l.TaxAmount = rate.Normalize(), tax
		}
		l.GrossAmount = l.NetAmount.Add(l.TaxAmount)
		b.NetTotal, b.TaxTotal, b.GrossTotal = b.NetTotal.Add(l.NetAmount), b.TaxTotal.Add(l.TaxAmount), b.GrossTotal.Add(l.GrossAmount)
		if l.TaxAmount.IsZero() && l.TaxRate.IsZero() {
			continue
		}
		found := false
		for j := range b.Taxes {
			if t := &b.Taxes[j]; t.TaxCategoryID == l.TaxCategoryID && t.Rate.Equal(l.TaxRate) {
				t.Base, t.Amount, found = t.Base.Add(l.NetAmount), t.Amount.Add(l.TaxAmount), true
			}
		}
		if !found {
			b.Taxes = append(b.Taxes, BillTax{TaxCategoryID: l.TaxCategoryID, Rate: l.TaxRate, Base: l.NetAmount, Amount: l.TaxAmount})
		}
	}
	if b.GrossTotal.Sign() <= 0 {
		return apperr.Field("/lines", "The %s adds up to %s %s; it must be more than nothing.", b.Kind, b.GrossTotal, b.Currency)
	}
	return nil
}

// match does the three-way match of each order line billed: the quantity
// at most what was received and not yet billed (no quantity tolerance:
// receipts already carry the over-receipt tolerance), the unit price
// within the company's bill_price_tolerance_percent of the order's. It
// also values each order line at the receipts' price for GR/IR. A printed
// tax total that differs from the computed one is a mismatch of the whole
// bill. Credit notes are not matched (not_applicable), but their order
// lines are valued the same way so their posting mirrors the bill's.
func match(ctx context.Context, tx *db.Tx, co buyer, o order, b *Bill) error {
	anyOrder, mismatch := false, false
	b.MatchReasons = nil
	for i := range b.Lines {
		l := &b.Lines[i]
		l.Match, l.ReceiptValue, l.PriceDifference = nil, nil, nil
		if l.PurchaseOrderLineNo == 0 {
			continue
		}
		anyOrder = true
		ol, _ := o.line(l.PurchaseOrderLineNo)
		got, receiptPrice, err := received(ctx, tx, o.ID, l.PurchaseOrderLineNo)
		if err != nil {
			return err
		}
		m := BillMatch{Status: Matched, Ordered: ol.Quantity.Normalize(), Received: got.Normalize(), PreviouslyBilled: ol.BilledQuantity.Normalize(),
			OrderUnitPrice: ol.UnitPrice.Normalize(), ReceiptUnitPrice: receiptPrice.Normalize(), PriceTolerance: co.priceTolerance.Normalize()}
		open := got.Sub(ol.BilledQuantity)
		if open.IsNegative() {
			open = money.Decimal{}
		}
		if b.Kind == KindBill && l.Quantity.Cmp(open) > 0 {
			m.Reasons = append(m.Reasons, fmt.Sprintf("quantity %s is more than received and not yet billed (%s received, %s billed before)",
				l.Quantity, m.Received, m.PreviouslyBilled))
		}
		if b.Kind == KindBill {
			diff := l.UnitPrice.Sub(ol.UnitPrice).Abs()
			if ol.UnitPrice.IsZero() && diff.Sign() > 0 {
				m.Reasons = append(m.Reasons, fmt.Sprintf("unit price %s differs from the order's %s", l.UnitPrice, m.OrderUnitPrice))
			} else if ol.UnitPrice.Sign() > 0 && diff.Mul(hundred).Cmp(ol.UnitPrice.Mul(co.priceTolerance)) > 0 {
				m.Reasons = append(m.Reasons, fmt.Sprintf("unit price %s differs from the order's %s by more than %s %%", l.UnitPrice, m.OrderUnitPrice, m.PriceTolerance))
			}
		}
		if len(m.Reasons) > 0 {
			m.Status, mismatch = Mismatch, true
		}
		// GR/IR is cleared at what the receipts booked, for at most what
		// was received and is not yet billed; the rest of the net amount
		// (price difference, and any quantity billed beyond the receipts)
		// goes to cost of goods sold.
		q := l.Quantity
		if b.Kind == KindBill && q.Cmp(open) > 0 {
			q = open
		}
		value := money.RoundAmount(q.Mul(receiptPrice), b.Currency, money.HalfEven)
		if value.Cmp(l.NetAmount) > 0 && b.Kind == KindCreditNote {
			value = l.NetAmount
		}
		diff := l.NetAmount.Sub(value)
		l.ReceiptValue, l.PriceDifference = &value, &diff
		if b.Kind == KindBill {
			l.Match = &m
		}
	}
	if b.Kind == KindBill && b.PrintedTaxTotal != nil && !b.PrintedTaxTotal.Equal(b.TaxTotal) {
		b.MatchReasons = append(b.MatchReasons, fmt.Sprintf("the printed tax total %s differs from the computed %s", b.PrintedTaxTotal.Normalize(), b.TaxTotal))
		mismatch = true
	}
	switch {
	case b.MatchStatus == Approved:
		// An approval stands: finance accepted the differences.
	case b.Kind == KindCreditNote || (!anyOrder && !mismatch):
		b.MatchStatus = NotApplicable
	case mismatch:
		b.MatchStatus = Mismatch
	default:
		b.MatchStatus = Matched
	}
	return nil
}

// Post numbers a draft bill and posts it; a posted one is returned as it
// is.
func Post(ctx context.Context, tx *db.Tx, companyID, billID string) (Bill, error) {
	b, err := loadBill(ctx, tx, companyID, billID, true)
	if err != nil || b.Status == Posted {
		return b, err
	}
	co, err := loadBuyer(ctx, tx, companyID)
	if err != nil {
		return Bill{}, err
	}
	sup, _, err := loadSupplier(ctx, tx, companyID, b.SupplierID)
	if err != nil {
		return Bill{}, err
	}
	var o order
	if b.PurchaseOrderID != "" {
		if o, _, err = loadOrder(ctx, tx, companyID, b.PurchaseOrderID, true); err != nil {
			return Bill{}, err
		}
		// What was received and billed may have changed since the draft.
		if err := match(ctx, tx, co, o, &b); err != nil {
			return Bill{}, err
		}
	}
	return post(ctx, tx, co, sup, o, b)
}

// post takes the bill's number and books it: line 1 the payable (credit;
// a debit settling the credited bill's payable for a credit note), then
// per line GR/IR at the receipt value with the price difference to cost
// of goods sold, or the service's account, then input tax per rate. Order
// lines add to the order's billed quantities.
func post(ctx context.Context, tx *db.Tx, co buyer, sup supplier, o order, b Bill) (Bill, error) {
	n, err := nextNumber(ctx, tx, b.CompanyID)
	if err != nil {
		return Bill{}, err
	}
	b.Number = n
	cur := b.Currency
	if cur == co.base {
		cur = ""
	}
	isBill := b.Kind == KindBill
	// side books a bill's cost lines as debits, a credit note's as credits.
	side := func(account string, v money.Decimal, cost bool, memo string) ledger.Line {
		l := ledger.Line{AccountID: account, Currency: cur, Memo: memo}
		if cost == isBill {
			l.Debit = v
		} else {
			l.Credit = v
		}
		return l
	}
	payables, err := rules.Determine(ctx, tx, b.CompanyID, "payables", rules.Keys{SupplierGroup: sup.group})
	if err != nil {
		return Bill{}, err
	}
	memo := fmt.Sprintf("Bill %d %s", b.Number, b.SupplierReference)
	first := side(payables, b.GrossTotal, false, memo)
	if !isBill {
		if first.Settles, err = creditSettles(ctx, tx, b); err != nil {
			return Bill{}, err
		}
		if first.Settles != nil {
			first.AccountID, err = lineAccount(ctx, tx, *first.Settles)
			if err != nil {
				return Bill{}, err
			}
		}
	}
	lines := []ledger.Line{first}
	billed := map[int]money.Decimal{}
	for _, l := range b.Lines {
		if l.PurchaseOrderLineNo == 0 {
			if l.NetAmount.Sign() > 0 {
				lines = append(lines, side(l.AccountID, l.NetAmount, true, l.Description))
			}
			continue
		}
		q := l.Quantity
		if !isBill {
			q = q.Neg()
		}
		billed[l.PurchaseOrderLineNo] = billed[l.PurchaseOrderLineNo].Add(q)
		keys := rules.Keys{ProductID: l.ProductID, SupplierGroup: sup.group}
		if v := l.ReceiptValue; v != nil && v.Sign() > 0 {
			grir, err := rules.Determine(ctx, tx, b.CompanyID, "grir_clearing", keys)
			if err != nil {
				return Bill{}, err
			}
			lines = append(lines, side(grir, *v, true, fmt.Sprintf("Order line %d received", l.PurchaseOrderLineNo)))
		}
		if d := l.PriceDifference; d != nil && !d.IsZero() {
			cogs, err := rules.Determine(ctx, tx, b.CompanyID, "cogs", keys)
			if err != nil {
				return Bill{}, err
			}
			// A bill below the receipt price is a negative difference: the
			// other side of the same account.
			lines = append(lines, side(cogs, d.Abs(), d.Sign() > 0, fmt.Sprintf("Order line %d price difference", l.PurchaseOrderLineNo)))
		}
	}
	for _, t := range b.Taxes {
		if t.Amount.Sign() <= 0 {
			continue
		}
		acct, err := rules.Determine(ctx, tx, b.CompanyID, "tax_receivable", rules.Keys{TaxCategoryID: t.TaxCategoryID})
		if err != nil {
			return Bill{}, err
		}
		lines = append(lines, side(acct, t.Amount, true, "Input tax "+t.Rate.String()+" %"))
	}
	entry, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: b.CompanyID, Date: b.BillDate, Currency: co.base, SourceType: SourceType,
		SourceID: b.ID, Purpose: PurposePayable, Memo: memo, Lines: lines})
	if err != nil {
		return Bill{}, err
	}
	now := tx.Now().UTC().Truncate(time.Microsecond)
	b.Status, b.PostedAt, b.JournalEntryID, b.PayableLineNo = Posted, &now, entry.ID, 1
	if !isBill {
		b.PaymentStatus = Paid // nothing to pay out on a credit note
	}
	if err := saveBill(ctx, tx, &b); err != nil {
		return Bill{}, err
	}
	if len(billed) > 0 {
		if err := addBilled(ctx, tx, b.CompanyID, o.ID, billed); err != nil {
			return Bill{}, err
		}
	}
	if !isBill && first.Settles != nil {
		if err := refreshPaymentStatus(ctx, tx, b.CompanyID, b.CreditOf); err != nil {
			return Bill{}, err
		}
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventPosted, Subject: b.ID, CompanyID: b.CompanyID, Data: b}); err != nil {
		return Bill{}, fmt.Errorf("bill %s: %w", b.ID, err)
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: b.Kind + ".post", ResourceType: "bill", ResourceID: b.ID, CompanyID: b.CompanyID,
		Details: map[string]any{"number": b.Number, "gross_total": b.GrossTotal.String(), "match_status": b.MatchStatus}}); err != nil {
		return Bill{}, err
	}
	return b, withOpen(ctx, tx, &b)
}

// creditSettles is the credited bill's payable line when what it has
// open covers the credit note; otherwise the credit note stays a debit on
// the supplier's payables (credit to use on a later bill).
func creditSettles(ctx context.Context, tx *db.Tx, cn Bill) (*ledger.LineRef, error) {
	orig, err := loadBill(ctx, tx, cn.CompanyID, cn.CreditOf, false)
	if err != nil || orig.JournalEntryID == "" {
		return nil, err
	}
	ref := ledger.LineRef{EntryID: orig.JournalEntryID, LineNo: orig.PayableLineNo}
	open, _, found, err := ledger.OpenAmount(ctx, tx, cn.CompanyID, ref)
	if err != nil || !found || open.Neg().Cmp(cn.GrossTotal) < 0 {
		return nil, err
	}
	return &ref, nil
}

func lineAccount(ctx context.Context, tx *db.Tx, ref ledger.LineRef) (string, error) {
	var account string
	if err := tx.QueryRowContext(ctx, "SELECT account_id FROM journal_lines WHERE entry_id = $1 AND line_no = $2", ref.EntryID, ref.LineNo).Scan(&account); err != nil {
		return "", fmt.Errorf("account of %s line %d: %w", ref.EntryID, ref.LineNo, err)
	}
	return account, nil
}

// refreshPaymentStatus sets a bill's payment status from what its payable
// line has left open.
func refreshPaymentStatus(ctx context.Context, tx *db.Tx, companyID, billID string) error {
	b, err := loadBill(ctx, tx, companyID, billID, false)
	if err != nil || b.JournalEntryID == "" {
		return err
	}
	open, err := openOfLine(ctx, tx, b.JournalEntryID, b.PayableLineNo)
	if err != nil {
		return err
	}
	status := PartiallyPaid
	switch {
	case open.Sign() <= 0:
		status = Paid
	case open.Equal(b.GrossTotal):
		status = Unpaid
	}
	if err := setPaymentStatus(ctx, tx, companyID, billID, status); err != nil {
		return err
	}
	event := map[string]string{Paid: EventBillPaid, PartiallyPaid: EventBillPartiallyPaid}[status]
	if event == "" {
		return nil
	}
	// Read back: the event carries the bill as GET returns it now.
	data, err := Get(ctx, tx, companyID, billID)
	if err != nil {
		return err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: billID, CompanyID: companyID, Data: data}); err != nil {
		return fmt.Errorf("bill %s: %w", billID, err)
	}
	return nil
}

// Approve releases a mismatched bill for payment. Finance approves; the
// approving client is kept on the bill and in the audit log.
func Approve(ctx context.Context, tx *db.Tx, companyID, billID string) (Bill, error) {
	b, err := loadBill(ctx, tx, companyID, billID, true)
	if err != nil {
		return Bill{}, err
	}
	if b.MatchStatus != Mismatch {
		return Bill{}, apperr.New(apperr.Conflict, "Bill %s is %s; only mismatched bills are approved.", b.ID, b.MatchStatus).
			WithFields(apperr.FieldError{Pointer: "/match_status", Detail: b.MatchStatus})
	}
	p, _ := auth.FromContext(ctx)
	now := tx.Now().UTC().Truncate(time.Microsecond)
	b.MatchStatus, b.ApprovedBy, b.ApprovedAt = Approved, p.ClientID, &now
	if err := saveBill(ctx, tx, &b); err != nil {
		return Bill{}, err
	}
	reasons := append([]string(nil), b.MatchReasons...)
	for _, l := range b.Lines {
		if l.Match != nil {
			reasons = append(reasons, l.Match.Reasons...)
		}
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventApproved, Subject: b.ID, CompanyID: b.CompanyID, Data: b}); err != nil {
		return Bill{}, fmt.Errorf("bill %s: %w", b.ID, err)
	}
	if err := audit.Record(ctx, tx, audit.Entry{Action: "bill.approve", ResourceType: "bill", ResourceID: b.ID, CompanyID: b.CompanyID,
		Details: map[string]any{"approved_by": p.ClientID, "reasons": reasons}}); err != nil {
		return Bill{}, err
	}
	return b, withOpen(ctx, tx, &b)
}

// Get reads a bill with its open amount.
func Get(ctx context.Context, q db.Querier, companyID, id string) (Bill, error) {
	b, err := loadBill(ctx, q, companyID, id, false)
	if err != nil {
		return b, err
	}
	return b, withOpen(ctx, q, &b)
}

// Payable is what may be paid of a bill now: its open amount, or 409 when
// it cannot be paid (a draft, a credit note, or a mismatch not yet
// approved). In a transaction the bill's row is locked.
func Payable(ctx context.Context, q db.Querier, companyID, billID string) (money.Decimal, error) {
	b, err := loadBill(ctx, q, companyID, billID, true)
	if err != nil {
		return money.Decimal{}, err
	}
	switch {
	case b.Kind != KindBill:
		return money.Decimal{}, apperr.New(apperr.Conflict, "%s is a supplier credit note, not a bill to pay.", b.ID)
	case b.Status != Posted:
		return money.Decimal{}, apperr.New(apperr.Conflict, "Bill %s is a draft; post it before paying it.", b.ID)
	case b.MatchStatus == Mismatch:
		return money.Decimal{}, apperr.New(apperr.Conflict, "Bill %s does not match its order and receipts; finance must approve it (POST /v1/bills/%s/approve) before it is paid.", b.ID, b.ID)
	}
	return openOfLine(ctx, q, b.JournalEntryID, b.PayableLineNo)
}

// addBilled adds billed quantities (negative for a credit note) to an
// order's lines through the orders module, which holds the order's row,
// and marks a fully received order billed once every line is billed in
// full (or back to received when a credit note takes some back).
func addBilled(ctx context.Context, tx *db.Tx, companyID, orderID string, add map[int]money.Decimal) error {
	_, err := orders.Update(ctx, tx, companyID, orderID, func(o *orders.PurchaseOrder) error {
		full := len(o.Lines) > 0
		for i := range o.Lines {
			l := &o.Lines[i]
			if d, ok := add[l.LineNo]; ok {
				l.BilledQuantity = l.BilledQuantity.Add(d)
				if l.BilledQuantity.IsNegative() {
					l.BilledQuantity = money.Decimal{}
				}
				l.BilledQuantity = l.BilledQuantity.Normalize()
			}
			full = full && l.BilledQuantity.Cmp(l.Quantity) >= 0
		}
		switch {
		case full && o.Status == orders.Received:
			o.Status = orders.Billed
		case !full && o.Status == orders.Billed:
			o.Status = orders.Received
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bill quantities of purchase order %s: %w", orderID, err)
	}
	return nil
}

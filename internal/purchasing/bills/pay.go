package bills

import (
	"context"
	"fmt"
	"github.com/mainstay-erp/mainstay/internal/company"
	"sort"
	"time"

	"github.com/mainstay-erp/mainstay/internal/ledger"
	"github.com/mainstay-erp/mainstay/internal/ledger/rules"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// PayBills pays bills of one supplier and returns the payment's id; see
// Pay. It is the call the payment run makes, once per supplier, inside
// its own transaction.
func PayBills(ctx context.Context, tx *db.Tx, companyID string, in PayInput) (string, error) {
	p, err := Pay(ctx, tx, companyID, in)
	return p.ID, err
}

// Pay records an outgoing payment as one entry: each allocated bill's
// payable line debited and settled (Line.Settles, so the ledger keeps
// what is open and realizes exchange differences in a foreign currency),
// the rest debited to payables as an advance, the bank credited. A bill
// that is a draft, a credit note or a mismatch not yet approved is 409,
// as is an allocation above what is open.
func Pay(ctx context.Context, tx *db.Tx, companyID string, in PayInput) (SupplierPayment, error) {
	co, err := loadBuyer(ctx, tx, companyID)
	if err != nil {
		return SupplierPayment{}, err
	}
	var fields []apperr.FieldError
	bad := func(ptr, format string, args ...any) {
		fields = append(fields, apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf(format, args...)})
	}
	sup, found, err := loadSupplier(ctx, tx, companyID, in.SupplierID)
	if err != nil {
		return SupplierPayment{}, err
	}
	if !found {
		bad("/supplier_id", "no supplier %q in this company", in.SupplierID)
	}
	if in.Currency == "" {
		in.Currency = sup.currency
	}
	if in.Currency == "" {
		in.Currency = co.base
	}
	amountOK := func(ptr string, a money.Decimal) {
		switch {
		case a.Sign() <= 0:
			bad(ptr, "must be greater than 0")
		case in.Currency.Valid() && !money.RoundAmount(a, in.Currency, money.HalfEven).Equal(a):
			bad(ptr, "%s has more decimals than %s allows (%d)", a, in.Currency, in.Currency.MinorUnits())
		}
	}
	if !in.Currency.Valid() {
		bad("/currency", "%q is not an ISO 4217 currency", in.Currency)
	}
	amountOK("/amount", in.Amount)
	if in.Date == "" {
		in.Date = company.LocalDate(co.zone, tx.Now())
	} else if !validDate(in.Date) {
		bad("/date", "must be a date YYYY-MM-DD")
	}
	if in.BankAccountID == "" {
		if in.BankAccountID, err = rules.Determine(ctx, tx, companyID, "bank", rules.Keys{}); err != nil {
			return SupplierPayment{}, err
		}
	} else if ok, err := accountOfType(ctx, tx, companyID, in.BankAccountID, "asset"); err != nil {
		return SupplierPayment{}, err
	} else if !ok {
		bad("/bank_account_id", "not an active asset account of this company")
	}
	type target struct {
		index  int
		bill   Bill
		amount money.Decimal
	}
	var (
		targets []target
		sum     money.Decimal
		seen    = map[string]bool{}
	)
	for i, a := range in.Allocations {
		ptr := fmt.Sprintf("/allocations/%d", i)
		amountOK(ptr+"/amount", a.Amount)
		sum = sum.Add(a.Amount)
		if seen[a.BillID] {
			bad(ptr+"/bill_id", "the bill is allocated twice; give it one allocation")
			continue
		}
		seen[a.BillID] = true
		b, err := loadBill(ctx, tx, companyID, a.BillID, false)
		if apperr.CodeOf(err) == apperr.NotFound {
			bad(ptr+"/bill_id", "no bill %q in this company", a.BillID)
			continue
		} else if err != nil {
			return SupplierPayment{}, err
		}
		switch {
		case b.SupplierID != in.SupplierID:
			bad(ptr+"/bill_id", "the bill is another supplier's")
		case b.Currency != in.Currency:
			bad(ptr+"/bill_id", "the bill is in %s, the payment in %s", b.Currency, in.Currency)
		default:
			targets = append(targets, target{index: i, bill: b, amount: a.Amount})
		}
	}
	var discounts money.Decimal
	for billID, d := range in.Discounts {
		if !seen[billID] {
			bad("/discounts", "bill %s has a discount but no allocation", billID)
		}
		if d.IsNegative() {
			bad("/discounts", "the discount of bill %s is negative", billID)
		}
		discounts = discounts.Add(d)
	}
	if discounts.Sign() > 0 {
		if ok, err := accountOfType(ctx, tx, companyID, in.DiscountAccountID, "income"); err != nil {
			return SupplierPayment{}, err
		} else if !ok {
			bad("/discount_account_id", "not an active income account of this company")
		}
	}
	if len(fields) > 0 {
		return SupplierPayment{}, apperr.Fields(fields...)
	}
	if sum.Cmp(in.Amount) > 0 {
		return SupplierPayment{}, apperr.Field("/allocations", "The allocations add up to %s, more than the payment's %s.", sum.Normalize(), in.Amount.Normalize())
	}
	// Lock the bills in a stable order, so two payments of the same bills
	// queue instead of deadlocking; Payable refuses blocked bills and the
	// ledger's OpenAmount then locks each payable line.
	locked := append([]target(nil), targets...)
	sort.Slice(locked, func(i, j int) bool { return locked[i].bill.ID < locked[j].bill.ID })
	for _, t := range locked {
		ptr := fmt.Sprintf("/allocations/%d", t.index)
		open, err := Payable(ctx, tx, companyID, t.bill.ID)
		if err != nil {
			if e := apperr.As(err); e.Code == apperr.Conflict {
				return SupplierPayment{}, apperr.New(apperr.Conflict, "%s", e.Message).WithFields(apperr.FieldError{Pointer: ptr + "/bill_id", Detail: e.Message})
			}
			return SupplierPayment{}, err
		}
		if _, _, _, err := ledger.OpenAmount(ctx, tx, companyID, ledger.LineRef{EntryID: t.bill.JournalEntryID, LineNo: t.bill.PayableLineNo}); err != nil {
			return SupplierPayment{}, err
		}
		if settled := t.amount.Add(in.Discounts[t.bill.ID]); settled.Cmp(open) > 0 {
			return SupplierPayment{}, apperr.New(apperr.Conflict, "Bill %s has %s %s open; the allocation is %s.", t.bill.ID, open, in.Currency, settled.Normalize()).
				WithFields(apperr.FieldError{Pointer: ptr + "/amount", Detail: fmt.Sprintf("bill %s has %s open", t.bill.ID, open)})
		}
	}
	payables, err := rules.Determine(ctx, tx, companyID, "payables", rules.Keys{SupplierGroup: sup.group})
	if err != nil {
		return SupplierPayment{}, err
	}
	now := tx.Now().UTC().Truncate(time.Microsecond)
	p := SupplierPayment{ID: id.New("pay"), CompanyID: companyID, Direction: "outgoing", SupplierID: in.SupplierID, Currency: in.Currency,
		Amount: in.Amount, Date: in.Date, BankAccountID: in.BankAccountID, Reference: in.Reference, Unapplied: in.Amount.Sub(sum),
		Allocations: []SupplierPaymentAllocation{}, CreatedAt: now}
	cur := in.Currency
	if cur == co.base {
		cur = ""
	}
	var lines []ledger.Line
	for _, t := range targets {
		ref := ledger.LineRef{EntryID: t.bill.JournalEntryID, LineNo: t.bill.PayableLineNo}
		account, err := lineAccount(ctx, tx, ref)
		if err != nil {
			return SupplierPayment{}, err
		}
		lines = append(lines, ledger.Line{AccountID: account, Debit: t.amount.Add(in.Discounts[t.bill.ID]), Currency: cur, Settles: &ref, Memo: "Bill " + t.bill.ID})
	}
	if discounts.Sign() > 0 {
		lines = append(lines, ledger.Line{AccountID: in.DiscountAccountID, Credit: discounts, Currency: cur, Memo: "Early-payment discounts taken"})
	}
	if p.Unapplied.Sign() > 0 {
		lines = append(lines, ledger.Line{AccountID: payables, Debit: p.Unapplied, Currency: cur, Memo: "Advance to supplier"})
	}
	lines = append(lines, ledger.Line{AccountID: in.BankAccountID, Credit: in.Amount, Currency: cur, Memo: "Supplier payment " + p.ID})
	entry, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: companyID, Date: in.Date, Currency: co.base, SourceType: PaymentSourceType,
		SourceID: p.ID, Purpose: PurposeDisbursement, Memo: "Supplier payment " + p.ID, Lines: lines})
	if err != nil {
		return SupplierPayment{}, err
	}
	p.JournalEntryID = entry.ID
	if err := insertPayment(ctx, tx, &p); err != nil {
		return SupplierPayment{}, err
	}
	for i, t := range targets {
		a := SupplierPaymentAllocation{ID: id.New("balloc"), BillID: t.bill.ID, Amount: t.amount, Date: in.Date, JournalEntryID: entry.ID, LineNo: i + 1}
		if err := insertAllocation(ctx, tx, &p, &a, now); err != nil {
			return SupplierPayment{}, err
		}
		p.Allocations = append(p.Allocations, a)
		if err := refreshPaymentStatus(ctx, tx, companyID, t.bill.ID); err != nil {
			return SupplierPayment{}, err
		}
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventPaid, Subject: p.ID, CompanyID: companyID, Data: p}); err != nil {
		return SupplierPayment{}, fmt.Errorf("supplier payment %s: %w", p.ID, err)
	}
	return p, audit.Record(ctx, tx, audit.Entry{Action: "supplier_payment.create", ResourceType: "payment", ResourceID: p.ID, CompanyID: companyID,
		Details: map[string]any{"supplier_id": p.SupplierID, "amount": p.Amount.String(), "currency": string(p.Currency)}})
}

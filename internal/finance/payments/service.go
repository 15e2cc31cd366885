package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	companies "github.com/mainstay-erp/mainstay/internal/company"
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
	"github.com/mainstay-erp/mainstay/internal/sales/invoicing"
	"github.com/mainstay-erp/mainstay/internal/sales/orders"
)

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// hash fingerprints what a payment asks for, so that a retry with the same
// external_id and content returns the payment and other content is 409.
func (in CreateInput) hash() string {
	b, _ := json.Marshal(struct {
		Customer, Currency, Date, Bank, Reference string
		Amount                                    string
		Rate                                      *money.Decimal
		Allocations                               []PaymentAllocationInput
	}{in.CustomerID, string(in.Currency), in.Date, in.BankAccountID, in.Reference, in.Amount.Normalize().String(), in.Rate, in.Allocations})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// amountField checks a positive amount with no more decimals than the
// currency's minor unit.
func amountField(ptr string, a money.Decimal, cur money.Currency) *apperr.FieldError {
	switch {
	case a.Sign() <= 0:
		return &apperr.FieldError{Pointer: ptr, Detail: "must be greater than 0"}
	case cur.Valid() && !money.RoundAmount(a, cur, money.HalfEven).Equal(a):
		return &apperr.FieldError{Pointer: ptr, Detail: fmt.Sprintf("%s has more decimals than %s allows (%d)", a, cur, cur.MinorUnits())}
	}
	return nil
}

// target is one allocation checked against its invoice.
type target struct {
	index  int
	inv    invoice
	amount money.Decimal
}

// checkAllocations validates allocations (422 at each field) and then,
// with each invoice's receivable line locked in a stable order (so two
// payments of the same invoices queue instead of deadlocking), that none
// takes more than is open (409 at /allocations/N/amount).
func checkAllocations(ctx context.Context, tx *db.Tx, companyID, customerID string, cur money.Currency, allocs []PaymentAllocationInput) ([]target, money.Decimal, error) {
	var (
		fields []apperr.FieldError
		out    []target
		sum    money.Decimal
		seen   = map[string]bool{}
	)
	for i, a := range allocs {
		ptr := fmt.Sprintf("/allocations/%d", i)
		if f := amountField(ptr+"/amount", a.Amount, cur); f != nil {
			fields = append(fields, *f)
		}
		sum = sum.Add(a.Amount)
		if seen[a.InvoiceID] {
			fields = append(fields, apperr.FieldError{Pointer: ptr + "/invoice_id", Detail: "the invoice is allocated twice; give it one allocation"})
			continue
		}
		seen[a.InvoiceID] = true
		inv, found, err := loadInvoice(ctx, tx, companyID, a.InvoiceID)
		if err != nil {
			return nil, sum, err
		}
		detail := ""
		switch {
		case !found:
			detail = fmt.Sprintf("no invoice %q in this company", a.InvoiceID)
		case inv.Kind != "invoice":
			detail = "a credit note cannot be paid"
		case inv.Status != "finalized" || inv.EntryID == "" || inv.Account == "":
			detail = "the invoice is not finalized"
		case inv.CustomerID != customerID:
			detail = "the invoice is another customer's"
		case inv.Currency != cur:
			detail = fmt.Sprintf("the invoice is in %s, the payment in %s", inv.Currency, cur)
		}
		if detail != "" {
			fields = append(fields, apperr.FieldError{Pointer: ptr + "/invoice_id", Detail: detail})
			continue
		}
		out = append(out, target{index: i, inv: inv, amount: a.Amount})
	}
	if len(fields) > 0 {
		return nil, sum, apperr.Fields(fields...)
	}
	locked := append([]target(nil), out...)
	sort.Slice(locked, func(i, j int) bool { return locked[i].inv.EntryID < locked[j].inv.EntryID })
	var conflicts []apperr.FieldError
	for _, t := range locked {
		open, err := openOf(ctx, tx, companyID, t.inv)
		if err != nil {
			return nil, sum, err
		}
		if t.amount.Cmp(open) > 0 {
			conflicts = append(conflicts, apperr.FieldError{Pointer: fmt.Sprintf("/allocations/%d/amount", t.index),
				Detail: fmt.Sprintf("invoice %s has %s %s open", t.inv.ID, open.Normalize(), cur)})
		}
	}
	if len(conflicts) > 0 {
		return nil, sum, apperr.New(apperr.Conflict, "An allocation is more than its invoice has open: %s.", conflicts[0].Detail).WithFields(conflicts...)
	}
	return out, sum, nil
}

// Create records an incoming payment and posts it as one entry: the bank
// debited, each allocated invoice's receivable settled, and the rest kept
// as unapplied credit on the customer's receivables account. The bool is
// false when external_id returned an existing payment.
func Create(ctx context.Context, tx *db.Tx, in CreateInput) (Payment, bool, error) {
	hash := in.hash()
	if in.ExternalID != "" {
		existing, found, err := findByExternal(ctx, tx, in.CompanyID, in.ExternalID)
		if err != nil {
			return Payment{}, false, err
		}
		if found {
			p, h, err := loadPayment(ctx, tx, in.CompanyID, existing, false)
			if err != nil {
				return Payment{}, false, err
			}
			if h != hash {
				return Payment{}, false, apperr.New(apperr.Conflict, "Payment %s has external_id %q with other content.", p.ID, in.ExternalID).
					WithFields(apperr.FieldError{Pointer: "/external_id", Detail: "used by payment " + p.ID})
			}
			return p, false, nil
		}
	}
	co, err := loadCompany(ctx, tx, in.CompanyID)
	if err != nil {
		return Payment{}, false, err
	}
	cust, found, err := loadCustomer(ctx, tx, in.CompanyID, in.CustomerID)
	if err != nil {
		return Payment{}, false, err
	}
	var fields []apperr.FieldError
	if !found {
		fields = append(fields, apperr.FieldError{Pointer: "/customer_id", Detail: fmt.Sprintf("no customer %q in this company", in.CustomerID)})
	}
	if in.Currency == "" {
		in.Currency = cust.currency
	}
	if in.Currency == "" {
		in.Currency = co.base
	}
	if !in.Currency.Valid() {
		fields = append(fields, apperr.FieldError{Pointer: "/currency", Detail: fmt.Sprintf("%q is not an ISO 4217 currency", in.Currency)})
	}
	if f := amountField("/amount", in.Amount, in.Currency); f != nil {
		fields = append(fields, *f)
	}
	if in.Date == "" {
		in.Date = companies.LocalDate(co.zone, tx.Now())
	} else if !validDate(in.Date) {
		fields = append(fields, apperr.FieldError{Pointer: "/date", Detail: "must be a date YYYY-MM-DD"})
	}
	if in.Rate != nil && (in.Rate.Sign() <= 0 || in.Currency == co.base) {
		fields = append(fields, apperr.FieldError{Pointer: "/rate", Detail: "a rate is positive and only for a payment in another currency than the company's"})
	}
	if in.BankAccountID == "" {
		if in.BankAccountID, err = rules.Determine(ctx, tx, in.CompanyID, "bank", rules.Keys{}); err != nil {
			return Payment{}, false, err
		}
	} else if ok, err := bankAccount(ctx, tx, in.CompanyID, in.BankAccountID); err != nil {
		return Payment{}, false, err
	} else if !ok {
		fields = append(fields, apperr.FieldError{Pointer: "/bank_account_id", Detail: "not an active asset account of this company"})
	}
	if len(fields) > 0 {
		return Payment{}, false, apperr.Fields(fields...)
	}
	targets, sum, err := checkAllocations(ctx, tx, in.CompanyID, in.CustomerID, in.Currency, in.Allocations)
	if err != nil {
		return Payment{}, false, err
	}
	if sum.Cmp(in.Amount) > 0 {
		return Payment{}, false, apperr.Field("/allocations", "The allocations add up to %s, more than the payment's %s.", sum.Normalize(), in.Amount.Normalize())
	}
	receivables, err := rules.Determine(ctx, tx, in.CompanyID, "receivables", rules.Keys{CustomerGroup: cust.group})
	if err != nil {
		return Payment{}, false, err
	}

	now := tx.Now().UTC().Truncate(time.Microsecond)
	p := Payment{ID: id.New("pay"), CompanyID: in.CompanyID, ExternalID: in.ExternalID, Direction: Incoming, Status: "posted",
		CustomerID: in.CustomerID, Currency: in.Currency, Amount: in.Amount, Date: in.Date, Rate: in.Rate, BankAccountID: in.BankAccountID,
		Reference: in.Reference, Unapplied: in.Amount.Sub(sum), CreatedAt: now, Allocations: []PaymentAllocation{}}
	var rate money.Decimal
	if in.Rate != nil {
		rate = *in.Rate
	}
	cur := lineCurrency(in.Currency, co.base)
	lines := []ledger.Line{{AccountID: in.BankAccountID, Debit: in.Amount, Currency: cur, Rate: rate, Memo: "Payment " + p.ID}}
	for _, t := range targets {
		lines = append(lines, ledger.Line{AccountID: t.inv.Account, Credit: t.amount, Currency: cur,
			Settles: settles(t.inv.EntryID, t.inv.LineNo), Memo: "Invoice " + t.inv.ID})
	}
	if p.Unapplied.Sign() > 0 {
		lines = append(lines, ledger.Line{AccountID: receivables, Credit: p.Unapplied, Currency: cur, Rate: rate, Memo: "Unapplied credit"})
		p.UnappliedLineNo = len(lines)
	}
	entry, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: in.CompanyID, Date: in.Date, Currency: co.base, SourceType: SourceType,
		SourceID: p.ID, Purpose: PurposeReceipt, Memo: "Customer payment " + p.ID, Lines: lines})
	if err != nil {
		return Payment{}, false, err
	}
	p.JournalEntryID = entry.ID
	if err := insertPayment(ctx, tx, &p, hash); err != nil {
		if err == errExternalTaken {
			return Payment{}, false, apperr.New(apperr.Conflict, "A payment with external_id %q was just recorded; retry to get it.", in.ExternalID).
				WithFields(apperr.FieldError{Pointer: "/external_id", Detail: "taken"})
		}
		return Payment{}, false, err
	}
	for i, t := range targets {
		a := PaymentAllocation{ID: id.New("palloc"), Kind: "invoice", InvoiceID: t.inv.ID, Amount: t.amount, Date: in.Date,
			JournalEntryID: entry.ID, LineNo: i + 2, CreatedAt: now}
		if err := insertAllocation(ctx, tx, p.ID, p.CompanyID, &a); err != nil {
			return Payment{}, false, err
		}
		p.Allocations = append(p.Allocations, a)
	}
	if err := settleStatuses(ctx, tx, in.CompanyID, targets); err != nil {
		return Payment{}, false, err
	}
	return p, true, record(ctx, tx, &p, "payment.create", EventReceived)
}

// lineCurrency leaves the company currency implicit on ledger lines.
func lineCurrency(cur, base money.Currency) money.Currency {
	if cur == base {
		return ""
	}
	return cur
}

// openOf is what is left to pay of an invoice, in its currency: what the
// ledger has open of its receivable line, which every payment settles
// (Line.Settles; in a foreign currency valued at the carrying value).
// OpenAmount locks the receivable line first (PostgreSQL), so two payments
// of one invoice queue and the second sees what the first left.
func openOf(ctx context.Context, tx *db.Tx, companyID string, inv invoice) (money.Decimal, error) {
	open, _, found, err := ledger.OpenAmount(ctx, tx, companyID, ledger.LineRef{EntryID: inv.EntryID, LineNo: inv.LineNo})
	if err != nil {
		return money.Decimal{}, err
	}
	if !found {
		return money.Decimal{}, fmt.Errorf("invoice %s: receivable line %s/%d not found", inv.ID, inv.EntryID, inv.LineNo)
	}
	return open, nil
}

// settles is the reference a line settling ref carries.
func settles(entryID string, lineNo int) *ledger.LineRef {
	return &ledger.LineRef{EntryID: entryID, LineNo: lineNo}
}

// settleStatuses sets each settled invoice's payment status from what its
// receivable line has left open, and then its order's: an order is paid
// when it is fully invoiced and every invoice is paid, partially paid when
// any invoice is paid in part or in full, else unpaid.
func settleStatuses(ctx context.Context, tx *db.Tx, companyID string, targets []target) error {
	orderIDs := map[string]bool{}
	for _, t := range targets {
		open, err := openOf(ctx, tx, companyID, t.inv)
		if err != nil {
			return err
		}
		status := PartiallyPaid
		if open.Sign() <= 0 {
			status = Paid
		}
		if err := setInvoicePaymentStatus(ctx, tx, companyID, t.inv.ID, status); err != nil {
			return err
		}
		if err := invoicing.RecordPayment(ctx, tx, companyID, t.inv.ID); err != nil {
			return err
		}
		if t.inv.SalesOrderID != "" {
			orderIDs[t.inv.SalesOrderID] = true
		}
	}
	ids := make([]string, 0, len(orderIDs))
	for o := range orderIDs {
		ids = append(ids, o)
	}
	sort.Strings(ids) // a stable lock order
	for _, orderID := range ids {
		statuses, err := orderInvoiceStatuses(ctx, tx, companyID, orderID)
		if err != nil {
			return err
		}
		_, err = orders.Update(ctx, tx, companyID, orderID, func(o *orders.SalesOrder) error {
			o.PaymentStatus = orderStatus(statuses, o.InvoicingStatus == "invoiced")
			return nil
		})
		// An invoice may name an order that is gone from this company (a
		// hand-made invoice); its own status is still right.
		if err != nil && apperr.CodeOf(err) != apperr.NotFound {
			return err
		}
	}
	return nil
}

func orderStatus(invoiceStatuses []string, fullyInvoiced bool) string {
	paid, some := 0, false
	for _, s := range invoiceStatuses {
		switch s {
		case Paid:
			paid++
			some = true
		case PartiallyPaid:
			some = true
		}
	}
	switch {
	case fullyInvoiced && len(invoiceStatuses) > 0 && paid == len(invoiceStatuses):
		return Paid
	case some:
		return PartiallyPaid
	}
	return Unpaid
}

// Apply applies a payment's unapplied credit to invoices: one entry
// debiting receivables against the payment's unapplied line and crediting
// each invoice's receivable line. In a foreign currency the two lines
// carry different values (the payment's rate and the invoice's), and the
// ledger posts the difference as a realized exchange gain or loss.
func Apply(ctx context.Context, tx *db.Tx, companyID, paymentID string, in ApplyInput) (Payment, error) {
	p, _, err := loadPayment(ctx, tx, companyID, paymentID, true)
	if err != nil {
		return Payment{}, err
	}
	co, err := loadCompany(ctx, tx, companyID)
	if err != nil {
		return Payment{}, err
	}
	if len(in.Allocations) == 0 {
		return Payment{}, apperr.Field("/allocations", "Give at least one allocation.")
	}
	date, err := dateOrToday(in.Date, co, tx)
	if err != nil {
		return Payment{}, err
	}
	targets, sum, err := checkAllocations(ctx, tx, companyID, p.CustomerID, p.Currency, in.Allocations)
	if err != nil {
		return Payment{}, err
	}
	if sum.Cmp(p.Unapplied) > 0 || p.UnappliedLineNo == 0 {
		return Payment{}, apperr.New(apperr.Conflict, "Payment %s has %s %s unapplied; the allocations add up to %s.", p.ID, p.Unapplied.Normalize(), p.Currency, sum.Normalize()).
			WithFields(apperr.FieldError{Pointer: "/allocations", Detail: "more than the unapplied credit"})
	}
	unapplied, err := unappliedLine(ctx, tx, p)
	if err != nil {
		return Payment{}, err
	}
	cur := lineCurrency(p.Currency, co.base)
	lines := []ledger.Line{{AccountID: unapplied, Debit: sum, Currency: cur,
		Settles: settles(p.JournalEntryID, p.UnappliedLineNo), Memo: "Credit of payment " + p.ID}}
	for _, t := range targets {
		lines = append(lines, ledger.Line{AccountID: t.inv.Account, Credit: t.amount, Currency: cur,
			Settles: settles(t.inv.EntryID, t.inv.LineNo), Memo: "Invoice " + t.inv.ID})
	}
	source := id.New("palloc")
	entry, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: companyID, Date: date, Currency: co.base, SourceType: SourceType,
		SourceID: source, Purpose: PurposeApplication, Memo: "Application of payment " + p.ID, Lines: lines})
	if err != nil {
		return Payment{}, err
	}
	now := tx.Now().UTC().Truncate(time.Microsecond)
	for i, t := range targets {
		aid := source
		if i > 0 {
			aid = id.New("palloc")
		}
		a := PaymentAllocation{ID: aid, Kind: "invoice", InvoiceID: t.inv.ID, Amount: t.amount, Date: date, JournalEntryID: entry.ID, LineNo: i + 2, CreatedAt: now}
		if err := insertAllocation(ctx, tx, p.ID, companyID, &a); err != nil {
			return Payment{}, err
		}
		p.Allocations = append(p.Allocations, a)
	}
	p.Unapplied = p.Unapplied.Sub(sum)
	if err := updatePayment(ctx, tx, &p); err != nil {
		return Payment{}, err
	}
	if err := settleStatuses(ctx, tx, companyID, targets); err != nil {
		return Payment{}, err
	}
	return p, record(ctx, tx, &p, "payment.apply", EventApplied)
}

// Refund pays (part of) a payment's unapplied credit back: one entry
// debiting receivables against the unapplied line and crediting the bank.
func Refund(ctx context.Context, tx *db.Tx, companyID, paymentID string, in RefundInput) (Payment, error) {
	p, _, err := loadPayment(ctx, tx, companyID, paymentID, true)
	if err != nil {
		return Payment{}, err
	}
	co, err := loadCompany(ctx, tx, companyID)
	if err != nil {
		return Payment{}, err
	}
	if f := amountField("/amount", in.Amount, p.Currency); f != nil {
		return Payment{}, apperr.Fields(*f)
	}
	if in.Rate != nil && (in.Rate.Sign() <= 0 || p.Currency == co.base) {
		return Payment{}, apperr.Field("/rate", "a rate is positive and only for a payment in another currency than the company's")
	}
	date, err := dateOrToday(in.Date, co, tx)
	if err != nil {
		return Payment{}, err
	}
	if in.Amount.Cmp(p.Unapplied) > 0 || p.UnappliedLineNo == 0 {
		return Payment{}, apperr.New(apperr.Conflict, "Payment %s has %s %s unapplied; the refund is %s.", p.ID, p.Unapplied.Normalize(), p.Currency, in.Amount.Normalize()).
			WithFields(apperr.FieldError{Pointer: "/amount", Detail: "more than the unapplied credit"})
	}
	unapplied, err := unappliedLine(ctx, tx, p)
	if err != nil {
		return Payment{}, err
	}
	var rate money.Decimal
	if in.Rate != nil {
		rate = *in.Rate
	}
	cur := lineCurrency(p.Currency, co.base)
	source := id.New("palloc")
	entry, err := ledger.Post(ctx, tx, ledger.Posting{CompanyID: companyID, Date: date, Currency: co.base, SourceType: SourceType,
		SourceID: source, Purpose: PurposeRefund, Memo: "Refund of payment " + p.ID, Lines: []ledger.Line{
			{AccountID: unapplied, Debit: in.Amount, Currency: cur, Settles: settles(p.JournalEntryID, p.UnappliedLineNo), Memo: "Credit of payment " + p.ID},
			{AccountID: p.BankAccountID, Credit: in.Amount, Currency: cur, Rate: rate, Memo: "Refund of payment " + p.ID},
		}})
	if err != nil {
		return Payment{}, err
	}
	a := PaymentAllocation{ID: source, Kind: "refund", Amount: in.Amount, Date: date, JournalEntryID: entry.ID, LineNo: 2,
		CreatedAt: tx.Now().UTC().Truncate(time.Microsecond)}
	if err := insertAllocation(ctx, tx, p.ID, companyID, &a); err != nil {
		return Payment{}, err
	}
	p.Allocations = append(p.Allocations, a)
	p.Unapplied = p.Unapplied.Sub(in.Amount)
	if err := updatePayment(ctx, tx, &p); err != nil {
		return Payment{}, err
	}
	return p, record(ctx, tx, &p, "payment.refund", EventRefunded)
}

// unappliedLine locks the payment's unapplied line (through OpenAmount)
// and returns its account; the ledger refuses to settle more than is open
// in a foreign currency, and the payment row's unapplied, checked under
// its lock, guards the company currency.
func unappliedLine(ctx context.Context, tx *db.Tx, p Payment) (string, error) {
	ref := ledger.LineRef{EntryID: p.JournalEntryID, LineNo: p.UnappliedLineNo}
	if _, _, found, err := ledger.OpenAmount(ctx, tx, p.CompanyID, ref); err != nil || !found {
		if err == nil {
			err = fmt.Errorf("payment %s: unapplied line %s/%d not found", p.ID, ref.EntryID, ref.LineNo)
		}
		return "", err
	}
	var account string
	if err := tx.QueryRowContext(ctx, "SELECT account_id FROM journal_lines WHERE entry_id = $1 AND line_no = $2", ref.EntryID, ref.LineNo).Scan(&account); err != nil {
		return "", fmt.Errorf("payment %s: unapplied line: %w", p.ID, err)
	}
	return account, nil
}

func dateOrToday(date string, co company, tx *db.Tx) (string, error) {
	if date == "" {
		return companies.LocalDate(co.zone, tx.Now()), nil
	}
	if !validDate(date) {
		return "", apperr.Field("/date", "must be a date YYYY-MM-DD")
	}
	return date, nil
}

// Get reads a payment of the company with its allocations.
func Get(ctx context.Context, q db.Querier, companyID, id string) (Payment, error) {
	p, _, err := loadPayment(ctx, q, companyID, id, false)
	return p, err
}

func record(ctx context.Context, tx *db.Tx, p *Payment, action, event string) error {
	if _, err := events.Record(ctx, tx, events.Event{Type: event, Subject: p.ID, CompanyID: p.CompanyID, Data: p}); err != nil {
		return fmt.Errorf("payment %s: %w", p.ID, err)
	}
	return audit.Record(ctx, tx, audit.Entry{Action: action, ResourceType: "payment", ResourceID: p.ID, CompanyID: p.CompanyID,
		Details: map[string]any{"amount": p.Amount.String(), "currency": string(p.Currency), "unapplied": p.Unapplied.String()}})
}

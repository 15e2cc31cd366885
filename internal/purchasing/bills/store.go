package bills

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/finance/payments"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// buyer is what bills need of the company.
type buyer struct {
	base            money.Currency
	zone            string
	country, region string
	priceTolerance  money.Decimal
}

func loadBuyer(ctx context.Context, q db.Querier, companyID string) (buyer, error) {
	var cur, doc string
	if err := q.QueryRowContext(ctx, "SELECT base_currency, doc FROM companies WHERE id = $1", companyID).Scan(&cur, &doc); err != nil {
		return buyer{}, fmt.Errorf("company %s: %w", companyID, err)
	}
	var c company.Company
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return buyer{}, fmt.Errorf("decode company %s: %w", companyID, err)
	}
	b := buyer{base: money.Currency(cur), zone: c.TimeZone}
	if c.BillPriceTolerancePercent != nil {
		b.priceTolerance = *c.BillPriceTolerancePercent
	}
	// Input tax is the company's own country's: the registered address,
	// else the first, as pricing does for sales without a destination.
	for i, a := range c.Addresses {
		if a.Kind == "registered" || (i == 0 && b.country == "") {
			b.country, b.region = a.Country, strings.ToUpper(a.Region)
		}
		if a.Kind == "registered" {
			break
		}
	}
	return b, nil
}

type supplier struct {
	currency money.Currency
	termsID  string
	group    string
}

func loadSupplier(ctx context.Context, q db.Querier, companyID, id string) (supplier, bool, error) {
	var s supplier
	var cur string
	err := q.QueryRowContext(ctx, "SELECT currency, payment_terms_id, party_group FROM suppliers WHERE id = $1 AND company_id = $2", id, companyID).
		Scan(&cur, &s.termsID, &s.group)
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("read supplier %s: %w", id, err)
	}
	s.currency = money.Currency(cur)
	return s, true, nil
}

type terms struct {
	NetDays         int            `json:"net_days"`
	DiscountDays    int            `json:"discount_days"`
	DiscountPercent *money.Decimal `json:"discount_percent"`
}

func loadTerms(ctx context.Context, q db.Querier, companyID, id string) (*terms, error) {
	if id == "" {
		return nil, nil
	}
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM payment_terms WHERE id = $1 AND company_id = $2", id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read payment terms %s: %w", id, err)
	}
	var t terms
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return nil, fmt.Errorf("decode payment terms %s: %w", id, err)
	}
	return &t, nil
}

func productTaxCategory(ctx context.Context, q db.Querier, companyID, productID string) (string, error) {
	if productID == "" {
		return "", nil
	}
	var cat string
	err := q.QueryRowContext(ctx, "SELECT tax_category_id FROM products WHERE id = $1 AND company_id = $2", productID, companyID).Scan(&cat)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read product %s: %w", productID, err)
	}
	return cat, nil
}

func taxCategoryExists(ctx context.Context, q db.Querier, companyID, id string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM tax_categories WHERE id = $1 AND company_id = $2", id, companyID).Scan(&n); err != nil {
		return false, fmt.Errorf("read tax category %s: %w", id, err)
	}
	return n == 1, nil
}

// accountOfType checks that an account is the company's, active and of
// one of the types.
func accountOfType(ctx context.Context, q db.Querier, companyID, id string, types ...string) (bool, error) {
	var typ string
	var active bool
	err := q.QueryRowContext(ctx, "SELECT type, active FROM accounts WHERE id = $1 AND company_id = $2", id, companyID).Scan(&typ, &active)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read account %s: %w", id, err)
	}
	for _, t := range types {
		if active && typ == t {
			return true, nil
		}
	}
	return false, nil
}

// order is the part of a purchase order a bill needs.
type order struct {
	ID, Status, SupplierID string
	Currency               money.Currency
	Lines                  []orderLine
	version                int64
}

type orderLine struct {
	LineNo         int           `json:"line_no"`
	ProductID      string        `json:"product_id"`
	Quantity       money.Decimal `json:"quantity"`
	BilledQuantity money.Decimal `json:"billed_quantity"`
	UnitPrice      money.Decimal `json:"unit_price"`
	TaxCategoryID  string        `json:"tax_category_id"`
}

func (o order) line(no int) (orderLine, bool) {
	for _, l := range o.Lines {
		if l.LineNo == no {
			return l, true
		}
	}
	return orderLine{}, false
}

// loadOrder reads a purchase order of the company; lock holds its row
// (PostgreSQL; SQLite has one writer), so two bills of one order are
// matched and counted one after the other.
func loadOrder(ctx context.Context, q db.Querier, companyID, id string, lock bool) (order, bool, error) {
	suffix := ""
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		suffix = " FOR UPDATE"
	}
	var o order
	var cur, doc string
	err := q.QueryRowContext(ctx, "SELECT id, status, supplier_id, currency, version, doc FROM purchase_orders WHERE id = $1 AND company_id = $2"+suffix,
		id, companyID).Scan(&o.ID, &o.Status, &o.SupplierID, &cur, &o.version, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return o, false, nil
	}
	if err != nil {
		return o, false, fmt.Errorf("read purchase order %s: %w", id, err)
	}
	o.Currency = money.Currency(cur)
	var d struct {
		Lines []orderLine `json:"lines"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return o, false, fmt.Errorf("decode purchase order %s: %w", id, err)
	}
	o.Lines = d.Lines
	return o, true, nil
}

// received is what the goods receipts of an order line brought in: the
// quantity and the receipts' average unit price (exact, unrounded).
func received(ctx context.Context, q db.Querier, orderID string, lineNo int) (qty, price money.Decimal, err error) {
	rows, err := q.QueryContext(ctx, "SELECT quantity, unit_price FROM goods_receipt_lines WHERE purchase_order_id = $1 AND order_line_no = $2",
		orderID, lineNo)
	if err != nil {
		return qty, price, fmt.Errorf("receipts of %s line %d: %w", orderID, lineNo, err)
	}
	type rl struct{ q, p money.Decimal }
	list, err := db.Collect(rows, func(r *sql.Rows) (rl, error) {
		var x rl
		return x, r.Scan(money.Quantity(&x.q), money.Price(&x.p))
	})
	if err != nil {
		return qty, price, fmt.Errorf("receipts of %s line %d: %w", orderID, lineNo, err)
	}
	var value money.Decimal
	for _, x := range list {
		qty, value = qty.Add(x.q), value.Add(x.q.Mul(x.p))
	}
	if qty.Sign() > 0 {
		if price, err = value.DivRound(qty, money.PriceScale, money.HalfEven); err != nil {
			return qty, price, fmt.Errorf("receipt price of %s line %d: %w", orderID, lineNo, err)
		}
	}
	return qty, price, nil
}

func insertBill(ctx context.Context, tx *db.Tx, b *Bill) error {
	doc, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode bill: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO bills (id, company_id, kind, supplier_id, supplier_reference, purchase_order_id, credit_of, status,
match_status, payment_status, currency, bill_date, due_date, discount_date, discount_percent, net_total, tax_total, gross_total, doc, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		b.ID, b.CompanyID, b.Kind, b.SupplierID, b.SupplierReference, b.PurchaseOrderID, b.CreditOf, b.Status, b.MatchStatus, b.PaymentStatus,
		string(b.Currency), b.BillDate, b.DueDate, b.DiscountDate, money.NullAmount(&b.DiscountPercent), money.Amount(&b.NetTotal),
		money.Amount(&b.TaxTotal), money.Amount(&b.GrossTotal), string(doc), b.CreatedAt)
	if db.IsUniqueViolation(err) {
		return errReferenceTaken
	}
	if err != nil {
		return fmt.Errorf("insert bill: %w", err)
	}
	return nil
}

var errReferenceTaken = errors.New("supplier reference taken")

// findByReference is the bill a supplier's reference already names.
func findByReference(ctx context.Context, q db.Querier, companyID, supplierID, kind, ref string) (string, bool, error) {
	var id string
	err := q.QueryRowContext(ctx, "SELECT id FROM bills WHERE company_id = $1 AND supplier_id = $2 AND kind = $3 AND supplier_reference = $4",
		companyID, supplierID, kind, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("find bill by supplier reference: %w", err)
	}
	return id, true, nil
}

// saveBill writes everything that changes after a bill is created: the
// match (re-done at posting), number, dates, payable and approval.
func saveBill(ctx context.Context, tx *db.Tx, b *Bill) error {
	doc, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode bill: %w", err)
	}
	var number, entry, line any
	if b.Number > 0 {
		number = b.Number
	}
	if b.JournalEntryID != "" {
		entry, line = b.JournalEntryID, b.PayableLineNo
	}
	_, err = tx.ExecContext(ctx, `UPDATE bills SET status = $1, number = $2, match_status = $3, payment_status = $4, due_date = $5,
discount_date = $6, journal_entry_id = $7, payable_line_no = $8, approved_by = $9, approved_at = $10, doc = $11, posted_at = $12
WHERE id = $13 AND company_id = $14`,
		b.Status, number, b.MatchStatus, b.PaymentStatus, b.DueDate, b.DiscountDate, entry, line, b.ApprovedBy, b.ApprovedAt, string(doc),
		b.PostedAt, b.ID, b.CompanyID)
	if err != nil {
		return fmt.Errorf("update bill %s: %w", b.ID, err)
	}
	return nil
}

// nextNumber takes the company's next bill number. The row stays locked
// until the transaction ends and a failed posting rolls it back, so
// numbers are gapless; only posting touches it.
func nextNumber(ctx context.Context, tx *db.Tx, companyID string) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `INSERT INTO bill_sequences (company_id, last_number) VALUES ($1, 1)
ON CONFLICT (company_id) DO UPDATE SET last_number = bill_sequences.last_number + 1 RETURNING last_number`, companyID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("take bill number for %s: %w", companyID, err)
	}
	return n, nil
}

const billColumns = "doc, status, number, match_status, payment_status, journal_entry_id, payable_line_no, approved_by, approved_at, posted_at"

func scanBill(row interface{ Scan(...any) error }) (Bill, error) {
	var (
		doc, status, match, pay, approver string
		number, line                      sql.NullInt64
		entry                             sql.NullString
		approvedAt, postedAt              sql.NullTime
		b                                 Bill
	)
	if err := row.Scan(&doc, &status, &number, &match, &pay, &entry, &line, &approver, &approvedAt, &postedAt); err != nil {
		return b, err
	}
	if err := json.Unmarshal([]byte(doc), &b); err != nil {
		return b, fmt.Errorf("decode bill: %w", err)
	}
	// Payments change payment_status after the document was written; the
	// columns are the truth.
	b.Status, b.Number, b.MatchStatus, b.PaymentStatus = status, number.Int64, match, pay
	b.JournalEntryID, b.PayableLineNo, b.ApprovedBy = entry.String, int(line.Int64), approver
	if approvedAt.Valid {
		t := approvedAt.Time.UTC()
		b.ApprovedAt = &t
	}
	if postedAt.Valid {
		t := postedAt.Time.UTC()
		b.PostedAt = &t
	}
	return b, nil
}

// loadBill reads a bill of the company; lock holds its row until the
// transaction ends (PostgreSQL; SQLite has one writer).
func loadBill(ctx context.Context, q db.Querier, companyID, id string, lock bool) (Bill, error) {
	suffix := ""
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		suffix = " FOR UPDATE"
	}
	b, err := scanBill(q.QueryRowContext(ctx, "SELECT "+billColumns+" FROM bills WHERE id = $1 AND company_id = $2"+suffix, id, companyID))
	if errors.Is(err, sql.ErrNoRows) {
		return Bill{}, apperr.New(apperr.NotFound, "No bill %q.", id)
	}
	if err != nil {
		return Bill{}, fmt.Errorf("read bill %s: %w", id, err)
	}
	return b, nil
}

// ListFilter selects bills; After is the previous page's last id.
type ListFilter struct {
	SupplierID, PurchaseOrderID, Kind, Status, MatchStatus, PaymentStatus string
	After                                                                 string
	Limit                                                                 int
}

// List returns a company's bills and supplier credit notes, oldest first.
func List(ctx context.Context, q db.Querier, companyID string, f ListFilter) ([]Bill, error) {
	where, args := []string{"company_id = $1"}, []any{companyID}
	for _, c := range []struct{ col, v string }{{"supplier_id =", f.SupplierID}, {"purchase_order_id =", f.PurchaseOrderID}, {"kind =", f.Kind},
		{"status =", f.Status}, {"match_status =", f.MatchStatus}, {"payment_status =", f.PaymentStatus}, {"id >", f.After}} {
		if c.v == "" {
			continue
		}
		args = append(args, c.v)
		where = append(where, fmt.Sprintf("%s $%d", c.col, len(args)))
	}
	args = append(args, f.Limit)
	rows, err := q.QueryContext(ctx, "SELECT "+billColumns+" FROM bills WHERE "+strings.Join(where, " AND ")+
		fmt.Sprintf(" ORDER BY id LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list bills: %w", err)
	}
	out, err := db.Collect(rows, func(r *sql.Rows) (Bill, error) { return scanBill(r) })
	if err != nil {
		return nil, fmt.Errorf("list bills: %w", err)
	}
	for i := range out {
		if err := withOpen(ctx, q, &out[i]); err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = []Bill{}
	}
	return out, nil
}

// openOfLine is what is left of a bill's payable line in the bill
// currency: the credit less every posted line settling it. Plain SQL, so
// a read needs no write transaction.
func openOfLine(ctx context.Context, q db.Querier, entryID string, lineNo int) (money.Decimal, error) {
	var open money.Decimal
	err := q.QueryRowContext(ctx, `SELECT l.txn_amount + COALESCE((SELECT SUM(s.txn_amount) FROM journal_lines s
JOIN journal_entries e ON e.id = s.entry_id
WHERE s.settles_entry_id = l.entry_id AND s.settles_line_no = l.line_no AND e.status = 'posted'), 0)
FROM journal_lines l WHERE l.entry_id = $1 AND l.line_no = $2`, entryID, lineNo).Scan(money.Amount(&open))
	if err != nil {
		return money.Decimal{}, fmt.Errorf("open amount of %s line %d: %w", entryID, lineNo, err)
	}
	// A payable is a credit (negative); what is open is its magnitude.
	return open.Neg().Normalize(), nil
}

func withOpen(ctx context.Context, q db.Querier, b *Bill) error {
	if b.Kind != KindBill || b.JournalEntryID == "" {
		return nil
	}
	open, err := openOfLine(ctx, q, b.JournalEntryID, b.PayableLineNo)
	if err != nil {
		return err
	}
	b.OpenAmount = &open
	return nil
}

func setPaymentStatus(ctx context.Context, tx *db.Tx, companyID, id, status string) error {
	if _, err := tx.ExecContext(ctx, "UPDATE bills SET payment_status = $1 WHERE id = $2 AND company_id = $3", status, id, companyID); err != nil {
		return fmt.Errorf("update bill %s: %w", id, err)
	}
	return nil
}

// insertPayment stores an outgoing payment in the payments table, with a
// document the payments module reads as its own Payment (customer_id
// holds the supplier: the table has no supplier column).
func insertPayment(ctx context.Context, tx *db.Tx, p *SupplierPayment) error {
	doc, err := json.Marshal(payments.Payment{ID: p.ID, CompanyID: p.CompanyID, Direction: payments.Outgoing, Status: "posted",
		CustomerID: p.SupplierID, Currency: p.Currency, Amount: p.Amount, Date: p.Date, BankAccountID: p.BankAccountID,
		Reference: p.Reference, Unapplied: p.Unapplied, JournalEntryID: p.JournalEntryID, Allocations: []payments.PaymentAllocation{},
		CreatedAt: p.CreatedAt})
	if err != nil {
		return fmt.Errorf("encode payment: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO payments (id, company_id, direction, customer_id, currency, amount, payment_date,
bank_account_id, reference, status, unapplied, journal_entry_id, doc, created_at)
VALUES ($1, $2, 'outgoing', $3, $4, $5, $6, $7, $8, 'posted', $9, $10, $11, $12)`,
		p.ID, p.CompanyID, p.SupplierID, string(p.Currency), money.Amount(&p.Amount), p.Date, p.BankAccountID, p.Reference,
		money.Amount(&p.Unapplied), p.JournalEntryID, string(doc), p.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert payment: %w", err)
	}
	return nil
}

func insertAllocation(ctx context.Context, tx *db.Tx, p *SupplierPayment, a *SupplierPaymentAllocation, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO bill_payment_allocations (id, payment_id, company_id, bill_id, amount, alloc_date,
journal_entry_id, line_no, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		a.ID, p.ID, p.CompanyID, a.BillID, money.Amount(&a.Amount), a.Date, a.JournalEntryID, a.LineNo, at)
	if err != nil {
		return fmt.Errorf("insert allocation of payment %s: %w", p.ID, err)
	}
	return nil
}

// GetPayment reads an outgoing payment of the company with what it paid.
func GetPayment(ctx context.Context, q db.Querier, companyID, id string) (SupplierPayment, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM payments WHERE id = $1 AND company_id = $2 AND direction = 'outgoing'", id, companyID).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return SupplierPayment{}, apperr.New(apperr.NotFound, "No supplier payment %q.", id)
	}
	if err != nil {
		return SupplierPayment{}, fmt.Errorf("read payment %s: %w", id, err)
	}
	var pp payments.Payment
	if err := json.Unmarshal([]byte(doc), &pp); err != nil {
		return SupplierPayment{}, fmt.Errorf("decode payment %s: %w", id, err)
	}
	p := SupplierPayment{ID: pp.ID, CompanyID: pp.CompanyID, Direction: pp.Direction, SupplierID: pp.CustomerID, Currency: pp.Currency,
		Amount: pp.Amount, Date: pp.Date, BankAccountID: pp.BankAccountID, Reference: pp.Reference, Unapplied: pp.Unapplied,
		JournalEntryID: pp.JournalEntryID, CreatedAt: pp.CreatedAt}
	rows, err := q.QueryContext(ctx, `SELECT id, bill_id, amount, alloc_date, journal_entry_id, line_no FROM bill_payment_allocations
WHERE payment_id = $1 ORDER BY id`, id)
	if err != nil {
		return p, fmt.Errorf("allocations of payment %s: %w", id, err)
	}
	p.Allocations, err = db.Collect(rows, func(r *sql.Rows) (SupplierPaymentAllocation, error) {
		var a SupplierPaymentAllocation
		return a, r.Scan(&a.ID, &a.BillID, money.Amount(&a.Amount), &a.Date, &a.JournalEntryID, &a.LineNo)
	})
	if err != nil {
		return p, fmt.Errorf("allocations of payment %s: %w", id, err)
	}
	if p.Allocations == nil {
		p.Allocations = []SupplierPaymentAllocation{}
	}
	return p, nil
}

// Package collections reads receivables the way credit control needs them:
// an aging report, customer statements, and dunning runs that remind
// customers of overdue invoices in rising levels. Every open amount is
// derived from the ledger (a receivable line plus its posted settlements
// up to a date), so a report as of any past date is exact and nothing is
// stored that could drift from the books.
package collections

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// EventDunningRun is written when a dunning run issues notices.
const EventDunningRun = "mainstay.finance.dunning_run.created"

// Dunning rules: the days overdue each level needs, and the quiet period
// after a notice before the same invoice gets another.
var levelDays = [...]int{1: 1, 2: 15, 3: 30}

const quietDays = 7

// ReceivablesAging is what customers owe on a date, by how late it is.
type ReceivablesAging struct {
	CompanyID string                 `json:"company_id"`
	AsOf      string                 `json:"as_of"`
	Rows      []ReceivablesAgingRow  `json:"rows" doc:"One per customer and currency, by customer id."`
	Totals    []ReceivablesAgingRow  `json:"totals" doc:"One per currency (customer_id empty)."`
	Items     []ReceivablesAgingItem `json:"items,omitempty" doc:"The open documents behind the rows, with items=true."`
}

// ReceivablesAgingRow is one customer's (or all customers') open amounts in one
// currency by days past due. Credits (credit notes, unapplied payments)
// count as current, negative.
type ReceivablesAgingRow struct {
	CustomerID string         `json:"customer_id,omitempty"`
	Currency   money.Currency `json:"currency"`
	Current    money.Decimal  `json:"current" doc:"Not yet due, and credits."`
	Days1To30  money.Decimal  `json:"days_1_30"`
	Days31To60 money.Decimal  `json:"days_31_60"`
	Days61To90 money.Decimal  `json:"days_61_90"`
	Over90     money.Decimal  `json:"over_90"`
	Total      money.Decimal  `json:"total"`
}

// ReceivablesAgingItem is one open document.
type ReceivablesAgingItem struct {
	Kind        string         `json:"kind" enum:"invoice,credit_note,payment"`
	ID          string         `json:"id"`
	CustomerID  string         `json:"customer_id"`
	Currency    money.Currency `json:"currency"`
	DueDate     string         `json:"due_date"`
	DaysOverdue int            `json:"days_overdue"`
	Open        money.Decimal  `json:"open"`
}

func (r *ReceivablesAgingRow) add(days int, v money.Decimal) {
	switch {
	case days <= 0 || v.IsNegative():
		r.Current = r.Current.Add(v)
	case days <= 30:
		r.Days1To30 = r.Days1To30.Add(v)
	case days <= 60:
		r.Days31To60 = r.Days31To60.Add(v)
	case days <= 90:
		r.Days61To90 = r.Days61To90.Add(v)
	default:
		r.Over90 = r.Over90.Add(v)
	}
	r.Total = r.Total.Add(v)
}

func daysBetween(from, to string) int {
	a, err1 := time.Parse(time.DateOnly, from)
	b, err2 := time.Parse(time.DateOnly, to)
	if err1 != nil || err2 != nil {
		return 0
	}
	return int(b.Sub(a).Hours() / 24)
}

// Aging computes the receivables aging as of a date, for the company or
// one customer.
func Aging(ctx context.Context, q db.Querier, companyID, asOf, customerID string, withItems bool) (ReceivablesAging, error) {
	items, err := openItems(ctx, q, companyID, asOf, customerID)
	if err != nil {
		return ReceivablesAging{}, err
	}
	out := ReceivablesAging{CompanyID: companyID, AsOf: asOf, Rows: []ReceivablesAgingRow{}, Totals: []ReceivablesAgingRow{}}
	rows, totals := map[[2]string]*ReceivablesAgingRow{}, map[string]*ReceivablesAgingRow{}
	for _, it := range items {
		days := daysBetween(it.DueDate, asOf)
		if it.Kind == "payment" {
			days = 0
		}
		k := [2]string{it.CustomerID, string(it.Currency)}
		if rows[k] == nil {
			rows[k] = &ReceivablesAgingRow{CustomerID: it.CustomerID, Currency: it.Currency}
		}
		if totals[string(it.Currency)] == nil {
			totals[string(it.Currency)] = &ReceivablesAgingRow{Currency: it.Currency}
		}
		rows[k].add(days, it.Open)
		totals[string(it.Currency)].add(days, it.Open)
		if withItems {
			out.Items = append(out.Items, ReceivablesAgingItem{Kind: it.Kind, ID: it.ID, CustomerID: it.CustomerID, Currency: it.Currency,
				DueDate: it.DueDate, DaysOverdue: max(days, 0), Open: it.Open})
		}
	}
	for _, r := range rows {
		out.Rows = append(out.Rows, *r)
	}
	sort.Slice(out.Rows, func(i, j int) bool {
		if out.Rows[i].CustomerID != out.Rows[j].CustomerID {
			return out.Rows[i].CustomerID < out.Rows[j].CustomerID
		}
		return out.Rows[i].Currency < out.Rows[j].Currency
	})
	for _, t := range totals {
		out.Totals = append(out.Totals, *t)
	}
	sort.Slice(out.Totals, func(i, j int) bool { return out.Totals[i].Currency < out.Totals[j].Currency })
	sort.Slice(out.Items, func(i, j int) bool { return out.Items[i].ID < out.Items[j].ID })
	return out, nil
}

// CustomerStatement is a customer's account over a period, per currency.
type CustomerStatement struct {
	CompanyID  string                      `json:"company_id"`
	CustomerID string                      `json:"customer_id"`
	From       string                      `json:"from"`
	To         string                      `json:"to"`
	Currencies []CustomerStatementCurrency `json:"currencies"`
}

// CustomerStatementCurrency is the statement in one currency: what the customer
// owed before the period, each document in date order with the balance
// after it, and what it owes at the end (positive: owed to us).
type CustomerStatementCurrency struct {
	Currency       money.Currency          `json:"currency"`
	OpeningBalance money.Decimal           `json:"opening_balance"`
	Lines          []CustomerStatementLine `json:"lines"`
	ClosingBalance money.Decimal           `json:"closing_balance"`
}

// CustomerStatementLine is one document on a statement.
type CustomerStatementLine struct {
	Date       string        `json:"date"`
	Type       string        `json:"type" enum:"invoice,credit_note,payment,refund"`
	DocumentID string        `json:"document_id"`
	Reference  string        `json:"reference,omitempty"`
	Amount     money.Decimal `json:"amount" doc:"Positive: the customer owes more (invoice, refund); negative: less (credit note, payment)."`
	Balance    money.Decimal `json:"balance"`
}

// Statement builds a customer's statement for [from, to].
func Statement(ctx context.Context, q db.Querier, companyID, customerID, from, to string) (CustomerStatement, error) {
	if err := customerExists(ctx, q, companyID, customerID); err != nil {
		return CustomerStatement{}, err
	}
	moves, err := movements(ctx, q, companyID, customerID, to)
	if err != nil {
		return CustomerStatement{}, err
	}
	out := CustomerStatement{CompanyID: companyID, CustomerID: customerID, From: from, To: to, Currencies: []CustomerStatementCurrency{}}
	byCur := map[money.Currency]*CustomerStatementCurrency{}
	var order []money.Currency
	for _, m := range moves {
		s := byCur[m.Currency]
		if s == nil {
			s = &CustomerStatementCurrency{Currency: m.Currency, Lines: []CustomerStatementLine{}}
			byCur[m.Currency] = s
			order = append(order, m.Currency)
		}
		if m.Date < from {
			s.OpeningBalance = s.OpeningBalance.Add(m.Amount)
			s.ClosingBalance = s.OpeningBalance
			continue
		}
		s.ClosingBalance = s.ClosingBalance.Add(m.Amount)
		s.Lines = append(s.Lines, CustomerStatementLine{Date: m.Date, Type: m.Type, DocumentID: m.ID, Reference: m.Reference, Amount: m.Amount, Balance: s.ClosingBalance})
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	for _, c := range order {
		out.Currencies = append(out.Currencies, *byCur[c])
	}
	return out, nil
}

// DunningRun is one pass over overdue invoices as of a date.
type DunningRun struct {
	ID        string          `json:"id"`
	CompanyID string          `json:"company_id"`
	AsOf      string          `json:"as_of"`
	Notices   []DunningNotice `json:"notices"`
	CreatedAt time.Time       `json:"created_at"`
}

// DunningRunList is a page of dunning runs.
type DunningRunList struct {
	Data          []DunningRun `json:"data"`
	NextPageToken string       `json:"next_page_token"`
}

// DunningNotice reminds a customer of one overdue invoice.
type DunningNotice struct {
	ID          string         `json:"id"`
	InvoiceID   string         `json:"invoice_id"`
	CustomerID  string         `json:"customer_id"`
	Level       int            `json:"level" minimum:"1" maximum:"3"`
	DueDate     string         `json:"due_date"`
	DaysOverdue int            `json:"days_overdue"`
	Currency    money.Currency `json:"currency"`
	OpenAmount  money.Decimal  `json:"open_amount"`
}

// RunDunning issues notices as of a date for every invoice open and past
// due: level 1 from 1 day overdue, level 2 from 15 days after a level 1,
// level 3 from 30 days after a level 2 (a level is never skipped, so a
// first notice is level 1 however late the invoice is), and none within 7
// days of the invoice's last notice. Runs of a company are serialized so
// two at once cannot both remind the same invoice.
func RunDunning(ctx context.Context, tx *db.Tx, companyID, asOf string) (DunningRun, error) {
	if tx.Engine() == db.Postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtext('dunning:' || $1))", companyID); err != nil {
			return DunningRun{}, fmt.Errorf("lock dunning of %s: %w", companyID, err)
		}
	}
	items, err := openItems(ctx, tx, companyID, asOf, "")
	if err != nil {
		return DunningRun{}, err
	}
	last, err := lastNotices(ctx, tx, companyID)
	if err != nil {
		return DunningRun{}, err
	}
	run := DunningRun{ID: id.New("dun"), CompanyID: companyID, AsOf: asOf, Notices: []DunningNotice{},
		CreatedAt: tx.Now().UTC().Truncate(time.Microsecond)}
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	for _, it := range items {
		days := daysBetween(it.DueDate, asOf)
		if it.Kind != "invoice" || it.Open.Sign() <= 0 || days < levelDays[1] {
			continue
		}
		prev, reminded := last[it.ID]
		if reminded && daysBetween(prev.AsOf, asOf) < quietDays {
			continue
		}
		level := 1
		if reminded {
			level = prev.Level
			if next := prev.Level + 1; next < len(levelDays) && days >= levelDays[next] {
				level = next
			}
		}
		run.Notices = append(run.Notices, DunningNotice{ID: id.New("dnot"), InvoiceID: it.ID, CustomerID: it.CustomerID, Level: level,
			DueDate: it.DueDate, DaysOverdue: days, Currency: it.Currency, OpenAmount: it.Open})
	}
	if err := insertRun(ctx, tx, &run); err != nil {
		return DunningRun{}, err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventDunningRun, Subject: run.ID, CompanyID: companyID, Data: run}); err != nil {
		return DunningRun{}, fmt.Errorf("dunning run %s: %w", run.ID, err)
	}
	return run, audit.Record(ctx, tx, audit.Entry{Action: "dunning_run.create", ResourceType: "dunning_run", ResourceID: run.ID, CompanyID: companyID,
		Details: map[string]any{"as_of": asOf, "notices": len(run.Notices)}})
}

// GetRun reads a dunning run of the company with its notices.
func GetRun(ctx context.Context, q db.Querier, companyID, id string) (DunningRun, error) {
	return loadRun(ctx, q, companyID, id)
}

// dateParam reads an optional YYYY-MM-DD query parameter.
func dateParam(v, name, def string) (string, error) {
	if v == "" {
		return def, nil
	}
	if _, err := time.Parse(time.DateOnly, v); err != nil {
		return "", apperr.New(apperr.BadRequest, "%s must be a date YYYY-MM-DD.", name).
			WithFields(apperr.FieldError{Pointer: "query:" + name, Detail: "not a date YYYY-MM-DD"})
	}
	return v, nil
}

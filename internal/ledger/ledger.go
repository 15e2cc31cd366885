// Package ledger is the double-entry journal: the posting service every
// module calls inside its own transaction, reversals, and balances derived
// from postings (DESIGN §5, "Ledger" and "No hot rows").
//
// Its invariants hold in the database as well as here: posted entries and
// their lines are refused UPDATE and DELETE by triggers on both engines,
// a posted entry's number is gapless per company, and a (source type,
// source id, purpose) triple posts at most once.
package ledger

import (
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Entry statuses.
const (
	StatusDraft  = "draft"
	StatusPosted = "posted"
)

// EventPosted is the event type written when an entry is posted.
const EventPosted = "mainstay.ledger.journal_entry.posted"

// ResourceType names journal entries in the audit log and as the source
// type of their reversals.
const ResourceType = "journal_entry"

// PurposeReversal is the purpose of a reversal, whose source is the entry
// it reverses.
const PurposeReversal = "reversal"

// Posting is what a module asks the ledger to post. Amounts are in the
// company currency (Currency). SourceType, SourceID and Purpose identify
// the business fact being booked (a shipment's cost of goods, an
// invoice's revenue), so that posting it again is harmless.
type Posting struct {
	CompanyID  string
	Date       string // YYYY-MM-DD
	Currency   money.Currency
	SourceType string
	SourceID   string
	Purpose    string
	Memo       string
	Lines      []Line
}

// Line is one side of a posting: exactly one of Debit and Credit is
// positive.
type Line struct {
	AccountID string
	Debit     money.Decimal
	Credit    money.Decimal
	Memo      string
}

// Entry is a stored journal entry.
type Entry struct {
	ID         string         `json:"id"`
	CompanyID  string         `json:"company_id"`
	Status     string         `json:"status"`
	Number     int64          `json:"number,omitempty"` // 0 for drafts
	Date       string         `json:"date"`
	Currency   money.Currency `json:"currency"`
	Memo       string         `json:"memo"`
	SourceType string         `json:"source_type,omitempty"`
	SourceID   string         `json:"source_id,omitempty"`
	Purpose    string         `json:"purpose,omitempty"`
	ReversalOf string         `json:"reversal_of,omitempty"`
	ReversedBy string         `json:"reversed_by,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	PostedAt   *time.Time     `json:"posted_at,omitempty"`
	Lines      []EntryLine    `json:"lines"`
}

// EntryLine is a stored line. TxnCurrency and TxnAmount keep the
// transaction-currency figure (signed: debit positive); for now postings
// are in the company currency, so they mirror Debit − Credit.
type EntryLine struct {
	LineNo      int            `json:"line_no"`
	AccountID   string         `json:"account_id"`
	Debit       money.Decimal  `json:"debit"`
	Credit      money.Decimal  `json:"credit"`
	TxnCurrency money.Currency `json:"txn_currency"`
	TxnAmount   money.Decimal  `json:"txn_amount"`
	Memo        string         `json:"memo"`
}

// Balance is one account's line in a trial balance: the sums of its
// posted debits and credits, and Balance = Debit − Credit.
type Balance struct {
	AccountID string        `json:"account_id"`
	Debit     money.Decimal `json:"debit"`
	Credit    money.Decimal `json:"credit"`
	Balance   money.Decimal `json:"balance"`
}

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

// Event types of journal entries.
const (
	EventPosted   = "mainstay.ledger.journal_entry.posted"
	EventCreated  = "mainstay.ledger.journal_entry.created"
	EventDeleted  = "mainstay.ledger.journal_entry.deleted"
	EventReversed = "mainstay.ledger.journal_entry.reversed"
)

// ResourceType names journal entries in the audit log and as the source
// type of their reversals.
const ResourceType = "journal_entry"

// PurposeReversal is the purpose of a reversal, whose source is the entry
// it reverses.
const PurposeReversal = "reversal"

// Entry kinds.
const (
	KindNormal  = ""
	KindClosing = "closing" // year-end closing: left out of profit and loss
)

// Kinds of lines the ledger adds itself.
const (
	LineRounding = "rounding" // conversion rounding, to the rounding account
	LineFXGain   = "fx_gain"  // realized exchange gain on settlement
	LineFXLoss   = "fx_loss"  // realized exchange loss on settlement
)

// Posting is what a module asks the ledger to post. Currency is the
// company currency; each line may be in another (its transaction
// currency), converted at the exchange rate of the posting date.
// SourceType, SourceID and Purpose identify the business fact being
// booked (a shipment's cost of goods, an invoice's revenue), so that
// posting it again is harmless.
type Posting struct {
	CompanyID  string
	Date       string // YYYY-MM-DD
	Currency   money.Currency
	SourceType string
	SourceID   string
	Purpose    string
	Memo       string
	Kind       string // KindNormal or KindClosing
	Lines      []Line
}

// Line is one side of a posting: exactly one of Debit and Credit is
// positive, in the line's currency.
type Line struct {
	AccountID string
	Debit     money.Decimal
	Credit    money.Decimal
	// Currency is the transaction currency; empty means the company
	// currency.
	Currency money.Currency
	// Rate, when positive, converts this line instead of the day's rate
	// (a bank's actual rate on a payment).
	Rate money.Decimal
	// Settles names the foreign-currency line of an earlier entry (an
	// invoice's receivable) this line pays off, in part or in full: the
	// line then carries that line's carrying value, not today's rate, and
	// the difference is the realized exchange gain or loss.
	Settles *LineRef
	Memo    string
}

// LineRef names a line of a posted entry.
type LineRef struct {
	EntryID string `json:"entry_id"`
	LineNo  int    `json:"line_no"`
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
	Kind       string         `json:"kind,omitempty" doc:"closing for a year-end closing entry."`
	ReversalOf string         `json:"reversal_of,omitempty"`
	ReversedBy string         `json:"reversed_by,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	PostedAt   *time.Time     `json:"posted_at,omitempty"`
	Lines      []EntryLine    `json:"lines"`
}

// EntryLine is a stored line. Debit and Credit are in the company
// currency; TxnCurrency and TxnAmount keep the transaction-currency figure
// (signed: debit positive) and Rate the conversion between them.
type EntryLine struct {
	LineNo      int            `json:"line_no"`
	AccountID   string         `json:"account_id"`
	Debit       money.Decimal  `json:"debit"`
	Credit      money.Decimal  `json:"credit"`
	TxnCurrency money.Currency `json:"txn_currency"`
	TxnAmount   money.Decimal  `json:"txn_amount"`
	Rate        money.Decimal  `json:"rate" doc:"Company-currency units per unit of txn_currency (1 for the company currency)."`
	Kind        string         `json:"kind,omitempty" enum:"rounding,fx_gain,fx_loss" doc:"Set on lines the ledger added: conversion rounding or a realized exchange difference."`
	Settles     *LineRef       `json:"settles,omitempty" doc:"The foreign-currency line this line settles."`
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

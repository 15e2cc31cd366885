package ledger

import (
	"context"
	"errors"
	"fmt"
	"github.com/mainstay-erp/mainstay/internal/ledger/periods"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
)

// Post validates p and posts it in tx, the caller's transaction, so the
// entry commits or rolls back with the business change it books.
//
// It is idempotent per (company, source type, source id, purpose): posting
// the same triple again with the same lines returns the entry already
// posted, and with other lines fails with 409 naming that entry. The
// entry's number is the company's next, gapless.
func Post(ctx context.Context, tx *db.Tx, p Posting) (Entry, error) {
	if err := validate(p, true); err != nil {
		return Entry{}, err
	}
	if p.SourceType != "" {
		if e, found, err := existing(ctx, tx, p); found || err != nil {
			return e, err
		}
	}
	return post(ctx, tx, p, "")
}

// post writes a validated posting. A concurrent posting of the same source
// triple on PostgreSQL surfaces as a unique violation once the other
// transaction commits; the savepoint keeps the caller's transaction usable
// so that the winner's entry can be read and compared instead.
func post(ctx context.Context, tx *db.Tx, p Posting, reversalOf string) (Entry, error) {
	// Closed periods refuse every dated source; a retry of an entry that
	// already exists was answered before this point.
	if err := periods.CheckOpen(ctx, tx, p.CompanyID, p.Date); err != nil {
		return Entry{}, err
	}
	if err := checkNonNegative(ctx, tx, p); err != nil {
		return Entry{}, err
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT ledger_post"); err != nil {
		return Entry{}, fmt.Errorf("post journal entry: %w", err)
	}
	e, err := write(ctx, tx, p, reversalOf)
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT ledger_post"); rerr != nil {
			return Entry{}, errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		if db.IsUniqueViolation(err) && p.SourceType != "" {
			if e, found, ferr := existing(ctx, tx, p); found || ferr != nil {
				return e, ferr
			}
		}
		return Entry{}, MapDBError(err)
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT ledger_post"); err != nil {
		return Entry{}, fmt.Errorf("post journal entry: %w", err)
	}
	return e, nil
}

// write inserts the entry as a draft with its lines and posts it.
func write(ctx context.Context, tx *db.Tx, p Posting, reversalOf string) (Entry, error) {
	e := newDraft(tx, p, reversalOf)
	if err := insertDraft(ctx, tx, &e); err != nil {
		return Entry{}, err
	}
	if err := finalize(ctx, tx, &e); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// newDraft builds the stored form of a posting, not yet written.
func newDraft(tx *db.Tx, p Posting, reversalOf string) Entry {
	e := Entry{
		ID: id.New("je"), CompanyID: p.CompanyID, Status: StatusDraft, Date: p.Date, Currency: p.Currency,
		Memo: p.Memo, SourceType: p.SourceType, SourceID: p.SourceID, Purpose: p.Purpose,
		ReversalOf: reversalOf, CreatedAt: tx.Now(),
	}
	for i, l := range p.Lines {
		e.Lines = append(e.Lines, EntryLine{
			LineNo: i + 1, AccountID: l.AccountID, Debit: l.Debit, Credit: l.Credit,
			TxnCurrency: p.Currency, TxnAmount: l.Debit.Sub(l.Credit), Memo: l.Memo,
		})
	}
	return e
}

// finalize posts a stored draft: it takes the number last (so the
// per-company counter row is locked as briefly as possible: DESIGN's
// "taken when finalized"), marks the entry posted, which makes it
// immutable, and records the event and the audit row.
func finalize(ctx context.Context, tx *db.Tx, e *Entry) error {
	now := tx.Now()
	number, err := nextNumber(ctx, tx, e.CompanyID)
	if err != nil {
		return err
	}
	if err := markPosted(ctx, tx, e.ID, number, now); err != nil {
		return err
	}
	e.Status, e.Number, e.PostedAt = StatusPosted, number, &now
	if _, err := events.Record(ctx, tx, events.Event{
		Type: EventPosted, Subject: e.ID, CompanyID: e.CompanyID, Data: e,
	}); err != nil {
		return fmt.Errorf("post journal entry %s: %w", e.ID, err)
	}
	details := map[string]any{"number": e.Number, "date": e.Date}
	if e.SourceType != "" {
		details["source_type"], details["source_id"], details["purpose"] = e.SourceType, e.SourceID, e.Purpose
	}
	if e.ReversalOf != "" {
		details["reversal_of"] = e.ReversalOf
	}
	if err := audit.Record(ctx, tx, audit.Entry{
		Action: "journal_entry.post", ResourceType: ResourceType, ResourceID: e.ID, CompanyID: e.CompanyID,
		Details: details,
	}); err != nil {
		return fmt.Errorf("post journal entry %s: %w", e.ID, err)
	}
	return nil
}

// CreateDraft stores p as a draft: no number, not in any balance, still
// editable, and allowed to be unbalanced. PostDraft posts it.
func CreateDraft(ctx context.Context, tx *db.Tx, p Posting) (Entry, error) {
	if err := validate(p, false); err != nil {
		return Entry{}, err
	}
	e := newDraft(tx, p, "")
	if err := insertDraft(ctx, tx, &e); err != nil {
		return Entry{}, err
	}
	if err := audit.Record(ctx, tx, audit.Entry{
		Action: "journal_entry.create", ResourceType: ResourceType, ResourceID: e.ID, CompanyID: e.CompanyID,
		Details: map[string]any{"date": e.Date},
	}); err != nil {
		return Entry{}, fmt.Errorf("create journal entry %s: %w", e.ID, err)
	}
	return e, nil
}

// PostDraft posts a draft with the same checks as Post. A draft whose
// source triple was posted meanwhile by another entry is refused with 409
// naming that entry: the draft is a second, separate document.
func PostDraft(ctx context.Context, tx *db.Tx, entryID string) (Entry, error) {
	e, err := loadEntry(ctx, tx, entryID)
	if err != nil {
		return Entry{}, err
	}
	if e.Status != StatusDraft {
		return Entry{}, apperr.New(apperr.Conflict, "Journal entry %s is already posted.", e.ID)
	}
	p := Posting{
		CompanyID: e.CompanyID, Date: e.Date, Currency: e.Currency, Memo: e.Memo,
		SourceType: e.SourceType, SourceID: e.SourceID, Purpose: e.Purpose,
	}
	for _, l := range e.Lines {
		p.Lines = append(p.Lines, Line{AccountID: l.AccountID, Debit: l.Debit, Credit: l.Credit, Memo: l.Memo})
	}
	if err := validate(p, true); err != nil {
		return Entry{}, err
	}
	if err := periods.CheckOpen(ctx, tx, p.CompanyID, p.Date); err != nil {
		return Entry{}, err
	}
	if p.SourceType != "" {
		if other, found, err := findBySource(ctx, tx, p.CompanyID, p.SourceType, p.SourceID, p.Purpose); err != nil {
			return Entry{}, err
		} else if found {
			return Entry{}, sourceTaken(p, other)
		}
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT ledger_post"); err != nil {
		return Entry{}, fmt.Errorf("post journal entry %s: %w", e.ID, err)
	}
	if err := finalize(ctx, tx, &e); err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT ledger_post"); rerr != nil {
			return Entry{}, errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		if db.IsUniqueViolation(err) && p.SourceType != "" {
			if other, found, ferr := findBySource(ctx, tx, p.CompanyID, p.SourceType, p.SourceID, p.Purpose); ferr == nil && found {
				return Entry{}, sourceTaken(p, other).Wrap(err)
			}
		}
		return Entry{}, MapDBError(err)
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT ledger_post"); err != nil {
		return Entry{}, fmt.Errorf("post journal entry %s: %w", e.ID, err)
	}
	return e, nil
}

func sourceTaken(p Posting, entryID string) *apperr.Error {
	return apperr.New(apperr.Conflict, "%s %s (purpose %q) was already posted as journal entry %s.",
		p.SourceType, p.SourceID, p.Purpose, entryID)
}

// existing looks for the posted entry of p's source triple. found is true
// when there is one: with the same date, currency and lines it is returned
// (a retry), otherwise the error is a 409 naming it.
func existing(ctx context.Context, q db.Querier, p Posting) (Entry, bool, error) {
	entryID, found, err := findBySource(ctx, q, p.CompanyID, p.SourceType, p.SourceID, p.Purpose)
	if err != nil || !found {
		return Entry{}, false, err
	}
	e, err := loadEntry(ctx, q, entryID)
	if err != nil {
		return Entry{}, true, err
	}
	if !samePosting(e, p) {
		return Entry{}, true, apperr.New(apperr.Conflict,
			"%s %s (purpose %q) was already posted as journal entry %s with other amounts.",
			p.SourceType, p.SourceID, p.Purpose, e.ID)
	}
	return e, true, nil
}

// samePosting reports whether e books what p asks: same date, currency
// and lines (account and amounts, in order). Memos may differ.
func samePosting(e Entry, p Posting) bool {
	if e.Date != p.Date || e.Currency != p.Currency || len(e.Lines) != len(p.Lines) {
		return false
	}
	for i, l := range p.Lines {
		el := e.Lines[i]
		if el.AccountID != l.AccountID || !el.Debit.Equal(l.Debit) || !el.Credit.Equal(l.Credit) {
			return false
		}
	}
	return true
}

// Reverse posts the mirror of a posted entry (debits and credits swapped)
// dated date, links the two, and returns the reversal. An entry is
// reversed at most once: a second reversal is a 409, also when two race
// (the original's reversed_by is set only from NULL, and a unique index
// on reversal_of backs it).
func Reverse(ctx context.Context, tx *db.Tx, entryID, date string) (Entry, error) {
	orig, err := loadEntry(ctx, tx, entryID)
	if err != nil {
		return Entry{}, err
	}
	if orig.Status != StatusPosted {
		return Entry{}, apperr.New(apperr.Conflict, "Journal entry %s is a draft; only posted entries can be reversed.", orig.ID)
	}
	if orig.ReversedBy != "" {
		return Entry{}, alreadyReversed(orig.ID, orig.ReversedBy)
	}
	p := Posting{
		CompanyID: orig.CompanyID, Date: date, Currency: orig.Currency,
		SourceType: ResourceType, SourceID: orig.ID, Purpose: PurposeReversal,
		Memo: fmt.Sprintf("Reversal of journal entry %d", orig.Number),
	}
	for _, l := range orig.Lines {
		p.Lines = append(p.Lines, Line{AccountID: l.AccountID, Debit: l.Credit, Credit: l.Debit, Memo: l.Memo})
	}
	if err := validate(p, true); err != nil {
		return Entry{}, err
	}
	rev, err := post(ctx, tx, p, orig.ID)
	if err != nil {
		if db.IsUniqueViolation(err) {
			return Entry{}, alreadyReversed(orig.ID, "").Wrap(err)
		}
		return Entry{}, err
	}
	ok, err := setReversedBy(ctx, tx, orig.ID, rev.ID)
	if err != nil {
		return Entry{}, MapDBError(err)
	}
	if !ok {
		return Entry{}, alreadyReversed(orig.ID, "")
	}
	if err := audit.Record(ctx, tx, audit.Entry{
		Action: "journal_entry.reverse", ResourceType: ResourceType, ResourceID: orig.ID, CompanyID: orig.CompanyID,
		Details: map[string]any{"reversed_by": rev.ID, "date": date},
	}); err != nil {
		return Entry{}, fmt.Errorf("reverse journal entry %s: %w", orig.ID, err)
	}
	return rev, nil
}

func alreadyReversed(id, by string) *apperr.Error {
	if by == "" {
		return apperr.New(apperr.Conflict, "Journal entry %s has already been reversed.", id)
	}
	return apperr.New(apperr.Conflict, "Journal entry %s has already been reversed by %s.", id, by)
}

// Get returns a journal entry with its lines.
func Get(ctx context.Context, q db.Querier, entryID string) (Entry, error) {
	return loadEntry(ctx, q, entryID)
}

// TrialBalance returns every account with posted lines of the company
// dated on or before asOf (YYYY-MM-DD), ordered by account ID, with its
// summed debits and credits. Balances are derived from the lines, never
// stored, so there is no balance row to contend for.
func TrialBalance(ctx context.Context, q db.Querier, companyID, asOf string) ([]Balance, error) {
	if !validDate(asOf) {
		return nil, apperr.Field("query:as_of", "must be a calendar date as YYYY-MM-DD, got %q", asOf)
	}
	return trialBalance(ctx, q, companyID, asOf)
}

package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/ledger/periods"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
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
	return post(ctx, tx, p, "", nil)
}

// post writes a validated posting. lines are the stored lines when the
// caller built them (a reversal mirrors its original exactly); otherwise
// the posting's lines are converted into the company currency here.
//
// A concurrent posting of the same source triple on PostgreSQL surfaces
// as a unique violation once the other transaction commits; the savepoint
// keeps the caller's transaction usable so that the winner's entry can be
// read and compared instead.
func post(ctx context.Context, tx *db.Tx, p Posting, reversalOf string, lines []EntryLine) (Entry, error) {
	// Closed periods refuse every dated source; a retry of an entry that
	// already exists was answered before this point. Year-end closing
	// entries are the exception: they are posted into the year as it is
	// closed, by closing.Close, and reversed when it is reopened.
	if p.Kind != KindClosing {
		if err := periods.CheckOpen(ctx, tx, p.CompanyID, p.Date); err != nil {
			return Entry{}, err
		}
	}
	if lines == nil {
		var err error
		if lines, err = convert(ctx, tx, p, true); err != nil {
			return Entry{}, err
		}
	}
	if err := checkNonNegative(ctx, tx, p.CompanyID, lines); err != nil {
		return Entry{}, err
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT ledger_post"); err != nil {
		return Entry{}, fmt.Errorf("post journal entry: %w", err)
	}
	e, err := write(ctx, tx, newDraft(tx, p, reversalOf, lines))
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT ledger_post"); rerr != nil {
			return Entry{}, errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		if db.IsUniqueViolation(err) && reversalOf != "" {
			return Entry{}, alreadyReversed(reversalOf, "").Wrap(err)
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
func write(ctx context.Context, tx *db.Tx, e Entry) (Entry, error) {
	if err := insertDraft(ctx, tx, &e); err != nil {
		return Entry{}, err
	}
	if err := finalize(ctx, tx, &e); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// newDraft builds the stored form of a posting, not yet written, as it
// will read back: amounts shown with the currency's minor units, times at
// the microseconds both engines keep.
func newDraft(tx *db.Tx, p Posting, reversalOf string, lines []EntryLine) Entry {
	for i := range lines {
		l := &lines[i]
		l.Debit = money.RoundAmount(l.Debit, p.Currency, money.HalfEven)
		l.Credit = money.RoundAmount(l.Credit, p.Currency, money.HalfEven)
		l.TxnAmount = money.RoundAmount(l.TxnAmount, l.TxnCurrency, money.HalfEven)
	}
	return Entry{
		ID: id.New("je"), CompanyID: p.CompanyID, Status: StatusDraft, Date: p.Date, Currency: p.Currency,
		Memo: p.Memo, SourceType: p.SourceType, SourceID: p.SourceID, Purpose: p.Purpose, Kind: p.Kind,
		ReversalOf: reversalOf, CreatedAt: now(tx), Lines: lines,
	}
}

func now(tx *db.Tx) time.Time { return tx.Now().UTC().Truncate(time.Microsecond) }

// finalize posts a stored draft: it takes the number last (so the
// per-company counter row is locked as briefly as possible: DESIGN's
// "taken when finalized"), marks the entry posted, which makes it
// immutable, and records the event and the audit row.
func finalize(ctx context.Context, tx *db.Tx, e *Entry) error {
	now := now(tx)
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
// editable, and allowed to be unbalanced. Foreign-currency lines keep the
// rate of the day they were saved, which posting uses. PostDraft posts it.
func CreateDraft(ctx context.Context, tx *db.Tx, p Posting) (Entry, error) {
	if err := validate(p, false); err != nil {
		return Entry{}, err
	}
	lines, err := convert(ctx, tx, p, false)
	if err != nil {
		return Entry{}, err
	}
	e := newDraft(tx, p, "", lines)
	if err := insertDraft(ctx, tx, &e); err != nil {
		return Entry{}, err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventCreated, Subject: e.ID, CompanyID: e.CompanyID, Data: e}); err != nil {
		return Entry{}, fmt.Errorf("create journal entry %s: %w", e.ID, err)
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
	p := draftPosting(e)
	if err := validate(p, true); err != nil {
		return Entry{}, err
	}
	if err := periods.CheckOpen(ctx, tx, p.CompanyID, p.Date); err != nil {
		return Entry{}, err
	}
	// The lines are converted again so that the ledger's own lines
	// (rounding, exchange differences) are added as of posting.
	lines, err := convert(ctx, tx, p, true)
	if err != nil {
		return Entry{}, err
	}
	if err := checkNonNegative(ctx, tx, p.CompanyID, lines); err != nil {
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
	e.Lines = lines
	err = deleteLines(ctx, tx, e.ID)
	if err == nil {
		err = insertLines(ctx, tx, e.ID, e.Lines)
	}
	if err == nil {
		err = finalize(ctx, tx, &e)
	}
	if err != nil {
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

// draftPosting is the posting a stored draft asks for, in its
// transaction currencies and saved rates.
func draftPosting(e Entry) Posting {
	p := Posting{
		CompanyID: e.CompanyID, Date: e.Date, Currency: e.Currency, Memo: e.Memo, Kind: e.Kind,
		SourceType: e.SourceType, SourceID: e.SourceID, Purpose: e.Purpose,
	}
	for _, l := range e.Lines {
		if l.Kind != "" {
			continue
		}
		line := Line{AccountID: l.AccountID, Settles: l.Settles, Memo: l.Memo}
		if l.TxnCurrency != e.Currency {
			line.Currency, line.Rate = l.TxnCurrency, l.Rate
		}
		if l.TxnAmount.IsNegative() {
			line.Credit = l.TxnAmount.Neg()
		} else {
			line.Debit = l.TxnAmount
		}
		p.Lines = append(p.Lines, line)
	}
	return p
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

// samePosting reports whether e books what p asks: same date, currency,
// kind and lines (account, transaction currency and amount, settled line,
// in order), leaving out the lines the ledger added. Memos may differ, and
// so may rates: a retry after a rate was corrected is the same fact.
func samePosting(e Entry, p Posting) bool {
	if e.Date != p.Date || e.Currency != p.Currency || e.Kind != p.Kind {
		return false
	}
	given := e.Lines[:0:0]
	for _, l := range e.Lines {
		if l.Kind == "" {
			given = append(given, l)
		}
	}
	if len(given) != len(p.Lines) {
		return false
	}
	for i, l := range p.Lines {
		el := given[i]
		cur := l.Currency
		if cur == "" {
			cur = p.Currency
		}
		if el.AccountID != l.AccountID || el.TxnCurrency != cur || !el.TxnAmount.Equal(l.Debit.Sub(l.Credit)) ||
			(el.Settles == nil) != (l.Settles == nil) || (el.Settles != nil && *el.Settles != *l.Settles) {
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
	if !validDate(date) {
		return Entry{}, apperr.Field("/date", "must be a calendar date as YYYY-MM-DD, got %q", date)
	}
	p := Posting{
		CompanyID: orig.CompanyID, Date: date, Currency: orig.Currency, Kind: orig.Kind,
		SourceType: ResourceType, SourceID: orig.ID, Purpose: PurposeReversal,
		Memo: fmt.Sprintf("Reversal of journal entry %d", orig.Number),
	}
	lines, err := mirror(ctx, tx, orig)
	if err != nil {
		return Entry{}, err
	}
	rev, err := post(ctx, tx, p, orig.ID, lines)
	if err != nil {
		return Entry{}, err
	}
	ok, err := setReversedBy(ctx, tx, orig.ID, rev.ID)
	if err != nil {
		return Entry{}, MapDBError(err)
	}
	if !ok {
		return Entry{}, alreadyReversed(orig.ID, "")
	}
	// The original now names its reversal: the event carries it as read.
	reversed, err := loadEntry(ctx, tx, orig.ID)
	if err != nil {
		return Entry{}, err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventReversed, Subject: orig.ID, CompanyID: orig.CompanyID, Data: reversed}); err != nil {
		return Entry{}, fmt.Errorf("reverse journal entry %s: %w", orig.ID, err)
	}
	if err := audit.Record(ctx, tx, audit.Entry{
		Action: "journal_entry.reverse", ResourceType: ResourceType, ResourceID: orig.ID, CompanyID: orig.CompanyID,
		Details: map[string]any{"reversed_by": rev.ID, "date": date},
	}); err != nil {
		return Entry{}, fmt.Errorf("reverse journal entry %s: %w", orig.ID, err)
	}
	return rev, nil
}

// mirror builds a reversal's lines: every line of orig with the sides,
// transaction amount and rate kept exactly (today's rate would not undo
// it). Each line of orig is settled by its mirror, so an
// invoice reversed is no longer open; a line that settled something is
// mirrored with the same reference, which reopens what it settled. An
// entry whose open items were already settled, partly or in full, by
// later entries cannot be reversed before those are.
func mirror(ctx context.Context, tx *db.Tx, orig Entry) ([]EntryLine, error) {
	lines := make([]EntryLine, 0, len(orig.Lines))
	for _, l := range orig.Lines {
		settles := l.Settles
		if settles == nil && l.Kind == "" {
			ref := LineRef{EntryID: orig.ID, LineNo: l.LineNo}
			open, err := openItem(ctx, tx, orig.CompanyID, ref)
			if err != nil {
				return nil, err
			}
			if !open.txn.Equal(l.TxnAmount) {
				return nil, apperr.New(apperr.Conflict,
					"Line %d of journal entry %s has been settled by later entries (%s %s open of %s); reverse those first.",
					l.LineNo, orig.ID, open.txn.Abs(), l.TxnCurrency, l.TxnAmount.Abs())
			}
			settles = &ref
		}
		amount := l.Credit.Sub(l.Debit)
		lines = append(lines, newLine(l.LineNo, l.AccountID, amount, l.TxnCurrency, l.TxnAmount.Neg(), l.Rate, l.Kind, settles, l.Memo))
	}
	return lines, nil
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

// DeleteDraft deletes a draft and its lines. A posted entry is refused
// (409): it is corrected by reversal, never deleted.
func DeleteDraft(ctx context.Context, tx *db.Tx, entryID string) error {
	e, err := loadEntry(ctx, tx, entryID)
	if err != nil {
		return err
	}
	if e.Status != StatusDraft {
		return ErrImmutable
	}
	if err := deleteLines(ctx, tx, e.ID); err != nil {
		return MapDBError(err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM journal_entries WHERE id = $1 AND status = $2", e.ID, StatusDraft); err != nil {
		return MapDBError(fmt.Errorf("delete journal entry %s: %w", e.ID, err))
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: EventDeleted, Subject: e.ID, CompanyID: e.CompanyID,
		Data: events.Deleted{ID: e.ID, CompanyID: e.CompanyID}}); err != nil {
		return fmt.Errorf("delete journal entry %s: %w", e.ID, err)
	}
	return audit.Record(ctx, tx, audit.Entry{
		Action: "journal_entry.delete", ResourceType: ResourceType, ResourceID: e.ID, CompanyID: e.CompanyID,
	})
}

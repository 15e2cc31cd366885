package ledger

// The SQL of the ledger, kept apart from the rules in service.go. Every
// statement uses $n placeholders, which both engines accept, and amounts
// go through money.Amount so that they are scaled integers in the tables.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

const entryColumns = `id, company_id, status, number, entry_date, currency, memo, source_type, source_id, purpose,
reversal_of, reversed_by, created_at, posted_at, kind`

// insertDraft writes e and its lines as a draft. Posting is a separate
// update (markPosted) so that the lines are in place before the entry
// becomes immutable: the triggers refuse lines added to a posted entry.
func insertDraft(ctx context.Context, tx *db.Tx, e *Entry) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO journal_entries (`+entryColumns+`)
VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8, $9, $10, NULL, $11, NULL, $12)`,
		e.ID, e.CompanyID, StatusDraft, e.Date, string(e.Currency), e.Memo, e.SourceType, e.SourceID, e.Purpose,
		nullString(e.ReversalOf), e.CreatedAt, e.Kind)
	if err != nil {
		return fmt.Errorf("insert journal entry: %w", err)
	}
	return insertLines(ctx, tx, e.ID, e.Lines)
}

// insertLines writes the lines of a draft.
func insertLines(ctx context.Context, tx *db.Tx, entryID string, lines []EntryLine) error {
	for i := range lines {
		l := &lines[i]
		var settlesEntry sql.NullString
		var settlesLine sql.NullInt64
		if l.Settles != nil {
			settlesEntry = sql.NullString{String: l.Settles.EntryID, Valid: true}
			settlesLine = sql.NullInt64{Int64: int64(l.Settles.LineNo), Valid: true}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO journal_lines
(entry_id, line_no, account_id, debit, credit, txn_currency, txn_amount, rate, kind, settles_entry_id, settles_line_no, memo)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			entryID, l.LineNo, l.AccountID, money.Amount(&l.Debit), money.Amount(&l.Credit), string(l.TxnCurrency),
			money.Amount(&l.TxnAmount), money.Rate(&l.Rate), l.Kind, settlesEntry, settlesLine, l.Memo)
		if err != nil {
			return fmt.Errorf("insert journal line %d: %w", l.LineNo, err)
		}
	}
	return nil
}

// deleteLines removes a draft's lines (the triggers refuse it for a
// posted entry).
func deleteLines(ctx context.Context, tx *db.Tx, entryID string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM journal_lines WHERE entry_id = $1", entryID); err != nil {
		return fmt.Errorf("delete lines of journal entry %s: %w", entryID, err)
	}
	return nil
}

// openLine is what is left to settle of a foreign-currency line: its
// signed transaction and company-currency amounts less every posted
// settlement of it.
type openLine struct {
	found       bool
	account     string
	currency    money.Currency
	txn, amount money.Decimal
	rate        money.Decimal
}

// openItem reads a posted line and what its settlements left open. On
// PostgreSQL the line's row is locked first so that concurrent
// settlements of it queue (SQLite has one writer).
func openItem(ctx context.Context, tx *db.Tx, companyID string, ref LineRef) (openLine, error) {
	lock := ""
	if tx.Engine() == db.Postgres {
		lock = " FOR UPDATE OF l"
	}
	var o openLine
	var cur string
	err := tx.QueryRowContext(ctx, `SELECT l.account_id, l.txn_currency, l.txn_amount, l.debit - l.credit, l.rate
FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
WHERE l.entry_id = $1 AND l.line_no = $2 AND e.company_id = $3 AND e.status = 'posted'`+lock,
		ref.EntryID, ref.LineNo, companyID).Scan(&o.account, &cur, money.Amount(&o.txn), money.Amount(&o.amount), money.Rate(&o.rate))
	if errors.Is(err, sql.ErrNoRows) {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("read line %d of journal entry %s: %w", ref.LineNo, ref.EntryID, err)
	}
	o.found, o.currency = true, money.Currency(cur)
	var txn, amount money.Decimal
	err = tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(l.txn_amount), 0), COALESCE(SUM(l.debit - l.credit), 0)
FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
WHERE l.settles_entry_id = $1 AND l.settles_line_no = $2 AND e.status = 'posted'`, ref.EntryID, ref.LineNo).
		Scan(money.Amount(&txn), money.Amount(&amount))
	if err != nil {
		return o, fmt.Errorf("settlements of line %d of journal entry %s: %w", ref.LineNo, ref.EntryID, err)
	}
	o.txn, o.amount = o.txn.Add(txn), o.amount.Add(amount)
	return o, nil
}

// roleAccount is the company's active account with a role (rounding,
// fx_gain, …), for the lines the ledger adds itself.
func roleAccount(ctx context.Context, q db.Querier, companyID, role string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, "SELECT id FROM accounts WHERE company_id = $1 AND role = $2 AND role <> '' AND active", companyID, role).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.Field("/lines", "The company has no active account with role %s, which this entry needs; give an account that role.", role)
	}
	if err != nil {
		return "", fmt.Errorf("account with role %s: %w", role, err)
	}
	return id, nil
}

// nextNumber takes the company's next entry number. The upsert locks the
// company's counter row until the transaction ends, and a rollback undoes
// the increment, so numbers are gapless; only postings of the same company
// wait for each other, and only for the rest of their transaction.
func nextNumber(ctx context.Context, tx *db.Tx, companyID string) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `INSERT INTO journal_sequences (company_id, last_number) VALUES ($1, 1)
ON CONFLICT (company_id) DO UPDATE SET last_number = journal_sequences.last_number + 1
RETURNING last_number`, companyID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("take journal entry number for %s: %w", companyID, err)
	}
	return n, nil
}

// markPosted turns a draft into a posted entry with its number.
func markPosted(ctx context.Context, tx *db.Tx, id string, number int64, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE journal_entries SET status = $1, number = $2, posted_at = $3
WHERE id = $4 AND status = $5`, StatusPosted, number, at, id, StatusDraft)
	if err != nil {
		return fmt.Errorf("post journal entry %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("post journal entry %s: %w", id, err)
	} else if n != 1 {
		return fmt.Errorf("post journal entry %s: %d rows changed, want 1", id, n)
	}
	return nil
}

// setReversedBy records the reversal on the original, once: false when
// the original was already reversed (possibly by a concurrent request).
func setReversedBy(ctx context.Context, tx *db.Tx, id, reversal string) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE journal_entries SET reversed_by = $1
WHERE id = $2 AND status = $3 AND reversed_by IS NULL`, reversal, id, StatusPosted)
	if err != nil {
		return false, fmt.Errorf("mark journal entry %s reversed: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("mark journal entry %s reversed: %w", id, err)
	}
	return n == 1, nil
}

// findBySource returns the ID of the posted entry of a source triple.
func findBySource(ctx context.Context, q db.Querier, companyID, sourceType, sourceID, purpose string) (string, bool, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM journal_entries
WHERE company_id = $1 AND source_type = $2 AND source_id = $3 AND purpose = $4 AND status = 'posted' AND source_type <> ''`,
		companyID, sourceType, sourceID, purpose).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("find journal entry of %s %s: %w", sourceType, sourceID, err)
	}
	return id, true, nil
}

// loadEntry reads an entry with its lines; ErrNotFound when absent.
func loadEntry(ctx context.Context, q db.Querier, id string) (Entry, error) {
	entries, err := loadEntries(ctx, q, []string{id})
	if err != nil {
		return Entry{}, err
	}
	if len(entries) == 0 {
		return Entry{}, ErrNotFound
	}
	return entries[0], nil
}

// loadEntries reads entries with their lines in two queries, in the order
// of ids; absent ids are left out.
func loadEntries(ctx context.Context, q db.Querier, ids []string) ([]Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	marks, args := make([]string, len(ids)), make([]any, len(ids))
	for i, id := range ids {
		marks[i], args[i] = fmt.Sprintf("$%d", i+1), id
	}
	in := strings.Join(marks, ", ")
	rows, err := q.QueryContext(ctx, `SELECT `+entryColumns+` FROM journal_entries WHERE id IN (`+in+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read journal entries: %w", err)
	}
	found, err := db.Collect(rows, func(rows *sql.Rows) (Entry, error) {
		var (
			e                      Entry
			number                 sql.NullInt64
			currency               string
			reversalOf, reversedBy sql.NullString
			postedAt               sql.NullTime
		)
		err := rows.Scan(&e.ID, &e.CompanyID, &e.Status, &number, &e.Date, &currency, &e.Memo, &e.SourceType, &e.SourceID, &e.Purpose,
			&reversalOf, &reversedBy, &e.CreatedAt, &postedAt, &e.Kind)
		e.Number, e.Currency = number.Int64, money.Currency(currency)
		e.ReversalOf, e.ReversedBy = reversalOf.String, reversedBy.String
		e.CreatedAt = e.CreatedAt.UTC()
		if postedAt.Valid {
			t := postedAt.Time.UTC()
			e.PostedAt = &t
		}
		e.Lines = []EntryLine{}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("read journal entries: %w", err)
	}
	byID := make(map[string]*Entry, len(found))
	for i := range found {
		byID[found[i].ID] = &found[i]
	}
	rows, err = q.QueryContext(ctx, `SELECT entry_id, line_no, account_id, debit, credit, txn_currency, txn_amount, rate, kind,
settles_entry_id, settles_line_no, memo FROM journal_lines WHERE entry_id IN (`+in+`) ORDER BY entry_id, line_no`, args...)
	if err != nil {
		return nil, fmt.Errorf("read journal lines: %w", err)
	}
	_, err = db.Collect(rows, func(rows *sql.Rows) (struct{}, error) {
		var l EntryLine
		var entryID, txnCurrency string
		var settlesEntry sql.NullString
		var settlesLine sql.NullInt64
		if err := rows.Scan(&entryID, &l.LineNo, &l.AccountID, money.Amount(&l.Debit), money.Amount(&l.Credit), &txnCurrency,
			money.Amount(&l.TxnAmount), money.Rate(&l.Rate), &l.Kind, &settlesEntry, &settlesLine, &l.Memo); err != nil {
			return struct{}{}, err
		}
		e := byID[entryID]
		l.TxnCurrency = money.Currency(txnCurrency)
		l.Rate = l.Rate.Normalize()
		if settlesEntry.Valid {
			l.Settles = &LineRef{EntryID: settlesEntry.String, LineNo: int(settlesLine.Int64)}
		}
		// Stored at scale 4, shown with the currency's minor units; stored
		// amounts never have more places, so this only trims zeros.
		l.Debit = money.RoundAmount(l.Debit, e.Currency, money.HalfEven)
		l.Credit = money.RoundAmount(l.Credit, e.Currency, money.HalfEven)
		l.TxnAmount = money.RoundAmount(l.TxnAmount, l.TxnCurrency, money.HalfEven)
		e.Lines = append(e.Lines, l)
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read journal lines: %w", err)
	}
	out := make([]Entry, 0, len(found))
	for _, id := range ids {
		if e, ok := byID[id]; ok {
			out = append(out, *e)
		}
	}
	return out, nil
}

// trialBalance sums posted lines per account with SQL SUM over the scaled
// integers: exact on both engines (PostgreSQL's SUM(bigint) is numeric,
// SQLite's integer SUM fails rather than overflow).
func trialBalance(ctx context.Context, q db.Querier, companyID, asOf string) ([]Balance, error) {
	rows, err := q.QueryContext(ctx, `SELECT l.account_id, SUM(l.debit), SUM(l.credit)
FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
WHERE e.company_id = $1 AND e.status = $2 AND e.entry_date <= $3
GROUP BY l.account_id ORDER BY l.account_id`, companyID, StatusPosted, asOf)
	if err != nil {
		return nil, fmt.Errorf("trial balance of %s: %w", companyID, err)
	}
	out, err := db.Collect(rows, func(rows *sql.Rows) (Balance, error) {
		var b Balance
		err := rows.Scan(&b.AccountID, money.Amount(&b.Debit), money.Amount(&b.Credit))
		b.Balance = b.Debit.Sub(b.Credit)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("trial balance of %s: %w", companyID, err)
	}
	return out, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

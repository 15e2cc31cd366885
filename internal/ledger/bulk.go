package ledger

// Bulk loading: many posted entries in one transaction with a few hundred
// statements instead of several per entry. Its SQL lives here rather than
// in store.go so that the posting path and the load path can change
// independently; both write the same tables under the same triggers.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/ledger/periods"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// Bound parameters per multi-row statement: well under PostgreSQL's
// 65535; on SQLite far under its 32766, see multiInsert.
const (
	bulkParams       = 8000
	sqliteBulkParams = 400
	bulkEntryRows    = 500 // per UPDATE in bulkMarkPosted
)

// Loaded reports what LoadPosted posted: the numbers First..Last, in the
// order of the postings given.
type Loaded struct {
	Count       int
	First, Last int64
}

// LoadPosted posts ps, all of one company, in tx: for imports (opening
// balances, a migration from another system) and the trial-balance
// benchmark. Every posting is validated as Post validates it, closed
// periods refuse it, a source triple posts at most once (a duplicate is a
// 409 and nothing is loaded), and the entries get consecutive gapless
// numbers. It differs from calling Post in a loop in three ways, all for
// volume: it writes one audit row for the whole load rather than one per
// entry, records no per-entry events (a migration is not news for
// webhook subscribers), and checks non-negative accounts against their
// balance after the whole load rather than after each entry.
func LoadPosted(ctx context.Context, tx *db.Tx, ps []Posting) (Loaded, error) {
	if len(ps) == 0 {
		return Loaded{}, nil
	}
	company := ps[0].CompanyID
	dates := map[string]bool{}
	effect := map[string]money.Decimal{}
	for i, p := range ps {
		if p.CompanyID != company {
			return Loaded{}, apperr.New(apperr.Invalid, "Posting %d is for company %s; a load is for one company (%s).", i, p.CompanyID, company)
		}
		if err := validate(p, true); err != nil {
			return Loaded{}, fmt.Errorf("posting %d: %w", i, err)
		}
		dates[p.Date] = true
		for j, l := range p.Lines {
			// Conversion takes rates and rounding lines per entry; a load
			// is for figures already in the company currency.
			if l.Currency != "" && l.Currency != p.Currency {
				return Loaded{}, apperr.Field(fmt.Sprintf("/%d/lines/%d/currency", i, j), "A load takes company-currency lines only (%s), got %s.", p.Currency, l.Currency)
			}
			effect[l.AccountID] = effect[l.AccountID].Add(l.Debit).Sub(l.Credit)
		}
	}
	for date := range dates {
		if err := periods.CheckOpen(ctx, tx, company, date); err != nil {
			return Loaded{}, err
		}
	}
	guarded, err := lockNonNegative(ctx, tx, company, effect)
	if err != nil {
		return Loaded{}, err
	}
	entries := make([]Entry, len(ps))
	for i, p := range ps {
		entries[i] = newDraft(tx, p, "", companyLines(p))
	}
	if err := bulkInsertDrafts(ctx, tx, entries); err != nil {
		return Loaded{}, MapDBError(err)
	}
	last, err := takeNumbers(ctx, tx, company, int64(len(entries)))
	if err != nil {
		return Loaded{}, err
	}
	first := last - int64(len(entries)) + 1
	if err := bulkMarkPosted(ctx, tx, entries, first); err != nil {
		if db.IsUniqueViolation(err) {
			return Loaded{}, apperr.New(apperr.Conflict, "A source (type, id, purpose) in the load was already posted, or appears twice in it.").Wrap(err)
		}
		return Loaded{}, MapDBError(err)
	}
	for _, id := range guarded {
		var balance money.Decimal
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l
JOIN journal_entries e ON e.id = l.entry_id WHERE e.company_id = $1 AND e.status = 'posted' AND l.account_id = $2`,
			company, id).Scan(money.Amount(&balance)); err != nil {
			return Loaded{}, fmt.Errorf("balance of account %s: %w", id, err)
		}
		if balance.IsNegative() {
			return Loaded{}, apperr.New(apperr.Conflict, "Account %s may not go below zero: the load would take it to %s.", id, balance.Normalize())
		}
	}
	if err := audit.Record(ctx, tx, audit.Entry{
		Action: "journal_entry.bulk_load", ResourceType: ResourceType, ResourceID: entries[0].ID, CompanyID: company,
		Details: map[string]any{"count": len(entries), "first_number": first, "last_number": last},
	}); err != nil {
		return Loaded{}, fmt.Errorf("load journal entries: %w", err)
	}
	return Loaded{Count: len(entries), First: first, Last: last}, nil
}

// lockNonNegative locks, in a stable order, the accounts flagged
// non-negative that the load takes money out of, and returns their IDs
// for the check after the load.
func lockNonNegative(ctx context.Context, tx *db.Tx, company string, effect map[string]money.Decimal) ([]string, error) {
	var ids []string
	for id, d := range effect {
		if d.IsNegative() {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	lock := ""
	if tx.Engine() == db.Postgres {
		lock = " FOR UPDATE"
	}
	var guarded []string
	for _, id := range ids {
		var nonNegative bool
		err := tx.QueryRowContext(ctx, "SELECT non_negative FROM accounts WHERE id = $1 AND company_id = $2"+lock, id, company).Scan(&nonNegative)
		if err == nil && nonNegative {
			guarded = append(guarded, id)
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("lock account %s: %w", id, err)
		}
	}
	return guarded, nil
}

// takeNumbers reserves n numbers of the company's gapless sequence in one
// step and returns the last; like nextNumber, the counter row stays
// locked until the transaction ends and a rollback gives the numbers back.
func takeNumbers(ctx context.Context, tx *db.Tx, company string, n int64) (int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, `INSERT INTO journal_sequences (company_id, last_number) VALUES ($1, $2)
ON CONFLICT (company_id) DO UPDATE SET last_number = journal_sequences.last_number + $2
RETURNING last_number`, company, n).Scan(&last)
	if err != nil {
		return 0, fmt.Errorf("take %d journal entry numbers for %s: %w", n, company, err)
	}
	return last, nil
}

// placeholders returns "($k, $k+1, …), (…)" for rows of width columns,
// starting at $start.
func placeholders(rows, width, start int) string {
	var b strings.Builder
	n := start
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := 0; c < width; c++ {
			if c > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", n)
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// bulkInsertDrafts writes the entries as drafts and then their lines: the
// triggers refuse lines of a posted entry, so posting comes after.
func bulkInsertDrafts(ctx context.Context, tx *db.Tx, entries []Entry) error {
	rows := make([][]any, len(entries))
	for i, e := range entries {
		rows[i] = []any{e.ID, e.CompanyID, StatusDraft, e.Date, string(e.Currency), e.Memo,
			e.SourceType, e.SourceID, e.Purpose, e.Kind, e.CreatedAt}
	}
	if err := multiInsert(ctx, tx, `INSERT INTO journal_entries
(id, company_id, status, entry_date, currency, memo, source_type, source_id, purpose, kind, created_at) VALUES `, rows); err != nil {
		return fmt.Errorf("load journal entries: %w", err)
	}
	rows = rows[:0]
	for i := range entries {
		e := &entries[i]
		for j := range e.Lines {
			l := &e.Lines[j]
			rows = append(rows, []any{e.ID, l.LineNo, l.AccountID, money.Amount(&l.Debit), money.Amount(&l.Credit),
				string(l.TxnCurrency), money.Amount(&l.TxnAmount), l.Memo})
		}
	}
	if err := multiInsert(ctx, tx, `INSERT INTO journal_lines
(entry_id, line_no, account_id, debit, credit, txn_currency, txn_amount, memo) VALUES `, rows); err != nil {
		return fmt.Errorf("load journal lines: %w", err)
	}
	return nil
}

// multiInsert runs prefix followed by multi-row VALUES for rows (all of
// one width), the full-size statement prepared once. SQLite resolves $n
// parameters by name in a list scanned linearly, so parsing costs the
// square of the parameter count: there, statements stay small.
func multiInsert(ctx context.Context, tx *db.Tx, prefix string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	per := bulkParams / width
	if tx.Engine() == db.SQLite {
		per = sqliteBulkParams / width
	}
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, per*width)
	for start := 0; start < len(rows); start += per {
		batch := rows[start:min(start+per, len(rows))]
		args = args[:0]
		for _, r := range batch {
			args = append(args, r...)
		}
		if len(batch) < per {
			if _, err := tx.ExecContext(ctx, prefix+placeholders(len(batch), width, 1), args...); err != nil {
				return err
			}
			continue
		}
		if full == nil {
			var err error
			if full, err = tx.PrepareContext(ctx, prefix+placeholders(per, width, 1)); err != nil {
				return err
			}
		}
		if _, err := full.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// bulkMarkPosted posts the drafts with numbers first, first+1, …. On
// PostgreSQL one UPDATE per batch joins the (id, number) pairs, which
// come as a UNION ALL of SELECTs (the row-set constructor both engines
// name columns of); SQLite plans that join as a scan of the whole table
// per batch, and runs in-process, so there one prepared UPDATE per entry
// is the fast way.
func bulkMarkPosted(ctx context.Context, tx *db.Tx, entries []Entry, first int64) error {
	now := tx.Now()
	if tx.Engine() == db.SQLite {
		stmt, err := tx.PrepareContext(ctx, `UPDATE journal_entries SET status = $1, number = $2, posted_at = $3 WHERE id = $4 AND status = $5`)
		if err != nil {
			return fmt.Errorf("post loaded journal entries: %w", err)
		}
		defer stmt.Close()
		for i, e := range entries {
			if _, err := stmt.ExecContext(ctx, StatusPosted, first+int64(i), now, e.ID, StatusDraft); err != nil {
				return fmt.Errorf("post loaded journal entry %s: %w", e.ID, err)
			}
		}
	}
	for start := 0; start < len(entries) && tx.Engine() != db.SQLite; start += bulkEntryRows {
		batch := entries[start:min(start+bulkEntryRows, len(entries))]
		args := []any{StatusPosted, now, StatusDraft}
		var b strings.Builder
		for i, e := range batch {
			if i > 0 {
				b.WriteString(" UNION ALL ")
			}
			fmt.Fprintf(&b, "SELECT CAST($%d AS TEXT) AS id, CAST($%d AS BIGINT) AS n", len(args)+1, len(args)+2)
			args = append(args, e.ID, first+int64(start+i))
		}
		res, err := tx.ExecContext(ctx, `UPDATE journal_entries SET status = $1, number = v.n, posted_at = $2
FROM (`+b.String()+`) AS v WHERE journal_entries.id = v.id AND journal_entries.status = $3`, args...)
		if err != nil {
			return fmt.Errorf("post loaded journal entries: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("post loaded journal entries: %w", err)
		} else if n != int64(len(batch)) {
			return fmt.Errorf("post loaded journal entries: %d rows changed, want %d", n, len(batch))
		}
	}
	for i := range entries {
		t := now
		entries[i].Status, entries[i].Number, entries[i].PostedAt = StatusPosted, first+int64(i), &t
	}
	return nil
}

package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
)

// checkNonNegative refuses a posting that would take an account flagged
// non-negative (stock, a bank without overdraft) below zero. Only such
// accounts are locked — their row, in a stable order so posters never
// deadlock — so postings to other accounts never wait on each other
// (DESIGN §5: no hot rows). The balance is derived from the posted lines.
func checkNonNegative(ctx context.Context, tx *db.Tx, companyID string, lines []EntryLine) error {
	effect := map[string]money.Decimal{}
	for _, l := range lines {
		effect[l.AccountID] = effect[l.AccountID].Add(l.Debit).Sub(l.Credit)
	}
	ids := make([]string, 0, len(effect))
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
	for _, id := range ids {
		var nonNegative bool
		err := tx.QueryRowContext(ctx, "SELECT non_negative FROM accounts WHERE id = $1 AND company_id = $2"+lock, id, companyID).Scan(&nonNegative)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !nonNegative) {
			continue
		}
		if err != nil {
			return fmt.Errorf("lock account %s: %w", id, err)
		}
		var balance money.Decimal
		err = tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(l.debit - l.credit), 0) FROM journal_lines l
JOIN journal_entries e ON e.id = l.entry_id WHERE e.company_id = $1 AND e.status = 'posted' AND l.account_id = $2`,
			companyID, id).Scan(money.Amount(&balance))
		if err != nil {
			return fmt.Errorf("balance of account %s: %w", id, err)
		}
		if after := balance.Add(effect[id]); after.IsNegative() {
			return apperr.New(apperr.Conflict, "Account %s may not go below zero: its balance is %s and this entry would take it to %s.",
				id, balance.Normalize(), after.Normalize())
		}
	}
	return nil
}

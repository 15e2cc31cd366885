package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/sequencer"
)

// pruneBatch is how many rows one deleting transaction removes, so pruning
// a year of log never holds one huge transaction.
const pruneBatch = 5000

// Prune deletes the audit rows older than olderThan and leaves a chain that
// still verifies. Rows go by position, never leaving a hole: the new start
// is the first row that occurred at or after the cut-off (a row that
// committed late keeps its older neighbours), and the last numbered row is
// always kept, so positions keep increasing. First, under the sequencer's
// lock, it writes a start checkpoint signed under masterKey naming that
// row's position and prev_hash (and signs the head, if not yet signed),
// and drops the checkpoints before the start; then it deletes the rows
// before the start in batches. Verify begins at the newest valid start and
// ignores rows before it, so an interrupted prune still verifies and the
// next one finishes it. It returns how many rows it deleted.
func Prune(ctx context.Context, d *db.DB, masterKey []byte, olderThan time.Duration) (int64, error) {
	k, err := deriveKeys(masterKey)
	if err != nil {
		return 0, err
	}
	if olderThan <= 0 {
		return 0, fmt.Errorf("prune audit log: retention %s must be positive", olderThan)
	}
	cutoff := d.Now().Add(-olderThan).UTC()
	var start int64
	err = d.Transact(ctx, func(tx *db.Tx) error {
		start = 0
		if err := sequencer.Lock(ctx, tx, Topic); err != nil {
			return err
		}
		var first, head, keep sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(seq), MAX(seq) FROM audit_log WHERE seq IS NOT NULL`).Scan(&first, &head); err != nil {
			return err
		}
		if !head.Valid {
			return nil
		}
		if err := tx.QueryRowContext(ctx, `SELECT MIN(seq) FROM audit_log WHERE seq IS NOT NULL AND occurred_at >= $1`, cutoff).Scan(&keep); err != nil {
			return err
		}
		s := head.Int64
		if keep.Valid && keep.Int64 < s {
			s = keep.Int64
		}
		if s <= first.Int64 {
			return nil // nothing older to delete
		}
		start = s
		var existing int64
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_checkpoints WHERE kind = 'start' AND seq = $1`, s).Scan(&existing)
		if err != nil {
			return err
		}
		if existing == 0 {
			prev, err := startHash(ctx, tx, s)
			if err != nil {
				return err
			}
			if err := writeCheckpoint(ctx, tx, k, KindStart, s, prev); err != nil {
				return err
			}
		}
		// The rows from the start on are about to be all there is: make
		// sure a signature covers them before the old ones go.
		if err := checkpointHead(ctx, tx, k, true); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM audit_checkpoints WHERE seq < $1`, s)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune audit log: %w", err)
	}
	if start == 0 {
		return 0, nil
	}
	var total int64
	for {
		var n int64
		err := d.Transact(ctx, func(tx *db.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE id IN
(SELECT id FROM audit_log WHERE seq < $1 ORDER BY seq LIMIT $2)`, start, pruneBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune audit log before %d: %w", start, err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}

// startHash is the prev_hash of the row at seq: what the chain's new start
// must link to.
func startHash(ctx context.Context, q db.Querier, seq int64) (string, error) {
	var h sql.NullString
	err := q.QueryRowContext(ctx, "SELECT prev_hash FROM audit_log WHERE seq = $1", seq).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !h.Valid {
		return genesis, nil
	}
	if err != nil {
		return "", fmt.Errorf("read audit prev_hash at %d: %w", seq, err)
	}
	return h.String, nil
}

// ErasePersonalData blanks the IP address, user agent and on-behalf-of of
// every audit row about the person onBehalfOf, as erasure of personal data
// requires. The rows' personal digests stay, and the rows are marked
// erased, so the chain still verifies and the rest of each row (who, what,
// when) is kept. It returns how many rows it erased.
func ErasePersonalData(ctx context.Context, tx *db.Tx, onBehalfOf string) (int64, error) {
	if onBehalfOf == "" {
		return 0, errors.New("erase audit personal data: no person named")
	}
	res, err := tx.ExecContext(ctx, `UPDATE audit_log SET on_behalf_of = '', ip = '', user_agent = '', personal_erased_at = $1
WHERE on_behalf_of = $2`, tx.Now(), onBehalfOf)
	if err != nil {
		return 0, fmt.Errorf("erase audit personal data: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("erase audit personal data: %w", err)
	}
	return n, nil
}

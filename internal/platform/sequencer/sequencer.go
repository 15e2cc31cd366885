// Package sequencer gives append-only logs (the event outbox, the audit
// log) their feed positions after commit.
//
// Writers insert rows with seq NULL inside their business transactions and
// touch no shared row, so checkouts never serialize on a counter. One
// sequencer at a time (an advisory lock on PostgreSQL; SQLite's single
// writer) numbers the rows that have committed, in insertion order,
// continuing from the highest number given so far. A row whose transaction
// commits late is simply numbered in a later pass, after everything already
// numbered, so a reader that tails "seq > last seen" never skips a row.
//
// A log can ask for more work in the same pass (the audit log links each
// newly numbered row into its hash chain) by installing a Linker: it runs
// in the numbering transaction, under the same lock, so links are made in
// position order, exactly once, and still off the request path.
package sequencer

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Tables are the logs the sequencer numbers. Each must have an
// autoincrementing id and a nullable unique seq.
var Tables = []string{"outbox_events", "audit_log"}

// Batch is the most rows numbered in one transaction.
const Batch = 1000

// A Linker extends every numbering pass of one table. It runs inside the
// pass's transaction and under its lock, after rows first..last have been
// numbered; when the pass numbered nothing, first is last+1, so a linker
// can still do periodic work (the audit log signs checkpoints of its head
// that way). An error rolls the whole pass back, numbering included, so a
// row is never numbered without its link; the next pass tries again.
type Linker func(ctx context.Context, tx *db.Tx, first, last int64) error

var (
	linkersMu sync.RWMutex
	linkers   = map[string]Linker{}
)

// SetLinker installs fn for table, replacing any earlier one; nil removes
// it. The app sets linkers at start (audit.Configure does), before Run.
func SetLinker(table string, fn Linker) {
	linkersMu.Lock()
	defer linkersMu.Unlock()
	if fn == nil {
		delete(linkers, table)
		return
	}
	linkers[table] = fn
}

func linkerFor(table string) Linker {
	linkersMu.RLock()
	defer linkersMu.RUnlock()
	return linkers[table]
}

// Lock takes, in tx, the lock that numbering passes of table hold, so other
// work on a log's derived state (pruning the audit chain) never interleaves
// with a pass. It is transaction-scoped on PostgreSQL; on SQLite the single
// writer already serializes transactions, so it does nothing there.
func Lock(ctx context.Context, tx *db.Tx, table string) error {
	if tx.Engine() != db.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(table)); err != nil {
		return fmt.Errorf("lock sequencer of %s: %w", table, err)
	}
	return nil
}

// Assign numbers up to Batch committed, unnumbered rows of table and
// returns how many it numbered. The table's Linker, if any, runs in the
// same transaction.
func Assign(ctx context.Context, d *db.DB, table string) (int, error) {
	var n int64
	err := d.Transact(ctx, func(tx *db.Tx) error {
		if err := Lock(ctx, tx, table); err != nil {
			return err
		}
		// Read the top under the lock: no other pass can move it until we
		// commit, and the linker needs to know which positions are new.
		// table is one of Tables, never input.
		var top int64
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM "+table).Scan(&top); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE `+table+` SET seq = s.n
FROM (SELECT id, $2 + ROW_NUMBER() OVER (ORDER BY id) AS n
      FROM `+table+` WHERE seq IS NULL ORDER BY id LIMIT $1) AS s
WHERE `+table+`.id = s.id`, Batch, top)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if link := linkerFor(table); link != nil {
			return link(ctx, tx, top+1, top+n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sequence %s: %w", table, err)
	}
	if n > 0 {
		d.Signal(SequencedTopic(table))
	}
	return int(n), nil
}

// SequencedTopic is signalled in this process after a pass numbered rows
// of table: readers that tail the feed (webhook fan-out, event streams)
// wake on it instead of waiting for their next poll.
func SequencedTopic(table string) string { return table + ".sequenced" }

// Backlog counts the rows of table not yet numbered.
func Backlog(ctx context.Context, q db.Querier, table string) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+" WHERE seq IS NULL").Scan(&n); err != nil {
		return 0, fmt.Errorf("count unsequenced %s: %w", table, err)
	}
	return n, nil
}

func lockKey(table string) int64 {
	h := fnv.New64a()
	h.Write([]byte("mainstay.sequencer." + table))
	return int64(h.Sum64())
}

// Run numbers rows whenever a transaction that wrote to a table commits,
// and every interval besides (for rows written by other nodes), until ctx
// ends.
func Run(ctx context.Context, d *db.DB, log *slog.Logger, interval time.Duration) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wake := make([]<-chan struct{}, len(Tables))
	for i, t := range Tables {
		wake[i] = d.Subscribe(t)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		for _, t := range Tables {
			drain(ctx, d, log, t)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-wake[0]:
		case <-wake[1]:
		}
	}
}

func drain(ctx context.Context, d *db.DB, log *slog.Logger, table string) {
	for ctx.Err() == nil {
		n, err := Assign(ctx, d, table)
		if err != nil {
			if ctx.Err() == nil {
				log.ErrorContext(ctx, "sequencer", "table", table, "err", err)
			}
			return
		}
		if n < Batch {
			return
		}
	}
}

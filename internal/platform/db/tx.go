package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// Tx is a transaction handed to the function given to Transact. It carries
// the time the transaction started, so every row it writes has one
// timestamp, and the hooks to run once it has committed.
type Tx struct {
	*sql.Tx
	db       *DB
	now      time.Time
	onCommit []func()
	notified []string
	retry    error
	memo     map[string]any
}

// Memo returns what load returns for key, calling it once per
// transaction: for what a unit of work reads several times and does not
// change, such as a company's settings while it takes an order. Errors
// are not remembered.
func Memo[T any](tx *Tx, key string, load func() (T, error)) (T, error) {
	if v, ok := tx.memo[key]; ok {
		return v.(T), nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	if tx.memo == nil {
		tx.memo = map[string]any{}
	}
	tx.memo[key] = v
	return v, nil
}

// Now is the transaction's time, taken once from the database clock.
func (tx *Tx) Now() time.Time { return tx.now }

// Engine reports the engine the transaction runs on.
func (tx *Tx) Engine() Engine { return tx.db.engine }

// OnCommit registers fn to run after the transaction commits (to wake a
// dispatcher, say). It does not run if the transaction rolls back or is
// retried: the retry registers its own hooks.
func (tx *Tx) OnCommit(fn func()) { tx.onCommit = append(tx.onCommit, fn) }

// MaxAttempts bounds how often Transact runs a function whose transaction
// failed with a serialization failure or a deadlock.
const MaxAttempts = 10

// Transact runs fn in a transaction and commits it if fn returns nil.
// PostgreSQL runs at READ COMMITTED with explicit row locks; a serialization
// failure (40001) or deadlock (40P01) rolls back and runs fn again with
// backoff, so fn must have no effects outside the database (use OnCommit).
// SQLite transactions start with BEGIN IMMEDIATE on the single write
// connection, so they never deadlock; a busy database is retried likewise.
func (d *DB) Transact(ctx context.Context, fn func(tx *Tx) error) error {
	if outer := TxFrom(ctx); outer != nil && outer.db == d {
		// Joined: the outer transaction commits, retries and runs hooks.
		err := fn(outer)
		if err != nil && Retryable(err) {
			outer.retry = err
		}
		return err
	}
	var err error
	for attempt := 1; ; attempt++ {
		err = d.transactOnce(ctx, fn)
		if err == nil || !Retryable(err) || attempt >= MaxAttempts {
			if err != nil && Retryable(err) {
				return fmt.Errorf("transaction failed after %d attempts: %w", attempt, err)
			}
			return err
		}
		d.log.DebugContext(ctx, "retrying transaction", "attempt", attempt, "err", err)
		if werr := sleep(ctx, backoff(attempt)); werr != nil {
			return errors.Join(err, werr)
		}
	}
}

func (d *DB) transactOnce(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if d.writeQueue != nil {
		// SQLite's one write connection goes to waiters in arrival
		// order. database/sql hands a freed connection to a random
		// waiter, which under load left some transactions waiting many
		// turns: checkout's p99 was six times its median.
		select {
		case d.writeQueue <- struct{}{}:
		case <-ctx.Done():
			return fmt.Errorf("begin transaction: %w", ctx.Err())
		}
		defer func() { <-d.writeQueue }()
	}
	sqlTx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	tx := &Tx{Tx: sqlTx, db: d, now: d.clock.Now().UTC()}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
	}()
	err = fn(tx)
	if err == nil && tx.retry != nil {
		// A joined unit of work lost a race the outer function swallowed
		// into a response; the whole transaction must run again.
		err = tx.retry
	}
	if err == nil {
		for _, hook := range commitHooks(ctx) {
			if err = hook(ctx, tx); err != nil {
				break
			}
		}
	}
	if err != nil {
		if rerr := sqlTx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rerr))
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, hook := range tx.onCommit {
		hook()
	}
	return nil
}

// Retryable reports whether err means the transaction lost a race and may
// succeed if run again.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() & 0xff {
		case 5, 6: // SQLITE_BUSY, SQLITE_LOCKED and their extended codes
			return true
		}
	}
	return false
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either engine, so stores can turn a duplicate into a 409.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		// SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY
		return sqErr.Code() == 2067 || sqErr.Code() == 1555
	}
	return false
}

// backoff is exponential with full jitter, from 2 ms up to about 250 ms.
func backoff(attempt int) time.Duration {
	ceiling := 2 * time.Millisecond << min(attempt, 7)
	return time.Duration(rand.Int64N(int64(ceiling))) + time.Millisecond
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

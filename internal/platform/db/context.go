package db

import "context"

type ctxKey int

const (
	txKey ctxKey = iota
	hookKey
)

// ContextWithTx returns ctx carrying tx. Transact called with such a
// context joins tx instead of starting its own transaction: that is how a
// batch runs many operations, each written as its own unit of work, all or
// nothing.
func ContextWithTx(ctx context.Context, tx *Tx) context.Context {
	return context.WithValue(ctx, txKey, tx)
}

// TxFrom returns the transaction ctx carries, if any.
func TxFrom(ctx context.Context) *Tx {
	tx, _ := ctx.Value(txKey).(*Tx)
	return tx
}

// Reader is the Querier reads should use: the transaction ctx carries, so
// a batch sees its own writes, else the database.
func (d *DB) Reader(ctx context.Context) Querier {
	if tx := TxFrom(ctx); tx != nil && tx.db == d {
		return tx
	}
	return d
}

// CommitHook runs inside a transaction just before it commits.
type CommitHook func(ctx context.Context, tx *Tx) error

// WithCommitHook returns ctx whose transactions run hook before they
// commit, so a request-level record (an idempotency key marked executed)
// commits atomically with whatever business change the request made.
func WithCommitHook(ctx context.Context, hook CommitHook) context.Context {
	hooks, _ := ctx.Value(hookKey).([]CommitHook)
	return context.WithValue(ctx, hookKey, append(append([]CommitHook(nil), hooks...), hook))
}

func commitHooks(ctx context.Context) []CommitHook {
	hooks, _ := ctx.Value(hookKey).([]CommitHook)
	return hooks
}

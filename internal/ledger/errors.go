package ledger

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
)

// ErrImmutable is returned when the database refused to change a posted
// entry or its lines (the triggers of migration 0010).
var ErrImmutable = apperr.New(apperr.Conflict, "Posted journal entries are immutable; reverse the entry instead.")

// ErrNotFound is returned for an unknown journal entry.
var ErrNotFound = apperr.New(apperr.NotFound, "The journal entry was not found.")

// immutableSQLState is the SQLSTATE the PostgreSQL trigger raises.
const immutableSQLState = "MSL01"

// immutableMessage is the text of the SQLite triggers' RAISE(ABORT, …).
const immutableMessage = "posted journal entries are immutable"

// IsImmutable reports whether err is the database refusing a change to a
// posted entry, on either engine.
func IsImmutable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == immutableSQLState
	}
	// modernc's SQLite error carries the RAISE message in its text only.
	return err != nil && strings.Contains(err.Error(), immutableMessage)
}

// MapDBError turns the database's refusal to change a posted entry into
// ErrImmutable (409), for callers that write ledger tables themselves;
// other errors are returned as they are.
func MapDBError(err error) error {
	if IsImmutable(err) {
		return ErrImmutable.Wrap(err)
	}
	return err
}

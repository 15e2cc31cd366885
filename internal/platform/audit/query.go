package audit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Filter selects audit rows. Empty fields do not filter. Companies, when
// not nil, restricts rows to those companies (a caller limited to some
// companies sees only theirs; an empty non-nil slice matches nothing).
type Filter struct {
	Actor        string
	ResourceType string
	ResourceID   string
	Action       string
	Outcome      string
	CompanyID    string
	Companies    []string
	From, To     time.Time // From inclusive, To exclusive; zero: unbounded
}

// where renders f as SQL conditions on audit_log with arguments numbered
// from argStart. Only sequenced rows are ever listed: a row without a
// position may still be rolled back into the middle of nowhere, and pages
// are keyed by position.
func (f Filter) where(argStart int) (string, []any) {
	conds := []string{"seq IS NOT NULL"}
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, argStart+len(args)-1))
	}
	for _, c := range []struct {
		col, v string
	}{
		{"actor", f.Actor}, {"resource_type", f.ResourceType}, {"resource_id", f.ResourceID},
		{"action", f.Action}, {"outcome", f.Outcome}, {"company_id", f.CompanyID},
	} {
		if c.v != "" {
			add(c.col+" = $%d", c.v)
		}
	}
	if f.Companies != nil {
		if len(f.Companies) == 0 {
			conds = append(conds, "1 = 0")
		} else {
			marks := make([]string, len(f.Companies))
			for i, c := range f.Companies {
				args = append(args, c)
				marks[i] = fmt.Sprintf("$%d", argStart+len(args)-1)
			}
			conds = append(conds, "company_id IN ("+strings.Join(marks, ", ")+")")
		}
	}
	if !f.From.IsZero() {
		add("occurred_at >= $%d", f.From.UTC())
	}
	if !f.To.IsZero() {
		add("occurred_at < $%d", f.To.UTC())
	}
	return strings.Join(conds, " AND "), args
}

// List returns up to limit sequenced entries matching f after position
// seq, in log order.
func List(ctx context.Context, q db.Querier, f Filter, seq int64, limit int) ([]Stored, error) {
	return list(ctx, q, f, seq, 0, limit)
}

// list is List with an optional upper bound on positions (through > 0).
func list(ctx context.Context, q db.Querier, f Filter, after, through int64, limit int) ([]Stored, error) {
	cond, args := f.where(1)
	args = append(args, after)
	cond += fmt.Sprintf(" AND seq > $%d", len(args))
	if through > 0 {
		args = append(args, through)
		cond += fmt.Sprintf(" AND seq <= $%d", len(args))
	}
	args = append(args, limit)
	rows, err := q.QueryContext(ctx, "SELECT "+storedColumns+" FROM audit_log WHERE "+cond+
		fmt.Sprintf(" ORDER BY seq LIMIT $%d", len(args)), args...)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		s, err := scanStored(rows)
		if err != nil {
			return nil, fmt.Errorf("list audit log: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return out, nil
}

// exportBatch is how many rows Export reads per query.
const exportBatch = 1000

// Export calls fn for every sequenced entry matching f, in log order, in
// batches, so a large export holds one batch in memory. It stops at the
// head as it was when it started, so an export under constant writes
// still ends; fn's error stops it and is returned.
func Export(ctx context.Context, q db.Querier, f Filter, fn func(Stored) error) error {
	var head int64
	if err := q.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM audit_log").Scan(&head); err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	var after int64
	for after < head {
		batch, err := list(ctx, q, f, after, head, exportBatch)
		if err != nil {
			return err
		}
		for _, s := range batch {
			if err := fn(s); err != nil {
				return err
			}
		}
		if len(batch) < exportBatch {
			return nil
		}
		after = batch[len(batch)-1].Seq
	}
	return nil
}

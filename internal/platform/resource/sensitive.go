package resource

import (
	"context"
	"fmt"
	"sort"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
)

// Field-level access: a sensitive member (Spec.Sensitive, member → scope)
// is omitted from every response to a caller without its scope — omitted,
// not masked, so a merge patch can never write a placeholder back — and
// such a caller may not write it (403), filter, order or select on it
// (400). A full replacement by such a caller keeps the stored value.

// hidden returns the sensitive members the caller may not see.
func (r *Resource[T, PT]) hidden(ctx context.Context) map[string]string {
	if len(r.spec.Sensitive) == 0 {
		return nil
	}
	p, _ := auth.FromContext(ctx)
	out := map[string]string{}
	for member, scope := range r.spec.Sensitive {
		if !p.Has(scope) {
			out[member] = scope
		}
	}
	return out
}

// present is a record as the caller may see it.
func (r *Resource[T, PT]) present(ctx context.Context, v *T) any {
	hide := r.hidden(ctx)
	if len(hide) == 0 {
		return v
	}
	m, err := toMap(v)
	if err != nil {
		return v
	}
	for member := range hide {
		delete(m, member)
	}
	return m
}

// checkWritable refuses a body that sets a member the caller may not
// write.
func (r *Resource[T, PT]) checkWritable(ctx context.Context, body map[string]any) error {
	hide := r.hidden(ctx)
	members := make([]string, 0, len(hide))
	for member := range hide {
		if _, ok := body[member]; ok {
			members = append(members, member)
		}
	}
	if len(members) == 0 {
		return nil
	}
	sort.Strings(members)
	return apperr.New(apperr.Forbidden, "Writing %s needs the scope %q.", members[0], hide[members[0]]).
		WithFields(apperr.FieldError{Pointer: "/" + members[0], Detail: "needs the scope " + hide[members[0]]})
}

// checkQueryable refuses filters and orders on members the caller may not
// read: their results would reveal the values.
func (r *Resource[T, PT]) checkQueryable(ctx context.Context, expr query.Expr, orders []query.Order) error {
	hide := r.hidden(ctx)
	if len(hide) == 0 {
		return nil
	}
	for _, o := range orders {
		if scope, ok := hide[o.Field.Name]; ok {
			return badQuery("order_by", o.Field.Name, scope)
		}
	}
	var walk func(e query.Expr) error
	walk = func(e query.Expr) error {
		switch n := e.(type) {
		case *query.And:
			for _, t := range n.Terms {
				if err := walk(t); err != nil {
					return err
				}
			}
		case *query.Or:
			for _, t := range n.Terms {
				if err := walk(t); err != nil {
					return err
				}
			}
		case *query.Not:
			return walk(n.X)
		case *query.Comparison:
			if scope, ok := hide[n.Field]; ok {
				return badQuery("filter", n.Field, scope)
			}
		}
		return nil
	}
	if expr != nil {
		return walk(expr)
	}
	return nil
}

func badQuery(param, member, scope string) error {
	return apperr.New(apperr.BadRequest, "%s may not use %s without the scope %q.", param, member, scope).
		WithFields(apperr.FieldError{Pointer: "query:" + param, Detail: fmt.Sprintf("%s needs the scope %s", member, scope)})
}

// auditSensitiveRead records that the caller was shown sensitive members
// of these records (reads of sensitive data are audited, as writes are).
// It runs in its own transaction: a read has none.
func (r *Resource[T, PT]) auditSensitiveRead(ctx context.Context, items []*T) error {
	if len(r.spec.Sensitive) == 0 || len(items) == 0 || len(r.hidden(ctx)) == len(r.spec.Sensitive) {
		return nil
	}
	var ids []string
	company := ""
	for _, v := range items {
		m, err := toMap(v)
		if err != nil {
			return err
		}
		for member := range r.spec.Sensitive {
			if _, ok := m[member]; ok {
				ids = append(ids, PT(v).meta().ID)
				if o, ok := any(PT(v)).(ownedRecord); ok {
					company = o.owned().CompanyID
				}
				break
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	entry := audit.Entry{Action: r.spec.Singular + ".read_sensitive", ResourceType: r.spec.Singular, CompanyID: company}
	if len(ids) == 1 {
		entry.ResourceID = ids[0]
	} else {
		entry.Details = map[string]any{"ids": ids}
	}
	return r.e.db.Transact(ctx, func(tx *db.Tx) error { return audit.Record(ctx, tx, entry) })
}

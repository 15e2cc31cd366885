package resource

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// Resource is a registered resource: the service other code calls, and
// the routes it mounts.
type Resource[T any, PT interface {
	*T
	Record
}] struct {
	e      *Engine
	spec   Spec[T]
	kind   *kind
	typ    reflect.Type
	schema query.Schema
	cols   []Column[T]
	// readOnly lists the members a client may never send.
	readOnly map[string]bool
	holds    []Hold
	created  []func(ctx context.Context, tx *db.Tx, v *T) error
	deleting []func(ctx context.Context, tx *db.Tx, id string) error
}

// BeforeDelete registers fn to run in the transaction that deletes a
// record, before it goes: another module refuses the delete of something
// its own rows still need (a location holding stock) with an apperr.
func (r *Resource[T, PT]) BeforeDelete(fn func(ctx context.Context, tx *db.Tx, id string) error) {
	r.deleting = append(r.deleting, fn)
}

// AfterCreate registers fn to run in the transaction that creates a
// record, after it is stored: another module's follow-up (a new company's
// chart of accounts) commits with it or not at all.
func (r *Resource[T, PT]) AfterCreate(fn func(ctx context.Context, tx *db.Tx, v *T) error) {
	r.created = append(r.created, fn)
}

// Versioned is a record with its version, which makes its ETag.
type Versioned[T any] struct {
	Value   *T
	Version int64
}

// ErrNotFound is returned for an absent record or another company's.
func (r *Resource[T, PT]) notFound(id string) error {
	return apperr.New(apperr.NotFound, "No %s %q.", strings.ReplaceAll(r.spec.Singular, "_", " "), id)
}

// Register adds a resource to the engine and mounts its routes.
func Register[T any, PT interface {
	*T
	Record
}](e *Engine, spec Spec[T]) *Resource[T, PT] {
	var zero T
	if _, ok := any(PT(&zero)).(ownedRecord); ok != spec.Scoped {
		panic("resource " + spec.Plural + ": Scoped must match embedding Owned")
	}
	r := &Resource[T, PT]{e: e, spec: spec, typ: reflect.TypeOf(zero), cols: spec.Columns}
	r.kind = &kind{plural: spec.Plural, singular: spec.Singular, table: spec.table(), prefix: spec.Prefix, scoped: spec.Scoped}
	e.add(r.kind)
	r.schema = query.Schema{
		{Name: "id", Column: "id", Kind: query.String, Sortable: true},
		{Name: "external_id", Column: "external_id", Kind: query.String, Sortable: true},
		{Name: "created_at", Column: "created_at", Kind: query.Time, Sortable: true},
		{Name: "updated_at", Column: "updated_at", Kind: query.Time, Sortable: true},
	}
	for _, c := range spec.Columns {
		f := c.Field
		if c.Blind {
			member := c.Name
			f.Encode = func(v string) string { return e.blind(member, v) }
		}
		r.schema = append(r.schema, f)
	}
	r.readOnly = map[string]bool{"id": true, "created_at": true, "updated_at": true}
	r.declareEvents()
	r.mount()
	return r
}

// declareEvents adds the resource's created, updated and deleted events to
// the catalogue; receivers need the module's read scope.
func (r *Resource[T, PT]) declareEvents() {
	name := strings.ReplaceAll(r.spec.Singular, "_", " ")
	prefix := "mainstay." + r.spec.Module + "." + r.spec.Singular + "."
	scope := auth.Scope(r.spec.Module, auth.Read)
	events.Declare(
		events.Type{Name: prefix + "created", Scope: scope, Data: r.typ,
			Description: "A " + name + " was created (also by an upsert or a batch); data is the " + name + " as the API returns it."},
		events.Type{Name: prefix + "updated", Scope: scope, Data: r.typ,
			Description: "A " + name + " was changed (patch, upsert, archive or erasure); data is the " + name + " after the change."},
		events.Type{Name: prefix + "deleted", Scope: scope, Data: reflect.TypeFor[events.Deleted](),
			Description: "A " + name + " was deleted; data names it."},
	)
}

// Spec returns the resource's declaration.
func (r *Resource[T, PT]) Spec() Spec[T] { return r.spec }

// Get returns a record the caller may see.
func (r *Resource[T, PT]) Get(ctx context.Context, recordID string) (Versioned[T], error) {
	p, err := principal(ctx)
	if err != nil {
		return Versioned[T]{}, err
	}
	v, company, err := r.load(ctx, r.e.db.Reader(ctx), "id = $1", recordID, false)
	if err != nil {
		return Versioned[T]{}, err
	}
	if !r.visible(p, company, recordID) {
		return Versioned[T]{}, r.notFound(recordID)
	}
	return v, nil
}

// GetByExternalID returns the record with an external id in a company.
// byExternalID finds a record by its external id. The unique index on
// external ids is partial (empty ones repeat), and neither engine uses a
// partial index for "external_id = $1" unless the statement itself
// excludes the empty id: without the second term every lookup — each
// storefront checkout finding its customer — read the whole table.
const byExternalID = "external_id = $1 AND external_id <> ''"

func (r *Resource[T, PT]) GetByExternalID(ctx context.Context, companyID, externalID string) (Versioned[T], error) {
	p, err := principal(ctx)
	if err != nil {
		return Versioned[T]{}, err
	}
	if r.spec.Scoped {
		return r.loadScoped(ctx, r.e.db.Reader(ctx), companyID, externalID, false)
	}
	v, _, err := r.load(ctx, r.e.db.Reader(ctx), byExternalID, externalID, false)
	if err == nil && !r.visible(p, "", PT(v.Value).meta().ID) {
		return Versioned[T]{}, r.notFound(externalID)
	}
	return v, err
}

func (r *Resource[T, PT]) loadScoped(ctx context.Context, q db.Querier, companyID, externalID string, lock bool) (Versioned[T], error) {
	args := []any{externalID, companyID}
	sqlText := "SELECT id, version, doc, company_id FROM " + r.kind.table + " WHERE company_id = $2 AND " + byExternalID
	var company string
	return r.scanCompany(ctx, q, sqlText, args, lock, externalID, &company)
}

func (r *Resource[T, PT]) load(ctx context.Context, q db.Querier, where string, arg any, lock bool) (Versioned[T], string, error) {
	company := "''"
	if r.spec.Scoped {
		company = "company_id"
	}
	sqlText := "SELECT id, version, doc, " + company + " FROM " + r.kind.table + " WHERE " + where
	var c string
	v, err := r.scanCompany(ctx, q, sqlText, []any{arg}, lock, fmt.Sprint(arg), &c)
	return v, c, err
}

func (r *Resource[T, PT]) scanCompany(ctx context.Context, q db.Querier, sqlText string, args []any, lock bool, label string, company *string) (Versioned[T], error) {
	if lock {
		if tx, ok := q.(*db.Tx); ok && tx.Engine() == db.Postgres {
			sqlText += " FOR UPDATE"
		}
	}
	var recID, doc string
	var version int64
	err := q.QueryRowContext(ctx, sqlText, args...).Scan(&recID, &version, &doc, company)
	if errors.Is(err, sql.ErrNoRows) {
		return Versioned[T]{}, r.notFound(label)
	}
	if err != nil {
		return Versioned[T]{}, fmt.Errorf("load %s %s: %w", r.spec.Singular, label, err)
	}
	v := new(T)
	octx := ctx
	if tx, ok := q.(*db.Tx); ok {
		octx = db.ContextWithTx(ctx, tx)
	}
	if err := r.open(octx, []byte(doc), recID, v); err != nil {
		return Versioned[T]{}, fmt.Errorf("decode %s %s: %w", r.spec.Singular, recID, err)
	}
	return Versioned[T]{Value: v, Version: version}, nil
}

// visible reports whether p may see a record of company (or, for the
// companies resource itself, the company recordID).
func (r *Resource[T, PT]) visible(p auth.Principal, company, recordID string) bool {
	if r.spec.Scoped {
		return p.CanAccessCompany(company)
	}
	if r.spec.Plural == "companies" {
		return p.CanAccessCompany(recordID)
	}
	return true
}

// ListParams are a list request's parameters, as the client sent them.
type ListParams struct {
	CompanyID, Filter, OrderBy, PageToken string
	PageSize                              int
}

// Page is one page of a list.
type Page[T any] struct {
	Items         []*T
	NextPageToken string
}

// List returns one page of the records the caller may see in a company.
func (r *Resource[T, PT]) List(ctx context.Context, lp ListParams) (Page[T], error) {
	p, err := principal(ctx)
	if err != nil {
		return Page[T]{}, err
	}
	var where []string
	var args []any
	if r.spec.Scoped {
		args = append(args, lp.CompanyID)
		where = append(where, "company_id = $1")
	} else if r.spec.Plural == "companies" && !p.AllCompanies() {
		var marks []string
		for _, c := range p.Companies {
			args = append(args, c)
			marks = append(marks, fmt.Sprintf("$%d", len(args)))
		}
		if len(marks) == 0 {
			return Page[T]{Items: []*T{}}, nil
		}
		where = append(where, "id IN ("+strings.Join(marks, ", ")+")")
	}
	expr, err := query.ParseFilter(lp.Filter)
	if err != nil {
		return Page[T]{}, err
	}
	orders, err := query.ParseOrderBy(lp.OrderBy, r.schema)
	if err != nil {
		return Page[T]{}, err
	}
	if err := r.checkQueryable(ctx, expr, orders); err != nil {
		return Page[T]{}, err
	}
	if expr != nil {
		frag, fargs, err := query.CompileFilter(expr, r.schema, len(args)+1)
		if err != nil {
			return Page[T]{}, err
		}
		where = append(where, "("+frag+")")
		args = append(args, fargs...)
	}
	key, err := r.e.pageKey(ctx)
	if err != nil {
		return Page[T]{}, err
	}
	fingerprint := query.Fingerprint(r.spec.Plural, lp.CompanyID, lp.Filter, lp.OrderBy, p.ClientID)
	if lp.PageToken != "" {
		cur, err := query.DecodeToken(key, lp.PageToken, fingerprint)
		if err != nil {
			return Page[T]{}, err
		}
		frag, kargs, err := query.Keyset(orders, cur, "id", len(args)+1)
		if err != nil {
			return Page[T]{}, err
		}
		where = append(where, "("+frag+")")
		args = append(args, kargs...)
	}
	cols := []string{"id", "version", "doc"}
	for _, o := range orders {
		cols = append(cols, o.Field.Column)
	}
	sqlText := "SELECT " + strings.Join(cols, ", ") + " FROM " + r.kind.table
	if len(where) > 0 {
		sqlText += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, lp.PageSize+1)
	sqlText += " ORDER BY " + query.OrderSQL(orders, "id") + fmt.Sprintf(" LIMIT $%d", len(args))
	rows, err := r.e.db.Reader(ctx).QueryContext(ctx, sqlText, args...)
	if err != nil {
		return Page[T]{}, fmt.Errorf("list %s: %w", r.spec.Plural, err)
	}
	defer rows.Close()
	page := Page[T]{Items: []*T{}}
	var last query.Cursor
	for rows.Next() {
		var recID, doc string
		var version int64
		vals := make([]any, len(orders))
		dest := []any{&recID, &version, &doc}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return Page[T]{}, fmt.Errorf("list %s: %w", r.spec.Plural, err)
		}
		if len(page.Items) == lp.PageSize {
			page.NextPageToken = query.EncodeToken(key, last, fingerprint)
			break
		}
		v := new(T)
		if err := r.open(ctx, []byte(doc), recID, v); err != nil {
			return Page[T]{}, fmt.Errorf("decode %s %s: %w", r.spec.Singular, recID, err)
		}
		page.Items = append(page.Items, v)
		if last, err = query.NewCursor(orders, vals, recID); err != nil {
			return Page[T]{}, fmt.Errorf("list %s: %w", r.spec.Plural, err)
		}
	}
	return page, rows.Err()
}

// Create validates a body and stores it as a new record of the company.
func (r *Resource[T, PT]) Create(ctx context.Context, companyID string, body map[string]any) (Versioned[T], error) {
	var out Versioned[T]
	if err := r.checkWritable(ctx, body); err != nil {
		return out, err
	}
	body = r.withDefaults(body)
	if err := r.checkBody(body, companyID); err != nil {
		return out, err
	}
	v := new(T)
	if err := r.build(body, v); err != nil {
		return out, err
	}
	err := r.e.db.Transact(ctx, func(tx *db.Tx) error {
		var err error
		out, err = r.insert(ctx, tx, companyID, v)
		return err
	})
	return out, err
}

func (r *Resource[T, PT]) withDefaults(body map[string]any) map[string]any {
	if len(r.spec.Defaults) == 0 {
		return body
	}
	out := make(map[string]any, len(body)+len(r.spec.Defaults))
	for k, v := range r.spec.Defaults {
		out[k] = v
	}
	for k, v := range body {
		out[k] = v
	}
	return out
}

// checkBody refuses read-only members and a company_id that contradicts
// the company the request works in.
func (r *Resource[T, PT]) checkBody(body map[string]any, companyID string) error {
	var fields []apperr.FieldError
	names := make([]string, 0, len(body))
	for k := range body {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if r.readOnly[k] {
			fields = append(fields, apperr.FieldError{Pointer: "/" + k, Detail: k + " is read-only."})
		}
	}
	if r.spec.Scoped {
		if c, ok := body["company_id"]; ok && c != companyID {
			fields = append(fields, apperr.FieldError{Pointer: "/company_id", Detail: "company_id does not match the company of this request and cannot change."})
		}
	}
	if len(fields) > 0 {
		return apperr.Fields(fields...)
	}
	return nil
}

// build validates body against the schema and the business rules and
// fills v.
func (r *Resource[T, PT]) build(body map[string]any, v *T) error {
	if err := r.e.api.Validate(body, r.typ); err != nil {
		return err
	}
	if err := rest.Into(body, v); err != nil {
		return err
	}
	return nil
}

func (r *Resource[T, PT]) rules(ctx context.Context, v *T) error {
	if r.spec.Validate == nil {
		return nil
	}
	if fields := r.spec.Validate(ctx, v); len(fields) > 0 {
		return apperr.Fields(fields...)
	}
	return nil
}

func (r *Resource[T, PT]) beforeWrite(ctx context.Context, tx *db.Tx, v *T) error {
	if r.spec.BeforeWrite == nil {
		return nil
	}
	return r.spec.BeforeWrite(db.ContextWithTx(ctx, tx), tx, v)
}

func (r *Resource[T, PT]) insert(ctx context.Context, tx *db.Tx, companyID string, v *T) (Versioned[T], error) {
	m := PT(v).meta()
	m.ID = id.New(r.spec.Prefix)
	m.CreatedAt, m.UpdatedAt = tx.Now(), tx.Now()
	if o, ok := any(PT(v)).(ownedRecord); ok {
		o.owned().CompanyID = companyID
	}
	if err := r.rules(ctx, v); err != nil {
		return Versioned[T]{}, err
	}
	if err := r.checkUnique(ctx, tx, companyID, v, ""); err != nil {
		return Versioned[T]{}, err
	}
	if err := r.e.checkRefs(ctx, tx, r.spec.Singular, m.ID, companyID, r.refs(v)); err != nil {
		return Versioned[T]{}, err
	}
	if err := r.beforeWrite(ctx, tx, v); err != nil {
		return Versioned[T]{}, err
	}
	doc, err := r.seal(db.ContextWithTx(ctx, tx), v, m.ID)
	if err != nil {
		return Versioned[T]{}, err
	}
	cols := []string{"id", "external_id", "version", "created_at", "updated_at", "doc"}
	args := []any{m.ID, m.ExternalID, int64(1), m.CreatedAt, m.UpdatedAt, string(doc)}
	if r.spec.Scoped {
		cols = append(cols, "company_id")
		args = append(args, companyID)
	}
	for _, c := range r.cols {
		cols = append(cols, c.Column)
		args = append(args, r.columnValue(c, v))
	}
	marks := make([]string, len(cols))
	for i := range cols {
		marks[i] = fmt.Sprintf("$%d", i+1)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO "+r.kind.table+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(marks, ", ")+")", args...)
	if db.IsUniqueViolation(err) {
		return Versioned[T]{}, apperr.New(apperr.Conflict, "A %s with the same unique fields was created at the same time; read it and retry.", r.spec.Singular)
	}
	if err != nil {
		return Versioned[T]{}, fmt.Errorf("insert %s: %w", r.spec.Singular, err)
	}
	if err := r.publish(ctx, tx, companyID, "created", v, nil); err != nil {
		return Versioned[T]{}, err
	}
	for _, fn := range r.created {
		if err := fn(db.ContextWithTx(ctx, tx), tx, v); err != nil {
			return Versioned[T]{}, err
		}
	}
	return Versioned[T]{Value: v, Version: 1}, nil
}

// columnValue is what a projection column stores for v.
func (r *Resource[T, PT]) columnValue(c Column[T], v *T) any {
	val := c.Value(v)
	if c.Blind {
		s, _ := val.(string)
		return r.e.blind(c.Name, s)
	}
	return val
}

// checkUnique reports a duplicate external id or unique column as 409
// naming the field and the record that holds the value.
func (r *Resource[T, PT]) checkUnique(ctx context.Context, tx *db.Tx, companyID string, v *T, self string) error {
	type u struct {
		pointer, column string
		value           any
	}
	var checks []u
	if ext := PT(v).meta().ExternalID; ext != "" {
		checks = append(checks, u{"/external_id", "external_id", ext})
	}
	for _, c := range r.cols {
		// An empty value claims nothing: optional unique members (a role
		// most accounts lack) are unique only where set.
		if val := r.columnValue(c, v); c.Unique && val != "" {
			checks = append(checks, u{"/" + c.Name, c.Column, val})
		}
	}
	for _, c := range checks {
		// The value is never empty, and saying so lets both engines use
		// a unique index that is partial on non-empty values (external
		// ids, roles); without it every create read the whole table.
		where := c.column + " = $1 AND " + c.column + " <> '' AND id <> $2"
		args := []any{c.value, self}
		if r.spec.Scoped {
			where += " AND company_id = $3"
			args = append(args, companyID)
		}
		var other string
		err := tx.QueryRowContext(ctx, "SELECT id FROM "+r.kind.table+" WHERE "+where+" LIMIT 1", args...).Scan(&other)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check unique %s: %w", c.column, err)
		}
		return apperr.New(apperr.Conflict, "%s %v is already used by %s.", strings.TrimPrefix(c.pointer, "/"), c.value, other).
			WithFields(apperr.FieldError{Pointer: c.pointer, Detail: "already used by " + other})
	}
	return nil
}

func (r *Resource[T, PT]) refs(v *T) map[string][]refTarget {
	out := map[string][]refTarget{}
	for _, ref := range r.spec.Refs {
		for _, target := range ref.IDs(v) {
			if target != "" {
				out[ref.Pointer] = append(out[ref.Pointer], refTarget{target: ref.Target, id: target})
			}
		}
	}
	return out
}

// Patch applies a JSON merge patch to a record. check runs against the
// current ETag once the record is known to exist and be visible.
func (r *Resource[T, PT]) Patch(ctx context.Context, recordID string, patch map[string]any, check func(etag string) error) (Versioned[T], error) {
	var out Versioned[T]
	p, err := principal(ctx)
	if err != nil {
		return out, err
	}
	if err := r.checkWritable(ctx, patch); err != nil {
		return out, err
	}
	err = r.e.db.Transact(ctx, func(tx *db.Tx) error {
		cur, company, err := r.lockForWrite(ctx, tx, p, recordID, check)
		if err != nil {
			return err
		}
		if err := r.checkBody(patch, company); err != nil {
			return err
		}
		out, err = r.replace(ctx, tx, company, cur, patch, true)
		return err
	})
	return out, err
}

// lockForWrite loads and locks a record for a write, in the order RFC 9110
// wants: existence and access first (another company's record is 404, not
// 412), then the precondition.
func (r *Resource[T, PT]) lockForWrite(ctx context.Context, tx *db.Tx, p auth.Principal, recordID string, check func(etag string) error) (Versioned[T], string, error) {
	cur, company, err := r.load(ctx, tx, "id = $1", recordID, true)
	if err != nil {
		return cur, "", err
	}
	if !r.visible(p, company, recordID) {
		return cur, "", r.notFound(recordID)
	}
	if err := check(rest.ETag(cur.Version)); err != nil {
		return cur, "", err
	}
	return cur, company, nil
}

// replace turns the current record plus a patch (or a full body) into the
// next version and stores it.
func (r *Resource[T, PT]) replace(ctx context.Context, tx *db.Tx, company string, cur Versioned[T], body map[string]any, merge bool) (Versioned[T], error) {
	curDoc, err := toMap(cur.Value)
	if err != nil {
		return Versioned[T]{}, err
	}
	for k := range r.readOnly {
		delete(curDoc, k)
	}
	delete(curDoc, "company_id")
	next := body
	if merge {
		next = rest.MergePatch(curDoc, body)
	} else {
		next = r.withDefaults(body)
		// A caller who may not see a member cannot have meant to clear it.
		for member := range r.hidden(ctx) {
			if v, ok := curDoc[member]; ok {
				next[member] = v
			}
		}
	}
	delete(next, "company_id")
	v := new(T)
	if err := r.build(next, v); err != nil {
		return Versioned[T]{}, err
	}
	old := PT(cur.Value).meta()
	m := PT(v).meta()
	m.ID, m.CreatedAt, m.UpdatedAt = old.ID, old.CreatedAt, tx.Now()
	if o, ok := any(PT(v)).(ownedRecord); ok {
		o.owned().CompanyID = company
	}
	if err := r.rules(ctx, v); err != nil {
		return Versioned[T]{}, err
	}
	changed := changedFields(cur.Value, v)
	if len(changed) == 0 {
		return cur, nil
	}
	if err := r.checkUnique(ctx, tx, company, v, m.ID); err != nil {
		return Versioned[T]{}, err
	}
	if err := r.e.checkRefs(ctx, tx, r.spec.Singular, m.ID, company, r.refs(v)); err != nil {
		return Versioned[T]{}, err
	}
	if err := r.beforeWrite(ctx, tx, v); err != nil {
		return Versioned[T]{}, err
	}
	doc, err := r.seal(db.ContextWithTx(ctx, tx), v, m.ID)
	if err != nil {
		return Versioned[T]{}, err
	}
	sets := []string{"external_id = $1", "version = version + 1", "updated_at = $2", "doc = $3"}
	args := []any{m.ExternalID, m.UpdatedAt, string(doc)}
	for _, c := range r.cols {
		args = append(args, r.columnValue(c, v))
		sets = append(sets, fmt.Sprintf("%s = $%d", c.Column, len(args)))
	}
	args = append(args, m.ID, cur.Version)
	res, err := tx.ExecContext(ctx, "UPDATE "+r.kind.table+" SET "+strings.Join(sets, ", ")+
		fmt.Sprintf(" WHERE id = $%d AND version = $%d", len(args)-1, len(args)), args...)
	if db.IsUniqueViolation(err) {
		return Versioned[T]{}, apperr.New(apperr.Conflict, "Another %s took one of these unique values at the same time; read and retry.", r.spec.Singular)
	}
	if err != nil {
		return Versioned[T]{}, fmt.Errorf("update %s %s: %w", r.spec.Singular, m.ID, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		// Only a concurrent writer can have moved the version: on SQLite the
		// write lock, on PostgreSQL the row lock, make this unreachable,
		// and the guard keeps it so.
		return Versioned[T]{}, apperr.New(apperr.Conflict, "The %s changed while this request ran; read it and retry.", r.spec.Singular)
	}
	if err := r.publish(ctx, tx, company, "updated", v, changed); err != nil {
		return Versioned[T]{}, err
	}
	return Versioned[T]{Value: v, Version: cur.Version + 1}, nil
}

// Upsert creates or replaces the record with an external id: it reports
// whether it created one. check applies If-Match when the record exists.
func (r *Resource[T, PT]) Upsert(ctx context.Context, companyID, externalID string, body map[string]any, check func(etag string) error) (Versioned[T], bool, error) {
	var out Versioned[T]
	created := false
	if ext, ok := body["external_id"]; ok && ext != externalID {
		return out, false, apperr.Field("/external_id", "external_id in the body differs from the one in the path.")
	}
	if err := r.checkWritable(ctx, body); err != nil {
		return out, false, err
	}
	body = copyMap(body)
	body["external_id"] = externalID
	if err := r.checkBody(body, companyID); err != nil {
		return out, false, err
	}
	err := r.e.db.Transact(ctx, func(tx *db.Tx) error {
		var cur Versioned[T]
		var err error
		if r.spec.Scoped {
			cur, err = r.loadScoped(ctx, tx, companyID, externalID, true)
		} else {
			cur, _, err = r.load(ctx, tx, byExternalID, externalID, true)
		}
		if apperr.CodeOf(err) == apperr.NotFound {
			v := new(T)
			if err := r.build(r.withDefaults(body), v); err != nil {
				return err
			}
			created = true
			out, err = r.insert(ctx, tx, companyID, v)
			return err
		}
		if err != nil {
			return err
		}
		if !r.spec.Scoped {
			p, _ := auth.FromContext(ctx)
			if !r.visible(p, "", PT(cur.Value).meta().ID) {
				return r.notFound(externalID)
			}
		}
		if err := check(rest.ETag(cur.Version)); err != nil {
			return err
		}
		out, err = r.replace(ctx, tx, companyID, cur, body, false)
		return err
	})
	return out, created, err
}

// Delete removes a record nothing refers to; a referenced one is 409
// naming a referrer (archive it instead).
func (r *Resource[T, PT]) Delete(ctx context.Context, recordID string, check func(etag string) error) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	return r.e.db.Transact(ctx, func(tx *db.Tx) error {
		cur, company, err := r.lockForWrite(ctx, tx, p, recordID, check)
		if err != nil {
			return err
		}
		fromType, fromID, err := r.e.referrer(ctx, tx, recordID)
		if err != nil {
			return fmt.Errorf("check references to %s: %w", recordID, err)
		}
		if fromID != "" {
			return apperr.New(apperr.Conflict, "%s %s is referred to by %s %s; archive it instead (PATCH {\"active\": false}) or remove the reference first.",
				r.spec.Singular, recordID, fromType, fromID)
		}
		for _, fn := range r.deleting {
			if err := fn(db.ContextWithTx(ctx, tx), tx, recordID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+r.kind.table+" WHERE id = $1", recordID); err != nil {
			return fmt.Errorf("delete %s %s: %w", r.spec.Singular, recordID, err)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM resource_refs WHERE from_id = $1", recordID); err != nil {
			return fmt.Errorf("delete references of %s: %w", recordID, err)
		}
		return r.publish(ctx, tx, company, "deleted", cur.Value, nil)
	})
}

// publish writes the event and the audit row of a change.
func (r *Resource[T, PT]) publish(ctx context.Context, tx *db.Tx, company, action string, v *T, changed []string) error {
	m := PT(v).meta()
	data := r.withoutSensitive(v)
	if action == "deleted" {
		data = events.Deleted{ID: m.ID, CompanyID: company}
	}
	if r.spec.Plural == "companies" {
		company = m.ID
	}
	if _, err := events.Record(ctx, tx, events.Event{
		Type: "mainstay." + r.spec.Module + "." + r.spec.Singular + "." + action, Source: "/v1/" + r.spec.Plural,
		Subject: m.ID, CompanyID: company, Data: data,
	}); err != nil {
		return err
	}
	details := map[string]any{}
	if len(changed) > 0 {
		details["fields"] = changed
	}
	if m.ExternalID != "" {
		details["external_id"] = m.ExternalID
	}
	return audit.Record(ctx, tx, audit.Entry{
		Action: r.spec.Singular + "." + strings.TrimSuffix(action, "d"), ResourceType: r.spec.Singular,
		ResourceID: m.ID, CompanyID: company, Details: details,
	})
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// changedFields names the top-level members that differ, ignoring the
// timestamps the engine sets.
func changedFields(a, b any) []string {
	am, _ := toMap(a)
	bm, _ := toMap(b)
	var out []string
	for k := range union(am, bm) {
		if k == "updated_at" {
			continue
		}
		ja, _ := json.Marshal(am[k])
		jb, _ := json.Marshal(bm[k])
		if string(ja) != string(jb) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func union(a, b map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

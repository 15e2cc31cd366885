package hr

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
)

// listSchema is what employee lists filter and order on: the version in
// effect on the list's as_of date. No sensitive member is a column, so no
// filter can reveal one.
var listSchema = query.Schema{
	{Name: "id", Column: "v.employee_id", Kind: query.String, Sortable: true},
	{Name: "external_id", Column: "e.external_id", Kind: query.String, Sortable: true},
	{Name: "employee_number", Column: "e.employee_number", Kind: query.String, Sortable: true},
	{Name: "created_at", Column: "e.created_at", Kind: query.Time, Sortable: true},
	{Name: "updated_at", Column: "e.updated_at", Kind: query.Time, Sortable: true},
	{Name: "given_name", Column: "v.given_name", Kind: query.String, Sortable: true},
	{Name: "family_name", Column: "v.family_name", Kind: query.String, Sortable: true},
	{Name: "email", Column: "v.email", Kind: query.String},
	{Name: "department_id", Column: "v.department_id", Kind: query.String},
	{Name: "position_id", Column: "v.position_id", Kind: query.String},
	{Name: "manager_id", Column: "v.manager_id", Kind: query.String},
	{Name: "cost_center", Column: "v.cost_center", Kind: query.String, Sortable: true},
	{Name: "work_location", Column: "v.work_location", Kind: query.String, Sortable: true},
	{Name: "pay_schedule_id", Column: "v.pay_schedule_id", Kind: query.String},
	{Name: "jurisdiction", Column: "v.jurisdiction", Kind: query.String},
	{Name: "start_date", Column: "v.start_date", Kind: query.String, Sortable: true},
	{Name: "end_date", Column: "v.end_date", Kind: query.String, Sortable: true},
}

// ListFields names the filterable fields, for the documentation.
func ListFields() string {
	names := make([]string, len(listSchema))
	for i, f := range listSchema {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// ListParams are an employee list request's parameters.
type ListParams struct {
	CompanyID, AsOf, Filter, OrderBy, PageToken string
	PageSize                                    int
}

// List returns one page of a company's employees as of a date ("" is
// today), in a stable keyset order.
func (s *Employees) List(ctx context.Context, lp ListParams) ([]*Employee, string, error) {
	p, _ := auth.FromContext(ctx)
	q := s.DB.Reader(ctx)
	if lp.AsOf == "" {
		var err error
		if lp.AsOf, err = Today(ctx, q, lp.CompanyID, s.DB.Now()); err != nil {
			return nil, "", err
		}
	}
	args := []any{lp.CompanyID, lp.AsOf}
	where := []string{"v.company_id = $1",
		"v.effective_from = (SELECT MAX(w.effective_from) FROM employee_versions w WHERE w.employee_id = v.employee_id AND w.effective_from <= $2)"}
	expr, err := query.ParseFilter(lp.Filter)
	if err != nil {
		return nil, "", err
	}
	orders, err := query.ParseOrderBy(lp.OrderBy, listSchema)
	if err != nil {
		return nil, "", err
	}
	if expr != nil {
		frag, fargs, err := query.CompileFilter(expr, listSchema, len(args)+1)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "("+frag+")")
		args = append(args, fargs...)
	}
	key := audit.PageTokenKey()
	fp := query.Fingerprint("employees", lp.CompanyID, lp.AsOf, lp.Filter, lp.OrderBy, p.ClientID)
	if lp.PageToken != "" {
		cur, err := query.DecodeToken(key, lp.PageToken, fp)
		if err != nil {
			return nil, "", err
		}
		frag, kargs, err := query.Keyset(orders, cur, "v.employee_id", len(args)+1)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "("+frag+")")
		args = append(args, kargs...)
	}
	cols := []string{identityColsOf("e"), "v.effective_from", "v.recorded_at", "v.recorded_by", "v.doc"}
	for _, o := range orders {
		cols = append(cols, o.Field.Column)
	}
	args = append(args, lp.PageSize+1)
	sqlText := "SELECT " + strings.Join(cols, ", ") + " FROM employee_versions v JOIN employees e ON e.id = v.employee_id WHERE " +
		strings.Join(where, " AND ") + " ORDER BY " + query.OrderSQL(orders, "v.employee_id") + fmt.Sprintf(" LIMIT $%d", len(args))
	rows, err := q.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list employees: %w", err)
	}
	defer rows.Close()
	type listed struct {
		i   identity
		v   version
		doc string
	}
	var rowsRead []listed
	var last query.Cursor
	next := ""
	for rows.Next() {
		var i identity
		var v version
		var doc string
		vals := make([]any, len(orders))
		dest := []any{&i.ID, &i.CompanyID, &i.ExternalID, &i.Number, &i.Version, &i.CreatedAt, &i.UpdatedAt, &v.EffectiveFrom, &v.RecordedAt, &v.RecordedBy, &doc}
		for k := range vals {
			dest = append(dest, &vals[k])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, "", fmt.Errorf("list employees: %w", err)
		}
		if len(rowsRead) == lp.PageSize {
			next = query.EncodeToken(key, last, fp)
			break
		}
		rowsRead = append(rowsRead, listed{i, v, doc})
		if last, err = query.NewCursor(orders, vals, i.ID); err != nil {
			return nil, "", fmt.Errorf("list employees: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list employees: %w", err)
	}
	rows.Close()
	// One query for the page's data keys instead of one per employee.
	if s.Keyring != nil {
		var sealed []string
		for _, r := range rowsRead {
			var m map[string]any
			if json.Unmarshal([]byte(r.doc), &m) == nil {
				for _, member := range encrypted {
					if v, ok := m[member].(string); ok {
						sealed = append(sealed, v)
					}
				}
			}
		}
		if err := s.Keyring.Preload(ctx, sealed...); err != nil {
			return nil, "", err
		}
	}
	out := make([]*Employee, 0, len(rowsRead))
	for _, r := range rowsRead {
		if r.v.Doc, err = s.open(ctx, r.i.ID, r.doc); err != nil {
			return nil, "", err
		}
		e, err := build(r.i, &r.v, lp.AsOf)
		if err != nil {
			return nil, "", err
		}
		out = append(out, e)
	}
	return out, next, nil
}

func identityColsOf(alias string) string {
	parts := strings.Split(identityCols, ", ")
	for i, p := range parts {
		parts[i] = alias + "." + p
	}
	return strings.Join(parts, ", ")
}

// ParseDate reads an optional date query parameter: malformed is 400.
func ParseDate(raw, name string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if !validDate(raw) {
		return "", apperr.New(apperr.BadRequest, "%s must be a date YYYY-MM-DD.", name).
			WithFields(apperr.FieldError{Pointer: "query:" + name, Detail: "must be a date YYYY-MM-DD"})
	}
	return raw, nil
}

package hr

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
)

// Dated is one version of an employee and the date it applies from
// (Beginning for the record as first created).
type Dated struct {
	From     string
	Employee *Employee
}

// Timeline returns every version of a company's employee, oldest first,
// decrypted: for payroll, which must see pay and bank accounts whatever
// the calling client may read (what leaves the server is filtered by the
// caller's scopes at the edge). q may be a transaction.
func (s *Employees) Timeline(ctx context.Context, q db.Querier, companyID, empID string) ([]Dated, error) {
	i, err := scanIdentity(q.QueryRowContext(ctx, "SELECT "+identityCols+" FROM employees WHERE id = $1 AND company_id = $2", empID, companyID))
	if err != nil {
		return nil, fmt.Errorf("employee %s: %w", empID, err)
	}
	if tx, ok := q.(*db.Tx); ok {
		ctx = db.ContextWithTx(ctx, tx)
	}
	vs, err := s.loadVersions(ctx, q, empID)
	if err != nil {
		return nil, err
	}
	out := make([]Dated, 0, len(vs))
	for k := range vs {
		e, err := build(i, &vs[k], vs[k].EffectiveFrom)
		if err != nil {
			return nil, err
		}
		out = append(out, Dated{From: vs[k].EffectiveFrom, Employee: e})
	}
	return out, nil
}

// Exists reports whether an employee belongs to a company.
func Exists(ctx context.Context, q db.Querier, companyID, empID string) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM employees WHERE id = $1 AND company_id = $2", empID, companyID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("employee %s: %w", empID, err)
	}
	return n > 0, nil
}

// OnSchedule lists the employees any of whose versions puts them on a pay
// schedule and employed at some time between from and to (payroll then
// works out, version by version, which days it pays).
func OnSchedule(ctx context.Context, q db.Querier, companyID, scheduleID, from, to string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT employee_id FROM employee_versions WHERE company_id = $1 AND pay_schedule_id = $2
AND start_date <= $3 AND (end_date = '' OR end_date >= $4) ORDER BY employee_id`, companyID, scheduleID, to, from)
	if err != nil {
		return nil, fmt.Errorf("employees on schedule %s: %w", scheduleID, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// RefuseDeleteIfUsed refuses the delete of a record (a department, a
// position, a pay schedule) that any version of an employee names in
// column, or that a row of another table names: the engine's reference
// check does not see employees, which it does not keep.
func RefuseDeleteIfUsed(what string, uses ...[2]string) func(ctx context.Context, tx *db.Tx, id string) error {
	return func(ctx context.Context, tx *db.Tx, id string) error {
		for _, u := range uses {
			table, column := u[0], u[1]
			key := "id"
			if table == "employee_versions" {
				key = "employee_id"
			}
			var other string
			err := tx.QueryRowContext(ctx, "SELECT "+key+" FROM "+table+" WHERE "+column+" = $1 LIMIT 1", id).Scan(&other)
			if err == nil {
				return apperr.New(apperr.Conflict, "%s %s is referred to by %s; archive it instead (PATCH {\"active\": false}) or change that first.", what, id, other)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("check references to %s: %w", id, err)
			}
		}
		return nil
	}
}

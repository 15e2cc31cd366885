package hr

import (
	"context"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
)

// erased are the members an erasure blanks in every version, besides the
// encrypted ones, which become unreadable with the employee's data key.
var erased = []string{"email", "phone", "address", "birth_date", "national_id", "bank_account", "pay"}

// Erase destroys a former employee's personal data: the data key that
// seals national id, bank account, birth date and pay in every version is
// destroyed, and names and contact data are blanked. The record, its
// history of dates and assignments, the payslips (sealed under their
// run's key, kept for the retention payroll law asks) and the audit chain
// stay. A current employee is 409: end the employment first.
func (s *Employees) Erase(ctx context.Context, tx *db.Tx, empID string) (*Employee, error) {
	i, err := s.loadIdentity(ctx, tx, "id = $1", []any{empID}, empID, true)
	if err != nil {
		return nil, err
	}
	vs, err := s.loadVersions(ctx, tx, i.ID)
	if err != nil {
		return nil, err
	}
	today, err := Today(ctx, tx, i.CompanyID, tx.Now())
	if err != nil {
		return nil, err
	}
	last, err := build(i, &vs[len(vs)-1], today)
	if err != nil {
		return nil, err
	}
	if last.EndDate == "" || last.EndDate >= today {
		return nil, apperr.New(apperr.Conflict, "Employee %s is still employed; set end_date (in the past) before erasing.", i.ID).
			WithFields(apperr.FieldError{Pointer: "/end_date", Detail: "employment has not ended"})
	}
	sctx := db.ContextWithTx(ctx, tx)
	if s.Keyring != nil {
		if err := s.Keyring.DestroyOwner(sctx, i.ID); err != nil {
			return nil, fmt.Errorf("destroy data key of %s: %w", i.ID, err)
		}
	}
	now := tx.Now().UTC().Truncate(time.Microsecond)
	for _, v := range vs {
		doc := copyMap(v.Doc)
		for _, m := range erased {
			delete(doc, m)
		}
		doc["given_name"], doc["family_name"] = "Erased", "Erased"
		if err := s.storeVersion(sctx, tx, i, version{EffectiveFrom: v.EffectiveFrom, Doc: doc}, v.RecordedBy, now); err != nil {
			return nil, err
		}
	}
	i.Version++
	i.UpdatedAt = now
	if _, err := tx.ExecContext(ctx, "UPDATE employees SET version = $1, updated_at = $2 WHERE id = $3", i.Version, i.UpdatedAt, i.ID); err != nil {
		return nil, fmt.Errorf("erase employee %s: %w", i.ID, err)
	}
	e, err := s.current(ctx, tx, i, today)
	if err != nil {
		return nil, err
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: "mainstay.hr.employee.updated", Source: "/v1/employees", Subject: i.ID, CompanyID: i.CompanyID,
		Data: EmployeeEvent{Employee: withoutSensitive(e), Changed: []string{"email", "family_name", "given_name", "phone", "address"}}}); err != nil {
		return nil, err
	}
	return e, audit.Record(ctx, tx, audit.Entry{Action: "employee.erase", ResourceType: "employee", ResourceID: i.ID, CompanyID: i.CompanyID})
}

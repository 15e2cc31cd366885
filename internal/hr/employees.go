package hr

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/audit"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/crypto"
	"github.com/mainstay-erp/mainstay/internal/platform/db"
	"github.com/mainstay-erp/mainstay/internal/platform/events"
	"github.com/mainstay-erp/mainstay/internal/platform/id"
	"github.com/mainstay-erp/mainstay/internal/platform/reqctx"
	"github.com/mainstay-erp/mainstay/internal/platform/rest"
)

// Beginning is the effective date of a record as first created: it
// applies from the beginning, so a read as of any date finds it.
const Beginning = "0001-01-01"

// Employees keeps effective-dated employee records. A record is a series
// of versions, each the whole record from its effective date on; a change
// effective on a date makes (or replaces) the version of that date and is
// carried into every later version, so a correction today does not undo
// a raise already scheduled for next year and vice versa.
type Employees struct {
	DB  *db.DB
	API *rest.API
	// Keyring seals the sensitive members; nil stores them as they are
	// (deployments without a master key have no encrypted fields).
	Keyring *crypto.Keyring
}

var employeeType = reflect.TypeFor[Employee]()

// identity is the employees row: what does not change with time.
type identity struct {
	ID, CompanyID, ExternalID, Number string
	Version                           int64
	CreatedAt, UpdatedAt              time.Time
}

// version is one effective-dated version, its members decrypted.
type version struct {
	EffectiveFrom string
	RecordedAt    time.Time
	RecordedBy    string
	Doc           map[string]any
}

// Today is a company's current business date.
func Today(ctx context.Context, q db.Querier, companyID string, now time.Time) (string, error) {
	var doc string
	err := q.QueryRowContext(ctx, "SELECT doc FROM companies WHERE id = $1", companyID).Scan(&doc)
	if err != nil {
		return "", fmt.Errorf("company %s time zone: %w", companyID, err)
	}
	var c struct {
		TimeZone string `json:"time_zone"`
	}
	_ = json.Unmarshal([]byte(doc), &c)
	return company.LocalDate(c.TimeZone, now), nil
}

func (s *Employees) seal(ctx context.Context, empID string, m map[string]any) (string, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	if s.Keyring != nil {
		for _, member := range encrypted {
			v, ok := out[member]
			if !ok || v == nil {
				continue
			}
			raw, err := json.Marshal(v)
			if err != nil {
				return "", err
			}
			sealed, err := s.Keyring.Encrypt(ctx, empID, empID, member, string(raw))
			if errors.Is(err, crypto.ErrDestroyed) {
				return "", apperr.New(apperr.Conflict, "The personal data of employee %s was erased; %s cannot be stored for it again.", empID, member).
					WithFields(apperr.FieldError{Pointer: "/" + member, Detail: "the record's personal data was erased"})
			}
			if err != nil {
				return "", fmt.Errorf("encrypt %s of %s: %w", member, empID, err)
			}
			out[member] = sealed
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func (s *Employees) open(ctx context.Context, empID, doc string) (map[string]any, error) {
	m := map[string]any{}
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return nil, fmt.Errorf("decode employee %s: %w", empID, err)
	}
	for _, member := range encrypted {
		sealed, ok := m[member].(string)
		if !ok || !crypto.IsEncrypted(sealed) || s.Keyring == nil {
			continue
		}
		plain, err := s.Keyring.Decrypt(ctx, empID, member, sealed)
		if errors.Is(err, crypto.ErrDestroyed) {
			delete(m, member)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("decrypt %s of %s: %w", member, empID, err)
		}
		var v any
		if err := json.Unmarshal([]byte(plain), &v); err != nil {
			return nil, fmt.Errorf("decode %s of %s: %w", member, empID, err)
		}
		m[member] = v
	}
	return m, nil
}

func notFound(empID string) error { return apperr.New(apperr.NotFound, "No employee %q.", empID) }

func scanIdentity(row interface{ Scan(...any) error }) (identity, error) {
	var i identity
	err := row.Scan(&i.ID, &i.CompanyID, &i.ExternalID, &i.Number, &i.Version, &i.CreatedAt, &i.UpdatedAt)
	return i, err
}

const identityCols = "id, company_id, external_id, employee_number, version, created_at, updated_at"

// loadIdentity reads an employee the caller may see (another company's
// is 404), locking it for a write on PostgreSQL.
func (s *Employees) loadIdentity(ctx context.Context, q db.Querier, where string, args []any, label string, lock bool) (identity, error) {
	sqlText := "SELECT " + identityCols + " FROM employees WHERE " + where
	if tx, ok := q.(*db.Tx); ok && lock && tx.Engine() == db.Postgres {
		sqlText += " FOR UPDATE"
	}
	i, err := scanIdentity(q.QueryRowContext(ctx, sqlText, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return identity{}, notFound(label)
	}
	if err != nil {
		return identity{}, fmt.Errorf("load employee %s: %w", label, err)
	}
	p, _ := auth.FromContext(ctx)
	if !p.CanAccessCompany(i.CompanyID) {
		return identity{}, notFound(label)
	}
	return i, nil
}

func (s *Employees) loadVersions(ctx context.Context, q db.Querier, empID string) ([]version, error) {
	// Data keys made in this transaction are visible only through it.
	if tx, ok := q.(*db.Tx); ok {
		ctx = db.ContextWithTx(ctx, tx)
	}
	rows, err := q.QueryContext(ctx, "SELECT effective_from, recorded_at, recorded_by, doc FROM employee_versions WHERE employee_id = $1 ORDER BY effective_from", empID)
	if err != nil {
		return nil, fmt.Errorf("load versions of %s: %w", empID, err)
	}
	// Every row is read before any is decrypted: decrypting may read a
	// data key through the same transaction, and a PostgreSQL connection
	// runs one query at a time.
	var out []version
	var docs []string
	for rows.Next() {
		var v version
		var doc string
		if err := rows.Scan(&v.EffectiveFrom, &v.RecordedAt, &v.RecordedBy, &doc); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load versions of %s: %w", empID, err)
		}
		out = append(out, v)
		docs = append(docs, doc)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, fmt.Errorf("load versions of %s: %w", empID, err)
	}
	rows.Close()
	for i := range out {
		if out[i].Doc, err = s.open(ctx, empID, docs[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// at is the version in effect on date (nil if none is).
func at(vs []version, date string) *version {
	var out *version
	for i := range vs {
		if vs[i].EffectiveFrom <= date {
			out = &vs[i]
		}
	}
	return out
}

// build turns a stored version into the record as of asOf.
func build(i identity, v *version, asOf string) (*Employee, error) {
	b, err := json.Marshal(v.Doc)
	if err != nil {
		return nil, err
	}
	e := new(Employee)
	if err := json.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("decode employee %s: %w", i.ID, err)
	}
	e.ID, e.CompanyID, e.ExternalID, e.EmployeeNumber = i.ID, i.CompanyID, i.ExternalID, i.Number
	e.CreatedAt, e.UpdatedAt, e.AsOf = i.CreatedAt, i.UpdatedAt, asOf
	if v.EffectiveFrom != Beginning {
		e.EffectiveFrom = v.EffectiveFrom
	}
	e.Status = StatusOn(e, asOf)
	return e, nil
}

// Present is a record as p may see it: the members p may not see are
// left out (omitted, never masked, so nothing can be written back).
func Present(p auth.Principal, e *Employee) any {
	hide := hiddenFor(p)
	if len(hide) == 0 {
		return e
	}
	b, _ := json.Marshal(e)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	for k := range hide {
		delete(m, k)
	}
	return m
}

// showsSensitive reports whether presenting e to p shows any sensitive
// member (which makes the read one to audit).
func showsSensitive(p auth.Principal, e *Employee) bool {
	if SeesPersonal(p) && (e.NationalID != "" || e.BankAccount != nil || e.BirthDate != "") {
		return true
	}
	return SeesPay(p) && e.Pay != nil
}

// AuditRead records that p was shown sensitive members of employees. It
// runs in its own transaction: a read has none.
func (s *Employees) AuditRead(ctx context.Context, companyID string, emps ...*Employee) error {
	p, _ := auth.FromContext(ctx)
	var ids []string
	for _, e := range emps {
		if showsSensitive(p, e) {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	entry := audit.Entry{Action: "employee.read_sensitive", ResourceType: "employee", CompanyID: companyID,
		Details: map[string]any{"members": sensitiveShown(p)}}
	if len(ids) == 1 {
		entry.ResourceID = ids[0]
	} else {
		entry.Details["ids"] = ids
	}
	return s.DB.Transact(ctx, func(tx *db.Tx) error { return audit.Record(ctx, tx, entry) })
}

func sensitiveShown(p auth.Principal) []string {
	var out []string
	if SeesPersonal(p) {
		out = append(out, personal...)
	}
	if SeesPay(p) {
		out = append(out, memberPay)
	}
	return out
}

// Get returns an employee as of a date ("" is today).
func (s *Employees) Get(ctx context.Context, empID, asOf string) (*Employee, int64, error) {
	q := s.DB.Reader(ctx)
	i, err := s.loadIdentity(ctx, q, "id = $1", []any{empID}, empID, false)
	if err != nil {
		return nil, 0, err
	}
	return s.getIdentity(ctx, q, i, asOf)
}

// GetByExternalID returns the employee with an external id, as of a date.
func (s *Employees) GetByExternalID(ctx context.Context, companyID, ext, asOf string) (*Employee, int64, error) {
	q := s.DB.Reader(ctx)
	i, err := s.loadIdentity(ctx, q, "company_id = $1 AND external_id = $2 AND external_id <> ''", []any{companyID, ext}, ext, false)
	if err != nil {
		return nil, 0, err
	}
	return s.getIdentity(ctx, q, i, asOf)
}

func (s *Employees) getIdentity(ctx context.Context, q db.Querier, i identity, asOf string) (*Employee, int64, error) {
	if asOf == "" {
		var err error
		if asOf, err = Today(ctx, q, i.CompanyID, s.DB.Now()); err != nil {
			return nil, 0, err
		}
	}
	vs, err := s.loadVersions(ctx, q, i.ID)
	if err != nil {
		return nil, 0, err
	}
	v := at(vs, asOf)
	if v == nil {
		return nil, 0, notFound(i.ID)
	}
	e, err := build(i, v, asOf)
	return e, i.Version, err
}

// EmployeeVersion is one effective-dated version of an employee.
type EmployeeVersion struct {
	EffectiveFrom string    `json:"effective_from" doc:"The date the version applies from; 0001-01-01 for the record as first created."`
	EffectiveTo   string    `json:"effective_to,omitempty" doc:"The last day it applies; absent for the latest version."`
	RecordedAt    time.Time `json:"recorded_at"`
	RecordedBy    string    `json:"recorded_by" doc:"The client that recorded the change."`
	Changed       []string  `json:"changed" doc:"The members that differ from the previous version (sensitive members are named only to callers who may see them)."`
	Employee      any       `json:"employee" doc:"The whole record as of effective_from."`
}

// History lists the versions of an employee, oldest first.
func (s *Employees) History(ctx context.Context, empID string) ([]EmployeeVersion, []*Employee, error) {
	q := s.DB.Reader(ctx)
	i, err := s.loadIdentity(ctx, q, "id = $1", []any{empID}, empID, false)
	if err != nil {
		return nil, nil, err
	}
	vs, err := s.loadVersions(ctx, q, i.ID)
	if err != nil {
		return nil, nil, err
	}
	p, _ := auth.FromContext(ctx)
	hide := hiddenFor(p)
	out := make([]EmployeeVersion, 0, len(vs))
	var emps []*Employee
	for k := range vs {
		e, err := build(i, &vs[k], vs[k].EffectiveFrom)
		if err != nil {
			return nil, nil, err
		}
		if vs[k].EffectiveFrom == Beginning {
			e.AsOf = e.StartDate
			e.Status = StatusOn(e, e.StartDate)
		}
		h := EmployeeVersion{EffectiveFrom: vs[k].EffectiveFrom, RecordedAt: vs[k].RecordedAt, RecordedBy: vs[k].RecordedBy, Employee: Present(p, e), Changed: []string{}}
		if k+1 < len(vs) {
			next, _ := time.Parse(time.DateOnly, vs[k+1].EffectiveFrom)
			h.EffectiveTo = next.AddDate(0, 0, -1).Format(time.DateOnly)
		}
		if k > 0 {
			for _, c := range changedMembers(vs[k-1].Doc, vs[k].Doc) {
				if _, hidden := hide[c]; !hidden {
					h.Changed = append(h.Changed, c)
				}
			}
		}
		out = append(out, h)
		emps = append(emps, e)
	}
	return out, emps, nil
}

func changedMembers(a, b map[string]any) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if seen[k] {
				continue
			}
			seen[k] = true
			ja, _ := json.Marshal(a[k])
			jb, _ := json.Marshal(b[k])
			if string(ja) != string(jb) {
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Change is a write to an employee.
type Change struct {
	// Body is a merge patch (Replace false) or a whole record (Replace
	// true) of the writable members.
	Body    map[string]any
	Replace bool
	// Effective is the date the change applies from; "" is today.
	Effective string
	// IfMatch checks the current ETag once the record is known to exist.
	IfMatch func(etag string) error
}

// checkWritable refuses members the caller may not write.
func checkWritable(p auth.Principal, body map[string]any) error {
	var fields []apperr.FieldError
	for _, m := range personal {
		if _, ok := body[m]; ok && !SeesPersonal(p) {
			fields = append(fields, apperr.FieldError{Pointer: "/" + m, Detail: "needs the scope " + Write})
		}
	}
	if _, ok := body[memberPay]; ok && !p.Has(PayrollWrite) {
		fields = append(fields, apperr.FieldError{Pointer: "/pay", Detail: "needs the scope " + PayrollWrite})
	}
	if len(fields) > 0 {
		return apperr.New(apperr.Forbidden, "Writing %s needs the scope named.", strings.TrimPrefix(fields[0].Pointer, "/")).WithFields(fields...)
	}
	var ro []apperr.FieldError
	for k := range body {
		if readOnly[k] {
			ro = append(ro, apperr.FieldError{Pointer: "/" + k, Detail: k + " is read-only."})
		}
	}
	if len(ro) > 0 {
		sort.Slice(ro, func(i, j int) bool { return ro[i].Pointer < ro[j].Pointer })
		return apperr.Fields(ro...)
	}
	return nil
}

// Create stores a new employee in a company.
func (s *Employees) Create(ctx context.Context, tx *db.Tx, companyID string, body map[string]any) (*Employee, int64, error) {
	p, _ := auth.FromContext(ctx)
	if err := checkWritable(p, body); err != nil {
		return nil, 0, err
	}
	if c, ok := body["company_id"]; ok && c != companyID {
		return nil, 0, apperr.Field("/company_id", "company_id does not match the company of this request and cannot change.")
	}
	now := tx.Now().UTC().Truncate(time.Microsecond)
	i := identity{ID: id.New("emp"), CompanyID: companyID, Version: 1, CreatedAt: now, UpdatedAt: now}
	return s.apply(ctx, tx, i, nil, Change{Body: body, Replace: true, Effective: Beginning}, true)
}

// Update changes an employee from an effective date on.
func (s *Employees) Update(ctx context.Context, tx *db.Tx, empID string, c Change) (*Employee, int64, error) {
	p, _ := auth.FromContext(ctx)
	if err := checkWritable(p, c.Body); err != nil {
		return nil, 0, err
	}
	i, err := s.loadIdentity(ctx, tx, "id = $1", []any{empID}, empID, true)
	if err != nil {
		return nil, 0, err
	}
	return s.update(ctx, tx, i, c)
}

func (s *Employees) update(ctx context.Context, tx *db.Tx, i identity, c Change) (*Employee, int64, error) {
	if c.IfMatch != nil {
		if err := c.IfMatch(rest.ETag(i.Version)); err != nil {
			return nil, 0, err
		}
	}
	if cid, ok := c.Body["company_id"]; ok && cid != i.CompanyID {
		return nil, 0, apperr.Field("/company_id", "company_id does not match the company of this request and cannot change.")
	}
	vs, err := s.loadVersions(ctx, tx, i.ID)
	if err != nil {
		return nil, 0, err
	}
	return s.apply(ctx, tx, i, vs, c, false)
}

// Upsert creates or replaces the employee with an external id: it
// reports whether it created one.
func (s *Employees) Upsert(ctx context.Context, tx *db.Tx, companyID, ext string, c Change) (*Employee, int64, bool, error) {
	p, _ := auth.FromContext(ctx)
	if e, ok := c.Body["external_id"]; ok && e != ext {
		return nil, 0, false, apperr.Field("/external_id", "external_id in the body differs from the one in the path.")
	}
	if err := checkWritable(p, c.Body); err != nil {
		return nil, 0, false, err
	}
	body := make(map[string]any, len(c.Body)+1)
	for k, v := range c.Body {
		body[k] = v
	}
	body["external_id"] = ext
	c.Body = body
	i, err := s.loadIdentity(ctx, tx, "company_id = $1 AND external_id = $2 AND external_id <> ''", []any{companyID, ext}, ext, true)
	if apperr.CodeOf(err) == apperr.NotFound {
		e, v, err := s.Create(ctx, tx, companyID, body)
		return e, v, true, err
	}
	if err != nil {
		return nil, 0, false, err
	}
	c.Replace = true
	e, v, err := s.update(ctx, tx, i, c)
	return e, v, false, err
}

// apply writes a change into the versions of one employee.
func (s *Employees) apply(ctx context.Context, tx *db.Tx, i identity, vs []version, c Change, creating bool) (*Employee, int64, error) {
	p, _ := auth.FromContext(ctx)
	today, err := Today(ctx, tx, i.CompanyID, tx.Now())
	if err != nil {
		return nil, 0, err
	}
	eff := c.Effective
	if eff == "" {
		eff = today
	}
	var base map[string]any
	if b := at(vs, eff); b != nil {
		base = b.Doc
	}
	body := map[string]any{}
	for k, v := range c.Body {
		if k != "company_id" {
			body[k] = v
		}
	}
	var next map[string]any
	if c.Replace {
		next = copyMap(body)
		// A caller who may not see a member cannot have meant to clear it.
		for m := range hiddenFor(p) {
			if v, ok := base[m]; ok {
				next[m] = v
			}
		}
	} else {
		next = rest.MergePatch(copyMap(base), body)
	}
	sctx := db.ContextWithTx(ctx, tx)
	emp, err := s.check(sctx, tx, i, next, "")
	if err != nil {
		return nil, 0, err
	}
	// The identity members are the same in every version.
	i.ExternalID, i.Number = emp.ExternalID, emp.EmployeeNumber
	if err := s.checkUnique(ctx, tx, i); err != nil {
		return nil, 0, err
	}
	now := tx.Now().UTC().Truncate(time.Microsecond)
	if creating {
		if _, err := tx.ExecContext(ctx, "INSERT INTO employees ("+identityCols+") VALUES ($1, $2, $3, $4, $5, $6, $7)",
			i.ID, i.CompanyID, i.ExternalID, i.Number, i.Version, i.CreatedAt, i.UpdatedAt); err != nil {
			if db.IsUniqueViolation(err) {
				return nil, 0, apperr.New(apperr.Conflict, "An employee with the same number or external id was created at the same time; read it and retry.")
			}
			return nil, 0, fmt.Errorf("insert employee: %w", err)
		}
	}
	changed := changedMembers(base, next)
	if !creating && len(changed) == 0 {
		e, err := s.current(ctx, tx, i, eff)
		return e, i.Version, err
	}
	writes := []version{{EffectiveFrom: eff, Doc: next}}
	// Later versions take the members this change sets, so a correction
	// today is not undone by a change scheduled for later.
	for _, v := range vs {
		if v.EffectiveFrom <= eff {
			continue
		}
		later := rest.MergePatch(copyMap(v.Doc), body)
		if c.Replace {
			later = copyMap(v.Doc)
			for k, x := range body {
				later[k] = x
			}
		}
		if _, err := s.check(sctx, tx, i, later, v.EffectiveFrom); err != nil {
			return nil, 0, err
		}
		writes = append(writes, version{EffectiveFrom: v.EffectiveFrom, Doc: later})
	}
	actor := reqctx.Actor(ctx)
	for _, w := range writes {
		if err := s.storeVersion(sctx, tx, i, w, actor, now); err != nil {
			return nil, 0, err
		}
	}
	if !creating {
		i.Version++
		i.UpdatedAt = now
		if _, err := tx.ExecContext(ctx, `UPDATE employees SET external_id = $1, employee_number = $2, version = $3, updated_at = $4 WHERE id = $5`,
			i.ExternalID, i.Number, i.Version, i.UpdatedAt, i.ID); err != nil {
			if db.IsUniqueViolation(err) {
				return nil, 0, apperr.New(apperr.Conflict, "Another employee took this number or external id at the same time; read and retry.")
			}
			return nil, 0, fmt.Errorf("update employee %s: %w", i.ID, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE employee_versions SET external_id = $1, employee_number = $2 WHERE employee_id = $3", i.ExternalID, i.Number, i.ID); err != nil {
		return nil, 0, fmt.Errorf("update employee %s: %w", i.ID, err)
	}
	e, err := s.current(ctx, tx, i, today)
	if err != nil {
		return nil, 0, err
	}
	action := "updated"
	if creating {
		action = "created"
		changed = nil
	}
	if err := s.publish(ctx, tx, i, e, action, eff, changed); err != nil {
		return nil, 0, err
	}
	// The answer is the record as of the change's effective date, which
	// is what the caller just wrote.
	asOf := eff
	if eff == Beginning {
		asOf = today
	}
	shown, err := s.current(ctx, tx, i, asOf)
	return shown, i.Version, err
}

// current reads back the record as of a date inside tx.
func (s *Employees) current(ctx context.Context, tx *db.Tx, i identity, asOf string) (*Employee, error) {
	vs, err := s.loadVersions(db.ContextWithTx(ctx, tx), tx, i.ID)
	if err != nil {
		return nil, err
	}
	v := at(vs, asOf)
	if v == nil {
		return nil, notFound(i.ID)
	}
	return build(i, v, asOf)
}

// check validates a version's members and what they refer to.
func (s *Employees) check(ctx context.Context, tx *db.Tx, i identity, m map[string]any, effective string) (*Employee, error) {
	prefix := func(err error) error {
		if effective == "" {
			return err
		}
		if ae := apperr.As(err); ae != nil {
			ae.Message = fmt.Sprintf("The change cannot be carried into the version effective %s: %s", effective, ae.Message)
		}
		return err
	}
	if err := s.API.Validate(m, employeeType); err != nil {
		return nil, prefix(err)
	}
	e := new(Employee)
	if err := rest.Into(m, e); err != nil {
		return nil, prefix(err)
	}
	e.ID = i.ID
	if errs := validateEmployee(e); len(errs) > 0 {
		return nil, prefix(apperr.Fields(errs...))
	}
	var fields []apperr.FieldError
	ref := func(pointer, table, target, what string) error {
		if target == "" {
			return nil
		}
		var found string
		err := tx.QueryRowContext(ctx, "SELECT id FROM "+table+" WHERE id = $1 AND company_id = $2", target, i.CompanyID).Scan(&found)
		if errors.Is(err, sql.ErrNoRows) {
			fields = append(fields, apperr.FieldError{Pointer: pointer, Detail: fmt.Sprintf("No %s %q in this company.", what, target)})
			return nil
		}
		return err
	}
	for _, r := range []struct{ ptr, table, target, what string }{
		{"/department_id", "departments", e.DepartmentID, "department"},
		{"/position_id", "positions", e.PositionID, "position"},
		{"/manager_id", "employees", e.ManagerID, "employee"},
		{"/pay_schedule_id", "pay_schedules", e.PayScheduleID, "pay schedule"},
	} {
		if err := ref(r.ptr, r.table, r.target, r.what); err != nil {
			return nil, fmt.Errorf("check employee references: %w", err)
		}
	}
	if len(fields) > 0 {
		return nil, prefix(apperr.Fields(fields...))
	}
	return e, nil
}

func (s *Employees) checkUnique(ctx context.Context, tx *db.Tx, i identity) error {
	for _, c := range []struct{ col, val, ptr string }{{"employee_number", i.Number, "/employee_number"}, {"external_id", i.ExternalID, "/external_id"}} {
		if c.val == "" {
			continue
		}
		var other string
		err := tx.QueryRowContext(ctx, "SELECT id FROM employees WHERE company_id = $1 AND "+c.col+" = $2 AND id <> $3", i.CompanyID, c.val, i.ID).Scan(&other)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check unique %s: %w", c.col, err)
		}
		return apperr.New(apperr.Conflict, "%s %s is already used by %s.", strings.TrimPrefix(c.ptr, "/"), c.val, other).
			WithFields(apperr.FieldError{Pointer: c.ptr, Detail: "already used by " + other})
	}
	return nil
}

func (s *Employees) storeVersion(ctx context.Context, tx *db.Tx, i identity, v version, actor string, now time.Time) error {
	b, _ := json.Marshal(v.Doc)
	var e Employee
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("store employee %s: %w", i.ID, err)
	}
	doc, err := s.seal(ctx, i.ID, v.Doc)
	if err != nil {
		return err
	}
	juris := ""
	if e.TaxSettings != nil {
		juris = e.TaxSettings.Jurisdiction
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM employee_versions WHERE employee_id = $1 AND effective_from = $2", i.ID, v.EffectiveFrom); err != nil {
		return fmt.Errorf("store employee %s: %w", i.ID, err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO employee_versions (employee_id, company_id, effective_from, recorded_at, recorded_by, doc, external_id,
employee_number, given_name, family_name, email, department_id, position_id, manager_id, cost_center, work_location, pay_schedule_id, jurisdiction,
start_date, end_date, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $4)`,
		i.ID, i.CompanyID, v.EffectiveFrom, now, actor, doc, i.ExternalID, i.Number, e.GivenName, e.FamilyName, strings.ToLower(e.Email),
		e.DepartmentID, e.PositionID, e.ManagerID, e.CostCenter, e.WorkLocation, e.PayScheduleID, juris, e.StartDate, e.EndDate, i.CreatedAt)
	if err != nil {
		return fmt.Errorf("store employee %s version %s: %w", i.ID, v.EffectiveFrom, err)
	}
	return nil
}

// EmployeePayChanged is the payload of mainstay.payroll.employee.pay_changed: it
// names the employee and the date, never the amounts (the outbox is not
// encrypted); receivers with payroll:read fetch the record.
type EmployeePayChanged struct {
	EmployeeID    string `json:"employee_id"`
	CompanyID     string `json:"company_id"`
	EffectiveFrom string `json:"effective_from"`
}

// EmployeeEvent is the payload of the employee events: the record as of
// today without its sensitive members.
type EmployeeEvent struct {
	Employee
	ChangeEffectiveFrom string   `json:"change_effective_from,omitempty" doc:"The date the change applies from."`
	Changed             []string `json:"changed,omitempty" doc:"The non-sensitive members the change set."`
}

func withoutSensitive(e *Employee) Employee {
	out := *e
	out.NationalID, out.BankAccount, out.BirthDate, out.Pay = "", nil, "", nil
	return out
}

func (s *Employees) publish(ctx context.Context, tx *db.Tx, i identity, e *Employee, action, eff string, changed []string) error {
	var public []string
	payChanged := false
	for _, c := range changed {
		switch {
		case c == memberPay:
			payChanged = true
		case contains(personal, c):
		default:
			public = append(public, c)
		}
	}
	if eff == Beginning {
		eff = ""
	}
	if action == "created" || len(public) > 0 || (len(changed) > len(public) && !payChanged) {
		if _, err := events.Record(ctx, tx, events.Event{Type: "mainstay.hr.employee." + action, Source: "/v1/employees", Subject: i.ID, CompanyID: i.CompanyID,
			Data: EmployeeEvent{Employee: withoutSensitive(e), ChangeEffectiveFrom: eff, Changed: public}}); err != nil {
			return err
		}
	}
	if payChanged || (action == "created" && e.Pay != nil) {
		if _, err := events.Record(ctx, tx, events.Event{Type: EventPayChanged, Source: "/v1/employees", Subject: i.ID, CompanyID: i.CompanyID,
			Data: EmployeePayChanged{EmployeeID: i.ID, CompanyID: i.CompanyID, EffectiveFrom: eff}}); err != nil {
			return err
		}
	}
	details := map[string]any{}
	if len(changed) > 0 {
		details["fields"] = changed
	}
	if eff != "" {
		details["effective_from"] = eff
	}
	if i.ExternalID != "" {
		details["external_id"] = i.ExternalID
	}
	return audit.Record(ctx, tx, audit.Entry{Action: "employee." + strings.TrimSuffix(action, "d"), ResourceType: "employee", ResourceID: i.ID,
		CompanyID: i.CompanyID, Details: details})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Delete removes an employee nothing refers to: one who was paid, filed
// time or leave, or manages someone is 409 (set end_date instead).
func (s *Employees) Delete(ctx context.Context, tx *db.Tx, empID string, ifMatch func(string) error) error {
	i, err := s.loadIdentity(ctx, tx, "id = $1", []any{empID}, empID, true)
	if err != nil {
		return err
	}
	if err := ifMatch(rest.ETag(i.Version)); err != nil {
		return err
	}
	for _, r := range []struct{ table, col, what string }{
		{"payslips", "employee_id", "payslip"}, {"timesheets", "employee_id", "timesheet"},
		{"leave_requests", "employee_id", "leave request"}, {"employee_versions", "manager_id", "employee (as manager of)"},
	} {
		var other string
		col := "id"
		if r.table == "employee_versions" {
			col = "employee_id"
		}
		err := tx.QueryRowContext(ctx, "SELECT "+col+" FROM "+r.table+" WHERE company_id = $1 AND "+r.col+" = $2 LIMIT 1", i.CompanyID, i.ID).Scan(&other)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check references to %s: %w", i.ID, err)
		}
		return apperr.New(apperr.Conflict, "employee %s is referred to by %s %s; set end_date instead of deleting.", i.ID, r.what, other)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM employee_versions WHERE employee_id = $1", i.ID); err != nil {
		return fmt.Errorf("delete employee %s: %w", i.ID, err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM employees WHERE id = $1", i.ID); err != nil {
		return fmt.Errorf("delete employee %s: %w", i.ID, err)
	}
	if _, err := events.Record(ctx, tx, events.Event{Type: "mainstay.hr.employee.deleted", Source: "/v1/employees", Subject: i.ID, CompanyID: i.CompanyID,
		Data: events.Deleted{ID: i.ID, CompanyID: i.CompanyID}}); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Entry{Action: "employee.delete", ResourceType: "employee", ResourceID: i.ID, CompanyID: i.CompanyID})
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	return m, json.Unmarshal(b, &m)
}

func jsonUnmarshal(doc string, v any) error {
	if err := json.Unmarshal([]byte(doc), v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

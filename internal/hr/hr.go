// Package hr holds the organisation and its people: departments,
// positions, and effective-dated employee records whose personal
// identifiers, bank account and pay are encrypted at rest and shown only
// to callers holding the scopes made for them; plus the time and leave
// records that feed payroll (timesheets, leave types and requests).
//
// Departments, positions, leave types, leave requests and timesheets are
// resource-engine records. Employees are kept by hand (employees.go)
// because every change has an effective date: a record is a series of
// versions, and a read answers for any date.
package hr

import (
	"context"
	"fmt"
	"time"

	"github.com/mainstay-erp/mainstay/internal/company"
	"github.com/mainstay-erp/mainstay/internal/platform/apperr"
	"github.com/mainstay-erp/mainstay/internal/platform/auth"
	"github.com/mainstay-erp/mainstay/internal/platform/money"
	"github.com/mainstay-erp/mainstay/internal/platform/query"
	"github.com/mainstay-erp/mainstay/internal/platform/resource"
)

// Scopes this module uses.
var (
	Read         = auth.Scope("hr", auth.Read)
	Write        = auth.Scope("hr", auth.Write)
	PayrollRead  = auth.Scope("payroll", auth.Read)
	PayrollWrite = auth.Scope("payroll", auth.Write)
)

// Department is a unit of the organisation; its cost center is where its
// people's pay is booked unless an employee names another.
type Department struct {
	resource.Meta
	resource.Owned
	Code       string `json:"code" pattern:"^[A-Za-z0-9_.-]{1,30}$"`
	Name       string `json:"name" minLength:"1" maxLength:"200"`
	ParentID   string `json:"parent_id,omitempty" doc:"The department this one belongs to."`
	CostCenter string `json:"cost_center,omitempty" pattern:"^[A-Za-z0-9_.-]{0,30}$" doc:"Default cost center of the department's employees; payroll books salary expense per cost center."`
	Active     bool   `json:"active" required:"false"`
}

// Position is a role in the organisation that employees hold.
type Position struct {
	resource.Meta
	resource.Owned
	Code         string `json:"code" pattern:"^[A-Za-z0-9_.-]{1,30}$"`
	Title        string `json:"title" minLength:"1" maxLength:"200"`
	DepartmentID string `json:"department_id,omitempty"`
	Active       bool   `json:"active" required:"false"`
}

func str[T any](name string, sortable bool, v func(*T) string) resource.Column[T] {
	return resource.Column[T]{Field: query.Field{Name: name, Column: name, Kind: query.String, Sortable: sortable}, Value: func(x *T) any { return v(x) }}
}

func boolean[T any](name string, v func(*T) bool) resource.Column[T] {
	return resource.Column[T]{Field: query.Field{Name: name, Column: name, Kind: query.Bool}, Value: func(x *T) any { return v(x) }}
}

// DepartmentSpec declares /v1/departments.
var DepartmentSpec = resource.Spec[Department]{
	Module: "hr", Plural: "departments", Singular: "department", Title: "Department", Prefix: "dep", Scoped: true,
	Description: "Units of the organisation. An employee's cost center defaults to its department's.",
	Columns: []resource.Column[Department]{
		func() resource.Column[Department] {
			c := str("code", true, func(d *Department) string { return d.Code })
			c.Unique = true
			return c
		}(),
		str("name", true, func(d *Department) string { return d.Name }),
		str("parent_id", false, func(d *Department) string { return d.ParentID }),
		str("cost_center", true, func(d *Department) string { return d.CostCenter }),
		boolean("active", func(d *Department) bool { return d.Active }),
	},
	Refs:     []resource.Ref[Department]{{Pointer: "/parent_id", Target: "departments", IDs: func(d *Department) []string { return []string{d.ParentID} }}},
	Defaults: map[string]any{"active": true},
	Validate: func(_ context.Context, d *Department) []apperr.FieldError {
		if d.ParentID != "" && d.ParentID == d.ID {
			return []apperr.FieldError{{Pointer: "/parent_id", Detail: "a department cannot be its own parent"}}
		}
		return nil
	},
}

// PositionSpec declares /v1/positions.
var PositionSpec = resource.Spec[Position]{
	Module: "hr", Plural: "positions", Singular: "position", Title: "Position", Prefix: "pos", Scoped: true,
	Description: "Roles employees hold.",
	Columns: []resource.Column[Position]{
		func() resource.Column[Position] {
			c := str("code", true, func(p *Position) string { return p.Code })
			c.Unique = true
			return c
		}(),
		str("title", true, func(p *Position) string { return p.Title }),
		str("department_id", false, func(p *Position) string { return p.DepartmentID }),
		boolean("active", func(p *Position) bool { return p.Active }),
	},
	Refs:     []resource.Ref[Position]{{Pointer: "/department_id", Target: "departments", IDs: func(p *Position) []string { return []string{p.DepartmentID} }}},
	Defaults: map[string]any{"active": true},
}

// EmployeeBankAccount is where an employee's net pay goes.
type EmployeeBankAccount struct {
	Holder        string `json:"holder,omitempty" maxLength:"140"`
	IBAN          string `json:"iban,omitempty" pattern:"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"`
	BIC           string `json:"bic,omitempty" pattern:"^[A-Z0-9]{8}([A-Z0-9]{3})?$"`
	AccountNumber string `json:"account_number,omitempty" maxLength:"34"`
	RoutingNumber string `json:"routing_number,omitempty" maxLength:"20"`
}

// EmployeeTaxSettings say which payroll rate tables apply to an employee.
type EmployeeTaxSettings struct {
	Jurisdiction string   `json:"jurisdiction" pattern:"^[A-Z]{2}(-[A-Z0-9]{1,3})?$" doc:"ISO 3166 country (or country-subdivision) code; the payroll rate tables of this jurisdiction apply."`
	TaxCode      string   `json:"tax_code,omitempty" maxLength:"30" doc:"The tax authority's code or class for the employee, kept for reporting."`
	Exemptions   []string `json:"exemptions,omitempty" maxItems:"20" doc:"Codes of rate tables that do not apply to this employee (e.g. a pension-insurance exemption)."`
}

// Component kinds.
const (
	Salary           = "salary"
	Hourly           = "hourly"
	Allowance        = "allowance"
	PreTaxDeduction  = "pre_tax_deduction"
	PostTaxDeduction = "post_tax_deduction"
	EmployerContrib  = "employer_contribution"
)

// EmployeePayComponent is one element of an employee's pay.
type EmployeePayComponent struct {
	Code   string        `json:"code" pattern:"^[A-Za-z0-9._-]{1,50}$" doc:"Your code for the component (SALARY, CAR_ALLOWANCE, PENSION_EE…); posting rules may route it (payroll_component)."`
	Kind   string        `json:"kind" enum:"salary,hourly,allowance,pre_tax_deduction,post_tax_deduction,employer_contribution" doc:"salary: amount is per year (× fte, prorated by days employed); hourly: amount per approved timesheet hour; the others: amount per pay period, prorated by days employed."`
	Amount money.Decimal `json:"amount"`
	Name   string        `json:"name,omitempty" maxLength:"100"`
}

// EmployeePay is an employee's compensation as of a date.
type EmployeePay struct {
	Currency   money.Currency         `json:"currency"`
	Components []EmployeePayComponent `json:"components" maxItems:"50"`
}

// Employee statuses, computed for the date a record is read as of.
const (
	StatusPending    = "pending"
	StatusActive     = "active"
	StatusTerminated = "terminated"
)

// Employee is a person employed by the company, as of a date.
type Employee struct {
	ID             string               `json:"id" readOnly:"true"`
	ExternalID     string               `json:"external_id,omitempty" maxLength:"255" pattern:"^[\\x20-\\x7e]*$" doc:"Your HR platform's identifier; PUT /v1/employees/external/{external_id} upserts by it."`
	CompanyID      string               `json:"company_id" required:"false"`
	EmployeeNumber string               `json:"employee_number" pattern:"^[A-Za-z0-9_.-]{1,30}$" doc:"Unique per company."`
	GivenName      string               `json:"given_name" minLength:"1" maxLength:"100"`
	FamilyName     string               `json:"family_name" minLength:"1" maxLength:"100"`
	Email          string               `json:"email,omitempty" maxLength:"254"`
	Phone          string               `json:"phone,omitempty" maxLength:"40"`
	Address        *company.Address     `json:"address,omitempty"`
	BirthDate      string               `json:"birth_date,omitempty" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"Sensitive: returned and written only with hr:write or payroll:read; encrypted at rest."`
	NationalID     string               `json:"national_id,omitempty" maxLength:"50" doc:"Sensitive: returned and written only with hr:write or payroll:read; encrypted at rest; every read is audited."`
	BankAccount    *EmployeeBankAccount `json:"bank_account,omitempty" doc:"Sensitive: returned and written only with hr:write or payroll:read; encrypted at rest; net pay is paid here."`
	StartDate      string               `json:"start_date" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"First day of employment."`
	EndDate        string               `json:"end_date,omitempty" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"Last day of employment, once known."`
	DepartmentID   string               `json:"department_id,omitempty"`
	PositionID     string               `json:"position_id,omitempty"`
	ManagerID      string               `json:"manager_id,omitempty" doc:"Another employee."`
	CostCenter     string               `json:"cost_center,omitempty" pattern:"^[A-Za-z0-9_.-]{0,30}$" doc:"Where pay is booked; default the department's cost center."`
	WorkLocation   string               `json:"work_location,omitempty" maxLength:"100"`
	PayScheduleID  string               `json:"pay_schedule_id,omitempty" doc:"The pay schedule whose regular runs pay this employee."`
	FTE            *money.Decimal       `json:"fte,omitempty" doc:"Full-time equivalent (\"0.5\" for half time); scales salary components. Default 1."`
	TaxSettings    *EmployeeTaxSettings `json:"tax_settings,omitempty"`
	Pay            *EmployeePay         `json:"pay,omitempty" doc:"Sensitive: returned only with payroll:read, written only with payroll:write (or POST /v1/employees/{id}/pay-changes); encrypted at rest."`
	Status         string               `json:"status" readOnly:"true" enum:"pending,active,terminated" doc:"As of the date read: pending before start_date, terminated after end_date."`
	EffectiveFrom  string               `json:"effective_from,omitempty" readOnly:"true" doc:"The date this version of the record applies from; absent for the record as first created."`
	AsOf           string               `json:"as_of,omitempty" readOnly:"true" doc:"The date the record is shown as of."`
	CreatedAt      time.Time            `json:"created_at" readOnly:"true"`
	UpdatedAt      time.Time            `json:"updated_at" readOnly:"true"`
}

// Members that are sensitive, and the scopes that show them.
const (
	memberPay = "pay"
)

// personal are the members only HR writers and payroll readers see.
var personal = []string{"national_id", "bank_account", "birth_date"}

// encrypted are the members sealed at rest.
var encrypted = []string{"national_id", "bank_account", "birth_date", "pay"}

// readOnly are the members a client may never send.
var readOnly = map[string]bool{"id": true, "status": true, "effective_from": true, "as_of": true, "created_at": true, "updated_at": true}

// SeesPersonal reports whether p may see national ids, bank accounts and
// birth dates: HR writers (who keep them) and payroll readers (who pay
// and report with them), not every reader of the directory.
func SeesPersonal(p auth.Principal) bool { return p.Has(Write) || p.Has(PayrollRead) }

// SeesPay reports whether p may see pay.
func SeesPay(p auth.Principal) bool { return p.Has(PayrollRead) }

// hiddenFor names the members p may not see, with the scope that shows
// them (for messages).
func hiddenFor(p auth.Principal) map[string]string {
	out := map[string]string{}
	if !SeesPersonal(p) {
		for _, m := range personal {
			out[m] = Write + " or " + PayrollRead
		}
	}
	if !SeesPay(p) {
		out[memberPay] = PayrollRead
	}
	return out
}

// StatusOn is an employee's status on a date.
func StatusOn(e *Employee, date string) string {
	switch {
	case date < e.StartDate:
		return StatusPending
	case e.EndDate != "" && date > e.EndDate:
		return StatusTerminated
	}
	return StatusActive
}

func validDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// validateEmployee checks the rules one record can check alone.
func validateEmployee(e *Employee) []apperr.FieldError {
	var errs []apperr.FieldError
	bad := func(p, f string, a ...any) {
		errs = append(errs, apperr.FieldError{Pointer: p, Detail: fmt.Sprintf(f, a...)})
	}
	if !validDate(e.StartDate) {
		bad("/start_date", "must be a date YYYY-MM-DD")
	}
	if e.EndDate != "" && (!validDate(e.EndDate) || e.EndDate < e.StartDate) {
		bad("/end_date", "must be a date YYYY-MM-DD on or after start_date")
	}
	if e.BirthDate != "" && !validDate(e.BirthDate) {
		bad("/birth_date", "must be a date YYYY-MM-DD")
	}
	if e.ManagerID != "" && e.ManagerID == e.ID {
		bad("/manager_id", "an employee cannot manage themselves")
	}
	if e.FTE != nil && (e.FTE.Sign() <= 0 || e.FTE.Cmp(money.FromInt(1)) > 0) {
		bad("/fte", "must be more than 0 and at most 1")
	}
	if e.Pay != nil {
		if !e.Pay.Currency.Valid() {
			bad("/pay/currency", "%q is not an ISO 4217 currency", e.Pay.Currency)
		}
		seen := map[string]bool{}
		for i, c := range e.Pay.Components {
			if c.Amount.IsNegative() {
				bad(fmt.Sprintf("/pay/components/%d/amount", i), "must not be negative")
			} else if _, err := c.Amount.Scaled(money.AmountScale); err != nil {
				bad(fmt.Sprintf("/pay/components/%d/amount", i), "too many decimals or too large")
			}
			if seen[c.Code] {
				bad(fmt.Sprintf("/pay/components/%d/code", i), "component %s appears twice", c.Code)
			}
			seen[c.Code] = true
		}
	}
	return errs
}

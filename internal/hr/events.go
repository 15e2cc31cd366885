package hr

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// EventPayChanged tells payroll readers that an employee's pay changed
// from a date; it carries no amounts.
const EventPayChanged = "mainstay.payroll.employee.pay_changed"

// Employee events are declared here because employees are not a
// resource-engine record. Their payloads never hold national ids, bank
// accounts, birth dates or pay (the engine's rule for Sensitive members):
// hr:read receivers get the directory data, and a pay change is a
// separate, payroll-scoped event without amounts.
func init() {
	events.Declare(
		events.Type{Name: "mainstay.hr.employee.created", Scope: Read, Data: events.Of[EmployeeEvent](),
			Description: "An employee was created (also by an upsert, a batch or an import); data is the record as of today without its sensitive members."},
		events.Type{Name: "mainstay.hr.employee.updated", Scope: Read, Data: events.Of[EmployeeEvent](),
			Description: "An employee's non-sensitive members changed from change_effective_from on; data is the record as of today without its sensitive members."},
		events.Type{Name: "mainstay.hr.employee.deleted", Scope: Read, Data: events.Of[events.Deleted](),
			Description: "An employee was deleted; data names it."},
		events.Type{Name: EventPayChanged, Scope: PayrollRead, Data: events.Of[EmployeePayChanged](),
			Description: "An employee's pay changed from effective_from on (no amounts: read the employee with payroll:read)."},
	)
}

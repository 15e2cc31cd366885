package payroll

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// Payroll run events carry the run's aggregates only (no per-employee
// figures: the outbox is not encrypted), and only receivers holding
// payroll:read are sent them.
func init() {
	for _, e := range []struct{ name, desc string }{
		{"calculated", "A payroll run was computed as a draft (gross to net for everyone in scope)."},
		{"recalculated", "A draft payroll run was computed again."},
		{"approved", "A payroll run was approved for posting."},
		{"posted", "A payroll run was posted to the ledger (journal_entry_id); it is immutable from now on."},
		{"paid", "A payroll run's net pay was paid (payment_entry_id) and its payment file produced."},
		{"cancelled", "A draft or approved payroll run was cancelled."},
	} {
		events.Declare(events.Type{Name: "mainstay.payroll.payroll_run." + e.name, Scope: Read, Data: events.Of[PayrollRun](),
			Description: e.desc + " Data is the run with its totals, without the per-employee breakdown."})
	}
}

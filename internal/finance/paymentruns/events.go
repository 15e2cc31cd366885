package paymentruns

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventProposed, Scope: "ledger:read", Data: events.Of[PaymentRun](),
			Description: "A payment run was proposed: the bills it would pay and those it skips."},
		events.Type{Name: EventApproved, Scope: "ledger:read", Data: events.Of[PaymentRun](),
			Description: "A payment run was approved for execution."},
		events.Type{Name: EventCancelled, Scope: "ledger:read", Data: events.Of[PaymentRun](),
			Description: "A payment run was cancelled before execution: its bills are free for another run."},
		events.Type{Name: EventExecuted, Scope: "ledger:read", Data: events.Of[PaymentRun](),
			Description: "A payment run was executed: one supplier payment per supplier (each sends supplier_payment.sent) and the bank files."},
	)
}

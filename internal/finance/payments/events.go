package payments

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventReceived, Scope: "sales:read", Data: events.Of[Payment](),
			Description: "A customer payment was recorded and allocated."},
		events.Type{Name: EventApplied, Scope: "sales:read", Data: events.Of[Payment](),
			Description: "Unapplied credit of a payment was applied to invoices."},
		events.Type{Name: EventRefunded, Scope: "sales:read", Data: events.Of[Payment](),
			Description: "Unapplied credit of a payment was refunded."},
	)
}

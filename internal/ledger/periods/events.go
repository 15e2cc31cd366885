package periods

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventClosed, Scope: "ledger:read", Data: events.Of[Period](),
			Description: "A fiscal period was closed (by itself, or with its fiscal year): dated documents in it are refused."},
		events.Type{Name: EventReopened, Scope: "ledger:read", Data: events.Of[Period](),
			Description: "A closed fiscal period was reopened (admin)."},
	)
}

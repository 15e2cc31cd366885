package closing

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery
// filters. A fiscal year has no ID: the subject is the year, as in its
// path.
func init() {
	events.Declare(
		events.Type{Name: EventCreated, Scope: "ledger:read", Data: events.Of[Year](),
			Description: "A fiscal year was opened with its twelve periods."},
		events.Type{Name: EventClosed, Scope: "ledger:read", Data: events.Of[Year](),
			Description: "A fiscal year was closed: its result moved to retained earnings by the closing entry, its open periods closed (each sends fiscal_period.closed)."},
		events.Type{Name: EventReopened, Scope: "ledger:read", Data: events.Of[Year](),
			Description: "A closed fiscal year was reopened (admin): its closing entry is reversed, its periods stay closed."},
	)
}

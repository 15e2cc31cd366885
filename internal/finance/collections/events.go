package collections

import "github.com/mainstay-erp/mainstay/internal/platform/events"

// The events this module records, for the catalogue and the delivery filters.
func init() {
	events.Declare(
		events.Type{Name: EventDunningRun, Scope: "sales:read", Data: events.Of[DunningRun](),
			Description: "A dunning run produced its reminder notices."},
	)
}
